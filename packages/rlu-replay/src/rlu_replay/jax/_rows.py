"""The stored items packed into rows: one 2-d array per kind of word, not one per leaf.

Why: a jitted call costs more for every array it gives back, whatever its size (in
``bench:jaxreplay``'s floor table on the development CPU: 4.5 µs for one small array, 17.8 for
sixteen, on 2026-12-07), and a donated replay state gives all of its arrays back. A
CartPole transition is five leaves (obs, action, reward, discount, next obs); stored as one
leaf each, they were five of the twelve arrays of a prioritized state. Bit-cast to 32-bit
words and laid side by side, with each item's identifier as a twelfth word, they are one
``(capacity, 12)`` array of uint32: one array to give back, one scatter (for one item, one
slice update) per add and one gather per sample, which reads an item's identifier from the
cache line that holds the item.

Leaves whose dtype is 1, 2, 4 or 8 bytes of numbers are stored as unsigned words of their
width (8-byte leaves as two 32-bit words, so that no 64-bit dtype is needed); bool and
complex leaves keep their dtype, in a group of their own. The bits are kept exactly: a
round trip gives back every value, NaN payloads and negative zeros included. A state's
counters and largest priority follow the items in the identifiers' group (see ``_tail``).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

# the path of the identifiers' column, which is no leaf of the items
IDENTIFIERS = "(identifier)"

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
    """The items' structure, where each leaf and the identifiers live in the rows (static,
    hashable)."""

    treedef: Any
    columns: tuple[Column, ...]
    ident: Column
    groups: tuple[tuple[np.dtype[Any], int], ...]  # per group: its dtype and width


def _bits(dtype: np.dtype[Any]) -> int:
    """The bits of an integer or real dtype (numpy's and ml_dtypes': bfloat16, float8...)."""
    if jnp.issubdtype(dtype, jnp.integer):
        return int(jnp.iinfo(dtype).bits)  # type: ignore[no-untyped-call]  # jax's
    if jnp.issubdtype(dtype, jnp.floating):
        return int(jnp.finfo(dtype).bits)  # type: ignore[no-untyped-call]  # jax's
    return 0  # bool, complex


def _word(dtype: np.dtype[Any]) -> tuple[np.dtype[Any], int]:
    """The dtype a leaf is stored as, and how many of them one element takes (0: as is)."""
    bits = _bits(dtype)
    if bits == 8 * dtype.itemsize and dtype.itemsize in _WORDS:
        return _WORDS[dtype.itemsize], 1
    if bits == 64:
        return _WORDS[4], 2
    return dtype, 0  # bool, complex, sub-byte ints: kept as they are


def layout(
    treedef: Any,
    paths: list[str],
    leaves: list[tuple[Any, tuple[int, ...]]],
    ints: Any,
) -> Layout:
    """The layout of items with this structure, leaf paths and ``(dtype, shape)`` per leaf,
    and identifiers of the int dtype ``ints`` (in the 32-bit words)."""
    kinds: dict[np.dtype[Any], int] = {}
    widths: list[int] = []

    def place(path: str, dtype: np.dtype[Any], shape: tuple[int, ...]) -> Column:
        stored, words = _word(dtype)
        group = kinds.setdefault(stored, len(kinds))
        if group == len(widths):
            widths.append(0)
        width = math.prod(shape) * max(words, 1)
        column = Column(path, dtype, shape, group, widths[group], width, words)
        widths[group] += width
        return column

    columns = tuple(
        place(p, np.dtype(d), tuple(s)) for p, (d, s) in zip(paths, leaves, strict=True)
    )
    ident = place(IDENTIFIERS, np.dtype(ints), ())
    groups = tuple((kind, widths[k]) for kind, k in kinds.items())
    return Layout(treedef, columns, ident, groups)


def items(lay: Layout, capacity: int, rows: tuple[jax.Array, ...]) -> tuple[jax.Array, ...]:
    """The items' rows, without the tail."""
    return tuple(r[..., :capacity, :] for r in rows)


def empty(lay: Layout, capacity: int) -> tuple[jax.Array, ...]:
    """Rows for ``capacity`` items: zeros, and identifiers -1 (no item): one row, repeated."""
    rows = []
    for group, (dtype, width) in enumerate(lay.groups):
        row = np.zeros(width, dtype)
        if group == lay.ident.group:  # every bit set: -1 in the identifiers' int dtype
            row[lay.ident.start : lay.ident.start + lay.ident.width] = np.iinfo(dtype).max
        rows.append(jnp.broadcast_to(jnp.asarray(row), (capacity, width)))
    return tuple(rows)


def pack(lay: Layout, leaves: list[jax.Array], ids: jax.Array) -> tuple[jax.Array, ...]:
    """Rows for leaves of the layout's dtypes with any leading axes ``(..., n, *shape)``, and
    the items' identifiers ``(..., n)``."""
    parts: list[list[jax.Array]] = [[] for _ in lay.groups]
    for column, leaf in zip((*lay.columns, lay.ident), (*leaves, ids), strict=True):
        lead = leaf.shape[: leaf.ndim - len(column.shape)]
        stored = lay.groups[column.group][0]
        if column.words:
            leaf = lax.bitcast_convert_type(leaf, stored)  # 8 bytes: a last axis of 2 words
        parts[column.group].append(leaf.reshape(*lead, column.width))
    return tuple(p[0] if len(p) == 1 else jnp.concatenate(p, axis=-1) for p in parts)


def _read(column: Column, rows: tuple[jax.Array, ...]) -> jax.Array:
    part = rows[column.group][..., column.start : column.start + column.width]
    lead = part.shape[:-1]
    if column.words == 2:
        part = part.reshape(*lead, column.width // 2, 2)  # not -1: `lead` may hold a 0
    if column.words:
        part = lax.bitcast_convert_type(part, column.dtype)
    return part.reshape(*lead, *column.shape)


def unpack(lay: Layout, rows: tuple[jax.Array, ...]) -> Any:
    """The items' pytree from rows of shape ``(..., n, width)``."""
    leaves = [_read(column, rows) for column in lay.columns]
    return jax.tree_util.tree_unflatten(lay.treedef, leaves)


def identifiers(lay: Layout, rows: tuple[jax.Array, ...]) -> jax.Array:
    """The identifiers ``(..., n)`` from rows of shape ``(..., n, width)``."""
    return _read(lay.ident, rows)


# a state's items and identifiers as its properties read them, outside jit too:
# one compiled program per layout and shape of rows, where eager operations compile a program
# for each slice, reshape and bitcast (and run each as a call of its own on every read)
unpacked = jax.jit(lambda lay, cap, rows: unpack(lay, items(lay, cap, rows)), static_argnums=(0, 1))
identifiers_of = jax.jit(
    lambda lay, cap, rows: identifiers(lay, items(lay, cap, rows)), static_argnums=(0, 1)
)


def identifiers_at(lay: Layout, rows: tuple[jax.Array, ...], slots: jax.Array) -> jax.Array:
    """The identifiers of the items in ``slots`` (one buffer's rows): only their words read."""
    ident = lay.ident
    words = rows[ident.group][:, ident.start : ident.start + ident.width]
    picked = jnp.take(words, slots, axis=0, mode="clip")
    return _read(ident._replace(group=0, start=0), (picked,))


# rows written at their slots: whole rows, slots in range and distinct (an add's)
_WRITE = lax.ScatterDimensionNumbers(
    update_window_dims=(1,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)
)


def write(rows: jax.Array, slots: jax.Array, new: jax.Array) -> jax.Array:
    """``rows`` with ``new[k]`` in row ``slots[k]``, for distinct slots in ``[0, len(rows))``.

    Without the index handling of ``rows.at[slots].set`` (the slots of an add are computed
    modulo the capacity): for one row it added an in-bounds check that XLA ran as operations
    of their own on every step of a ``scan``. One row is a dynamic update slice (its start
    indices of one int type: the slots' may be int32 in 64-bit mode, for a state saved
    without it), more a scatter promised in bounds."""
    if slots.shape[0] == 1:
        start = slots[0]
        return lax.dynamic_update_slice(rows, new, (start, jnp.zeros((), start.dtype)))
    return lax.scatter(
        rows,
        slots[:, None],
        new,
        _WRITE,
        unique_indices=True,
        mode=lax.GatherScatterMode.PROMISE_IN_BOUNDS,
    )
