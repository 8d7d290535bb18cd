"""Tests for mutants that survived ``hatch run mutate:trees`` (see CONTRIBUTING.md).

Each test says which mutated line it fails on. The expected values are worked out by hand.
"""

from __future__ import annotations

import math
import operator
import os
import subprocess
import sys

import numpy as np
import pytest
from rlu_trees import MaxTree, MinTree, SegmentTree, SumTree, _numba_kernels, _numpy_kernels
from rlu_trees._kernel_contract import ADD, BAD_INDEX, BAD_VALUE, CHECK_SUM, OK, OVERFLOW

F64_LIMIT = float(np.finfo(np.float64).max) * (1.0 - 1e-6)


@pytest.mark.parametrize(("kernels", "op"), [(_numba_kernels, ADD), (_numpy_kernels, np.add)])
def test_writing_kernels_return_the_contract_statuses(kernels, op):
    # _kernel_contract: (OK, 0) on success, (BAD_INDEX, k) / (BAD_VALUE, k) with k the first bad
    # position, (OVERFLOW, 0). Survivors: set_values `return OK, -1`, set_all `return OK, 1` and
    # `return OVERFLOW, 1` (no tree reads k for these codes, so only the contract shows them).
    tree = np.zeros(8)  # capacity 4: leaves at tree[4:8], root at tree[1]
    idx = np.array([0, 3], dtype=np.int64)

    assert kernels.set_values(tree, 4, idx, np.array([1.0, 2.0]), op, CHECK_SUM) == (OK, 0)
    assert tree[1] == 3.0
    bad_idx = np.array([0, 1, 4], dtype=np.int64)
    assert kernels.set_values(tree, 4, bad_idx, np.ones(3), op, CHECK_SUM) == (BAD_INDEX, 2)
    bad_value = np.array([1.0, -1.0])
    assert kernels.set_values(tree, 4, idx, bad_value, op, CHECK_SUM) == (BAD_VALUE, 1)
    huge = np.array([1e308, 1e308])
    with np.errstate(over="ignore"):  # the numpy kernels sum to inf before they refuse
        assert kernels.set_values(tree, 4, idx, huge, op, CHECK_SUM) == (OVERFLOW, 0)
    np.testing.assert_array_equal(tree[4:], [1.0, 0.0, 0.0, 2.0])  # refused: unchanged

    values = np.array([1.0, 2.0, 3.0, 4.0])
    assert kernels.set_all(tree, 4, values, op, CHECK_SUM, F64_LIMIT) == (OK, 0)
    assert tree[1] == 10.0
    values = np.array([1.0, np.nan, -1.0, 4.0])
    assert kernels.set_all(tree, 4, values, op, CHECK_SUM, F64_LIMIT) == (BAD_VALUE, 1)
    values = np.array([1e308, 1e308, 0.0, 0.0])
    with np.errstate(over="ignore"):
        assert kernels.set_all(tree, 4, values, op, CHECK_SUM, F64_LIMIT) == (OVERFLOW, 0)
    np.testing.assert_array_equal(tree[4:], [1.0, 2.0, 3.0, 4.0])


@pytest.mark.parametrize(
    ("reducer", "init"),
    [
        (np.add, 0.0),
        (operator.add, 0.0),
        (np.minimum, math.inf),
        (np.fmin, math.inf),
        (min, math.inf),
        (np.maximum, -math.inf),
        (np.fmax, -math.inf),
        (max, -math.inf),
    ],
)
def test_every_known_reducer_runs_compiled_and_refuses_nan(reducer, init):
    # Survivor: `np.fmax: (MAX, +math.inf)` in _KNOWN_REDUCERS (now derived from
    # rlu_trees._reducers). The tree then falls back to the numpy path, which gives the same
    # values but accepts NaN, which breaks the comparisons.
    tree = SegmentTree(4, reducer, init)
    assert tree._use_numba
    tree.set_values(..., [3.0, 1.0, 4.0, 1.5])
    with pytest.raises(ValueError, match="NaN"):
        tree.set_values([2], [math.nan])
    np.testing.assert_array_equal(tree.values, [3.0, 1.0, 4.0, 1.5])


@pytest.mark.parametrize("tree_cls", [SumTree, MinTree, MaxTree])
def test_plain_positions_with_a_strided_values_array(tree_cls):
    # Survivor: `values.flags.num & _PLAIN_ARRAY != _PLAIN_ARRAY` in SegmentTree.set_values. It
    # sends a strided `values` to the kernel compiled for contiguous arrays, which then reads the
    # underlying buffer [1, 2] instead of the view's [1, 3].
    tree = tree_cls(4)
    init = tree.init_value
    tree.set_values(np.array([0, 2]), np.arange(1.0, 5.0)[::2])  # values 1.0 and 3.0
    np.testing.assert_array_equal(tree.values, [1.0, init, 3.0, init])


def test_dtype_is_keyword_only():
    # Survivors: `*` -> `/` in the signatures of SegmentTree, MinTree and MaxTree, which would
    # take a dtype passed by position.
    with pytest.raises(TypeError):
        SegmentTree(4, np.add, 0.0, np.float32)  # type: ignore[misc]
    with pytest.raises(TypeError):
        MinTree(4, np.float32)  # type: ignore[misc]
    with pytest.raises(TypeError):
        MaxTree(4, np.float32)  # type: ignore[misc]
    with pytest.raises(TypeError):
        SumTree(4, 0, np.float32)  # type: ignore[misc]


def test_sample_draws_independently_by_default():
    # Survivor: `stratified: bool = True` as the default of SumTree.sample. Eight stratified draws
    # over four equal values are exactly [0, 0, 1, 1, 2, 2, 3, 3]; independent draws are not.
    plain, explicit, stratified = (SumTree(4, random_seed=5) for _ in range(3))
    for tree in (plain, explicit, stratified):
        tree.set_values(..., [1.0, 1.0, 1.0, 1.0])
    assert stratified.sample(8, stratified=True).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    draws = plain.sample(8)
    np.testing.assert_array_equal(draws, explicit.sample(8, stratified=False))
    assert draws.tolist() != [0, 0, 1, 1, 2, 2, 3, 3]


def test_a_full_rewrite_keeps_a_margin_below_the_float32_maximum():
    # Survivor: `np.finfo(dtype).max / (1.0 - 1e-6)` in SegmentTree._overflow_limit (a limit above
    # the maximum). The float64 total of [max, 1e32] is within 3e-7 of float32's maximum, and
    # summing them in float32 gives inf: the original refuses the rewrite, the mutant accepts it
    # and leaves a root of inf.
    tree = SumTree(2, dtype=np.float32)
    big = float(np.finfo(np.float32).max)
    with pytest.raises(ValueError, match="overflow"):
        tree.set_values(..., [big, 1e32])
    assert tree.root_value == 0.0


class _UnhashableAdd:
    __hash__ = None  # type: ignore[assignment]

    def __call__(self, a: float, b: float) -> float:
        return a + b


def test_an_unhashable_reducer_is_accepted():
    # Survivor: `except CosmicRayTestingException` (for `except TypeError`) in _hashable, which
    # lets hash() raise in the constructor: any callable is a reducer.
    reducer = _UnhashableAdd()
    tree = SegmentTree(4, reducer, 0.0)
    assert tree.reducer is reducer
    assert not tree._use_numba


@pytest.mark.xfail(
    strict=True,
    raises=TypeError,
    reason="_array_reducer looks the reducer up in a dict, which hashes it: found by the mutant "
    "of _hashable above; remove this mark when that is fixed",
)
def test_an_unhashable_reducer_runs_on_the_numpy_path():
    tree = SegmentTree(4, _UnhashableAdd(), 0.0)
    tree.set_values(..., [1.0, 2.0, 3.0, 4.0])
    assert tree.root_value == 10.0


def test_a_reducer_of_two_numbers_is_applied_element_by_element():
    # Survivor: `if not isinstance(reducer, np.ufunc)` in _array_reducer, which passes whole
    # arrays to the reducer. math.hypot takes two numbers only.
    tree = SegmentTree(4, math.hypot, 0.0)
    tree.set_values(..., [3.0, 4.0, 0.0, 0.0])
    assert tree.root_value == 5.0
    assert tree.partial_reduce(0, 2) == 5.0


_BOUNDS_SCRIPT = """
import numpy as np
from rlu_trees import MaxTree, MinTree, SumTree

rng = np.random.default_rng(0)
for capacity in (1, 3, 13, 100, 2049, 5000):
    for dtype in (np.float64, np.float32):
        for cls in (SumTree, MinTree, MaxTree):
            tree = cls(capacity, dtype=dtype)
            tree.set_values(..., rng.random(capacity))
            for n in (1, 7, 9):
                idx = rng.integers(-capacity, capacity, n)
                tree.set_values(idx, rng.random(n).astype(dtype))
                starts = rng.integers(0, capacity + 1, n)
                stops = np.array([rng.integers(s, capacity + 1) for s in starts])
                tree.partial_reduce(starts, stops)
            if cls is SumTree:
                for n in range(1, 18):
                    tree.sample(n)
                    tree.sample(n, stratified=True)
                    tree.inverse_cdf(rng.random(n))
"""


def test_the_kernels_stay_inside_their_arrays(tmp_path):
    # Survivor: `if k + lane <= n` in _descend, which writes one element past the end of the
    # batch's arrays whenever n is not a multiple of 8. Compiled code does not check bounds, so
    # nothing else notices; NUMBA_BOUNDSCHECK=1 (its own cache folder) turns that into IndexError.
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path))
    run = subprocess.run(
        [sys.executable, "-c", _BOUNDS_SCRIPT], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-3000:]
