"""The pytrees of TransitionBatch's fields, walked by optree with JAX's rules.

``optree`` (JAX's pytree rules in C++, without jax) is the one walker of rlu's host code: dicts,
named tuples, tuples and lists are nodes, a dict's keys are visited in sorted order (an
``OrderedDict``'s in its own), None is an empty node without leaves, and anything else (an
array, a number) is a leaf. A mapped tree keeps each dict's own key order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import optree

# optree's own keyword, spelled once: None is an empty node, as in JAX
_NONE_IS_LEAF = False


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """Apply ``f`` leaf by leaf to ``tree`` and trees of the same structure; None stays None.

    The result has ``tree``'s structure (and its dicts' key order).
    """
    return optree.tree_map(f, tree, *rest, none_is_leaf=_NONE_IS_LEAF)


def tree_equal(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` have one structure (JAX's: a list is no tuple) and close values."""
    leaves_a, spec_a = optree.tree_flatten(a, none_is_leaf=_NONE_IS_LEAF)
    leaves_b, spec_b = optree.tree_flatten(b, none_is_leaf=_NONE_IS_LEAF)
    return spec_a == spec_b and all(map(_leaf_equal, leaves_a, leaves_b))


def _leaf_equal(a: Any, b: Any) -> bool:
    x, y = np.asarray(a), np.asarray(b)
    if x.shape != y.shape:
        return False
    if np.issubdtype(x.dtype, np.number) and np.issubdtype(y.dtype, np.number):
        return bool(np.allclose(x, y, equal_nan=True))
    return bool(np.array_equal(x, y))


def _children(tree: Any) -> list[tuple[str, Any]] | None:
    """``(path step, child)`` for each child of a node, in optree's order; None for a leaf."""
    if optree.tree_is_leaf(tree, none_is_leaf=_NONE_IS_LEAF):
        return None
    children, _, entries, _ = optree.tree_flatten_one_level(tree, none_is_leaf=_NONE_IS_LEAF)
    if hasattr(type(tree), "_fields"):  # a named tuple: its entries are positions
        return [(f".{type(tree)._fields[i]}", c) for i, c in zip(entries, children, strict=True)]
    if isinstance(tree, (tuple, list)):
        return [(f"[{i}]", c) for i, c in zip(entries, children, strict=True)]
    return [(f"[{k!r}]", c) for k, c in zip(entries, children, strict=True)]


def _describe(tree: Any) -> str:
    if tree is None:
        return "None"
    children = _children(tree)
    if children is None:
        return f"a leaf ({type(tree).__name__})"
    if hasattr(type(tree), "_fields"):
        return f"a {type(tree).__name__}"
    if isinstance(tree, (tuple, list)):
        return f"a {type(tree).__name__} of {len(tree)}"
    keys = ", ".join(sorted(step[1:-1] for step, _ in children))
    return f"a {type(tree).__name__} with keys {keys}" if keys else "an empty mapping"


def structure_difference(a: Any, b: Any) -> tuple[str, str, str] | None:
    """Where the structures of pytrees ``a`` and ``b`` first differ, or None where they agree.

    Returns ``(path, what a has, what b has)``; the path (``"['obs'][1]"``) is empty where the
    roots differ. Nodes agree when they are of one type (a list is not a tuple) and have the same
    keys (in any order) or length; any two leaves agree.
    """
    mine, theirs = _children(a), _children(b)
    if mine is None and theirs is None:
        return None  # two leaves
    if (
        mine is None
        or theirs is None
        or type(a) is not type(b)
        or [step for step, _ in mine] != [step for step, _ in theirs]
    ):
        return "", _describe(a), _describe(b)
    for (step, x), (_, y) in zip(mine, theirs, strict=True):
        found = structure_difference(x, y)
        if found is not None:
            return step + found[0], found[1], found[2]
    return None


def leaves_with_paths(tree: Any) -> Iterator[tuple[str, Any]]:
    """``(path, leaf)`` for every leaf of ``tree``, in order (``("['obs'][1]", leaf)``)."""
    accessors, leaves, _ = optree.tree_flatten_with_accessor(tree, none_is_leaf=_NONE_IS_LEAF)
    for accessor, leaf in zip(accessors, leaves, strict=True):
        yield accessor.codify(""), leaf
