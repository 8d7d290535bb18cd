"""Pure functions on the flat node array behind the JAX trees (traceable, no Python checks).

Layout
------
The values sit on ``P = 2**h`` leaves (``h = ceil(log2(capacity))``, the padding holds the
identity), exactly like the host trees, and every binary level is stored: one flat array
in heap order with the root first (node ``i`` has children ``2i + 1`` and ``2i + 2``, the
leaves are ``P - 1 .. 2P - 2``). Each inner node is its two children combined, so every sum
equals the host tree's bit for bit by construction, and the descent takes the host's
decisions on the host's numbers.

These XLA kernels serve every platform but the CPU, where ``_cpu`` replaces the descent and
the update by one custom call each into the host trees' numba kernels (they also serve the CPU
when those calls are not available). The walks come in two lowerings of the same arithmetic,
chosen per platform by ``_cpu`` (``lax.platform_dependent``) and giving the same bits:

* ``unroll=False`` (the CPU's, when the custom calls are not used): as described below;
* ``unroll=True`` (accelerators: GPU, TPU, where this JAX's barriers have every rule, see
  `barriers_work` and ``_cpu.unrolls_for_accelerators``): every binary level is a step of a
  static Python loop, so the program is a fixed sequence of gathers, fusions and scatters with
  no loop control, each level's results kept apart from the next by
  ``lax.optimization_barrier`` (GPU and TPU keep barriers through fusion; XLA's CPU pipeline
  removes them before it). Why: with the level loops (31 loop trips a step at N = 2^20) rlu
  was barely ahead of flashbax on an H200 (the rlu-trees README has that run), and issue #20
  reports an earlier layout with static loops at about a tenth of flashbax's time there. The
  accelerators read every level from the whole array (the small head below is a CPU matter).

How the work maps onto XLA on the CPU (measured there, see ``benchmarks/bench_jaxtrees.py``):

* the walks (descent, and the climb of an update) are ``lax.fori_loop`` s over the binary
  levels, so each level is one small gather and one or two small fusions. Unrolled static
  loops are slower: XLA fuses the chain of dependent levels into fusions that recompute
  every level above (quadratic work), and the CPU pipeline drops optimization barriers;
* XLA's CPU backend splits every operation that touches more than about 256 KiB over
  several threads, and for ``B`` lookups the hand-offs cost more than the work. The levels
  whose nodes fit in the first 128 KiB of the array (depth 14 in float32) are therefore
  walked, down and up, with gathers from that head of the array, which stay on one thread:
  at N = 2^20, B = 256 this halved the step on the 2-core development machine;
* the levels with at most ``B`` nodes (the top of the tree) are recomputed whole from the
  level below them, in one fusion and one scatter, instead of climbing;
* repeated leaves: the last write wins on every backend without a sort. The leaf slots of
  the batch first take the largest batch position that aims at them (in a sum tree, whose
  leaves are >= 0, as the minimum of ``-1 - position``; in the others after setting the
  slots to -1); an entry writes its value only if its position is the one stored there. All of it
  touches ``B`` slots of the tree itself (no scratch array, no pass over the buffer), and
  inner nodes never need it: duplicates among parents write identical values.

Everything stays in place inside ``jit`` with the tree donated or as a ``scan`` carry: the
benchmark checks that the optimized HLO of a ``scan`` step holds no copy of the node array.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from rlu_trees._reducers import IDENTITY
from rlu_trees.jax import _manual

_GATHER = lax.GatherDimensionNumbers(
    offset_dims=(1,), collapsed_slice_dims=(), start_index_map=(0,)
)
_GATHER_ONE = lax.GatherDimensionNumbers(
    offset_dims=(), collapsed_slice_dims=(0,), start_index_map=(0,)
)
_SCATTER_ONE = lax.ScatterDimensionNumbers(
    update_window_dims=(), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)
)
_IN_BOUNDS = lax.GatherScatterMode.PROMISE_IN_BOUNDS


@functools.cache
def barriers_work() -> bool:
    """Whether ``lax.optimization_barrier`` is public and has the rules the trees need: batching
    (``vmap`` over trees) and differentiation (``grad`` through the walks). JAX gained them one
    by one (0.4.26 has none); ``_cpu`` gives accelerators the unrolled walks only with all."""
    barrier = getattr(lax, "optimization_barrier", None)
    if barrier is None:
        return False

    def through(x: jax.Array) -> jax.Array:
        out: jax.Array = barrier((x, 2.0 * x))[1].sum()
        return out

    try:
        jax.make_jaxpr(jax.vmap(jax.grad(through)))(jnp.ones((2, 3), jnp.float32))
    except Exception:  # NotImplementedError for a missing rule, whatever a JAX raises instead
        return False
    return True


_DROP = lax.GatherScatterMode.FILL_OR_DROP


class Layout(NamedTuple):
    """Static geometry of a tree: everything the kernels need besides the arrays."""

    capacity: int
    reducer: str
    nonneg: bool  # sum-tree rules: only finite values >= 0
    height: int  # binary levels above the leaves: P = 2**height
    size: int  # length of the flat array: 2P - 1
    cpu_calls: bool = True  # the tree may take the compiled kernels on the CPU (``_cpu``)


@functools.cache
def layout(capacity: int, reducer: str, nonneg: bool, cpu_calls: bool = True) -> Layout:
    """The layout for ``capacity`` values (``capacity >= 1``)."""
    height = (capacity - 1).bit_length()
    return Layout(capacity, reducer, nonneg, height, (2 << height) - 1, cpu_calls)


def combine(reducer: str, a: jax.Array, b: jax.Array) -> jax.Array:
    if reducer == "add":
        return a + b
    if reducer == "min":
        return jnp.minimum(a, b)
    return jnp.maximum(a, b)


def _pairs(nodes: jax.Array, starts: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``nodes[starts[b]]`` and ``nodes[starts[b] + 1]`` for every b (one gather)."""
    both = lax.gather(nodes, starts[:, None], _GATHER, slice_sizes=(2,), mode=_IN_BOUNDS)
    return both[:, 0], both[:, 1]


def _get(nodes: jax.Array, at: jax.Array, fill: float) -> jax.Array:
    """``nodes[at]``, ``fill`` where ``at`` is out of bounds (negative included)."""
    return lax.gather(
        nodes, at[:, None], _GATHER_ONE, slice_sizes=(1,), mode=_DROP, fill_value=fill
    )


def _put(
    nodes: jax.Array, at: jax.Array, values: jax.Array, *, drop: bool, unique: bool = False
) -> jax.Array:
    """``nodes[at] = values``; with ``drop``, entries out of bounds (negative too) are skipped."""
    return lax.scatter(
        nodes,
        at[:, None],
        values,
        _SCATTER_ONE,
        unique_indices=unique,
        mode=_DROP if drop else _IN_BOUNDS,
    )


def _put_max(nodes: jax.Array, at: jax.Array, values: jax.Array) -> jax.Array:
    """``nodes[at] = max(nodes[at], values)``, entries out of bounds skipped."""
    return lax.scatter_max(nodes, at[:, None], values, _SCATTER_ONE, mode=_DROP)


def x64_enabled() -> bool:
    """Whether JAX's 64-bit mode is on."""
    return bool(jax.dtypes.canonicalize_dtype(np.float64) == np.dtype(np.float64))


def exact_positions(dtype: Any) -> int:
    """How many batch positions (0, 1, ...) the node dtype holds exactly, for last write wins."""
    return 1 << int(np.finfo(dtype).nmant)


def _small_levels(dtype: Any) -> int:
    """Depth ``k`` such that the first ``2**(k + 1) - 1`` nodes (the levels 0 .. k) fill at
    most 128 KiB.

    XLA's CPU backend splits every operation that reads or writes more than about 256 KiB
    over several threads; for the ``B`` lookups of one level the hand-off costs more than the
    work (on a loaded machine, several times more). Gathers that read from a slice of this
    head stay on one thread.
    """
    itemsize = int(np.dtype(dtype).itemsize)
    return ((1 << 17) // itemsize + 1).bit_length() - 2


def _head(nodes: jax.Array, size: int) -> jax.Array:
    """The first ``size`` nodes (all of them if ``size`` is the whole array)."""
    return nodes if size >= nodes.shape[-1] else lax.slice_in_dim(nodes, 0, size)


def _put_min(nodes: jax.Array, at: jax.Array, values: jax.Array) -> jax.Array:
    """``nodes[at] = min(nodes[at], values)``, entries out of bounds skipped."""
    return lax.scatter_min(nodes, at[:, None], values, _SCATTER_ONE, mode=_DROP)


def level(nodes: jax.Array, depth: int) -> jax.Array:
    """The ``2**depth`` nodes at ``depth`` (0 = the root) as a slice."""
    return lax.slice_in_dim(nodes, (1 << depth) - 1, (2 << depth) - 1)


def build(leaves: jax.Array, lay: Layout) -> jax.Array:
    """The flat array for ``P`` leaf values (O(N), every level from its children)."""
    parts = [leaves]
    while parts[-1].shape[0] > 1:
        below = parts[-1]
        parts.append(combine(lay.reducer, below[0::2], below[1::2]))
    return jnp.concatenate(parts[::-1])


def empty(lay: Layout, dtype: Any) -> jax.Array:
    return jnp.full(lay.size, IDENTITY[lay.reducer], dtype=dtype)


def leaves_of(nodes: jax.Array, lay: Layout) -> jax.Array:
    """The leaves: the last axis of ``nodes`` (a batch of trees keeps its leading axes)."""
    first = (1 << lay.height) - 1
    return lax.slice_in_dim(nodes, first, first + lay.capacity, axis=nodes.ndim - 1)


def clean_values(values: jax.Array, lay: Layout, clamp: bool) -> tuple[jax.Array, jax.Array]:
    """``(ok, values)``: which values may be written, and the values as they are stored.

    Sum trees take finite values ``>= 0`` (subnormals are stored as 0, because XLA flushes
    them on the CPU); with ``clamp`` a value above ``finfo.max / P`` is lowered to it, so
    that no sum can overflow. Other trees take anything but NaN (subnormals stored as zeros).
    """
    info = np.finfo(values.dtype)
    if not lay.nonneg:
        # subnormals become zeros of their sign: XLA treats them as zero on the CPU, and the
        # compiled kernels' comparisons, which run under XLA's flags, would too
        tiny = jnp.abs(values) < info.tiny
        return ~jnp.isnan(values), jnp.where(tiny, jnp.copysign(0.0, values), values)
    ok = (values >= 0) & (values <= info.max)
    values = jnp.where(values < info.tiny, jnp.zeros_like(values), values)
    if clamp:
        limit = np.asarray(float(info.max) / float(1 << lay.height), dtype=values.dtype)
        values = jnp.minimum(values, limit)
    return ok, values


def clean_entries(
    idx: jax.Array, values: jax.Array, lay: Layout, clamp: bool
) -> tuple[jax.Array, jax.Array]:
    """``(position, values)`` of a batch of writes: each entry's leaf in ``[0, capacity)``
    (negative indices counted from the end), or -1 for an entry to skip (its index is outside
    ``[-capacity, capacity)`` or its value is refused, see `clean_values`).
    """
    cap = lay.capacity
    if idx.dtype.itemsize < 4:
        idx = idx.astype(jnp.int32)
    ok, values = clean_values(values, lay, clamp)
    # the range is checked in the index's own type (an int64 index past 2**31 must not wrap)
    if jnp.issubdtype(idx.dtype, jnp.unsignedinteger):
        ok = ok & (idx < cap)
    else:
        ok = ok & (idx >= -cap) & (idx < cap)
    idx = jnp.where(ok, idx, 0).astype(jnp.int32)
    idx = jnp.where(idx < 0, idx + cap, idx)
    return jnp.where(ok, idx, -1), values


def _levels(
    body: Any, start: int, stop: int, carry: tuple[jax.Array, jax.Array], unroll: bool
) -> tuple[jax.Array, jax.Array]:
    """``body(i, carry)`` for ``i`` in ``[start, stop)``: a ``fori_loop``, or a static loop."""
    if not unroll:
        out: tuple[jax.Array, jax.Array] = lax.fori_loop(start, stop, body, carry)
        return out
    for i in range(start, stop):
        # each level's results are materialized: fused into the next level, XLA would
        # recompute every level above it (quadratic), and reads of the node array moved past
        # the next scatter would make it copy the array
        carry = body(i, carry)
        if barriers_work():  # without them the same results, at the cost the comment says
            carry = lax.optimization_barrier(carry)  # type: ignore[no-untyped-call]
    return carry


def set_values(
    nodes: jax.Array,
    idx: jax.Array,
    values: jax.Array,
    lay: Layout,
    clamp: bool,
    unroll: bool = False,
) -> jax.Array:
    """Write ``values[b]`` to leaf ``idx[b]`` (last write wins), then repair the ancestors.

    Entries with an index outside ``[-capacity, capacity)`` or a value the tree refuses are
    skipped. Work: three or four operations on the ``B`` leaf slots (last write wins, see
    the module docstring), then one gather and one scatter of ``B`` nodes per level with
    more than ``B`` nodes, and one fusion and one scatter for all the levels above. With
    ``unroll`` the levels are a static loop over the whole array (the accelerators' lowering).
    """
    cap = lay.capacity
    n = idx.shape[0]
    first = (1 << lay.height) - 1
    idx, values = clean_entries(idx, values.astype(nodes.dtype), lay, clamp)
    ok = idx >= 0
    leaf = jnp.where(ok, first + idx, -1)  # skipped entries aim at -1: dropped
    if n > 1:
        if n <= exact_positions(nodes.dtype):
            position = lax.iota(nodes.dtype, n)
            if lay.nonneg:  # leaves are >= 0: -1 - position is below all of them
                nodes = _put_min(nodes, leaf, -1.0 - position)
                last = _get(nodes, leaf, 1.0) == -1.0 - position
            else:
                nodes = _put(nodes, leaf, jnp.full_like(position, -1.0), drop=True)
                nodes = _put_max(nodes, leaf, position)
                last = _get(nodes, leaf, -2.0) == position
        else:  # a stable sort by leaf puts repeated leaves in batch order
            order = lax.iota(jnp.int32, n)
            key, order = lax.sort((jnp.where(ok, idx, cap), order), num_keys=2)
            last = jnp.concatenate([key[:-1] != key[1:], jnp.ones((1,), bool)])
            last = jnp.zeros((n,), bool).at[order].set(last, unique_indices=True)
        leaf = jnp.where(last, leaf, -1)
    nodes = _put(nodes, leaf, values, drop=True, unique=True)
    # climb from every written leaf (skipped entries climb harmlessly from leaf 0)
    depth = lay.height
    climb = 0  # parent levels with more than n nodes
    while climb < depth and (1 << (depth - 1 - climb)) > n:
        climb += 1

    def up(head: int) -> Any:
        def level_up(_: Any, carry: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
            nodes, parent = carry  # the carry is the scatter's index as it is
            left, right = _pairs(_head(nodes, head), 2 * parent + 1)
            nodes = _put(nodes, parent, combine(lay.reducer, left, right), drop=False)
            return nodes, (parent - 1) >> 1

        return level_up

    if climb:
        parent = (first + jnp.maximum(idx, 0) - 1) >> 1
        # parents deeper than the small head read their children from the whole array
        split = 0 if unroll else min(depth, _small_levels(nodes.dtype))
        deep = min(climb, depth - split)
        carry = (nodes, parent)
        if deep:
            carry = _levels(up(lay.size), 0, deep, carry, unroll)
        if climb > deep:
            carry = _levels(up((2 << split) - 1), deep, climb, carry, unroll)
        nodes = carry[0]
    below = level(nodes, depth - climb)
    if below.shape[0] > 1:
        # the levels above have at most n nodes: recompute them all from this level in one
        # fusion (heap order puts them first, root to this level) and write them with one
        # scatter, which stays in place under vmap too (a dynamic_update_slice per level
        # made XLA copy the whole buffer of a vmapped batch of trees)
        parts = []
        while below.shape[0] > 1:
            below = combine(lay.reducer, below[0::2], below[1::2])
            parts.append(below)
        top = jnp.concatenate(parts[::-1])
        nodes = _put(nodes, lax.iota(jnp.int32, top.shape[0]), top, drop=False, unique=True)
    return nodes


def descend(nodes: jax.Array, x: jax.Array, lay: Layout, unroll: bool = False) -> jax.Array:
    """Leaf index for every target mass ``x[b]`` (sum trees), with the host's guarded rule.

    At each binary node: go left iff the left child is positive and either ``x < left`` or
    the right child is empty; otherwise go right with ``x = max(x - left, 0)``. From a
    positive root this always ends on a positive leaf, and it takes the host's path (the
    host's plain rule differs only where it would enter an empty subtree, and the host then
    walks again with this rule). With ``unroll`` the levels are a static loop over the whole
    array (the accelerators' lowering).
    """

    def down(top: int) -> Any:
        def level_down(_: Any, carry: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
            node, x = carry
            child = 2 * node + 1
            left, right = _pairs(_head(nodes, top), child)
            left = left.astype(x.dtype)
            go_left = (left > 0) & ((x < left) | ~(right > 0))
            x = jnp.where(go_left, x, jnp.maximum(x - left, 0))
            return child + (~go_left).astype(jnp.int32), x

        return level_down

    # the walk's carry varies (inside shard_map) wherever the tree and the targets do
    node, x = _manual.vary_like((jnp.zeros(x.shape, jnp.int32), x), nodes, x)
    # the levels whose children lie in the small head of the array read from that head
    split = 0 if unroll else min(lay.height, _small_levels(nodes.dtype))
    if split:
        node, x = _levels(down((2 << split) - 1), 0, split, (node, x), unroll)
    if lay.height > split:
        node, x = _levels(down(lay.size), split, lay.height, (node, x), unroll)
    return jnp.minimum(node - ((1 << lay.height) - 1), lay.capacity - 1)


def partial_reduce(nodes: jax.Array, starts: jax.Array, stops: jax.Array, lay: Layout) -> jax.Array:
    """Reduce ``[starts[b], stops[b])`` with the host's bottom-up walk over binary levels."""
    op = lay.reducer
    init = jnp.asarray(IDENTITY[op], nodes.dtype)
    half = 1 << lay.height
    # host heap numbers (root 1, leaves half .. 2 half - 1); node k sits at nodes[k - 1]
    lo = starts.astype(jnp.int32) + half
    hi = stops.astype(jnp.int32) + half
    acc_lo = jnp.full(lo.shape, init)
    acc_hi = jnp.full(lo.shape, init)
    for _ in range(lay.height + 1):
        active = lo < hi
        take_lo = active & ((lo & 1) == 1)
        value_lo = nodes.at[jnp.clip(lo - 1, 0, lay.size - 1)].get(mode="promise_in_bounds")
        acc_lo = jnp.where(take_lo, combine(op, acc_lo, value_lo), acc_lo)
        lo = jnp.where(take_lo, lo + 1, lo)
        take_hi = active & ((hi & 1) == 1)
        hi = jnp.where(take_hi, hi - 1, hi)
        value_hi = nodes.at[jnp.clip(hi - 1, 0, lay.size - 1)].get(mode="promise_in_bounds")
        acc_hi = jnp.where(take_hi, combine(op, value_hi, acc_hi), acc_hi)
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
