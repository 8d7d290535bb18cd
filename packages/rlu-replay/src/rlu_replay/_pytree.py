"""Pytrees without jax: flatten and unflatten nests of namedtuples, dicts, tuples and lists.

A leaf is anything else (an array, a number); None is an empty node with no leaves, as in JAX.
Dict keys are visited in sorted order, so two dicts with the same keys have the same structure
whatever their insertion order. A ``TreeDef`` records the structure and names every leaf by its
path (``S``, ``S['pos']``, ``[0]``) for error messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

# a node is ("leaf",) | ("none",) | ("dict", type, keys, children)
#         | ("seq", type, children) | ("namedtuple", type, children)
Node = tuple[Any, ...]
_LEAF: Node = ("leaf",)
_NONE: Node = ("none",)


def _is_namedtuple(x: object) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _flatten(tree: Any, leaves: list[Any], paths: list[str], path: str) -> Node:
    if tree is None:
        return _NONE
    if _is_namedtuple(tree):
        children = tuple(
            _flatten(v, leaves, paths, f"{path}.{k}" if path else k)
            for k, v in zip(type(tree)._fields, tree, strict=True)
        )
        return ("namedtuple", type(tree), children)
    if isinstance(tree, Mapping):
        keys = tuple(sorted(tree))
        children = tuple(_flatten(tree[k], leaves, paths, f"{path}[{k!r}]") for k in keys)
        return ("dict", type(tree), keys, children)
    if isinstance(tree, (tuple, list)):
        children = tuple(_flatten(v, leaves, paths, f"{path}[{i}]") for i, v in enumerate(tree))
        return ("seq", type(tree), children)
    leaves.append(tree)
    paths.append(path or "<root>")
    return _LEAF


class TreeDef:
    """The structure of a pytree: what ``flatten`` takes apart and ``unflatten`` builds."""

    __slots__ = ("node", "paths")

    def __init__(self, node: Node, paths: Sequence[str]) -> None:
        self.node = node
        self.paths = tuple(paths)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TreeDef) and self.node == other.node

    def __hash__(self) -> int:
        return hash(self.node)

    def __repr__(self) -> str:
        return f"TreeDef({', '.join(self.paths)})"

    def __getstate__(self) -> tuple[Node, tuple[str, ...]]:
        return self.node, self.paths

    def __setstate__(self, state: tuple[Node, tuple[str, ...]]) -> None:
        self.node, self.paths = state

    @property
    def num_leaves(self) -> int:
        return len(self.paths)

    def unflatten(self, leaves: Sequence[Any]) -> Any:
        it = iter(leaves)
        tree = _build(self.node, it)
        return tree

    def describe_difference(self, other: TreeDef) -> str:
        """Say, in words, how ``other`` differs from this structure."""
        mine, theirs = set(self.paths), set(other.paths)
        parts = []
        if theirs - mine:
            parts.append(f"unexpected leaves {sorted(theirs - mine)}")
        if mine - theirs:
            parts.append(f"missing leaves {sorted(mine - theirs)}")
        if not parts:
            parts.append("the containers differ (types, None fields or key order of a sequence)")
        return "; ".join(parts)


def _build(node: Node, it: Any) -> Any:
    kind = node[0]
    if kind == "leaf":
        return next(it)
    if kind == "none":
        return None
    if kind == "namedtuple":
        return node[1]._make(_build(c, it) for c in node[2])
    if kind == "dict":
        return node[1]((k, _build(c, it)) for k, c in zip(node[2], node[3], strict=True))
    return node[1](_build(c, it) for c in node[2])


def flatten(tree: Any) -> tuple[list[Any], TreeDef]:
    """The leaves of ``tree`` (depth first, dict keys sorted) and its structure."""
    leaves: list[Any] = []
    paths: list[str] = []
    node = _flatten(tree, leaves, paths, "")
    return leaves, TreeDef(node, paths)


def leaves_as(node: Node, tree: Any, out: list[Any]) -> bool:
    """Append the leaves of ``tree`` to ``out`` if it has the structure ``node``; else False.

    The fast path of a buffer's ``add``: no paths are built. On False, ``flatten`` says why.
    """
    kind = node[0]
    if kind == "leaf":
        if tree is None or isinstance(tree, (tuple, list, Mapping)):
            return False
        out.append(tree)
        return True
    if kind == "none":
        return tree is None
    if kind == "dict":
        if type(tree) is not node[1] or len(tree) != len(node[2]):
            return False
        try:
            return all(leaves_as(c, tree[k], out) for k, c in zip(node[2], node[3], strict=True))
        except KeyError:
            return False
    if type(tree) is not node[1] or len(tree) != len(node[2]):
        return False
    return all(leaves_as(c, t, out) for c, t in zip(node[2], tree, strict=True))


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """Apply ``f`` leaf by leaf to ``tree`` and trees of the same structure."""
    leaves, treedef = flatten(tree)
    others = [flatten(t)[0] for t in rest]
    return treedef.unflatten([f(*xs) for xs in zip(leaves, *others, strict=True)])


def is_transition_batch(tree: object) -> bool:
    """Whether ``tree`` is a TransitionBatch (by its shape: a named tuple with W and idx)."""
    if not _is_namedtuple(tree):
        return False
    fields = type(tree)._fields  # type: ignore[attr-defined]  # a namedtuple: checked above
    return "W" in fields and "idx" in fields and "Rn" in fields
