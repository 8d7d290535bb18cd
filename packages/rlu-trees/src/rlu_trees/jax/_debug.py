"""The JAX trees' debug checks: what a traced ``set_values`` would skip raises instead.

Inside ``jit`` nothing can raise, so a traced ``set_values`` skips a NaN value (and, in a sum
tree, a negative or infinite one), documented and silent: a NaN TD error keeps the old
priority. With the debug checks on, every ``set_values`` traced afterwards (turning them on or
off clears JAX's caches, so every function is traced again) also sends its positions and values
to the host (``jax.debug.callback``), which raises ``ValueError`` naming the first bad value;
the compiled function then fails with a ``JaxRuntimeError`` that carries that message. Entries
at positions out of range stay skipped without a word: callers use them to drop entries from a
batch of fixed shape (``rlu_replay.jax`` drops stale updates so). Off (the default), nothing is
added to the traced program.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

# read at import; debug_checks() changes it
_enabled = os.environ.get("RLU_TREES_JAX_DEBUG_CHECKS", "0").strip() not in ("", "0")


def debug_checks(enabled: bool = True) -> bool:
    """Turn the JAX trees' debug checks on (or off); returns the previous setting.

    With the checks on, a ``set_values`` traced inside ``jit``, ``scan`` or ``vmap`` raises
    for the values it would otherwise skip in silence: a NaN value, in a
    [`JaxSumTree`][rlu_trees.jax.JaxSumTree] also a negative or infinite one. (An entry whose
    position lies outside ``[-capacity, capacity)`` is still skipped without a word: that is
    how a batch of fixed shape drops entries.) The compiled function fails with a
    ``jax.errors.JaxRuntimeError`` (jaxlib's ``XlaRuntimeError`` on older JAX) whose message
    names the tree, the position and the value.
    The checks cost a transfer to the host per call: use them while debugging. A change of
    the setting clears JAX's caches (``jax.clear_caches()``), so that every jitted function is
    traced again, with or without the checks, when next called: a library's functions jitted
    before the call included. The environment variable ``RLU_TREES_JAX_DEBUG_CHECKS=1`` turns
    them on at import.

    Parameters
    ----------
    enabled : bool, optional
        True (the default) to turn them on, False to turn them off.

    Returns
    -------
    bool
        Whether they were on before.

    Raises
    ------
    TypeError
        If ``enabled`` is not a bool.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from rlu_trees.jax import JaxSumTree, debug_checks
    >>> step = lambda tree, p: tree.set_values(jnp.arange(2), p).root_value
    >>> float(jax.jit(step)(JaxSumTree(4), jnp.array([1.0, jnp.nan])))  # the NaN is skipped
    1.0
    >>> was = debug_checks(True)  # JAX's caches are cleared: step is traced anew
    >>> try:
    ...     jax.jit(step)(JaxSumTree(4), jnp.array([1.0, jnp.nan]))
    ... except jax.errors.JaxRuntimeError as error:
    ...     print("position 1, value nan" in str(error))
    True
    >>> _ = debug_checks(was)
    """
    global _enabled
    if type(enabled) is not bool:
        raise TypeError(f"enabled must be a bool, got {type(enabled).__name__}")
    previous, _enabled = _enabled, enabled
    if previous != enabled:
        # JAX reuses the programs it traced before, with or without the checks: drop them,
        # so that every function (a library's jitted ones too) is traced anew when called
        jax.clear_caches()  # type: ignore[no-untyped-call]  # jax: unannotated
    return previous


def enabled() -> bool:
    """Whether the debug checks are on."""
    return _enabled


def _raise_for_bad(
    name: str, capacity: int, nonneg: bool, idx: np.ndarray, values: np.ndarray
) -> None:
    """On the host: raise for the first entry a traced ``set_values`` would skip."""
    idx, values = np.asarray(idx), np.asarray(values)
    with np.errstate(invalid="ignore"):
        good = ~np.isnan(values)
        if nonneg:
            good &= (values >= 0) & np.isfinite(values)
    good |= (idx < -capacity) | (idx >= capacity)  # dropped on purpose: never written
    bad = ~good
    if bad.any():
        k = tuple(int(i) for i in np.argwhere(bad)[0])  # leading axes: a batch of trees
        rule = "finite and >= 0" if nonneg else "not NaN"
        raise ValueError(
            f"{name}.set_values (debug checks): the entry at position {int(idx[k])}, value "
            f"{float(values[k])!r}, would be skipped: values must be {rule} "
            f"({int(bad.sum())} such entries)"
        )


def check_entries(name: str, capacity: int, nonneg: bool, idx: Any, values: Any) -> None:
    """Inside a traced function, when the checks are on: raise on the host for bad entries."""
    idx = jnp.broadcast_to(idx, jnp.shape(values)) if jnp.ndim(idx) == 0 else idx
    report = functools.partial(_raise_for_bad, name, capacity, nonneg)
    jax.debug.callback(report, idx, values)
