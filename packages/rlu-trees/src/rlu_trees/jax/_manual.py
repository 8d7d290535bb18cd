"""Values inside ``jax.shard_map``: the manual axes a value varies over are part of its type.

Inside ``shard_map`` (with its default ``check_vma=True``) JAX types each value with the mesh
axes it varies over, and the two branches of ``lax.platform_dependent``, or a loop's carry
before and after its body, must have the same type. A custom call's results, and constants
such as a loop's starting node, vary over none; `vary_like` gives them the axes of the values
they are computed from. Outside ``shard_map``, and in a JAX without these types, it returns
its values as they are.
"""

from __future__ import annotations

from typing import Any, TypeVar

import jax
from jax import lax

_T = TypeVar("_T")


def _axes(value: Any) -> frozenset[str]:
    """The manual axes ``value`` varies over (none outside shard_map)."""
    typeof = getattr(jax, "typeof", None)
    if typeof is None:  # a JAX without these types
        return frozenset()
    aval = typeof(value)
    kinds = getattr(aval, "manual_axis_type", None)  # JAX 0.10
    if kinds is not None:
        return frozenset(kinds.varying)
    return frozenset(getattr(aval, "vma", ()))  # JAX 0.6 to 0.9


def vary_like(values: _T, *like: Any) -> _T:
    """``values`` (a pytree of arrays), each cast to vary over every manual axis that an array
    of ``like`` varies over."""
    axes = frozenset().union(*(_axes(a) for a in jax.tree_util.tree_leaves(like)))
    if not axes:
        return values

    def vary(value: Any) -> Any:
        missing = tuple(sorted(axes - _axes(value)))
        if not missing:
            return value
        if hasattr(lax, "pcast"):  # JAX 0.8.2 and later
            return lax.pcast(value, missing, to="varying")
        return lax.pvary(value, missing)  # type: ignore[attr-defined]  # older JAX

    out: _T = jax.tree_util.tree_map(vary, values)
    return out
