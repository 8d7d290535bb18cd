"""SumTree sampling: inverse_cdf and sample against brute force, at the edges and after drift."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_trees import SumTree

AWKWARD = [1, 2, 3, 5, 7, 8, 9, 13, 33, 100, 4097]
SETTINGS = settings(max_examples=40, deadline=None)
EDGE_U = np.array([0.0, 5e-324, 1e-17, 0.5, np.nextafter(1.0, 0.0), 1.0])


def brute_inverse_cdf(values: np.ndarray, u: np.ndarray) -> np.ndarray:
    """First index whose cumulative sum exceeds u * total; u = 1 maps to the last positive one.

    Exact for integer-valued values, where every partial sum is exact.
    """
    cumsum = np.cumsum(values)
    idx = np.searchsorted(cumsum, u * cumsum[-1], side="right")
    last_positive = int(np.flatnonzero(values > 0)[-1])
    return np.minimum(idx, last_positive)


def test_reference_worked_example():
    tree = SumTree(8)
    tree.set_values(..., [13, 7, 11, 17, 19, 5, 3, 23])
    table = np.array(
        [
            [0, 0],
            [5, 0],
            [12, 0],
            [13, 1],
            [14, 1],
            [19, 1],
            [20, 2],
            [25, 2],
            [30, 2],
            [31, 3],
            [40, 3],
            [47, 3],
            [48, 4],
            [50, 4],
            [66, 4],
            [67, 5],
            [70, 5],
            [71, 5],
            [72, 6],
            [73, 6],
            [74, 6],
            [75, 7],
            [80, 7],
            [97, 7],
            [98, 7],
        ]
    )
    u = table[:, 0] / 98.0
    np.testing.assert_array_equal(tree.inverse_cdf(u), table[:, 1])
    assert tree.inverse_cdf(13 / 98) == 1
    assert isinstance(tree.inverse_cdf(0.2), int)


@pytest.mark.parametrize("capacity", AWKWARD)
def test_inverse_cdf_edges_every_capacity(capacity):
    rng = np.random.default_rng(capacity)
    values = rng.integers(0, 4, capacity).astype(float)
    values[rng.integers(0, capacity)] = 1.0  # at least one positive value
    tree = SumTree(capacity)
    tree.set_values(..., values)
    u = np.concatenate([EDGE_U, rng.random(200), np.cumsum(values) / values.sum()])
    u = np.clip(u, 0.0, 1.0)
    got = tree.inverse_cdf(u)
    assert got.dtype == np.int64
    assert ((got >= 0) & (got < capacity)).all()
    assert (values[got] > 0).all()
    np.testing.assert_array_equal(got, brute_inverse_cdf(values, u))


def test_u_equal_one_on_a_capacity_that_is_not_a_power_of_two():
    # coax returns 7 here, an index >= capacity
    tree = SumTree(5)
    tree.set_values(..., [1.0, 2.0, 3.0, 4.0, 5.0])
    assert tree.inverse_cdf(1.0) == 4
    tree.set_values(4, 0.0)
    assert tree.inverse_cdf(1.0) == 3


def test_signed_zeros_walk_like_zeros():
    # the compiled descent compares the bits of the floats as integers: -0.0 (as u or as a
    # value) must still behave exactly like 0.0
    values = np.array([0.0, -0.0, 2.0, -0.0, 0.0, 3.0, 0.0])
    tree = SumTree(7)
    tree.set_values(..., values)
    u = np.array([-0.0, 0.0, 0.4, 1.0])
    np.testing.assert_array_equal(tree.inverse_cdf(u), [2, 2, 5, 5])
    assert tree.inverse_cdf(-0.0) == 2
    assert set(tree.sample(64).tolist()) <= {2, 5}


@st.composite
def drift_cases(draw):
    capacity = draw(st.sampled_from(AWKWARD[:-1]) | st.integers(1, 64))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    magnitude = st.sampled_from([0.0, 0.0, 1e-30, 1e-8, 0.1, 1.0, 3.0, 1e8, 1e20])
    steps = []
    for _ in range(draw(st.integers(1, 8))):
        idx = draw(st.lists(st.integers(0, capacity - 1), min_size=1, max_size=10))
        vals = draw(st.lists(magnitude, min_size=len(idx), max_size=len(idx)))
        steps.append((idx, vals))
    return capacity, dtype, steps


@SETTINGS
@given(drift_cases(), st.integers(0, 2**32 - 1))
def test_every_returned_index_is_valid_after_any_updates(case, seed):
    capacity, dtype, steps = case
    tree = SumTree(capacity, random_seed=seed, dtype=dtype)
    mirror = np.zeros(capacity)
    for idx, vals in steps:
        tree.set_values(idx, vals)
        for i, v in zip(idx, vals, strict=True):
            mirror[i] = v
        mirror = mirror.astype(dtype).astype(np.float64)
        np.testing.assert_array_equal(tree.values, mirror)
        if not (mirror > 0).any():
            with pytest.raises(RuntimeError, match="all zero"):
                tree.sample(3)
            continue
        rng = np.random.default_rng(seed)
        u = np.concatenate([EDGE_U, rng.random(64)])
        for got in (tree.inverse_cdf(u), tree.sample(64), tree.sample(17, stratified=True)):
            assert ((got >= 0) & (got < capacity)).all()
            assert (mirror[got] > 0).all(), (got, mirror)
        # the result brackets u * total within rounding
        got = tree.inverse_cdf(u)
        cumsum = np.cumsum(mirror)
        total = cumsum[-1]
        x = u * total
        lower = np.where(got > 0, cumsum[np.maximum(got - 1, 0)], 0.0)
        tol = 1e-5 * total if dtype == np.float32 else 1e-12 * total
        assert (lower <= x + tol).all()
        assert ((x <= cumsum[got] + tol) | (u == 1.0)).all()


def test_no_zero_priority_sample_after_float32_drift():
    # big and tiny values in float32: the inner sums lose the small ones
    tree = SumTree(6, dtype=np.float32)
    tree.set_values(..., [1e8, 1.0, 0.0, 1.0, 0.0, 0.0])
    u = np.concatenate([np.linspace(0, 1, 1001), EDGE_U])
    assert tree.root_value == 1e8  # the ones were rounded away
    got = tree.inverse_cdf(u)
    assert set(got.tolist()) <= {0, 1, 3} and got[-1] == 3
    tree.set_values(0, 0.0)
    got = tree.inverse_cdf(u)
    assert set(got.tolist()) <= {1, 3}
    assert tree.inverse_cdf(0.0) == 1 and tree.inverse_cdf(1.0) == 3


def test_sample_distribution_matches_the_values():
    values = np.array([0, 7, 0, 17, 19, 5, 3, 0], dtype=float)
    tree = SumTree(8, random_seed=13)
    tree.set_values(..., values)
    idx = tree.sample(200_000)
    freq = np.bincount(idx, minlength=8) / idx.size
    np.testing.assert_allclose(freq, values / values.sum(), atol=0.005)
    assert (freq[values == 0] == 0).all()


def test_stratified_sample_takes_one_draw_per_slice():
    rng = np.random.default_rng(3)
    values = rng.integers(0, 10, 37).astype(float)
    values[5] = 4.0
    tree = SumTree(37, random_seed=1)
    tree.set_values(..., values)
    p = values / values.sum()
    for n in (1, 7, 64, 1000):
        idx = tree.sample(n, stratified=True)
        assert (np.diff(idx) >= 0).all()  # slices are in order, so are the indices
        counts = np.bincount(idx, minlength=37)
        assert (np.abs(counts - n * p) < 2).all()
        assert (values[idx] > 0).all()


def test_random_seed_reproduces_and_restarts_the_stream():
    a, b = SumTree(50, random_seed=7), SumTree(50, random_seed=7)
    for t in (a, b):
        t.set_values(..., np.arange(50.0))
    first = a.sample(100)
    np.testing.assert_array_equal(first, b.sample(100))
    assert not np.array_equal(first, a.sample(100))
    a.random_seed = 7
    assert a.random_seed == 7
    np.testing.assert_array_equal(a.sample(100), first)
    c = SumTree(50, random_seed=8)
    c.set_values(..., np.arange(50.0))
    assert not np.array_equal(c.sample(100), first)


def test_all_zero_tree_says_so():
    tree = SumTree(4)
    for call in (lambda: tree.sample(1), lambda: tree.inverse_cdf(0.5)):
        with pytest.raises(RuntimeError, match="all zero"):
            call()
    tree.set_values(..., [1.0, 2.0, 0.0, 0.0])
    tree.set_values([0, 1], 0.0)
    with pytest.raises(RuntimeError, match="all zero"):
        tree.sample(2, stratified=True)


def test_rejected_calls_leave_tree_and_stream_as_they_were():
    tree = SumTree(6, random_seed=5)
    twin = SumTree(6, random_seed=5)
    for t in (tree, twin):
        t.set_values(..., [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    before = [np.array(tree[level]) for level in range(tree.height)]
    bad = [
        (ValueError, lambda: tree.set_values([0, 1], [1.0, -1.0])),
        (ValueError, lambda: tree.set_values([2], [np.inf])),
        (ValueError, lambda: tree.set_values([2, 3], [1.0, np.nan])),
        (ValueError, lambda: tree.set_values(..., [1, 1, 1, 1, 1, -0.5])),
        (ValueError, lambda: tree.set_values(..., [1, 1, 1, 1, 1, np.inf])),
        (IndexError, lambda: tree.set_values([0, 6], [1.0, 1.0])),
        # plain int64 / float64 arrays take the direct route to the kernel: same checks
        (IndexError, lambda: tree.set_values(np.array([0, -7]), np.array([1.0, 1.0]))),
        (ValueError, lambda: tree.set_values(np.array([0, 1]), np.array([1.0, -1.0]))),
        (ValueError, lambda: tree.set_values(np.array([0, 1]), np.array([np.nan, 1.0]))),
        (ValueError, lambda: tree.set_values(np.array([0, 1]), np.array([1.0, 1.0, 1.0]))),
        (ValueError, lambda: tree.set_values(np.array([[0, 1]]), np.array([[1.0, 1.0]]))),
        (ValueError, lambda: tree.inverse_cdf([0.5, 1.5])),
        (ValueError, lambda: tree.inverse_cdf(-0.1)),
        (ValueError, lambda: tree.inverse_cdf(np.nan)),
        (ValueError, lambda: tree.inverse_cdf(np.zeros((2, 2)))),
        (TypeError, lambda: tree.inverse_cdf("0.5")),
        (ValueError, lambda: tree.sample(0)),
        (ValueError, lambda: tree.sample(-2)),
        (TypeError, lambda: tree.sample(2.0)),
        (TypeError, lambda: tree.sample(True)),
        (TypeError, lambda: tree.sample(3, stratified="yes")),
    ]
    for exc, call in bad:
        with pytest.raises(exc):
            call()
        for level, arr in enumerate(before):
            np.testing.assert_array_equal(tree[level], arr)
    with pytest.raises(ValueError):
        tree.random_seed = -1
    with pytest.raises(TypeError):
        tree.random_seed = 1.5
    assert tree.random_seed == 5
    np.testing.assert_array_equal(tree.sample(20), twin.sample(20))


def test_set_values_takes_any_array_layout():
    tree, ref = SumTree(10), np.zeros(10)
    idx = np.arange(10)[::-3]  # strided
    vals = np.arange(8.0)[::2]
    frozen = np.array([1, 2])
    frozen.flags.writeable = False
    for i, v in ((idx, vals), (frozen, np.array([7.0, 8.0])), (idx.astype(np.int32), vals[::-1])):
        tree.set_values(i, v)
        ref[i] = v
        np.testing.assert_array_equal(tree.values, ref)
        assert tree.root_value == ref.sum()


def test_overflow_is_rejected_in_float32():
    tree = SumTree(3, dtype=np.float32)
    tree.set_values(0, 3e38)
    before = np.array(tree[0]), np.array(tree.values)
    with pytest.raises(ValueError, match="overflow"):
        tree.set_values([1], [3e38])
    with pytest.raises(ValueError, match="overflow"):
        tree.set_values(..., [3e38, 3e38, 0.0])
    big = SumTree(2, dtype=np.float32)
    big.set_values(..., [3e38, 0.0])  # large but representable: accepted
    assert big.root_value == pytest.approx(3e38)
    np.testing.assert_array_equal(tree[0], before[0])
    np.testing.assert_array_equal(tree.values, before[1])
    assert tree.sample(4).tolist() == [0, 0, 0, 0]


def test_sampling_arguments_follow_the_house_rules():
    tree = SumTree(4, random_seed=np.uint16(3))
    twin = SumTree(4, random_seed=3)
    for t in (tree, twin):
        t.set_values(..., [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(tree.sample(np.int64(20)), twin.sample(20))
    np.testing.assert_array_equal(
        tree.sample(5, stratified=np.bool_(True)), twin.sample(5, stratified=True)
    )
    with pytest.raises(ValueError, match=r"^n must be an int >= 1, got 0$"):
        tree.sample(0)
    with pytest.raises(TypeError, match=r"^stratified must be a bool, got int"):
        tree.sample(3, stratified=1)
    with pytest.raises(TypeError, match=r"^u must be a real number"):
        tree.inverse_cdf(True)
    with pytest.raises(ValueError, match=r"^random_seed must be None or an int >= 0, got int: -1"):
        SumTree(4, random_seed=-1)
    for bad in (True, 2.5, "7", [1, 2]):
        with pytest.raises(TypeError, match="^random_seed must be None or an int >= 0"):
            SumTree(4, random_seed=bad)
    np.testing.assert_array_equal(tree.sample(20), twin.sample(20))  # streams untouched
