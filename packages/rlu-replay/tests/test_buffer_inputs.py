"""What users add: dtypes that change, a declared layout, single items, JAX arrays; stratified
draws and draws at given points; pickles of rlu-replay 0.1.1."""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_replay import NStepTracer, PrioritizedReplayBuffer, ReplayBuffer

NUMERIC = [
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64,
    np.float16, np.float32, np.float64, np.complex64,
]  # fmt: skip


# --- one dtype policy ------------------------------------------------------------------------


def test_issue_repro_an_int32_action_after_int64_ones_is_stored():
    tr = NStepTracer(1, 0.99)
    buf = PrioritizedReplayBuffer(100)
    buf.add(tr.add(np.zeros(4), np.int64(0), 1.0, True, False, np.zeros(4)))
    buf.add(tr.add(np.zeros(4), np.int32(1), 1.0, True, False, np.zeros(4)))
    tb = buf.sample(50, rng=0)
    assert tb.A.dtype == np.int64
    assert set(tb.A.tolist()) == {0, 1}


@given(
    stored=st.sampled_from(NUMERIC),
    incoming=st.sampled_from(NUMERIC),
    kind=st.sampled_from([ReplayBuffer, PrioritizedReplayBuffer]),
)
@settings(max_examples=150, deadline=None)
def test_later_dtypes_cast_exactly_where_numpy_same_kind_allows(stored, incoming, kind):
    buffer = kind(4, random_seed=0)
    buffer.add({"x": np.array([1, 0], dtype=stored), "y": np.zeros((2, 3), np.float32)})
    before = pickle.dumps(buffer)
    x = np.array([1, 0, 1], dtype=incoming)
    batch = {"x": x, "y": np.ones((3, 3), np.float64)}
    if np.can_cast(incoming, stored, casting="same_kind"):
        ids = buffer.add(batch)
        assert ids.tolist() == [2, 3, 4]
        got = buffer._storage[0]  # the storage of "x" (keys are kept sorted)
        assert got.dtype == np.dtype(stored)
        assert got[[2, 3, 0]].tolist() == x.astype(stored).tolist()
        assert buffer._storage[1].dtype == np.float32
        assert buffer.add(batch).tolist() == [5, 6, 7]  # and again, now on the fast path
    else:
        with pytest.raises(TypeError, match=rf"batch leaf \['x'\] has dtype {np.dtype(incoming)}"):
            buffer.add(batch)
        assert pickle.dumps(buffer) == before


@pytest.mark.parametrize(
    "stored, incoming",
    [(np.int64, np.float32), (np.int32, np.float64), (np.bool_, np.int64), (np.bool_, np.float32)],
)
def test_a_change_of_kind_is_refused_naming_the_leaf(stored, incoming):
    buffer = PrioritizedReplayBuffer(8)
    buffer.add({"obs": np.zeros((1, 2)), "a": np.zeros(1, stored)})
    with pytest.raises(TypeError, match=r"batch leaf \['a'\].*does not cast to"):
        buffer.add({"obs": np.zeros((1, 2)), "a": np.ones(1, incoming)})
    assert len(buffer) == 1 and buffer.inserted == 1


def test_example_declares_the_layout_before_any_item():
    example = {"obs": np.zeros((0, 3), np.float32), "a": np.zeros(0, np.int64)}
    buffer = PrioritizedReplayBuffer(8, example=example, random_seed=0)
    assert len(buffer) == 0 and buffer.inserted == 0
    buffer.add({"obs": np.ones((2, 3)), "a": np.array([1, 2], np.int32)})  # float64, int32
    batch = buffer.sample(4, rng=0).batch
    assert batch["obs"].dtype == np.float32 and batch["a"].dtype == np.int64
    with pytest.raises(ValueError, match=r"batch leaf \['obs'\] has shape \(1, 4\)"):
        buffer.add({"obs": np.ones((1, 4)), "a": np.array([1])})
    with pytest.raises(TypeError, match=r"\['a'\]"):
        buffer.add({"obs": np.ones((1, 3)), "a": np.array([1.5])})


@pytest.mark.parametrize(
    "example, error, match",
    [
        ({"x": np.float32(1.0)}, ValueError, r"example: batch leaf \['x'\] has no batch axis"),
        ({"x": np.zeros(2), "y": np.zeros(3)}, ValueError, r"example: .*\['y'\] has 3 items"),
        ({"x": np.array([object()])}, TypeError, "example: batch leaf"),
        ({}, ValueError, "example: batch must hold at least one array leaf"),
    ],
)
def test_a_bad_example_is_refused_naming_it(example, error, match):
    with pytest.raises(error, match=match):
        ReplayBuffer(4, example=example)


def test_the_example_is_never_stored():
    buffer = ReplayBuffer(4, example={"x": np.arange(3.0)})
    assert len(buffer) == 0
    with pytest.raises(RuntimeError, match="empty"):
        buffer.sample(1)


# --- inputs users have -----------------------------------------------------------------------


def test_jax_arrays_are_stored_as_numpy():
    jnp = pytest.importorskip("jax.numpy")
    buffer = PrioritizedReplayBuffer(8, random_seed=0)
    buffer.add({"obs": jnp.ones((3, 2)), "a": jnp.arange(3)})  # float32, int32
    buffer.add({"obs": np.zeros((1, 2), np.float32), "a": np.array([7])})  # int64 into int32
    batch = buffer.sample(16, rng=0).batch
    assert type(batch["obs"]) is np.ndarray and batch["obs"].dtype == np.float32
    assert set(batch["a"].tolist()) <= {0, 1, 2, 7}


def test_issue_repro_one_transition_without_a_batch_axis():
    obs = np.arange(8.0, dtype=np.float32).reshape(2, 4)
    item = {"obs": obs[0], "a": np.int64(1), "r": 0.5, "done": False, "next_obs": obs[1]}
    buffer = PrioritizedReplayBuffer(8, random_seed=0)
    with pytest.raises(ValueError, match=r"no batch axis.*add_single"):
        buffer.add(item)
    assert buffer.add_single(item) == 0
    assert buffer.add_single(item, priority=3.0) == 1
    batch = buffer.sample(8, rng=0).batch
    assert batch["obs"].shape == (8, 4) and batch["a"].shape == (8,)
    assert batch["done"].dtype == np.bool_ and not batch["done"].any()
    np.testing.assert_array_equal(batch["next_obs"], np.tile(obs[1], (8, 1)))
    # the default priority before any was given is 1
    assert buffer.total_priority == pytest.approx(1.0 + (3 + 1e-4) ** 0.6, rel=1e-12)


@given(
    stored=st.sampled_from(NUMERIC),
    incoming=st.sampled_from(NUMERIC),
    data=st.data(),
    kind=st.sampled_from([ReplayBuffer, PrioritizedReplayBuffer]),
)
@settings(max_examples=200, deadline=None)
def test_one_item_is_cast_exactly_as_a_batch_is(stored, incoming, data, kind):
    """Items added one at a time are stored as the same items added as one batch, whatever
    the values: an int64 300 into int8 storage wraps in both (a review found the one-item
    path refusing it halfway through the leaves, with the first leaf already written)."""
    from hypothesis.extra import numpy as hnp

    if not np.can_cast(incoming, stored, casting="same_kind"):
        return
    x = data.draw(hnp.arrays(incoming, 3))
    example = {"a": np.zeros((0,), np.float64), "x": np.zeros((0,), stored)}
    one, batch = kind(4, random_seed=0, example=example), kind(4, random_seed=0, example=example)
    a = np.array([1.0, 2.0, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy warns of overflow and invalid values in casts
        for k in range(3):
            one.add({"a": a[k : k + 1], "x": x[k : k + 1]})
        batch.add({"a": a, "x": x})
        expected = x.astype(stored)
    assert one._storage[1][:3].tobytes() == batch._storage[1][:3].tobytes() == expected.tobytes()
    assert one._storage[0][:3].tolist() == [1.0, 2.0, 3.0]
    assert len(one) == 3


def test_add_single_equals_add_of_a_batch_of_one():
    rng = np.random.default_rng(0)
    a, b = ReplayBuffer(16, random_seed=1), ReplayBuffer(16, random_seed=1)
    for t in range(20):
        item = ({"pos": rng.random(2)}, [t, float(t) / 2])
        a.add_single(item)
        b.add(({"pos": item[0]["pos"][None]}, [np.array([t]), np.array([t / 2])]))
    assert pickle.dumps(a) == pickle.dumps(b)


def test_add_single_refuses_a_transition_batch_and_bad_priorities():
    tracer = NStepTracer(1, 0.9)
    tb = tracer.add(np.zeros(2), 0, 1.0, True, False, np.ones(2))
    buffer = PrioritizedReplayBuffer(4)
    with pytest.raises(TypeError, match="item is a TransitionBatch.*add instead"):
        buffer.add_single(tb)
    with pytest.raises(ValueError, match="priority must be a real number >= 0"):
        buffer.add_single({"x": 1.0}, priority=-1.0)
    with pytest.raises(TypeError, match="priority must be a real number"):
        buffer.add_single({"x": 1.0}, priority="high")
    assert len(buffer) == 0 and buffer.inserted == 0


# --- stratified draws and draws at given points ----------------------------------------------


@given(
    priorities=st.lists(st.floats(0.0, 100.0), min_size=1, max_size=12).filter(
        lambda p: sum(p) > 0.01
    ),
    n=st.integers(1, 64),
    seed=st.one_of(st.none(), st.integers(0, 2**32)),
)
@settings(max_examples=100, deadline=None)
def test_a_stratified_draw_takes_one_item_per_slice(priorities, n, seed):
    """Item i spans n * P(i) slices of the cumulative priority: it is drawn that many times, up
    to one slice at either end (the brute-force count of slices it can own)."""
    buffer = PrioritizedReplayBuffer(16, alpha=1.0, beta=0.0, epsilon=0.0, random_seed=seed)
    buffer.add({"i": np.arange(len(priorities))}, priorities=priorities)
    p = np.array(priorities) / sum(priorities)
    sample = buffer.sample(n, rng=seed, stratified=True)
    drawn = sample.batch["i"]
    counts = np.bincount(drawn, minlength=len(priorities))
    assert np.all(np.abs(counts - n * p) < 2)
    assert np.all(p[drawn] > 0)
    assert np.all(np.diff(drawn) >= 0)  # in the order of the cumulative priority


def test_stratified_draws_of_equal_priorities_take_every_item_once():
    buffer = PrioritizedReplayBuffer(8, random_seed=0)
    buffer.add({"i": np.arange(8)})
    for rng in (None, 1, np.random.default_rng(2)):
        assert buffer.sample(8, rng=rng, stratified=True).batch["i"].tolist() == list(range(8))


def test_stratified_draws_are_unbiased():
    priorities = np.array([1.0, 2.0, 3.0, 10.0])
    buffer = PrioritizedReplayBuffer(4, alpha=1.0, epsilon=0.0, random_seed=0)
    buffer.add({"i": np.arange(4)}, priorities=priorities)
    counts = np.zeros(4)
    for _ in range(4000):  # the first slice holds item 0 with probability 5/16: std 0.0015
        counts += np.bincount(buffer.sample(5, stratified=True).batch["i"], minlength=4)
    np.testing.assert_allclose(counts / counts.sum(), priorities / 16, atol=0.006)


def test_stratified_must_be_a_bool():
    buffer = PrioritizedReplayBuffer(4)
    buffer.add({"x": np.zeros(2)})
    with pytest.raises(TypeError, match="stratified must be a bool"):
        buffer.sample(2, stratified="yes")
    assert buffer.sample_calls == 0


@given(
    priorities=st.lists(st.floats(0.01, 10.0), min_size=1, max_size=10),
    u=st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=1, max_size=20),
)
@settings(max_examples=100, deadline=None)
def test_sample_at_finds_items_by_cumulative_priority(priorities, u):
    buffer = PrioritizedReplayBuffer(16, alpha=0.5, epsilon=0.0)
    buffer.add({"i": np.arange(len(priorities))}, priorities=priorities)
    p = np.array(priorities) ** 0.5
    cumulative = np.cumsum(p) / p.sum()
    expected = np.minimum(np.searchsorted(cumulative, u, side="right"), len(p) - 1)
    batch, idx, got_p = buffer.sample_at(u)
    # points within rounding of a boundary may go either way
    near = np.isclose(np.asarray(u)[:, None], cumulative[None, :], rtol=0, atol=1e-9).any(axis=1)
    assert np.all((batch["i"] == expected) | near)
    np.testing.assert_allclose(got_p, p[batch["i"]], rtol=1e-12)
    assert idx.tolist() == batch["i"].tolist()
    assert buffer.sample_calls == 0


@pytest.mark.parametrize(
    "u, error", [([1.0], ValueError), ([-0.1], ValueError), ([[0.5]], ValueError), ("a", TypeError)]
)
def test_sample_at_refuses_points_outside_the_unit_interval(u, error):
    buffer = PrioritizedReplayBuffer(4)
    buffer.add({"x": np.zeros(2)})
    with pytest.raises(error, match="u must"):
        buffer.sample_at(u)


def test_min_priority_is_the_smallest_sampling_value():
    buffer = PrioritizedReplayBuffer(4, alpha=0.5, epsilon=0.0)
    assert buffer.min_priority == math.inf
    buffer.add({"x": np.zeros(3)}, priorities=[4.0, 9.0, 16.0])
    assert buffer.min_priority == 2.0
    buffer.update_priorities([0], [25.0])
    assert buffer.min_priority == 3.0


# --- pickles of the released rlu-replay 0.1.1 ------------------------------------------------


def test_buffers_pickled_by_rlu_replay_0_1_1_load_and_answer_as_it_did(released):
    expected = released.expected
    _tracer, buffer, uniform = released.loads(released.saved)
    assert type(buffer) is PrioritizedReplayBuffer and type(uniform) is ReplayBuffer
    assert len(buffer) == expected["buffer_len"] and buffer.inserted == expected["buffer_inserted"]
    assert buffer.total_priority == pytest.approx(float(expected["buffer_total"]), rel=1e-12)
    tb = buffer.sample(6, rng=7)
    for field in ("S", "A", "Rn", "In", "idx", "W"):
        np.testing.assert_array_equal(getattr(tb, field), expected[f"sample_{field}"])
    assert buffer.sample_calls == expected["sample_calls"]
    u = uniform.sample(3, rng=8)
    np.testing.assert_array_equal(u.batch["obs"], expected["uniform_obs"])
    np.testing.assert_array_equal(u.idx, expected["uniform_idx"])
    # and they go on working: a new add, with a dtype the layout casts
    ids = uniform.add({"obs": np.ones((1, 2), np.float32), "act": np.array([9], np.int32)})
    assert ids.tolist() == [6] and len(uniform) == 5
    again = pickle.loads(pickle.dumps(buffer))
    np.testing.assert_array_equal(again.sample(4, rng=1).idx, buffer.sample(4, rng=1).idx)


# --- the compiled priority update ------------------------------------------------------------


@given(
    bad=st.sampled_from([np.nan, np.inf, -np.inf, -1e-300, -2.0, "id"]),
    where=st.integers(0, 7),
    layout=st.sampled_from(["plain", "strided", "list"]),
)
@settings(max_examples=60, deadline=None)
def test_a_bad_update_is_refused_whole_in_every_input_form(bad, where, layout):
    """The compiled update checks every value before it writes one: a bad priority or identifier
    anywhere is refused with the message of the checks, and nothing changes."""
    buffer = PrioritizedReplayBuffer(16, random_seed=0)
    buffer.add({"x": np.arange(12.0)})
    idx = np.arange(8, dtype=np.int64)
    prio = np.linspace(0.5, 4.0, 8)
    if bad == "id":
        idx[where] = -3
        error, match = ValueError, "idx must hold indices >= 0"
    else:
        prio[where] = bad
        error, match = ValueError, "priorities must be finite and non-negative"
    if layout == "strided":  # not contiguous: converted before the kernel reads it
        idx = np.repeat(idx, 2)[::2]
        prio = np.repeat(prio, 2)[::2]
    args = (idx.tolist(), prio.tolist()) if layout == "list" else (idx, prio)
    before = pickle.dumps(buffer)
    with pytest.raises(error, match=match):
        buffer.update_priorities(*args)
    assert pickle.dumps(buffer) == before


def test_updates_of_every_input_form_agree():
    ids = np.array([3, 1, 3, 0, 40], dtype=np.int64)  # a repeat (the last wins) and a stale one
    prio = np.array([1.0, 2.0, 5.0, 0.0, 9.0])
    results = []
    for form in (lambda a: a, lambda a: a.tolist(), lambda a: np.repeat(a, 2)[::2]):
        buffer = PrioritizedReplayBuffer(8, alpha=1.0, epsilon=0.5, random_seed=0)
        buffer.add({"x": np.zeros(6)})
        assert buffer.update_priorities(form(ids), form(prio)) == 4
        assert buffer.total_priority == 11.5  # a read writes the queued values to the trees
        results.append(buffer._priorities.sum_tree.values.copy())
    expected = np.array([0.5, 2.5, 1.0, 5.5, 1.0, 1.0, 0.0, 0.0])  # (p + eps) ** 1; new: 1
    for values in results:
        np.testing.assert_array_equal(values, expected)


def test_issue_repro_a_refused_argument_is_named_with_what_was_given():
    """The messages said "got NoneType: None" for every refused real number and flag."""
    with pytest.raises(
        TypeError, match=r"alpha must be a real number >= 0 and <= 1, got str: '0.5'"
    ):
        PrioritizedReplayBuffer(4, alpha="0.5")
    with pytest.raises(TypeError, match=r"epsilon must be .*, got NoneType: None"):
        PrioritizedReplayBuffer(4, epsilon=None)
    buffer = PrioritizedReplayBuffer(4)
    buffer.add({"x": np.zeros(2)})
    with pytest.raises(TypeError, match=r"stratified must be a bool .*, got str: 'yes'"):
        buffer.sample(2, stratified="yes")
    with pytest.raises(ValueError, match=r"stratified must be a bool .*, got 2"):
        buffer.sample(2, stratified=2)
