"""Summary statistics of parameters and gradients, for logging during training."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from rlu_jaxtools._checks import check_str
from rlu_jaxtools._trees import tree_ravel

PyTree = Any

_QUANTILE_NAMES = ("min", "p25", "p50", "p75", "max")
_QUANTILE_LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)


@jax.jit
def _summary_values(flat: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The five magnitude quantiles and the L2 norm of a 1-d array, in a floating dtype."""
    magnitudes = jnp.abs(flat)
    if not jnp.issubdtype(magnitudes.dtype, jnp.floating):
        magnitudes = magnitudes.astype(jnp.result_type(float))
    levels = jnp.asarray(_QUANTILE_LEVELS, dtype=magnitudes.dtype)
    return jnp.quantile(magnitudes, levels), jnp.sqrt(jnp.sum(jnp.square(magnitudes)))


def _summary(flat: jax.Array, key_prefix: str, what: str, with_norm: bool) -> dict[str, jax.Array]:
    if flat.size == 0:
        raise ValueError(f"{what} has no entries; cannot compute magnitude quantiles")
    values, norm = _summary_values(flat)
    summary = {f"{key_prefix}{name}": values[i] for i, name in enumerate(_QUANTILE_NAMES)}
    if with_norm:
        summary[f"{key_prefix}norm"] = norm
    return summary


def get_magnitude_quantiles(pytree: PyTree, key_prefix: str = "") -> dict[str, jax.Array]:
    """Quantiles of the absolute values of all entries of a pytree.

    All leaves are flattened and concatenated (see [`tree_ravel`][rlu_jaxtools.tree_ravel]), the
    elementwise magnitudes ``|x|`` are taken, and their 0, 25, 50, 75 and 100 percent quantiles are
    computed with linear interpolation (as ``numpy.quantile`` does by default).

    Parameters
    ----------
    pytree : pytree with array leaves
        For example model parameters or gradients; it must hold at least one entry.
    key_prefix : str, optional
        A string put in front of every key of the result.

    Returns
    -------
    dict of str to jax.Array
        Keys ``min``, ``p25``, ``p50``, ``p75``, ``max`` (each with ``key_prefix``), values
        non-negative 0-d float arrays (use ``float(v)`` to get Python floats; inside
        ``jax.jit`` they are traced values).

    Raises
    ------
    TypeError
        If ``key_prefix`` is not a str.
    ValueError
        If the pytree holds no entries.

    Examples
    --------
    >>> import numpy as np
    >>> from rlu_jaxtools import get_magnitude_quantiles
    >>> q = get_magnitude_quantiles({"w": np.array([-4.0, 1.0]), "b": np.array([0.0, -2.0, 3.0])})
    >>> {k: float(v) for k, v in q.items()}
    {'min': 0.0, 'p25': 1.0, 'p50': 2.0, 'p75': 3.0, 'max': 4.0}
    """
    check_str("key_prefix", key_prefix, where="get_magnitude_quantiles")
    what = "get_magnitude_quantiles: pytree"
    return _summary(tree_ravel(pytree), key_prefix, what, with_norm=False)


def get_grads_diagnostics(
    grads: PyTree, key_prefix: str = "", keep_tree_structure: bool = False
) -> dict[str, jax.Array] | PyTree:
    """Magnitude quantiles and the L2 norm of a pytree of gradients.

    The quantiles are those of [`get_magnitude_quantiles`][rlu_jaxtools.get_magnitude_quantiles]
    (see there); in addition the Euclidean norm of all entries is reported under ``norm``. With
    ``keep_tree_structure=True`` the same summary is computed for every leaf on its own.

    Parameters
    ----------
    grads : pytree with array leaves
        Gradients of a loss with respect to model parameters (or any pytree of arrays).
    key_prefix : str, optional
        A string put in front of every key.
    keep_tree_structure : bool, optional
        If False (default), return one summary of all entries together. If True, return a
        pytree shaped like ``grads`` in which every leaf is replaced by its own summary dict.

    Returns
    -------
    dict of str to jax.Array, or pytree of such dicts
        Keys ``min``, ``p25``, ``p50``, ``p75``, ``max``, ``norm`` (each with
        ``key_prefix``); values are 0-d float arrays.

    Raises
    ------
    TypeError
        If ``key_prefix`` is not a str.
    ValueError
        If ``grads`` (or, with ``keep_tree_structure``, one of its leaves) has no entries.

    Examples
    --------
    >>> import numpy as np
    >>> from rlu_jaxtools import get_grads_diagnostics
    >>> grads = {"w": np.array([3.0, -4.0]), "b": np.array([0.0])}
    >>> d = get_grads_diagnostics(grads, key_prefix="grads/")
    >>> float(d["grads/norm"]), float(d["grads/max"]), float(d["grads/p50"])
    (5.0, 4.0, 3.0)
    >>> per_leaf = get_grads_diagnostics(grads, keep_tree_structure=True)
    >>> float(per_leaf["w"]["norm"]), float(per_leaf["b"]["max"])
    (5.0, 0.0)
    """
    check_str("key_prefix", key_prefix, where="get_grads_diagnostics")
    if keep_tree_structure:
        leaves_with_paths, treedef = jax.tree_util.tree_flatten_with_path(grads)
        summaries = [
            _summary(
                jnp.ravel(jnp.asarray(leaf)),
                key_prefix,
                f"get_grads_diagnostics: the leaf at {jax.tree_util.keystr(path) or '<root>'}",
                with_norm=True,
            )
            for path, leaf in leaves_with_paths
        ]
        return jax.tree.unflatten(treedef, summaries)
    what = "get_grads_diagnostics: grads"
    return _summary(tree_ravel(grads), key_prefix, what, with_norm=True)
