"""Keep layers that several models share in step, by weighted averaging."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from rlu_jaxtools._checks import (
    ValueAndAssertionError,
    check_alike,
    check_mappings,
    check_weights,
)


def _check_shared_entry(name: str, subtrees: list[Any]) -> None:
    check_alike(
        f"the shared entry {name!r}",
        subtrees,
        structure_message=lambda i, other, first: (
            f"sync_shared_params: the shared entry {name!r} has structure {other} in "
            f"params {i} but {first} in params 0"
        ),
        shapes_message=lambda _, shapes: (
            f"sync_shared_params: the shared entry {name!r} has leaves of different "
            f"shapes across the params: {shapes}"
        ),
        error=ValueAndAssertionError,
    )


@jax.jit
def _weighted_average(w: jax.Array, subtrees: list[Any]) -> Any:
    """Leafwise sum_k w[k] * subtrees[k] / sum(w); floating leaves keep their dtype."""
    w = w / jnp.sum(w)

    def average(*leaves: Any) -> jax.Array:
        dtype = jnp.result_type(*leaves)
        weights = w.astype(dtype) if jnp.issubdtype(dtype, jnp.inexact) else w
        total = weights[0] * jnp.asarray(leaves[0])
        for k in range(1, len(leaves)):
            total = total + weights[k] * jnp.asarray(leaves[k])
        return total

    return jax.tree.map(average, *subtrees)


def sync_shared_params(
    *params: Mapping[str, Any], weights: Sequence[float] | ArrayLike | None = None
) -> tuple[dict[str, Any], ...]:
    """Replace the shared entries of several params dicts by their weighted average.

    An entry is shared when its top-level key appears in two or more of the params dicts, as a
    haiku module name does when two models (say an actor and a critic) use the same torso.
    Each shared entry becomes ``sum_k w_k * params[k][key]`` leaf by leaf over the dicts that
    hold it, with their weights normalised to sum to one; entries found in one dict only are
    returned unchanged. The inputs are not modified. Floating leaves keep their dtype.

    Parameters
    ----------
    *params : mapping of str to pytree
        The parameter dicts (e.g. ``hk.Params``: plain nested dicts of arrays).
    weights : sequence of positive floats, optional
        Relative weight of each params dict; normalised internally, so only ratios matter.
        Default: equal weights.

    Returns
    -------
    tuple of dict
        One new dict per input, with the shared entries synchronised.

    Raises
    ------
    TypeError
        If no params are given, one of them is not a mapping (also an AttributeError, as
        coax raised), or ``weights`` is not numeric.
    ValueError
        If ``weights`` does not hold one positive number per params dict, or a shared entry
        differs in structure or leaf shapes between the dicts. Non-positive weights and
        differing structures also raise AssertionError, as coax's ``assert`` did.

    Examples
    --------
    >>> import numpy as np
    >>> from rlu_jaxtools import sync_shared_params
    >>> actor = {"torso": {"w": np.array([1.0, 2.0])}, "pi_head": {"w": np.array([5.0])}}
    >>> critic = {"torso": {"w": np.array([3.0, 6.0])}, "v_head": {"w": np.array([7.0])}}
    >>> actor, critic = sync_shared_params(actor, critic, weights=[3, 1])
    >>> actor["torso"]["w"].tolist(), critic["torso"]["w"].tolist()
    ([1.5, 3.0], [1.5, 3.0])
    >>> actor["pi_head"]["w"].tolist(), sorted(critic)
    ([5.0], ['torso', 'v_head'])
    """
    check_mappings("params", params, where="sync_shared_params")
    w = check_weights("weights", weights, count=len(params), where="sync_shared_params")
    holders: dict[str, list[int]] = {}  # key -> indices of the dicts that hold it
    for i, p in enumerate(params):
        for key in p:
            holders.setdefault(key, []).append(i)
    shared = {key: idx for key, idx in holders.items() if len(idx) > 1}
    for key, idx in shared.items():
        _check_shared_entry(key, [params[i][key] for i in idx])
    synced = {
        key: _weighted_average(w[jnp.asarray(idx)], [params[i][key] for i in idx])
        for key, idx in shared.items()
    }
    return tuple({key: synced.get(key, value) for key, value in p.items()} for p in params)
