"""A whole ``add``, and a whole ``update_priorities``, as one compiled kernel each.

The kernels are numba ``cfunc``s with the signature of XLA's CPU custom calls (see
``rlu_trees.jax._cpu_kernels``, whose pointer and configuration helpers they use; private to
the rlu distributions: rlu-replay pins rlu-trees' minor version). Each result is a tuple of
buffers, each the same memory as an input (XLA aliases them). The add::

    in:  rows (trees, capacity + tail, width) uint32, with the counters and the largest
         priority in the tail (``rlu_replay.jax._tail.tail_offsets``), sums (trees, size),
         mins (trees, blocks), words (trees, n * (width - id_words) + value words) uint32
    out: rows, sums, mins (written in place)

``opaque``: trees, capacity, width, n (the items kept), batch (the items given: the first
``batch - n`` are skipped, as the XLA path skips them), size (sum-tree nodes per tree), blocks
(min-tree nodes per tree), block (slots per block, see ``rlu_replay.jax._blocks``).
``words`` ends with the bits of the sum tree's leaf value for the new items, as the tree's own
cleaning made it; NaN means "not written" (a value the tree refuses). Then each written slot's
block gets the smallest sum-tree leaf of its filled slots. The update::

    in:  rows, sums, mins as above (the tail's largest priority in the trees' dtype),
         ids (trees, n) int, values (trees, 2, n)
    out: rows (its tail's largest priority), sums, mins (written in place)

``opaque``: trees, capacity, width, n, size, blocks, block. ``values`` holds per identifier
its leaf value (NaN for a bad priority: skipped) and its priority plus epsilon. An identifier
whose slot holds another item (overwritten since it was drawn), or below 0, is skipped; the
others are written in order (the last of repeats wins), their blocks read again, and the
largest priority raised to the largest of theirs.

The sample::

    in:  rows, sums, mins as above, x (trees, n) (the masses to descend to),
         columns (trees, 2 * L) int32 (per stored leaf, its first word in a row and its words)
    out: L leaves (trees, n, words of leaf l), ids (trees, n) int, ratios (trees, n)

``opaque``: trees, capacity, width, n, size, blocks, L. Each mass finds its slot by the
descent the trees' own call runs (clamped to the last slot, as there); the drawn rows are
asked for all at once, so that their cache misses overlap (one row after the other, the
misses of 256 rows into a buffer of 10^6 cost more than the rest of the draw). Each row's
words go into the leaves, whose results XLA declares in the leaves' own dtypes and shapes,
and its identifier into ``ids``; ``ratios`` is the smallest sampling value over the slot's,
or NaN (identifier -1) where both are 0.

Leaves and identifiers go where the XLA paths put them, and the trees' ancestors are
recomputed by the host trees' own ``_update_paths``, so the results are the same, bit for bit
(tests compare the paths).

This module is imported only when a program is lowered for the CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from numba.np.numpy_support import carray
from rlu_trees import _numba_kernels as host
from rlu_trees import _reducers
from rlu_trees._reducers import CODE
from rlu_trees.jax import _cpu_kernels
from rlu_trees.jax._cpu_kernels import _config, _pointer, _rows

from rlu_replay.jax import _tail as tails

# numba checks a cached kernel against its own file only: these kernels call rlu-trees'
# compiled functions and the tail's layout, so their caches go stale when those files change
DEPENDS = (*_cpu_kernels.DEPENDS, _cpu_kernels.__file__, _reducers.__file__, tails.__file__)


def _jit(func: Any) -> Any:
    return host._jit(func, depends=DEPENDS)


_tail_offsets = _jit(tails.tail_offsets)


@_jit
def _tail(cap: int, width: int, id_words: int) -> tuple[int, int, int]:  # pragma: no cover
    """Per buffer: its rows' words (the items' and the tail's), and the words of its largest
    priority and of its first counter."""
    base, counters, rows = _tail_offsets(cap, width, id_words)
    return (cap + rows) * width, base, counters


_F32 = np.empty(0, np.float32)
_F64 = np.empty(0, np.float64)
_I32 = np.empty(0, np.int32)
_I64 = np.empty(0, np.int64)
_U32 = np.empty(0, np.uint32)
_ADD = CODE["add"]
_MIN = CODE["min"]


@_jit
def _climb(tree: npt.NDArray[Any], node: int, op: int) -> None:  # pragma: no cover - compiled
    """Recompute the ancestors of the leaf at ``node`` from their children: for one item, the
    values ``_update_paths`` gives, without its arrays. A min node that keeps its bits ends
    the walk (those above it keep theirs); sums climb to the root."""
    node >>= 1
    while node >= 1:
        value = host._combine(op, tree[2 * node], tree[2 * node + 1])
        if op == _MIN and host._bits(np.float64(value)) == host._bits(np.float64(tree[node])):
            return
        tree[node] = value
        node >>= 1


@_jit
def _block_min(
    sums: npt.NDArray[Any], half: int, block: int, width: int, filled: int
) -> float:  # pragma: no cover - compiled
    """The smallest sum-tree leaf of the slots of ``block`` below ``filled``."""
    low = max(block * width - width + 1, 0)
    least = np.inf
    for slot in range(low, min(block * width + 1, filled)):
        least = host._combine(_MIN, least, sums[half + slot])
    return least


@_jit
def _add_items(
    out: int, ins: int, opaque: int, length: int, node: npt.NDArray[Any], ints: npt.NDArray[Any]
) -> None:  # pragma: no cover - compiled
    cfg = _config(opaque, length)
    trees, cap, width, n, batch, size = cfg[0], cfg[1], cfg[2], cfg[3], cfg[4], cfg[5]
    blocks, block = cfg[6], cfg[7]
    args = carray(_pointer(ins, _I64.dtype), 4)
    outs = carray(_pointer(out, _I64.dtype), 3)
    id_words = ints.itemsize // 4
    stride, _, at = _tail(cap, width, id_words)
    given = width - id_words  # words of the items' leaves
    # identifiers count modulo the period: the largest multiple of cap that the ints hold
    largest = np.int64(2147483647) if id_words == 1 else np.int64(9223372036854775807)
    period = np.uint64((largest // cap) * cap)
    skipped = batch - n
    half = (size + 1) // 2
    low = (blocks + 1) // 2  # the min tree's first leaf
    leaves = np.empty(n, dtype=np.int64)
    value_words = node.itemsize // 4
    value_bits = np.empty(value_words, dtype=np.uint32)
    for t in range(trees):
        base = outs[0] + t * stride * 4  # this buffer's rows
        rows = _rows(base, 0, cap * width, _U32)
        counters = _rows(base + at * 4, 0, 3, ints)
        sums = _rows(outs[1], t, size + 1, node, 1)
        mins = _rows(outs[2], t, blocks + 1, node, 1)
        words = _rows(args[3], t, n * given + value_words, _U32)
        for w in range(value_words):  # the leaf value's words, after the items' (copied: the
            value_bits[w] = words[n * given + w]  # buffer's may not be aligned for float64)
        values = value_bits.view(node.dtype)
        position = np.int64(counters[0])
        filled = np.int64(counters[1])
        count = np.uint64(counters[2])
        first = (count + np.uint64(skipped) % period) % period
        for k in range(n):
            slot = (position + skipped + k) % cap
            row = slot * width
            for w in range(given):
                rows[row + w] = words[k * given + w]
            ident = _rows(base + (row + given) * 4, 0, 1, ints)  # the identifier's words
            ident[0] = (first + np.uint64(k)) % period
        filled_after = min(filled + batch, cap)
        if n == 1:  # one item climbs each tree on its own, with no array to allocate
            slot = (position + skipped) % cap
            if values[0] == values[0]:  # not NaN: the sum tree takes the value
                sums[half + slot] = values[0]
                _climb(sums, half + slot, _ADD)
            leaf = low + (slot + block - 1) // block
            least = _block_min(sums, half, leaf - low, block, filled_after)
            if host._bits(np.float64(least)) != host._bits(np.float64(mins[leaf])):
                mins[leaf] = least  # (most adds leave their block's smallest value as it is)
                _climb(mins, leaf, _MIN)
        else:
            if values[0] == values[0]:
                for k in range(n):
                    leaves[k] = half + (position + skipped + k) % cap
                    sums[leaves[k]] = values[0]
                host._update_paths(sums, leaves, _ADD)
            last = -1
            for k in range(n):  # every block of a written slot, once the leaves are in
                leaf = low + ((position + skipped + k) % cap + block - 1) // block
                if leaf != last:  # neighbouring slots share a block: read it once
                    mins[leaf] = _block_min(sums, half, leaf - low, block, filled_after)
                    last = leaf
                leaves[k] = leaf
            host._update_paths(mins, leaves, _MIN)
        counters[0] = (position + batch) % cap
        counters[1] = filled_after
        counters[2] = (count + np.uint64(batch) % period) % period


@_jit
def _update_items(
    out: int, ins: int, opaque: int, length: int, node: npt.NDArray[Any], ints: npt.NDArray[Any]
) -> None:  # pragma: no cover - compiled
    cfg = _config(opaque, length)
    trees, cap, width, n, size = cfg[0], cfg[1], cfg[2], cfg[3], cfg[4]
    blocks, block = cfg[5], cfg[6]
    args = carray(_pointer(ins, _I64.dtype), 5)
    outs = carray(_pointer(out, _I64.dtype), 3)
    ident = width - ints.itemsize // 4  # the identifier's first word in a row
    stride, kept, at = _tail(cap, width, ints.itemsize // 4)
    half = (size + 1) // 2
    low = (blocks + 1) // 2  # the min tree's first leaf
    leaves = np.empty(n, dtype=np.int64)
    for t in range(trees):
        base = outs[0] + t * stride * 4  # this buffer's rows
        rows = _rows(base, 0, cap * width, _U32)
        filled = np.int64(_rows(base + at * 4, 0, 3, ints)[1])
        sums = _rows(outs[1], t, size + 1, node, 1)
        mins = _rows(outs[2], t, blocks + 1, node, 1)
        largest = _rows(base + kept * 4, 0, 1, node)
        ids = _rows(args[3], t, n, ints)
        values = _rows(args[4], t, 2 * n, node)  # n leaf values, then n priorities
        most = largest[0]
        if most < 0:  # as the XLA path's maximum with its largest given (0 when none is)
            most = 0
        # every identifier's row and leaf asked for at once, so that their cache misses
        # overlap (an update called on its own finds neither in the cache; a draw just before
        # leaves them there)
        for k in range(n):
            if ids[k] >= 0:
                slot = np.int64(ids[k]) % cap
                host._prefetch(rows, np.uint64(slot * width + ident))
                host._prefetch(sums, np.uint64(half + slot))
        m = 0
        for k in range(n):
            if ids[k] < 0 or values[k] != values[k]:  # no item, or a bad priority (NaN)
                continue
            slot = np.int64(ids[k]) % cap
            if _rows(base + (slot * width + ident) * 4, 0, 1, ints)[0] != ids[k]:
                continue  # overwritten since it was drawn
            sums[half + slot] = values[k]
            leaves[m] = half + slot
            m += 1
            if values[n + k] > most:
                most = values[n + k]
        largest[0] = most
        if m == 0:
            continue
        host._update_paths(sums, leaves[:m], _ADD)
        for j in range(m):  # every block of a written slot, once the leaves are in
            leaf = low + (leaves[j] - half + block - 1) // block
            mins[leaf] = _block_min(sums, half, leaf - low, block, filled)
            leaves[j] = leaf
        host._update_paths(mins, leaves[:m], _MIN)


@_jit
def _sample_items(
    out: int,
    ins: int,
    opaque: int,
    length: int,
    node: npt.NDArray[Any],
    ints: npt.NDArray[Any],
    target: npt.NDArray[Any],
) -> None:  # pragma: no cover - compiled
    cfg = _config(opaque, length)
    trees, cap, width, n, size = cfg[0], cfg[1], cfg[2], cfg[3], cfg[4]
    blocks, count = cfg[5], cfg[6]
    args = carray(_pointer(ins, _I64.dtype), 5)
    outs = carray(_pointer(out, _I64.dtype), count + 2)
    columns = carray(_pointer(args[4], _I32.dtype), 2 * count)  # every buffer's row the same
    ident = width - ints.itemsize // 4  # the identifier's first word in a row
    stride = _tail(cap, width, ints.itemsize // 4)[0]
    half = (size + 1) // 2
    x = np.empty(n, dtype=np.float64)
    slots = np.empty(n, dtype=np.int64)
    for t in range(trees):
        base = args[0] + t * stride * 4  # this buffer's rows
        rows = _rows(base, 0, cap * width, _U32)
        sums = _rows(args[1], t, size + 1, node, 1)
        least = _rows(args[2], t, blocks, node)[0]  # the min tree's root
        xs = _rows(args[3], t, n, target)
        for k in range(n):
            x[k] = xs[k]
        host._descend(sums, x, slots)
        # every drawn row asked for at once (their cache misses overlap), the weights' ratios
        # computed from the sum tree's leaves (cached by the descent) while they arrive, then
        # each row copied into the leaves
        for k in range(n):
            slots[k] = min(slots[k], cap - 1)
            host._prefetch(rows, np.uint64(slots[k] * width))
            host._prefetch(rows, np.uint64(slots[k] * width + width - 1))
        ids = _rows(outs[count], t, n, ints)
        ratios = _rows(outs[count + 1], t, n, node)
        for k in range(n):
            # the machine's division, as XLA's: 0 / 0 is its NaN (numba's `/` would raise)
            ratios[k] = np.divide(least, sums[half + slots[k]])
        for j in range(count):
            start, words = columns[2 * j], columns[2 * j + 1]
            leaf = _rows(outs[j], t, n * words, _U32)
            for k in range(n):
                row = slots[k] * width + start
                for w in range(words):
                    leaf[k * words + w] = rows[row + w]
        for k in range(n):
            if ratios[k] == ratios[k]:
                ids[k] = _rows(base + (slots[k] * width + ident) * 4, 0, 1, ints)[0]
            else:  # every priority 0: no item
                ids[k] = -1


# the C entry points, one per (kernel, node dtype, int dtype) (module-level: numba caches them)


def add_float32_int32(
    out: int, ins: int, opaque: int, length: int, status: int
) -> None:  # pragma: no cover - compiled
    _add_items(out, ins, opaque, length, _F32, _I32)


def add_float32_int64(
    out: int, ins: int, opaque: int, length: int, status: int
) -> None:  # pragma: no cover - compiled
    _add_items(out, ins, opaque, length, _F32, _I64)


def add_float64_int32(
    out: int, ins: int, opaque: int, length: int, status: int
) -> None:  # pragma: no cover - compiled
    _add_items(out, ins, opaque, length, _F64, _I32)


def add_float64_int64(
    out: int, ins: int, opaque: int, length: int, status: int
) -> None:  # pragma: no cover - compiled
    _add_items(out, ins, opaque, length, _F64, _I64)


def update_float32_int32(
    out: int, ins: int, opaque: int, length: int, status: int
) -> None:  # pragma: no cover - compiled
    _update_items(out, ins, opaque, length, _F32, _I32)


def update_float32_int64(
    out: int, ins: int, opaque: int, length: int, status: int
) -> None:  # pragma: no cover - compiled
    _update_items(out, ins, opaque, length, _F32, _I64)


def update_float64_int32(
    out: int, ins: int, opaque: int, length: int, status: int
) -> None:  # pragma: no cover - compiled
    _update_items(out, ins, opaque, length, _F64, _I32)


def update_float64_int64(
    out: int, ins: int, opaque: int, length: int, status: int
) -> None:  # pragma: no cover - compiled
    _update_items(out, ins, opaque, length, _F64, _I64)


def sample_float32_int32_float32(
    out: int, ins: int, opaque: int, length: int, status: int
) -> None:  # pragma: no cover - compiled
    _sample_items(out, ins, opaque, length, _F32, _I32, _F32)


def sample_float32_int32_float64(
    out: int, ins: int, opaque: int, length: int, status: int
) -> None:  # pragma: no cover - compiled
    _sample_items(out, ins, opaque, length, _F32, _I32, _F64)


def sample_float32_int64_float32(
    out: int, ins: int, opaque: int, length: int, status: int
) -> None:  # pragma: no cover - compiled
    _sample_items(out, ins, opaque, length, _F32, _I64, _F32)


def sample_float32_int64_float64(
    out: int, ins: int, opaque: int, length: int, status: int
) -> None:  # pragma: no cover - compiled
    _sample_items(out, ins, opaque, length, _F32, _I64, _F64)


def sample_float64_int32_float64(
    out: int, ins: int, opaque: int, length: int, status: int
) -> None:  # pragma: no cover - compiled
    _sample_items(out, ins, opaque, length, _F64, _I32, _F64)


def sample_float64_int64_float64(
    out: int, ins: int, opaque: int, length: int, status: int
) -> None:  # pragma: no cover - compiled
    _sample_items(out, ins, opaque, length, _F64, _I64, _F64)


ENTRY_POINTS: dict[tuple[str, ...], Callable[..., None]] = {
    ("add", "float32", "int32"): add_float32_int32,
    ("add", "float32", "int64"): add_float32_int64,
    ("add", "float64", "int32"): add_float64_int32,
    ("add", "float64", "int64"): add_float64_int64,
    ("update", "float32", "int32"): update_float32_int32,
    ("update", "float32", "int64"): update_float32_int64,
    ("update", "float64", "int32"): update_float64_int32,
    ("update", "float64", "int64"): update_float64_int64,
    ("sample", "float32", "int32", "float32"): sample_float32_int32_float32,
    ("sample", "float32", "int32", "float64"): sample_float32_int32_float64,
    ("sample", "float32", "int64", "float32"): sample_float32_int64_float32,
    ("sample", "float32", "int64", "float64"): sample_float32_int64_float64,
    ("sample", "float64", "int32", "float64"): sample_float64_int32_float64,
    ("sample", "float64", "int64", "float64"): sample_float64_int64_float64,
}


def compile_kernel(entry: tuple[str, ...]) -> Any:
    """The compiled C callable for ``entry``: kernel, node and int dtypes (and the sample's
    masses' dtype), cached on disk if possible."""
    return _cpu_kernels.compile_cfunc(ENTRY_POINTS[entry], DEPENDS)
