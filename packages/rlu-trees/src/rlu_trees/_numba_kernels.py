"""Compiled kernels (numba) behind the trees.

This module is imported on the first operation that needs it, never by ``import rlu_trees``.
Every kernel is compiled with ``cache=True`` so that a fresh process loads machine code from
disk instead of compiling again; see ``_jit`` for where that cache lives.

The storage, reducer codes, value checks and statuses are the contract of
``rlu_trees._kernel_contract``, shared with ``rlu_trees._numpy_kernels``; numba reads the
codes as compile-time constants. The annotations describe calls from Python (numba infers its
own types from the arguments of each call).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt
from llvmlite import binding as _llvm  # type: ignore[import-untyped]  # llvmlite has no types
from llvmlite import ir as _ir
from numba.core import cgutils, types
from numba.core import config as numba_config
from numba.core.dispatcher import Dispatcher
from numba.core.typing.templates import Signature
from numba.extending import intrinsic

from rlu_trees import _numba_cache
from rlu_trees._kernel_contract import (
    ADD,
    BAD_INDEX,
    BAD_VALUE,
    CHECK_NONE,
    CHECK_SUM,
    MIN,
    OK,
    OVERFLOW,
    Indices,
    Storage,
)

_F = TypeVar("_F", bound=Callable[..., Any])
_P = ParamSpec("_P")
_R = TypeVar("_R")
# what an intrinsic's typing function returns: the signature and the function emitting its IR
_Codegen = Callable[[Any, Any, Signature, Sequence[Any]], Any]


def typed(kernel: Dispatcher[Callable[_P, _R]], *args: object) -> Callable[_P, _R]:
    """The machine code of ``kernel`` for the types of ``args``, compiled or loaded once.

    Calling it skips numba's type resolution on every call (a few tenths of a microsecond), so
    it must only ever receive arguments of exactly these types: the trees use it for arrays
    they own.
    """
    sig = tuple(numba.typeof(a) for a in args)  # type: ignore[no-untyped-call]  # numba: unannotated
    return kernel.compile(sig)


def _fallback_cache_dir() -> str:
    return os.path.join(tempfile.gettempdir(), f"rlu-trees-numba-cache-{os.getuid()}")


def _jit(func: _F, depends: tuple[str, ...] = ()) -> Dispatcher[_F]:
    """Compile lazily with an on-disk cache that works from a read-only install too; the
    cache goes stale when the function's file or a file of ``depends`` changes (the files of
    other compiled functions it calls: ``_numba_cache.depend_on``).

    numba caches next to the source file when that folder is writable and otherwise in the
    user-wide cache folder (``NUMBA_CACHE_DIR`` or ``~/.cache/numba``). When neither is usable
    (read-only site-packages and no writable home), numba refuses ``cache=True`` at decoration
    time; we then point it at a per-user folder under the system temp dir, and as a last resort
    compile without a cache (slower first call, same results). Processes sharing the cache
    take turns to read and write it (``rlu_trees._numba_cache``).
    """
    try:
        return cast("Dispatcher[_F]", _numba_cache.njit(func, depends=depends))
    except RuntimeError:
        pass
    try:
        # numba sets its configuration attributes at run time, so no checker knows them
        numba_config.CACHE_DIR = _fallback_cache_dir()  # type: ignore[attr-defined]
        return cast("Dispatcher[_F]", _numba_cache.njit(func, depends=depends))
    except RuntimeError:
        warnings.warn(
            "rlu_trees: no writable numba cache folder found; kernels are compiled in every "
            "process. Set NUMBA_CACHE_DIR to a writable folder to avoid that.",
            RuntimeWarning,
            stacklevel=2,
        )
        return numba.njit(cache=False, nogil=True)(func)


_PREFETCH = "llvm.prefetch.p0" if _llvm.llvm_version_info[0] >= 15 else "llvm.prefetch.p0i8"


# An intrinsic is called from compiled code without ``typingctx`` and gives the result of its
# signature; numba's stubs type the call with the typing function's parameters and as never
# returning. Each one gets its typed name through ``cast``. The codegen functions receive numba's
# lowering context and llvmlite's IR builder and values, none of them typed: ``Any``.


def _prefetch_typing(
    typingctx: object, arr: types.Array, index: types.Integer
) -> tuple[Signature, _Codegen]:  # pragma: no cover - compiled
    """Hint the CPU to start loading ``arr[index]`` into cache (no effect on results)."""
    sig = types.void(arr, index)

    def codegen(context: Any, builder: Any, signature: Signature, args: Sequence[Any]) -> Any:
        arr_type = signature.args[0]
        array = context.make_array(arr_type)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(  # type: ignore[no-untyped-call]  # numba: unannotated
            context, builder, arr_type, array, [args[1]], wraparound=False
        )
        i8p = _ir.IntType(8).as_pointer()
        i32 = _ir.IntType(32)
        fnty = _ir.FunctionType(_ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(  # type: ignore[no-untyped-call]  # numba: unannotated
            builder.module, fnty, _PREFETCH
        )
        # read access, high temporal locality, data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


_prefetch = cast("Callable[[Storage, np.uint64], None]", intrinsic(_prefetch_typing))


def _bits_typing(
    typingctx: object, x: types.Float
) -> tuple[Signature, _Codegen]:  # pragma: no cover - compiled
    """The bits of a float64 as an int64: ordered like the floats for ``x >= +0.0``.

    The descent compares these integers instead of the floats, so that the comparison does
    not share the floating-point flags with the select of ``_mass_left_of``; sharing them
    makes LLVM lower that select to a branch, mispredicted half the time on random targets.
    """
    sig = types.int64(types.float64)

    def codegen(context: Any, builder: Any, signature: Signature, args: Sequence[Any]) -> Any:
        return builder.bitcast(args[0], _ir.IntType(64))

    return sig, codegen


_bits = cast("Callable[[float], int]", intrinsic(_bits_typing))


def _mass_left_of_typing(
    typingctx: object, x: types.Float, left: types.Float
) -> tuple[Signature, _Codegen]:  # pragma: no cover - compiled
    """``left`` if ``x >= left`` else 0.0, as a compare-and-mask, never a branch."""
    sig = types.float64(types.float64, types.float64)

    def codegen(context: Any, builder: Any, signature: Signature, args: Sequence[Any]) -> Any:
        x, left = args
        keep = builder.fcmp_ordered(">=", x, left)
        return builder.select(keep, left, _ir.Constant(_ir.DoubleType(), 0.0))

    return sig, codegen


_mass_left_of = cast("Callable[[float, float], float]", intrinsic(_mass_left_of_typing))


@_jit
def _combine(op: int, a: float, b: float) -> float:  # pragma: no cover - compiled
    if op == ADD:
        return a + b
    if op == MIN:
        return a if a <= b else b
    return a if a >= b else b


@_jit
def _bad_value(check: int, v: float) -> bool:  # pragma: no cover - compiled
    if check == CHECK_NONE:
        return False
    if v != v:  # NaN
        return True
    if check == CHECK_SUM:
        return not (0.0 <= v < np.inf)
    return False


@_jit
def _update_paths(tree: Storage, leaves: Indices, op: int) -> None:  # pragma: no cover - compiled
    """Recompute every ancestor of the given leaf positions from its two children.

    All leaves sit on the bottom level, so the batch climbs one level at a time together:
    every node of a level is final before its parent is recomputed (duplicates just
    recompute the same value), and the independent loads of a level overlap in memory.

    A min or max node that keeps its value (bit for bit) leaves its ancestors as they are, so
    its walk stops there: most writes to a min tree change only the lowest levels, and the
    cold nodes above are never loaded. If another walk of the batch changed a sibling, that
    walk goes on and recomputes the common parent from both children. Sums always climb to
    the root.
    """
    n = leaves.shape[0]
    if n == 0:
        return
    one = np.uint64(1)
    nodes = np.empty(n, dtype=np.uint64)  # unsigned: no negative-index fix-up when indexing
    for k in range(n):
        nodes[k] = np.uint64(leaves[k]) >> one
    width = tree.shape[0] // 2
    live = n  # the walks still climbing are nodes[:live]
    while width > 1:
        parents = width >> 1  # number of nodes on the level being recomputed
        if parents <= live:
            # near the root the batch covers (almost) every node: recompute this level and
            # all above it in one contiguous sweep, cheaper than n walks that overlap
            for level_node in range(2 * parents - 1, 0, -1):
                tree[level_node] = _combine(op, tree[2 * level_node], tree[2 * level_node + 1])
            return
        if op == ADD:
            for k in range(live):
                # typed names: pyright cannot resolve numpy's uint64 arithmetic
                node: np.uint64 = nodes[k]
                child: np.uint64 = node << one
                sibling: np.uint64 = child + one
                tree[node] = _combine(op, tree[child], tree[sibling])
                nodes[k] = node >> one
        else:
            kept = 0
            for k in range(live):
                parent: np.uint64 = nodes[k]
                left: np.uint64 = parent << one
                right: np.uint64 = left + one
                value = _combine(op, tree[left], tree[right])
                if _bits(np.float64(value)) != _bits(np.float64(tree[parent])):
                    tree[parent] = value
                    nodes[kept] = parent >> one  # kept <= k: this walk goes on
                    kept += 1
            live = kept
            if live == 0:
                return
        width = parents


@_jit
def set_values(
    tree: Storage, capacity: int, idx: Indices, values: Storage, op: int, check: int
) -> tuple[int, int]:  # pragma: no cover - compiled
    """Write ``values[k]`` to leaf ``idx[k]`` (last write wins) and repair the ancestors."""
    n = idx.shape[0]
    half = tree.shape[0] // 2
    for k in range(n):
        i = idx[k]
        if i < -capacity or i >= capacity:
            return BAD_INDEX, k
    for k in range(n):
        if _bad_value(check, values[k]):
            return BAD_VALUE, k
    leaves = np.empty(n, dtype=np.int64)
    for k in range(n):
        i = idx[k]
        leaves[k] = half + (i + capacity if i < 0 else i)
    old = np.empty(n, dtype=tree.dtype)
    if check == CHECK_SUM:
        for k in range(n):
            old[k] = tree[leaves[k]]
    for k in range(n):
        tree[leaves[k]] = values[k]
    _update_paths(tree, leaves, op)
    if check == CHECK_SUM and not tree[1] < np.inf:
        # the sum overflowed the dtype: put the old leaves back (reverse order undoes duplicates)
        for k in range(n - 1, -1, -1):
            tree[leaves[k]] = old[k]
        _update_paths(tree, leaves, op)
        return OVERFLOW, 0
    return OK, 0


@_jit
def rebuild(tree: Storage, op: int) -> None:  # pragma: no cover - compiled
    """Recompute every inner node from the leaves, bottom-up."""
    for node in range(tree.shape[0] // 2 - 1, 0, -1):
        tree[node] = _combine(op, tree[2 * node], tree[2 * node + 1])


@_jit
def set_all(
    tree: Storage, capacity: int, values: Storage, op: int, check: int, limit: float
) -> tuple[int, int]:  # pragma: no cover - compiled
    """Replace all ``capacity`` leaves at once and rebuild the inner nodes in O(N)."""
    for k in range(capacity):
        if _bad_value(check, values[k]):
            return BAD_VALUE, k
    half = tree.shape[0] // 2
    if check == CHECK_SUM:
        total = 0.0
        for k in range(capacity):
            total += values[k]
        # the inner sums differ from this total only by rounding (relative error far below
        # 1e-6), so a total that keeps that distance from the dtype's maximum cannot overflow
        if not total < limit:
            return OVERFLOW, 0
    for k in range(capacity):
        tree[half + k] = values[k]
    rebuild(tree, op)
    return OK, 0


@_jit
def partial_reduce(
    tree: Storage, starts: Indices, stops: Indices, op: int, init: float, out: Storage
) -> None:  # pragma: no cover - compiled
    """Reduce the leaves in ``[starts[k], stops[k])`` for every k (ranges already checked)."""
    half = tree.shape[0] // 2
    for k in range(starts.shape[0]):
        lo: int = starts[k] + half
        hi: int = stops[k] + half
        acc_lo = init
        acc_hi = init
        while lo < hi:
            if lo & 1:
                acc_lo = _combine(op, acc_lo, tree[lo])
                lo += 1
            if hi & 1:
                hi -= 1
                acc_hi = _combine(op, tree[hi], acc_hi)
            lo >>= 1
            hi >>= 1
        out[k] = _combine(op, acc_lo, acc_hi)


@_jit
def _descend_guarded(tree: Storage, x: float) -> int:  # pragma: no cover - compiled
    """Walk one target down, always into a positive child; returns the leaf position.

    Going left needs a positive left child and either ``x < left`` or an empty right child;
    otherwise the walk goes right with ``x - left`` (clipped at 0). A node is positive iff
    one of its leaves is, so a walk that starts at a positive root ends at a positive leaf,
    whatever the rounding in the inner nodes.
    """
    half = tree.shape[0] // 2
    node = 1
    while node < half:
        child = 2 * node
        left = tree[child]
        right = tree[child + 1]
        if left > 0.0 and (x < left or not right > 0.0):
            node = child
        else:
            node = child + 1
            x = max(x - left, 0.0)
    return node


@_jit
def _step(
    tree: Storage, node: np.uint64, x: float
) -> tuple[np.uint64, float]:  # pragma: no cover - compiled
    """One level of the plain rule for one target: the child to enter and the mass left.

    Right iff ``x >= left`` (then ``x -= left``), decided without a branch. ``x`` must be
    ``+0.0`` or positive (never ``-0.0``), so that its bits compare like the float.
    """
    child = node << np.uint64(1)
    left = np.float64(tree[child])
    return child + np.uint64(_bits(x) >= _bits(left)), x - _mass_left_of(x, left)


@_jit
def _at(x: npt.NDArray[np.float64], k: int) -> float:  # pragma: no cover - compiled
    """``x[k]``, or 0.0 past the end."""
    return x[k] if k < x.shape[0] else 0.0


# levels walked in registers before the batch switches to the level-synchronous walk: the top
# 2**11 nodes (16 KiB in float64) stay in the L1/L2 cache, where latency is short anyway
_TOP_LEVELS = 11


@_jit
def _descend(
    tree: Storage, x: npt.NDArray[np.float64], out: Indices
) -> None:  # pragma: no cover - compiled
    """Find the leaf for every target mass ``x[k]`` in ``[0, root]``; ``out[k]`` gets its index.

    Every target follows the plain rule of ``_step``, without a branch on the data. The
    top levels are small and cached: there, eight walks at a time advance in registers. Below,
    all targets walk down together, one level at a time, prefetching the next level's nodes so
    that the cache misses of the whole batch overlap. The plain rule can end on a leaf of value
    0 (``x`` equal to the total, or rounding in the inner sums); those few targets walk again
    with the guarded rule of ``_descend_guarded``. ``x`` is overwritten. Node numbers are
    unsigned, so indexing needs no negative-index fix-up.
    """
    n = x.shape[0]
    half = tree.shape[0] // 2
    levels = 0
    while (half >> levels) > 1:
        levels += 1
    top = min(levels, _TOP_LEVELS)
    start = np.empty(n, dtype=np.float64)
    nodes = np.empty(n, dtype=np.uint64)
    for k in range(n):
        start[k] = x[k]
        x[k] += 0.0  # -0.0 (from u = -0.0) becomes +0.0, see _step
    one = np.uint64(1)
    k = 0
    while k < n:
        # the top levels, eight walks at a time in registers (lanes past n walk a dummy 0.0)
        x0, x1, x2, x3 = x[k], _at(x, k + 1), _at(x, k + 2), _at(x, k + 3)
        x4, x5, x6, x7 = _at(x, k + 4), _at(x, k + 5), _at(x, k + 6), _at(x, k + 7)
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = one
        for _ in range(top):
            a0, x0 = _step(tree, a0, x0)
            a1, x1 = _step(tree, a1, x1)
            a2, x2 = _step(tree, a2, x2)
            a3, x3 = _step(tree, a3, x3)
            a4, x4 = _step(tree, a4, x4)
            a5, x5 = _step(tree, a5, x5)
            a6, x6 = _step(tree, a6, x6)
            a7, x7 = _step(tree, a7, x7)
        for lane, a, xk in (
            (0, a0, x0),
            (1, a1, x1),
            (2, a2, x2),
            (3, a3, x3),
            (4, a4, x4),
            (5, a5, x5),
            (6, a6, x6),
            (7, a7, x7),
        ):
            if k + lane < n:
                nodes[k + lane] = a
                x[k + lane] = xk
                if top < levels:
                    _prefetch(tree, a << one)
        k += 8
    # the deep levels, all walks together, one level at a time
    width = half >> top
    while width > 1:
        for k in range(n):
            node, x[k] = _step(tree, nodes[k], x[k])
            nodes[k] = node
            if width > 2:
                # the next level reads this node's children: ask for them now
                _prefetch(tree, node << one)
        width >>= 1
    for k in range(n):
        leaf = np.int64(nodes[k])
        if not tree[leaf] > 0.0:
            leaf = _descend_guarded(tree, start[k])
        out[k] = leaf - half


@_jit
def inverse_cdf(
    tree: Storage, u: npt.NDArray[np.float64], out: Indices
) -> None:  # pragma: no cover - compiled
    """Leaf index for each ``u[k]`` in ``[0, 1]`` (checked by the caller; root checked > 0)."""
    total = tree[1]
    x = np.empty(u.shape[0], dtype=np.float64)
    for k in range(u.shape[0]):
        x[k] = u[k] * total
    _descend(tree, x, out)


@_jit
def _xoshiro(
    s0: np.uint64, s1: np.uint64, s2: np.uint64, s3: np.uint64
) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64, float]:  # pragma: no cover - compiled
    """One step of xoshiro256+: the new state words and a float64 draw in [0, 1)."""
    result = s0 + s3
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = (s3 << np.uint64(45)) | (s3 >> np.uint64(19))
    return s0, s1, s2, s3, np.float64(result >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@_jit
def uniforms(
    state: npt.NDArray[np.uint64], out: npt.NDArray[np.float64]
) -> None:  # pragma: no cover - compiled
    """Fill ``out`` with draws in [0, 1) and advance ``state`` (4 uint64 words)."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    for k in range(out.shape[0]):
        s0, s1, s2, s3, out[k] = _xoshiro(s0, s1, s2, s3)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3


@_jit
def sample(
    tree: Storage, state: npt.NDArray[np.uint64], stratified: bool, out: Indices
) -> bool:  # pragma: no cover - compiled
    """Draw ``out.shape[0]`` leaf indices with probability proportional to the leaf values.

    Returns False, and draws nothing, when the tree holds no mass (root not > 0).
    """
    n = out.shape[0]
    total = tree[1]
    if not total > 0.0:
        return False
    x = np.empty(n, dtype=np.float64)
    uniforms(state, x)
    if stratified:
        for k in range(n):
            u = (k + x[k]) / n
            x[k] = (u if u < 1.0 else 1.0) * total
    else:
        for k in range(n):
            x[k] = x[k] * total
    _descend(tree, x, out)
    return True
