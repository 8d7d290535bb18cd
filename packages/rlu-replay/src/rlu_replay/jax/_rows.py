"""The stored items packed into rows: one 2-d array per kind of word, not one per leaf.

Why: a jitted call costs about a microsecond and a half on the CPU for every array it gives
back, whatever its size, and a donated replay state gives all of its arrays back. A
CartPole transition is five leaves (obs, action, reward, discount, next obs); stored as one
leaf each, they were five of the twelve arrays of a prioritized state. Bit-cast to 32-bit
words and laid side by side, they are one ``(capacity, 11)`` array of uint32: one array to
give back, one scatter per add and one gather per sample.

Leaves whose dtype is 1, 2, 4 or 8 bytes of numbers are stored as unsigned words of their
width (8-byte leaves as two 32-bit words, so that no 64-bit dtype is needed); bool and
complex leaves keep their dtype, in a group of their own. The bits are kept exactly: a
round trip gives back every value, NaN payloads and negative zeros included.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

# dtypes whose bits are stored as unsigned words of their width
_WORDS: dict[int, np.dtype[Any]] = {
    1: np.dtype(np.uint8),
    2: np.dtype(np.uint16),
    4: np.dtype(np.uint32),
}


class Column(NamedTuple):
    """Where one leaf lives: its group, first column and width in that group's rows."""

    path: str
    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    group: int
    start: int
    width: int
    words: int  # words per element: 2 for an 8-byte leaf, else 1 (0: stored as it is)


class Layout(NamedTuple):
    """The items' structure and where each leaf lives in the rows (static, hashable)."""

    treedef: Any
    columns: tuple[Column, ...]
    groups: tuple[tuple[np.dtype[Any], int], ...]  # per group: its dtype and width


def _bits(dtype: np.dtype[Any]) -> int:
    """The bits of an integer or real dtype (numpy's and ml_dtypes': bfloat16, float8...)."""
    if jnp.issubdtype(dtype, jnp.integer):
        return int(jnp.iinfo(dtype).bits)
    if jnp.issubdtype(dtype, jnp.floating):
        return int(jnp.finfo(dtype).bits)
    return 0  # bool, complex


def _word(dtype: np.dtype[Any]) -> tuple[np.dtype[Any], int]:
    """The dtype a leaf is stored as, and how many of them one element takes (0: as is)."""
    bits = _bits(dtype)
    if bits == 8 * dtype.itemsize and dtype.itemsize in _WORDS:
        return _WORDS[dtype.itemsize], 1
    if bits == 64:
        return _WORDS[4], 2
    return dtype, 0  # bool, complex, sub-byte ints: kept as they are


def layout(treedef: Any, paths: list[str], leaves: list[tuple[Any, tuple[int, ...]]]) -> Layout:
    """The layout of items with this structure, leaf paths and ``(dtype, shape)`` per leaf."""
    kinds: dict[np.dtype[Any], int] = {}
    widths: list[int] = []
    columns = []
    for path, (dtype, shape) in zip(paths, leaves, strict=True):
        dtype = np.dtype(dtype)
        stored, words = _word(dtype)
        group = kinds.setdefault(stored, len(kinds))
        if group == len(widths):
            widths.append(0)
        width = math.prod(shape) * max(words, 1)
        columns.append(Column(path, dtype, tuple(shape), group, widths[group], width, words))
        widths[group] += width
    groups = tuple((kind, widths[k]) for kind, k in kinds.items())
    return Layout(treedef, tuple(columns), groups)


def empty(lay: Layout, capacity: int) -> tuple[jax.Array, ...]:
    """Zeroed rows for ``capacity`` items."""
    return tuple(jnp.zeros((capacity, width), dtype) for dtype, width in lay.groups)


def pack(lay: Layout, leaves: list[jax.Array]) -> tuple[jax.Array, ...]:
    """Rows for leaves of the layout's dtypes with any leading axes ``(..., n, *shape)``."""
    parts: list[list[jax.Array]] = [[] for _ in lay.groups]
    for column, leaf in zip(lay.columns, leaves, strict=True):
        lead = leaf.shape[: leaf.ndim - len(column.shape)]
        stored = lay.groups[column.group][0]
        if column.words:
            leaf = lax.bitcast_convert_type(leaf, stored)  # 8 bytes: a last axis of 2 words
        parts[column.group].append(leaf.reshape(*lead, column.width))
    return tuple(p[0] if len(p) == 1 else jnp.concatenate(p, axis=-1) for p in parts)


def unpack(lay: Layout, rows: tuple[jax.Array, ...]) -> Any:
    """The items' pytree from rows of shape ``(..., n, width)``."""
    leaves = []
    for column in lay.columns:
        part = rows[column.group][..., column.start : column.start + column.width]
        lead = part.shape[:-1]
        if column.words == 2:
            part = part.reshape(*lead, -1, 2)
        if column.words:
            part = lax.bitcast_convert_type(part, column.dtype)
        leaves.append(part.reshape(*lead, *column.shape))
    return jax.tree_util.tree_unflatten(lay.treedef, leaves)
