"""SegmentTree / MinTree / MaxTree against brute force with plain numpy."""

from __future__ import annotations

import functools
import math
import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_trees import MaxTree, MinTree, SegmentTree, SumTree

AWKWARD = [1, 2, 3, 5, 7, 8, 9, 13, 14, 16, 33, 100, 4097]
SETTINGS = settings(max_examples=40, deadline=None)


def make(kind: str, capacity: int, dtype=np.float64) -> SegmentTree:
    return {"sum": SumTree, "min": MinTree, "max": MaxTree}[kind](capacity, dtype=dtype)


def brute_reduce(kind: str, values: np.ndarray) -> float:
    if values.size == 0:
        return {"sum": 0.0, "min": math.inf, "max": -math.inf}[kind]
    return float({"sum": np.sum, "min": np.min, "max": np.max}[kind](values.astype(np.float64)))


def assert_close(kind: str, actual, expected, dtype=np.float64) -> None:
    if kind == "sum":
        rtol = 1e-5 if dtype == np.float32 else 1e-11
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol)
    else:
        np.testing.assert_array_equal(actual, expected)


def assert_levels_match(tree: SegmentTree, kind: str, mirror: np.ndarray) -> None:
    """Every binary level agrees with a brute-force reduction of the leaves it covers."""
    h = tree.height
    assert h == (1 if tree.capacity == 1 else math.ceil(math.log2(tree.capacity)) + 1)
    padded = np.concatenate(
        [
            mirror,
            np.full(
                (1 << (h - 1)) - mirror.size, {"sum": 0.0, "min": np.inf, "max": -np.inf}[kind]
            ),
        ]
    )
    for level in range(h):
        block = 1 << (h - 1 - level)
        size = min(1 << level, tree.capacity)
        expected = [brute_reduce(kind, padded[j * block : (j + 1) * block]) for j in range(size)]
        assert tree[level].shape == (size,)
        assert_close(kind, tree[level], expected, tree.dtype)
    np.testing.assert_array_equal(tree.values, mirror.astype(tree.dtype))
    assert_close(kind, tree.root_value, brute_reduce(kind, mirror.astype(tree.dtype)), tree.dtype)


# ------------------------------------------------------------------ shapes and the worked example


@pytest.mark.parametrize("capacity", AWKWARD)
def test_height_and_levels_of_a_fresh_tree(capacity):
    tree = SumTree(capacity)
    assert tree.capacity == capacity
    assert tree.values.shape == (capacity,)
    assert tree.root_value == 0.0
    assert_levels_match(tree, "sum", np.zeros(capacity))


def test_reference_shapes():
    assert SumTree(14).height == 5
    assert MinTree(8).height == 4
    assert SumTree(1).height == 1


def test_worked_example_min_tree():
    tree = MinTree(8)
    values = np.array([13, 7, 11, 17, 19, 5, 3, 23], dtype=float)
    tree.set_values(..., values)
    assert tree.height == 4
    assert tree.root_value == 3.0
    np.testing.assert_array_equal(tree[1], [7.0, 3.0])
    np.testing.assert_array_equal(tree[2], [7.0, 11.0, 5.0, 3.0])
    starts, stops = np.array([1, 6, 0]), np.array([8, 7, 5])
    expected = [values[s:e].min() for s, e in zip(starts, stops, strict=True)]
    np.testing.assert_array_equal(tree.partial_reduce(starts, stops), expected)


def test_worked_example_sum_tree_reductions():
    tree = SumTree(14)
    values = np.arange(100, 114, dtype=float)
    tree.set_values(None, values)
    for i, j in [(1, 2), (13, 14), (3, 8), (0, None), (0, 3), (7, None)]:
        assert tree.partial_reduce(i, j) == values[i:j].sum()
    starts, stops = np.array([0, 8, 3, 0, 0]), np.array([1, 13, 14, 5, -1])
    np.testing.assert_array_equal(
        tree.partial_reduce(starts, stops),
        [values[s:e].sum() for s, e in zip(starts, stops, strict=True)],
    )
    idx = np.array([2, 6, 5, 12, 13])
    tree2 = SumTree(14)
    tree2.set_values(idx, [7.0, 13.0, 11.0, 17.0, 5.0])
    assert tree2.root_value == tree2.values.sum() == 53.0


def test_power_of_two_batched_partial_reduce_does_not_crash():
    # coax raises IndexError on this batch for capacity 8
    tree = SumTree(8)
    values = np.arange(1.0, 9.0)
    tree.set_values(..., values)
    starts, stops = np.array([7, 4, 3, 3]), np.array([8, 8, 7, 6])
    np.testing.assert_array_equal(
        tree.partial_reduce(starts, stops),
        [values[s:e].sum() for s, e in zip(starts, stops, strict=True)],
    )


# ------------------------------------------------------------------ random sequences of updates


@st.composite
def update_sequences(draw):
    kind = draw(st.sampled_from(["sum", "min", "max"]))
    capacity = draw(st.sampled_from(AWKWARD[:-1]) | st.integers(1, 70))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    ops = []
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.integers(0, 5)) == 0:
            ops.append(
                (..., draw(st.lists(st.floats(0, 1e6), min_size=capacity, max_size=capacity)))
            )
        else:
            idx = draw(st.lists(st.integers(-capacity, capacity - 1), min_size=0, max_size=12))
            vals = draw(st.lists(st.floats(0, 1e6), min_size=len(idx), max_size=len(idx)))
            ops.append((idx, vals))
    return kind, capacity, dtype, ops


@settings(max_examples=80, deadline=None)
@given(
    kind=st.sampled_from(["min", "max"]),
    capacity=st.integers(1, 70),
    dtype=st.sampled_from([np.float64, np.float32]),
    batches=st.lists(
        st.lists(
            st.tuples(st.integers(0, 69), st.sampled_from([-0.0, 0.0, 1.0, -1.0, 2.5, np.inf])),
            max_size=40,
        ),
        max_size=8,
    ),
)
def test_batched_min_max_writes_leave_the_nodes_a_rebuild_gives(kind, capacity, dtype, batches):
    """A min or max walk stops below a node that keeps its value; with values full of ties
    (and of zeros of both signs) every node still equals, bit for bit, the node a rebuild of
    the whole tree from its leaves computes."""
    tree = make(kind, capacity, dtype)
    for batch in batches:
        idx = np.array([i % capacity for i, _ in batch], dtype=np.int64)
        values = np.array([v for _, v in batch], dtype=dtype)
        tree.set_values(idx, values)
        fresh = make(kind, capacity, dtype)
        fresh.set_values(..., tree.values.copy())  # every inner node recomputed, bottom-up
        np.testing.assert_array_equal(tree._tree.view(np.uint8), fresh._tree.view(np.uint8))


@SETTINGS
@given(update_sequences(), st.randoms(use_true_random=False))
def test_random_updates_agree_with_brute_force(case, rnd):
    kind, capacity, dtype, ops = case
    tree = make(kind, capacity, dtype)
    init = {"sum": 0.0, "min": np.inf, "max": -np.inf}[kind]
    mirror = np.full(capacity, init)
    for idx, vals in ops:
        if kind != "sum":
            vals = [v - 5e5 for v in vals]  # min/max trees take negative values too
        tree.set_values(idx, vals)
        if idx is ...:
            mirror[:] = vals
        else:
            for i, v in zip(idx, vals, strict=True):  # sequential writes: the last one wins
                mirror[i] = v
        mirror = mirror.astype(dtype).astype(np.float64)
        assert_levels_match(tree, kind, mirror)
    # random ranges, scalar and batched
    starts = [rnd.randint(-capacity, capacity) for _ in range(8)]
    norm = [s + capacity if s < 0 else s for s in starts]
    stops = [rnd.randint(n, capacity) for n in norm]
    got = tree.partial_reduce(np.array(starts), np.array(stops))
    assert got.dtype == dtype and got.shape == (8,)
    expected = [
        brute_reduce(kind, mirror.astype(dtype)[n:e]) for n, e in zip(norm, stops, strict=True)
    ]
    assert_close(kind, got, expected, dtype)
    one = tree.partial_reduce(starts[0], stops[0])
    assert isinstance(one, float)
    assert_close(kind, one, expected[0], dtype)


def test_duplicate_indices_last_write_wins():
    for tree in (SumTree(5), MinTree(5), MaxTree(5)):
        tree.set_values([1, 3, 1, 1, -4], [10.0, 2.0, 30.0, 20.0, 7.0])
        assert tree.values[1] == 7.0  # -4 is 1 as well, and written last
        assert tree.values[3] == 2.0
        kind = {"SumTree": "sum", "MinTree": "min", "MaxTree": "max"}[type(tree).__name__]
        mirror = np.array(tree.values, dtype=float)
        assert_levels_match(tree, kind, mirror)


def test_scalar_value_broadcasts_and_int_idx():
    tree = SumTree(6)
    tree.set_values([0, 2, 4], 1.5)
    tree.set_values(5, 2)
    np.testing.assert_array_equal(tree.values, [1.5, 0, 1.5, 0, 1.5, 2.0])
    tree.set_values(np.int32(1), np.float32(1.0))
    tree.set_values(np.array([], dtype=np.int64), [])
    tree.set_values([], [])
    assert tree.root_value == 7.5


def test_partial_reduce_defaults_negative_bounds_and_empty_ranges():
    tree = MaxTree(7)
    values = np.array([4.0, -1.0, 9.0, 2.0, 0.5, 3.0, 8.0])
    tree.set_values(..., values)
    assert tree.partial_reduce() == 9.0
    assert tree.partial_reduce(3) == 8.0
    assert tree.partial_reduce(-4, -1) == 3.0
    assert tree.partial_reduce(2, 2) == -math.inf  # empty range -> init_value
    assert tree.partial_reduce(7, 7) == -math.inf
    np.testing.assert_array_equal(tree.partial_reduce([0, 3, 5], 6), [9.0, 3.0, 3.0])
    np.testing.assert_array_equal(tree.partial_reduce(1, [2, 3]), [-1.0, 9.0])


def test_generic_reducer_runs_on_numpy_path():
    values = np.array([1.5, 2.0, 0.5, 3.0, 1.25])
    for reducer in (operator.mul, np.multiply, lambda a, b: a * b):
        tree = SegmentTree(5, reducer, 1.0)
        tree.set_values(..., values)
        assert tree.root_value == pytest.approx(np.prod(values))
        assert tree.partial_reduce(1, 4) == pytest.approx(np.prod(values[1:4]))
        tree.set_values([0, 0], [9.0, 2.0])
        assert tree.values[0] == 2.0
        assert tree.root_value == pytest.approx(np.prod(tree.values))
    # builtin max is one of the compiled reducers
    tree = SegmentTree(4, max, -math.inf)
    tree.set_values(..., [1.0, 5.0, 2.0, 3.0])
    assert tree.partial_reduce(2) == 3.0
    # a known reducer with an unusual init value falls back to numpy and keeps coax's meaning
    tree = SegmentTree(3, np.add, 1.0)
    assert not tree._use_numba
    tree.set_values(..., [2.0, 3.0, 4.0])
    assert tree.root_value == 10.0  # the padding leaf holds init_value too
    assert functools.reduce(operator.add, tree.values, 1.0) == 10.0


# ------------------------------------------------------------------ lookups and views


def test_level_lookups():
    tree = SumTree(5)
    tree.set_values(..., [1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(tree[0], [15.0])
    np.testing.assert_array_equal(tree[-1], tree.values)
    np.testing.assert_array_equal(tree[2], [3.0, 7.0, 5.0, 0.0])
    assert tree[2, 1] == 7.0
    np.testing.assert_array_equal(tree[2, [0, 2]], [3.0, 5.0])
    np.testing.assert_array_equal(tree[(1,)], [10.0, 5.0])
    for bad in (4, -5, 1.0, "1", True):
        with pytest.raises(IndexError):
            tree[bad]
    with pytest.raises(IndexError):
        tree[1, 2, 3]


def test_views_are_read_only_and_live():
    tree = MinTree(4)
    view = tree.values
    with pytest.raises(ValueError):
        view[0] = -1.0
    with pytest.raises(ValueError):
        tree[0][0] = -1.0
    tree.set_values(0, 2.0)
    assert view[0] == 2.0
    assert "MinTree(" in repr(tree) and "level=2" in repr(tree)


# ------------------------------------------------------------------ rejected calls


def snapshot(tree: SegmentTree) -> list[np.ndarray]:
    return [np.array(tree[level]) for level in range(tree.height)]


def assert_unchanged(tree: SegmentTree, before: list[np.ndarray]) -> None:
    for level, arr in enumerate(before):
        np.testing.assert_array_equal(tree[level], arr)


@pytest.mark.parametrize("tree_cls", [SumTree, MinTree, MaxTree])
def test_rejected_set_values_leave_the_tree_as_it_was(tree_cls):
    tree = tree_cls(9)
    tree.set_values(..., np.arange(1.0, 10.0))
    before = snapshot(tree)
    bad_calls = [
        (IndexError, [0, 9], [1.0, 1.0]),
        (IndexError, [-10], [1.0]),
        (IndexError, 9, 1.0),
        (TypeError, [0.5], [1.0]),
        (TypeError, np.array([True]), [1.0]),
        (TypeError, "0", [1.0]),
        (ValueError, np.zeros((2, 2), dtype=int), 1.0),
        (ValueError, [0, 1], [1.0, 2.0, 3.0]),
        (ValueError, ..., [1.0, 2.0]),
        (TypeError, [0], ["a"]),
        (ValueError, [0, 1], [1.0, np.nan]),
        (ValueError, ..., [np.nan] * 9),
    ]
    for exc, idx, vals in bad_calls:
        with pytest.raises(exc):
            tree.set_values(idx, vals)
        assert_unchanged(tree, before)


def test_error_messages_name_the_argument():
    tree = SumTree(4)
    with pytest.raises(IndexError, match=r"idx\[1\] = 4 is out of range"):
        tree.set_values([0, 4], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"values\[0\].*non-negative"):
        tree.set_values([2], [-1.0])
    with pytest.raises(IndexError, match="start"):
        tree.partial_reduce(5)
    with pytest.raises(IndexError, match="backwards"):
        tree.partial_reduce(3, 1)
    with pytest.raises(ValueError, match="same length"):
        tree.partial_reduce([0, 1], [2, 3, 4])
    with pytest.raises(TypeError, match="stop"):
        tree.partial_reduce(0, 2.5)


@pytest.mark.parametrize(
    "bad, exc",
    [(0, ValueError), (-3, ValueError), (2.0, TypeError), (True, TypeError), ("8", TypeError)],
)
def test_bad_capacity(bad, exc):
    with pytest.raises(exc, match="capacity"):
        MinTree(bad)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="dtype"):
        SumTree(4, dtype=np.int64)
    with pytest.raises(TypeError, match="dtype"):
        MaxTree(4, dtype="not a dtype")
    with pytest.raises(TypeError, match="reducer"):
        SegmentTree(4, "add", 0.0)
    with pytest.raises(TypeError, match="init_value"):
        SegmentTree(4, np.add, "0")
    assert SumTree(4, dtype="float32").dtype == np.float32
    assert SegmentTree(4, np.add, 0).init_value == 0.0


def test_argument_checks_follow_the_house_rules():
    # integers: int and numpy integers; never bool
    assert MinTree(np.int64(8)).capacity == 8
    assert SegmentTree(np.uint8(5), np.add, np.float32(0.0)).capacity == 5
    assert SumTree(4, dtype="float64").partial_reduce(np.int32(1), np.int64(3)) == 0.0
    with pytest.raises(ValueError, match=r"^capacity must be an int >= 1, got 0$"):
        SumTree(0)
    with pytest.raises(TypeError, match=r"^capacity must be an int >= 1, got bool"):
        MaxTree(True)
    with pytest.raises(TypeError, match=r"^capacity must be an int >= 1, got float"):
        SegmentTree(2.0, np.add, 0.0)
    # reals: int, float and numpy reals; never bool
    with pytest.raises(TypeError, match=r"^init_value must be a real number, got bool"):
        SegmentTree(4, np.add, False)
    tree = MinTree(3)
    for bad in (True, np.array([True, False, True])):
        with pytest.raises(TypeError, match="^values must be a real number"):
            tree.set_values(..., bad)
    np.testing.assert_array_equal(tree.values, [np.inf] * 3)
    with pytest.raises(TypeError, match="^reducer must be callable"):
        SegmentTree(4, None, 0.0)
