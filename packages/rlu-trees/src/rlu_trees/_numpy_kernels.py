"""Plain-numpy kernels: the reference path and the engine for arbitrary reducers.

Same contract as ``rlu_trees._numba_kernels`` (storage, value checks, statuses: see
``rlu_trees._kernel_contract``), except that ``reducer`` is a binary function on arrays (a
numpy ufunc or a wrapped Python function) instead of a reducer code. The property tests run both
modules on the same inputs and compare. Everything here is vectorised over the batch and loops
only over the levels of the tree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from rlu_trees._kernel_contract import (
    BAD_INDEX,
    BAD_VALUE,
    CHECK_NONE,
    CHECK_SUM,
    INT64,
    OK,
    OVERFLOW,
    Indices,
    Storage,
)

Reducer = Callable[[npt.NDArray[Any], npt.NDArray[Any]], npt.NDArray[Any]]
_MASK64 = (1 << 64) - 1


def _bad_values(check: int, values: Storage) -> npt.NDArray[np.bool_]:
    if check == CHECK_NONE:
        return np.zeros(values.shape, dtype=bool)
    bad = np.isnan(values)
    if check == CHECK_SUM:
        bad |= ~((values >= 0) & (values < np.inf))
    return bad


def _recompute(tree: Storage, nodes: Indices, reducer: Reducer) -> None:
    """Recompute ``nodes`` (unique, all on one level) and every ancestor, level by level."""
    while nodes.size and nodes[0] >= 1:
        tree[nodes] = reducer(tree[2 * nodes], tree[2 * nodes + 1])
        nodes = np.unique(nodes >> 1)
        if nodes[0] == 0:
            break


def set_values(
    tree: Storage,
    capacity: int,
    idx: Indices,
    values: Storage,
    reducer: Reducer,
    check: int,
) -> tuple[int, int]:
    """Write ``values[k]`` to leaf ``idx[k]`` (last write wins) and repair the ancestors."""
    half = tree.shape[0] // 2
    out_of_range = (idx < -capacity) | (idx >= capacity)
    if out_of_range.any():
        return BAD_INDEX, int(np.argmax(out_of_range))
    bad = _bad_values(check, values)
    if bad.any():
        return BAD_VALUE, int(np.argmax(bad))
    if idx.size == 0:
        return OK, 0
    leaves = half + np.where(idx < 0, idx + capacity, idx)
    # keep the last occurrence of each leaf: numpy's own rule for repeated indices
    uniq, first_in_reversed = np.unique(leaves[::-1], return_index=True)
    last = leaves.size - 1 - first_in_reversed
    old = tree[uniq].copy()
    tree[uniq] = values[last]
    if half > 1:
        _recompute(tree, np.unique(uniq >> 1), reducer)
    if check == CHECK_SUM and not tree[1] < np.inf:
        tree[uniq] = old
        if half > 1:
            _recompute(tree, np.unique(uniq >> 1), reducer)
        return OVERFLOW, 0
    return OK, 0


def rebuild(tree: Storage, reducer: Reducer) -> None:
    """Recompute every inner node from the leaves, one whole level per step."""
    width = tree.shape[0] // 2
    while width > 1:
        children = tree[width : 2 * width]
        tree[width // 2 : width] = reducer(children[0::2], children[1::2])
        width //= 2


def set_all(
    tree: Storage,
    capacity: int,
    values: Storage,
    reducer: Reducer,
    check: int,
    limit: float,
) -> tuple[int, int]:
    """Replace all ``capacity`` leaves at once and rebuild the inner nodes in O(N).

    With the SumTree check, a total of at least ``limit`` is refused as an overflow.
    """
    bad = _bad_values(check, values)
    if bad.any():
        return BAD_VALUE, int(np.argmax(bad))
    if check == CHECK_SUM:
        total = float(np.sum(values, dtype=np.float64))
        if not total < limit:
            return OVERFLOW, 0
    half = tree.shape[0] // 2
    tree[half : half + capacity] = values
    rebuild(tree, reducer)
    return OK, 0


def partial_reduce(
    tree: Storage,
    starts: Indices,
    stops: Indices,
    reducer: Reducer,
    init: float,
    out: Storage,
) -> None:
    """Reduce the leaves in ``[starts[k], stops[k])`` for every k (ranges already checked)."""
    half = tree.shape[0] // 2
    lo = starts + half
    hi = stops + half
    acc_lo = np.full(lo.shape, init, dtype=tree.dtype)
    acc_hi = np.full(lo.shape, init, dtype=tree.dtype)
    while True:
        active = lo < hi
        if not active.any():
            break
        take_lo = active & (lo & 1 == 1)
        acc_lo[take_lo] = reducer(acc_lo[take_lo], tree[lo[take_lo]])
        lo = lo + take_lo
        take_hi = active & (hi & 1 == 1)
        hi = hi - take_hi
        acc_hi[take_hi] = reducer(tree[hi[take_hi]], acc_hi[take_hi])
        lo >>= 1
        hi >>= 1
    out[:] = reducer(acc_lo, acc_hi)


def _descend(tree: Storage, x: npt.NDArray[np.float64], out: Indices) -> None:
    """Same walk as the compiled ``_descend``: plain rule, then the guarded rule for the
    targets that ended on a zero leaf."""
    half = tree.shape[0] // 2
    node = np.ones(x.shape, dtype=INT64)
    rest = x.copy()
    width = half
    while width > 1:
        child = 2 * node
        left = tree[child]
        go_right = rest >= left
        node = child + go_right
        rest = rest - left * go_right
        width >>= 1
    redo = ~(tree[node] > 0)
    if redo.any():
        node[redo] = _descend_guarded(tree, x[redo])
    out[:] = node - half


def _descend_guarded(tree: Storage, x: npt.NDArray[np.float64]) -> Indices:
    """Walk into a positive child at every level; ends on a positive leaf if the root is."""
    half = tree.shape[0] // 2
    node = np.ones(x.shape, dtype=INT64)
    width = half
    while width > 1:
        child = 2 * node
        left = tree[child]
        right = tree[child + 1]
        go_left = (left > 0) & ((x < left) | ~(right > 0))
        node = np.where(go_left, child, child + 1)
        x = np.where(go_left, x, np.maximum(x - left, 0.0))
        width >>= 1
    return node


def inverse_cdf(tree: Storage, u: npt.NDArray[np.float64], out: Indices) -> None:
    """Leaf index for each ``u[k]`` in ``[0, 1]`` (checked by the caller; root checked > 0)."""
    _descend(tree, u.astype(np.float64) * float(tree[1]), out)


def _next_uniform(state: npt.NDArray[np.uint64]) -> float:
    """xoshiro256+ in Python integers, bit for bit the same as the compiled generator."""
    s0, s1, s2, s3 = (int(w) for w in state)
    result = (s0 + s3) & _MASK64
    t = (s1 << 17) & _MASK64
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = ((s3 << 45) | (s3 >> 19)) & _MASK64
    state[:] = np.array([s0, s1, s2, s3], dtype=np.uint64)
    return (result >> 11) * (1.0 / 9007199254740992.0)


def uniforms(state: npt.NDArray[np.uint64], out: npt.NDArray[np.float64]) -> None:
    """Fill ``out`` with draws in [0, 1) and advance ``state``."""
    for k in range(out.shape[0]):
        out[k] = _next_uniform(state)


def sample(tree: Storage, state: npt.NDArray[np.uint64], stratified: bool, out: Indices) -> bool:
    """Draw ``out.shape[0]`` leaf indices with probability proportional to the leaf values.

    Returns False, and draws nothing, when the tree holds no mass (root not > 0).
    """
    if not tree[1] > 0:
        return False
    n = out.shape[0]
    r = np.empty(n, dtype=np.float64)
    uniforms(state, r)
    u = np.minimum((np.arange(n) + r) / n, 1.0) if stratified else r
    _descend(tree, u * float(tree[1]), out)
    return True
