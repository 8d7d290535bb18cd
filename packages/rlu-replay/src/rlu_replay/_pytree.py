"""Pytrees without jax, walked by optree with JAX's rules.

``optree`` (JAX's pytree rules in C++, without jax) takes batches apart: dicts, named tuples,
tuples and lists are nodes, a dict's keys are visited in sorted order (an ``OrderedDict``'s in
its own), None is an empty node with no leaves, and anything else is a leaf. A ``TreeDef``
holds optree's structure and names every leaf by its path (``S``, ``S['pos']``, ``[0]``) for
error messages.

This module's path is also where pickles of rlu-replay 0.1 to 0.3 find ``TreeDef``: those
recorded a structure as nested tuples (``node``), which ``TreeDef`` still reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import optree

# optree's own keyword, spelled once: None is an empty node, as in JAX
_NONE_IS_LEAF = False


def _path(accessor: optree.PyTreeAccessor) -> str:
    text: str = accessor.codify("")
    return text[1:] if text.startswith(".") else (text or "<root>")


class TreeDef:
    """The structure of a pytree: what ``flatten`` takes apart and ``unflatten`` builds."""

    __slots__ = ("_paths", "spec")

    def __init__(self, spec: optree.PyTreeSpec) -> None:
        self.spec = spec
        self._paths: tuple[str, ...] | None = None

    @property
    def paths(self) -> tuple[str, ...]:
        """Each leaf's path, in the order of the leaves (made on first use)."""
        if self._paths is None:
            self._paths = tuple(_path(a) for a in self.spec.accessors())
        return self._paths

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TreeDef) and self.spec == other.spec

    def __hash__(self) -> int:
        return hash(self.spec)

    def __repr__(self) -> str:
        return f"TreeDef({', '.join(self.paths)})"

    def __getstate__(self) -> dict[str, Any]:
        return {"spec": self.spec}

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple):  # rlu-replay 0.1 to 0.3: (node, paths)
            spec = optree.tree_structure(_legacy_build(state[0]), none_is_leaf=_NONE_IS_LEAF)
        else:
            spec = state["spec"]
        self.spec = spec
        self._paths = None

    @property
    def num_leaves(self) -> int:
        return int(self.spec.num_leaves)

    def flat_dict_keys(self) -> tuple[Any, ...] | None:
        """The keys, in leaf order, when the structure is one plain dict of leaves; else None."""
        spec = self.spec
        if spec.type is not dict or not all(c.is_leaf() for c in spec.children()):
            return None
        return tuple(spec.entries())

    def unflatten(self, leaves: Sequence[Any]) -> Any:
        return self.spec.unflatten(leaves)

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


def _legacy_build(node: tuple[Any, ...]) -> Any:
    """A tree of the structure a pickled 0.1 to 0.3 ``node`` describes, with 0 as every leaf.

    Those versions visited every mapping's keys in sorted order; the keys go back in that order,
    so an ``OrderedDict`` keeps its leaves in the order its storage was written in.
    """
    leaf = iter(lambda: 0, None)
    return _build(node, leaf)


def _build(node: tuple[Any, ...], leaf: Iterator[int]) -> Any:
    kind = node[0]
    if kind == "leaf":
        return next(leaf)
    if kind == "none":
        return None
    if kind == "namedtuple":
        return node[1]._make(_build(c, leaf) for c in node[2])
    if kind == "dict":
        return node[1]((k, _build(c, leaf)) for k, c in zip(node[2], node[3], strict=True))
    return node[1](_build(c, leaf) for c in node[2])


def flatten(tree: Any) -> tuple[list[Any], TreeDef]:
    """The leaves of ``tree`` (depth first, dict keys sorted) and its structure."""
    leaves, spec = optree.tree_flatten(tree, none_is_leaf=_NONE_IS_LEAF)
    return leaves, TreeDef(spec)


def leaves_as(treedef: TreeDef, tree: Any, out: list[Any]) -> bool:
    """Append the leaves of ``tree`` to ``out`` if it has the structure ``treedef``; else False.

    The fast path of a buffer's ``add``: no paths are built. On False, ``flatten`` says why.
    """
    leaves, spec = optree.tree_flatten(tree, none_is_leaf=_NONE_IS_LEAF)
    if spec != treedef.spec:
        return False
    out.extend(leaves)
    return True


def is_transition_batch(tree: object) -> bool:
    """Whether ``tree`` is a TransitionBatch (by its shape: a named tuple with W and idx)."""
    if not (isinstance(tree, tuple) and hasattr(type(tree), "_fields")):
        return False
    fields = type(tree)._fields  # type: ignore[attr-defined]  # a namedtuple: checked above
    return "W" in fields and "idx" in fields and "Rn" in fields
