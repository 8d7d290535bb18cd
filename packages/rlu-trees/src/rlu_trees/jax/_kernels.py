"""Pure functions on the flat node array behind the JAX trees (traceable, no Python checks).

Layout
------
The values sit on ``P = 2**h`` leaves (``h = ceil(log2(capacity))``, the padding holds the
identity), exactly like the host trees. The host keeps every binary level; here only every
``k``-th one is stored (heights ``0, k, 2k, ..., h``, fanout ``F = 2**k``), all in one flat
array, root first. A stored node is the *pairwise* (binary, left to right in halves)
reduction of its ``F`` children, so every stored node holds bit for bit the value of the
host's binary node at the same height, and the descent replays the host's binary decisions
inside each block of ``F`` children. All loops over levels are static Python loops, so a
tree compiles to a fixed, short sequence of XLA operations.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

# reducer names and their identity elements
IDENTITY = {"add": 0.0, "min": float("inf"), "max": float("-inf")}
# log2 of the fanout of the stored levels (16 children per node)
FANOUT_BITS = 4


class Layout(NamedTuple):
    """Static geometry of a tree: everything the kernels need besides the arrays."""

    capacity: int
    reducer: str
    nonneg: bool  # sum-tree rules: only finite values >= 0
    height: int  # binary levels above the leaves: P = 2**height
    heights: tuple[int, ...]  # stored binary heights, bottom (0, the leaves) to top (height)
    offsets: tuple[int, ...]  # offset of each stored level in the flat array
    size: int  # length of the flat array


@functools.cache
def layout(capacity: int, reducer: str, nonneg: bool, fanout_bits: int = FANOUT_BITS) -> Layout:
    """The layout for ``capacity`` values (``capacity >= 1``)."""
    height = (capacity - 1).bit_length()
    heights = list(range(0, height, fanout_bits)) + [height]
    if len(heights) > 1 and heights[-2] == height:
        heights.pop()
    offsets = [0] * len(heights)
    position = 0
    for j in range(len(heights) - 1, -1, -1):  # root first
        offsets[j] = position
        position += 1 << (height - heights[j])
    return Layout(capacity, reducer, nonneg, height, tuple(heights), tuple(offsets), position)


def combine(reducer: str, a: jax.Array, b: jax.Array) -> jax.Array:
    if reducer == "add":
        return a + b
    if reducer == "min":
        return jnp.minimum(a, b)
    return jnp.maximum(a, b)


def pairwise(reducer: str, block: jax.Array) -> jax.Array:
    """Reduce the last axis (a power of two long) in the host's binary order."""
    while block.shape[-1] > 1:
        block = combine(reducer, block[..., 0::2], block[..., 1::2])
    return block[..., 0]


def blocks(nodes: jax.Array, starts: jax.Array, width: int) -> jax.Array:
    """``nodes[starts[b] : starts[b] + width]`` for every b, shape ``(B, width)``."""
    dnums = lax.GatherDimensionNumbers(
        offset_dims=(1,), collapsed_slice_dims=(), start_index_map=(0,)
    )
    return lax.gather(
        nodes,
        starts[:, None],
        dnums,
        slice_sizes=(width,),
        mode=lax.GatherScatterMode.PROMISE_IN_BOUNDS,
    )


def level(nodes: jax.Array, lay: Layout, j: int) -> jax.Array:
    """Stored level ``j`` (0 = leaves) as a slice."""
    n = 1 << (lay.height - lay.heights[j])
    return lax.slice_in_dim(nodes, lay.offsets[j], lay.offsets[j] + n)


def build(leaves: jax.Array, lay: Layout) -> jax.Array:
    """The flat array for ``P`` leaf values (O(N), every level from its children)."""
    parts = [leaves]
    for j in range(1, len(lay.heights)):
        width = 1 << (lay.heights[j] - lay.heights[j - 1])
        below = parts[-1]
        parts.append(pairwise(lay.reducer, below.reshape(-1, width)))
    return jnp.concatenate(parts[::-1])


def empty(lay: Layout, dtype: Any) -> jax.Array:
    return jnp.full(lay.size, IDENTITY[lay.reducer], dtype=dtype)


def leaves_of(nodes: jax.Array, lay: Layout) -> jax.Array:
    return lax.slice_in_dim(nodes, lay.offsets[0], lay.offsets[0] + lay.capacity)


def clean_values(values: jax.Array, lay: Layout, clamp: bool) -> tuple[jax.Array, jax.Array]:
    """``(ok, values)``: which values may be written, and the values as they are stored.

    Sum trees take finite values ``>= 0`` (subnormals are stored as 0, because XLA flushes
    them on the CPU); with ``clamp`` a value above ``finfo.max / P`` is lowered to it, so
    that no sum can overflow. Other trees take anything but NaN.
    """
    if not lay.nonneg:
        return ~jnp.isnan(values), values
    info = np.finfo(values.dtype)
    ok = (values >= 0) & (values <= info.max)
    values = jnp.where(values < info.tiny, jnp.zeros_like(values), values)
    if clamp:
        limit = np.asarray(float(info.max) / float(1 << lay.height), dtype=values.dtype)
        values = jnp.minimum(values, limit)
    return ok, values


def set_values(
    nodes: jax.Array, idx: jax.Array, values: jax.Array, lay: Layout, clamp: bool
) -> jax.Array:
    """Write ``values[b]`` to leaf ``idx[b]`` (last write wins), then repair the ancestors.

    Entries with an index outside ``[-capacity, capacity)`` or a value the tree refuses are
    skipped. Work: a sort of the ``B`` indices, then per stored level one gather of ``B``
    blocks and one scatter of ``B`` nodes (levels with at most ``B`` nodes are recomputed
    whole, without gather or scatter).
    """
    cap = lay.capacity
    n = idx.shape[0]
    idx = idx.astype(jnp.int32)
    values = values.astype(nodes.dtype)
    ok, values = clean_values(values, lay, clamp)
    ok = ok & (idx >= -cap) & (idx < cap)
    idx = jnp.where(idx < 0, idx + cap, idx)
    # last write wins, on every backend: a stable sort by index puts the duplicates of a leaf
    # in batch order, and only the last of each run is written (the others, and the skipped
    # entries, aim past the end and are dropped). The sort also orders every read of the old
    # nodes (the descent that chose ``idx``) before the first write, which lets XLA write in
    # place instead of copying the array.
    size = nodes.shape[-1]
    position = lax.iota(jnp.int32, n)
    key = jnp.where(ok, idx, cap)  # skipped entries sort last and are never written
    if (cap + 1) * n < 2**31:  # one packed key sorts faster than two
        packed = lax.sort(key * n + position)
        key, position = packed // n, packed % n
    else:
        key, position = lax.sort((key, position), num_keys=2)
    last = jnp.concatenate([key[:-1] != key[1:], jnp.ones((1,), bool)])
    write = last & (key < cap)
    target = jnp.where(write, lay.offsets[0] + key, size + position)  # unique
    nodes = nodes.at[target].set(values[position], mode="drop", unique_indices=True)
    key = jnp.minimum(key, cap - 1)
    child = key
    for j in range(1, len(lay.heights)):
        shift = lay.heights[j] - lay.heights[j - 1]
        width = 1 << shift
        count = 1 << (lay.height - lay.heights[j])
        if count <= n:
            below = lax.slice_in_dim(nodes, lay.offsets[j - 1], lay.offsets[j - 1] + count * width)
            fresh = pairwise(lay.reducer, below.reshape(count, width))
            nodes = lax.dynamic_update_slice_in_dim(nodes, fresh, lay.offsets[j], 0)
        else:
            parent = child >> shift
            fresh = pairwise(lay.reducer, blocks(nodes, lay.offsets[j - 1] + parent * width, width))
            nodes = nodes.at[lay.offsets[j] + parent].set(
                fresh, indices_are_sorted=True, mode="promise_in_bounds"
            )
        child = child >> shift
    return nodes


def descend(nodes: jax.Array, x: jax.Array, lay: Layout) -> jax.Array:
    """Leaf index for every target mass ``x[b]`` (sum trees), with the host's guarded rule.

    At each binary node: go left iff the left child is positive and either ``x < left`` or
    the right child is empty; otherwise go right with ``x = max(x - left, 0)``. From a
    positive root this always ends on a positive leaf, and it takes the host's path.
    """
    n = x.shape[0]
    node = jnp.zeros(n, jnp.int32)
    for j in range(len(lay.heights) - 1, 0, -1):
        shift = lay.heights[j] - lay.heights[j - 1]
        width = 1 << shift
        block = blocks(nodes, lay.offsets[j - 1] + node * width, width).astype(x.dtype)
        pyramid = [block]
        while pyramid[-1].shape[-1] > 2:
            pyramid.append(pyramid[-1][:, 0::2] + pyramid[-1][:, 1::2])
        q = jnp.zeros(n, jnp.int32)
        for sums in reversed(pyramid):
            if sums.shape[1] == 2:
                left, right = sums[:, 0], sums[:, 1]
            else:
                lane = lax.broadcasted_iota(jnp.int32, (n, sums.shape[1] // 2), 1)
                pick = lane == q[:, None]
                zero = jnp.zeros((), sums.dtype)
                left = jnp.where(pick, sums[:, 0::2], zero).sum(axis=1)
                right = jnp.where(pick, sums[:, 1::2], zero).sum(axis=1)
            go_left = (left > 0) & ((x < left) | ~(right > 0))
            x = jnp.where(go_left, x, jnp.maximum(x - left, 0))
            q = 2 * q + (~go_left).astype(jnp.int32)
        node = node * width + q
    return jnp.minimum(node, lay.capacity - 1)


def partial_reduce(nodes: jax.Array, starts: jax.Array, stops: jax.Array, lay: Layout) -> jax.Array:
    """Reduce ``[starts[b], stops[b])`` with the host's bottom-up walk over binary levels."""
    op = lay.reducer
    init = jnp.asarray(IDENTITY[op], nodes.dtype)
    half = 1 << lay.height
    lo = starts.astype(jnp.int32) + half
    hi = stops.astype(jnp.int32) + half
    acc_lo = jnp.full(lo.shape, init)
    acc_hi = jnp.full(lo.shape, init)
    for ell in range(lay.height + 1):
        base = half >> ell  # heap index of the level's first node
        j = max(i for i, s in enumerate(lay.heights) if s <= ell)
        width = 1 << (ell - lay.heights[j])

        def node_value(
            heap: jax.Array, base: int = base, j: int = j, width: int = width, ell: int = ell
        ) -> jax.Array:
            index = jnp.clip(heap - base, 0, (1 << (lay.height - ell)) - 1)
            start = lay.offsets[j] + index * width
            return pairwise(op, blocks(nodes, start, width))

        active = lo < hi
        take_lo = active & ((lo & 1) == 1)
        acc_lo = jnp.where(take_lo, combine(op, acc_lo, node_value(lo)), acc_lo)
        lo = jnp.where(take_lo, lo + 1, lo)
        take_hi = active & ((hi & 1) == 1)
        hi = jnp.where(take_hi, hi - 1, hi)
        acc_hi = jnp.where(take_hi, combine(op, node_value(hi), acc_hi), acc_hi)
        lo = jnp.where(active, lo >> 1, lo)
        hi = jnp.where(active, hi >> 1, hi)
    return combine(op, acc_lo, acc_hi)


def set_all(nodes: jax.Array, values: jax.Array, lay: Layout, clamp: bool) -> jax.Array:
    """Replace all ``capacity`` values (skipped ones keep their old value); O(N)."""
    ok, values = clean_values(values.astype(nodes.dtype), lay, clamp)
    values = jnp.where(ok, values, leaves_of(nodes, lay))
    pad = (1 << lay.height) - lay.capacity
    leaves = jnp.concatenate([values, jnp.full((pad,), IDENTITY[lay.reducer], nodes.dtype)])
    return build(leaves, lay)
