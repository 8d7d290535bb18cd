"""The pytrees of TransitionBatch's fields: nests of mappings, tuples, named tuples and lists.

A leaf is anything else (an array, a number); None is an empty node without leaves, as in JAX.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast

import numpy as np


def is_namedtuple(tree: object) -> bool:
    """Whether ``tree`` is an instance of a named tuple class."""
    return isinstance(tree, tuple) and hasattr(tree, "_fields")


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """Apply ``f`` leaf by leaf to ``tree`` and trees of the same structure; None stays None.

    The result has ``tree``'s structure (and its mappings' key order); ``rest`` is read by it.
    """
    if tree is None:
        return None
    if isinstance(tree, Mapping):
        return cast(Any, type(tree))(
            (k, tree_map(f, v, *(other[k] for other in rest))) for k, v in tree.items()
        )
    if is_namedtuple(tree):
        return type(tree)(*(tree_map(f, *nodes) for nodes in zip(tree, *rest, strict=True)))
    if isinstance(tree, (tuple, list)):
        return type(tree)(tree_map(f, *nodes) for nodes in zip(tree, *rest, strict=True))
    return f(tree, *rest)


def tree_equal(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` have equal structure, shapes and close values.

    In the structure, a list equals a tuple.
    """
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, Mapping) or isinstance(b, Mapping):
        return (
            isinstance(a, Mapping)
            and isinstance(b, Mapping)
            and a.keys() == b.keys()
            and all(tree_equal(a[k], b[k]) for k in a)
        )
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (
            isinstance(a, (tuple, list))
            and isinstance(b, (tuple, list))
            and len(a) == len(b)
            and all(map(tree_equal, a, b))
        )
    x, y = np.asarray(a), np.asarray(b)
    if x.shape != y.shape:
        return False
    if np.issubdtype(x.dtype, np.number) and np.issubdtype(y.dtype, np.number):
        return bool(np.allclose(x, y, equal_nan=True))
    return bool(np.array_equal(x, y))


def _describe(tree: Any) -> str:
    if tree is None:
        return "None"
    if isinstance(tree, Mapping):
        keys = ", ".join(sorted(map(repr, tree)))
        return f"a {type(tree).__name__} with keys {keys}" if keys else "an empty mapping"
    if is_namedtuple(tree):
        return f"a {type(tree).__name__}"
    if isinstance(tree, (tuple, list)):
        return f"a {type(tree).__name__} of {len(tree)}"
    return f"a leaf ({type(tree).__name__})"


def _children(tree: Any) -> list[tuple[str, Any]]:
    """``(path step, key)`` for each child of a node, in order (``tree[key]`` is the child);
    none for a leaf or None."""
    if isinstance(tree, Mapping):
        return [(f"[{k!r}]", k) for k in tree]
    if is_namedtuple(tree):
        return [(f".{name}", i) for i, name in enumerate(tree._fields)]
    if isinstance(tree, (tuple, list)):
        return [(f"[{i}]", i) for i in range(len(tree))]
    return []


def _is_node(tree: Any) -> bool:
    return tree is None or isinstance(tree, (Mapping, tuple, list))


def _same_node(a: Any, b: Any) -> bool:
    if not (_is_node(a) or _is_node(b)):
        return True  # two leaves
    if type(a) is not type(b):
        return False
    return set(a) == set(b) if isinstance(a, Mapping) else a is None or len(a) == len(b)


def structure_difference(a: Any, b: Any) -> tuple[str, str, str] | None:
    """Where the structures of pytrees ``a`` and ``b`` first differ, or None where they agree.

    Returns ``(path, what a has, what b has)``; the path (``"['obs'][1]"``) is empty where the
    roots differ. Nodes agree when they are of one type (a list is not a tuple) and have the same
    keys (in any order) or length; any two leaves agree.
    """
    if not _same_node(a, b):
        return "", _describe(a), _describe(b)
    for step, key in _children(a):
        found = structure_difference(a[key], b[key])
        if found is not None:
            return step + found[0], found[1], found[2]
    return None


def leaves_with_paths(tree: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """``(path, leaf)`` for every leaf of ``tree``, in order (``("['obs'][1]", leaf)``)."""
    if not _is_node(tree):
        yield path, tree
        return
    for step, key in _children(tree):
        yield from leaves_with_paths(tree[key], path + step)
