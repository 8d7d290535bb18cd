"""The smallest sampling value of a prioritized state: a min tree over blocks of slots.

Why: the importance weights need the smallest $p_i$ over the filled slots. A min tree with a
leaf per slot holds a second copy of every $p_i$, and each update walks its own paths, which
nothing else touches: on a full buffer of 10^6 its 8 MB competed with the sum tree's for the
cache, and a step in a ``lax.scan`` (``bench:jaxreplay``) paid for its misses. Instead the
state's ``JaxMinTree`` has one leaf per block of slots whose sum-tree leaves share a 64-byte
cache line (16 slots in float32, 8 in float64): the smallest of those leaves over the block's
filled slots. After a write, the block's minimum is read again from the sum tree's leaves,
which the write has just brought into the cache. The root is the same smallest value. The
host buffer keeps its minimum over the sum tree's leaves too (``rlu_replay._minimum``).

A sum tree's node array holds the root at 0 and the leaf of slot ``s`` at ``P - 1 + s``
(``P``, the number of leaves, a power of 2), so the slots of one line are ``Kb - K + 1`` to
``Kb``: slot ``s`` is in block ``(s + K - 1) // K``. (A batch of buffers lays its trees end to
end, so most of their blocks straddle two lines: the minima are as exact, the saving smaller.)

A pickle holds a min tree with a leaf per slot, as rlu-replay 0.7 and before wrote it, so
that checkpoints load across versions either way.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt
from rlu_trees.jax import JaxMinTree, JaxSumTree

LINE = 64  # bytes of a cache line


def width(dtype: npt.DTypeLike) -> int:
    """Slots per block for trees of ``dtype``."""
    return max(1, LINE // np.dtype(dtype).itemsize)


def count(capacity: int, dtype: npt.DTypeLike) -> int:
    """Blocks for ``capacity`` slots."""
    return (capacity + width(dtype) - 2) // width(dtype) + 1


def of(slots: jax.Array, dtype: npt.DTypeLike) -> jax.Array:
    """The block of each slot (``slots >= 0``)."""
    return (slots + (width(dtype) - 1)) // width(dtype)


def minima(sums: JaxSumTree, blocks: jax.Array, filled: jax.Array) -> jax.Array:
    """Per block in ``blocks``, the smallest sum-tree leaf of its slots below ``filled``
    (``inf`` for none): one buffer, ``blocks`` 1-d."""
    k = width(sums.dtype)
    slots = blocks[:, None] * k - (k - 1) + jnp.arange(k, dtype=blocks.dtype)
    leaves = jnp.take(sums.values, slots, mode="clip")
    return jnp.min(jnp.where((slots >= 0) & (slots < filled), leaves, jnp.inf), axis=-1)


def all_minima(values: jax.Array, filled: jax.Array, dtype: npt.DTypeLike) -> jax.Array:
    """Every block's minimum for blocks of sum trees of ``dtype``, from leaves ``values`` of
    shape ``(..., capacity)`` and ``filled`` of shape ``(...)``."""
    k, capacity = width(dtype), values.shape[-1]
    slots = np.arange(capacity)
    values = jnp.where(slots < jnp.asarray(filled)[..., None], values, np.inf)
    blocks = count(capacity, dtype)
    lead = [(0, 0)] * (values.ndim - 1)
    padded = jnp.pad(
        values, [*lead, (k - 1, blocks * k - capacity - k + 1)], constant_values=np.inf
    )
    return padded.reshape(*values.shape[:-1], blocks, k).min(axis=-1)


def write(mins: JaxMinTree, sums: JaxSumTree, slots: jax.Array, filled: jax.Array) -> JaxMinTree:
    """``mins`` after the sum tree's leaves at ``slots`` were written (inside ``jit``, one
    buffer; slots outside ``[0, capacity)`` are ignored)."""
    capacity = sums.capacity
    if slots.shape[0] >= mins.capacity:  # as many writes as blocks: all of them, in O(N)
        return mins.set_values(..., all_minima(sums.values, filled, sums.dtype))
    inside = (slots >= 0) & (slots < capacity)
    blocks = jnp.where(inside, of(slots, sums.dtype), mins.capacity)
    return mins.set_values(blocks, minima(sums, jnp.where(inside, blocks, 0), filled))


def _trees(capacity: int, values: Any, dtype: npt.DTypeLike) -> JaxMinTree:
    """A min tree of ``capacity`` (a batch of them for leading axes) holding ``values``."""
    lead = values.shape[:-1]
    flat = jnp.asarray(values, np.dtype(dtype)).reshape(-1, capacity)
    tree = jax.vmap(lambda v: JaxMinTree(capacity, dtype=dtype).set_values(..., v))(flat)
    (nodes,), aux = tree.tree_flatten()
    return JaxMinTree.tree_unflatten(aux, (nodes.reshape(*lead, -1),))


def from_slots(per_slot: JaxMinTree, sums: JaxSumTree) -> JaxMinTree:
    """The blocks of a min tree with a leaf per slot (a batch of them), for ``sums``' dtype
    (inside ``jit`` too)."""
    values = per_slot.values
    minimum = all_minima(values, jnp.full(values.shape[:-1], values.shape[-1]), sums.dtype)
    return _trees(count(per_slot.capacity, sums.dtype), minimum, per_slot.dtype)


def slots_tree(sums: JaxSumTree, filled: Any) -> JaxMinTree:
    """A min tree with a leaf per slot (as a pickle holds it): the sum tree's leaves over the
    ``filled`` slots, the others empty."""
    values = np.asarray(sums.values)
    kept = np.where(np.arange(sums.capacity) < np.asarray(filled)[..., None], values, np.inf)
    return _trees(sums.capacity, kept, sums.dtype)
