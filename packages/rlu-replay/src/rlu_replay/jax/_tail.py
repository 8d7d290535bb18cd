"""A state's counters and largest priority: words in a few rows after the items' (the tail).

Why: a jitted call costs more for every array it takes and gives back, whatever its size
(see ``_rows``), and a donated replay state gives all of its arrays back. Kept in the
identifiers' group of rows (uint32 words) instead of arrays of their own, they leave a uniform
state one array and a prioritized one three with its two trees. The tail's words are the
values' bits: 2 words kept for the largest priority (a float64 takes both), then the three
counters (position, size, inserted), each in the identifiers' words. The largest priority, as
bits, takes no derivative (the trees' nodes still do). The CPU kernels read and write the
tail in place, at the words `tail_offsets` gives.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from rlu_replay.jax._rows import Layout


def tail_offsets(capacity: int, width: int, counter_words: int) -> tuple[int, int, int]:
    """Where a buffer's tail lives in its identifier-group array of ``width`` words per row:
    the word of its largest priority, of its first counter, and how many rows it takes.

    The largest priority starts at an even word and the rows of a batch of buffers are an
    even number of words, so that 8-byte values are aligned for the kernels that read them.
    Plain integer arithmetic: the CPU kernels compile it too.
    """
    start = capacity * width
    base = start + start % 2
    counters = base + 2
    rows = (counters + 3 * counter_words - start + width - 1) // width
    if (capacity + rows) * width % 2:
        rows += 1
    return base, counters, rows


def _offsets(lay: Layout, capacity: int) -> tuple[int, int, int, int]:
    """The rows' width, and the words of the largest priority and the first counter from
    the tail's first word, and the tail's rows, for a state of this layout and capacity."""
    width = lay.groups[lay.ident.group][1]
    base, counters, rows = tail_offsets(capacity, width, lay.ident.words)
    start = capacity * width
    return width, base - start, counters - start, rows


def _tail_words(lay: Layout, capacity: int, counters: jax.Array, base: jax.Array | None) -> Any:
    """The tail's words for ``counters`` ``(..., 3)`` and the largest priority ``base``
    ``(...)`` (None: zeros, as a uniform state keeps them): ``(..., rows, width)``."""
    width, first, at, rows = _offsets(lay, capacity)
    lead = counters.shape[:-1]
    counted = lax.bitcast_convert_type(counters, jnp.uint32).reshape(*lead, -1)
    if base is None:
        kept = jnp.zeros((*lead, 2), jnp.uint32)
    else:
        kept = lax.bitcast_convert_type(base, jnp.uint32).reshape(*lead, -1)
        kept = jnp.pad(kept, [(0, 0)] * len(lead) + [(0, 2 - kept.shape[-1])])
    after = rows * width - at - counted.shape[-1]
    words = jnp.concatenate(
        [
            jnp.zeros((*lead, first), jnp.uint32),
            kept,
            counted,
            jnp.zeros((*lead, after), jnp.uint32),
        ],
        -1,
    )
    return words.reshape(*lead, rows, width)


def with_tail(
    lay: Layout,
    capacity: int,
    rows: tuple[jax.Array, ...],
    counters: jax.Array,
    base: jax.Array | None,
) -> tuple[jax.Array, ...]:
    """``rows`` of ``capacity`` items, the tail for ``counters`` and ``base`` appended."""
    g = lay.ident.group
    tail = _tail_words(lay, capacity, counters, base)
    return tuple(jnp.concatenate([r, tail], axis=-2) if k == g else r for k, r in enumerate(rows))


def tail_words(lay: Layout, capacity: int, rows: tuple[jax.Array, ...]) -> jax.Array:
    """The tail's words, ``(..., words)``."""
    part = rows[lay.ident.group][..., capacity:, :]
    return part.reshape(*part.shape[:-2], -1)


def counters_in(lay: Layout, capacity: int, words: jax.Array) -> jax.Array:
    """The counters ``(..., 3)``, in the identifiers' int dtype, from the tail's words."""
    at = _offsets(lay, capacity)[2]
    n = lay.ident.words
    bits = words[..., at : at + 3 * n]
    if n == 2:
        bits = bits.reshape(*bits.shape[:-1], 3, 2)
    return lax.bitcast_convert_type(bits, lay.ident.dtype)


def base_in(lay: Layout, capacity: int, words: jax.Array, dtype: Any) -> jax.Array:
    """The largest priority ``(...)``, of ``dtype`` (4 or 8 bytes), from the tail's words."""
    at = _offsets(lay, capacity)[1]
    n = np.dtype(dtype).itemsize // 4
    bits = words[..., at : at + n]
    if n == 1:
        bits = bits[..., 0]
    return lax.bitcast_convert_type(bits, dtype)


def read_counters(lay: Layout, capacity: int, rows: tuple[jax.Array, ...]) -> jax.Array:
    """The counters ``(..., 3)`` in the identifiers' int dtype."""
    return counters_in(lay, capacity, tail_words(lay, capacity, rows))


def read_base(lay: Layout, capacity: int, rows: tuple[jax.Array, ...], dtype: Any) -> jax.Array:
    """The largest priority ``(...)``, of ``dtype`` (4 or 8 bytes)."""
    return base_in(lay, capacity, tail_words(lay, capacity, rows), dtype)


def set_tail(
    lay: Layout,
    capacity: int,
    rows: tuple[jax.Array, ...],
    counters: jax.Array | None = None,
    base: jax.Array | None = None,
    dtype: Any = None,
) -> tuple[jax.Array, ...]:
    """``rows`` with new counters and/or largest priority (of ``dtype``; None: a uniform
    state's zeros) in their tail, the other kept: one update of the tail's rows (in place
    where the rows are)."""
    if counters is None:
        counters = read_counters(lay, capacity, rows)
    if base is None and dtype is not None:
        base = read_base(lay, capacity, rows, dtype)
    elif base is not None:
        base = jnp.asarray(base, dtype)
    tail = _tail_words(lay, capacity, jnp.asarray(counters, lay.ident.dtype), base)
    g = lay.ident.group
    return tuple(r.at[..., capacity:, :].set(tail) if k == g else r for k, r in enumerate(rows))


# the counters and the largest priority as a state's properties read them, outside jit too
counters_of = jax.jit(read_counters, static_argnums=(0, 1))
base_of = jax.jit(read_base, static_argnums=(0, 1, 3))
