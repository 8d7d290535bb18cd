"""ReplayBuffer, PrioritizedReplayBuffer: storage, sampling law, weights, stale updates, state."""

from __future__ import annotations

import contextlib
import pickle
from collections import namedtuple
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_core import TransitionBatch
from rlu_replay import PrioritizedReplayBuffer, ReplayBuffer, Sample
from rlu_serialize import dump, load


def chi_square_ok(counts: np.ndarray, probs: np.ndarray) -> bool:
    """Pearson's test at the 0.1% level (statistic below the quantile, via Wilson-Hilferty)."""
    n = counts.sum()
    expected = n * probs
    stat = float(((counts - expected) ** 2 / expected).sum())
    k = len(probs) - 1
    z = 3.09  # the 99.9% quantile of the normal law
    quantile = k * (1 - 2 / (9 * k) + z * np.sqrt(2 / (9 * k))) ** 3
    return stat < quantile


def make_tb(n: int, start: int = 0) -> TransitionBatch:
    x = np.arange(start, start + n)
    return TransitionBatch(
        S=x[:, None].astype(np.float32).repeat(4, axis=1),
        A=x.astype(np.int64),
        logP=np.zeros(n, np.float32),
        Rn=x.astype(np.float32),
        In=np.full(n, 0.9, np.float32),
        S_next=x[:, None].astype(np.float32).repeat(4, axis=1) + 1,
    )


@pytest.mark.parametrize("cls", [ReplayBuffer, PrioritizedReplayBuffer])
def test_ring_overwrites_oldest_and_ids_count_insertions(cls):
    buffer = cls(capacity=5, random_seed=0)
    assert buffer.add({"x": np.arange(3)}).tolist() == [0, 1, 2]
    assert buffer.add({"x": np.arange(3, 7)}).tolist() == [3, 4, 5, 6]
    assert len(buffer) == 5 and buffer.inserted == 7
    sample = buffer.sample(200, rng=1)
    assert set(sample.batch["x"].tolist()) == {2, 3, 4, 5, 6}
    assert np.array_equal(sample.batch["x"], sample.idx)  # identifiers are insertion numbers


@pytest.mark.parametrize("cls", [ReplayBuffer, PrioritizedReplayBuffer])
def test_batch_larger_than_capacity_keeps_the_last_items(cls):
    buffer = cls(capacity=4)
    ids = buffer.add(np.arange(10))
    assert ids.tolist() == list(range(10)) and len(buffer) == 4
    batch, idx, _ = buffer.sample(100, rng=0)
    assert set(batch.tolist()) == {6, 7, 8, 9} and np.array_equal(batch, idx)


def test_pytrees_of_every_kind_round_trip():
    Pair = namedtuple("Pair", "left right")
    item = {
        "obs": {"pos": np.zeros((2, 3), np.float32), "vel": np.ones((2,), np.float64)},
        "pair": Pair(np.array([1, 2]), None),
        "seq": [np.array([True, False]), (np.array([[1], [2]], np.int8),)],
        "none": None,
    }
    buffer = ReplayBuffer(10)
    buffer.add(item)
    batch, idx, weights = buffer.sample(6, rng=0)
    assert isinstance(batch["pair"], Pair) and batch["pair"].right is None
    assert batch["none"] is None
    assert batch["obs"]["pos"].shape == (6, 3) and batch["obs"]["pos"].dtype == np.float32
    assert batch["seq"][1][0].dtype == np.int8 and isinstance(batch["seq"][1], tuple)
    assert np.array_equal(batch["pair"].left, np.array([1, 2])[idx])
    assert np.all(weights == 1.0)


def test_dict_key_order_does_not_matter():
    buffer = ReplayBuffer(10)
    buffer.add({"a": np.zeros(1), "b": np.ones(1)})
    buffer.add({"b": np.full(1, 3.0), "a": np.full(1, 2.0)})
    batch = buffer.sample(50, rng=0).batch
    assert set(zip(batch["a"].tolist(), batch["b"].tolist(), strict=True)) == {(0, 1), (2, 3)}


def test_transition_batch_gets_idx_and_w():
    buffer = PrioritizedReplayBuffer(100, alpha=0.5, beta=1.0, random_seed=0)
    tb = make_tb(10)
    buffer.add(tb, priorities=np.arange(10.0))
    out = buffer.sample(32, rng=0)
    assert isinstance(out, TransitionBatch)
    assert out.idx.dtype == np.int64 and out.W.dtype == np.float64
    assert np.array_equal(out.A, out.idx) and np.array_equal(out.S[:, 0], out.A)
    assert out.A_next is None and out.extra_info is None
    assert out.W.max() <= 1.0


def test_sampling_law_matches_priorities_chi_square():
    rng = np.random.default_rng(0)
    prios = rng.random(50) * 3
    alpha, eps = 0.7, 0.01
    buffer = PrioritizedReplayBuffer(64, alpha=alpha, beta=0.5, epsilon=eps)
    buffer.add({"i": np.arange(50)}, priorities=prios)
    sample = buffer.sample(100_000, rng=np.random.default_rng(1))
    counts = np.bincount(sample.batch["i"], minlength=50)
    p = (prios + eps) ** alpha
    assert chi_square_ok(counts, p / p.sum())


def test_importance_weights_match_brute_force():
    rng = np.random.default_rng(3)
    prios = rng.random(20) + 0.1
    buffer = PrioritizedReplayBuffer(32, alpha=0.6, beta=0.7, epsilon=1e-3)
    buffer.add({"i": np.arange(20)}, priorities=prios)
    sample = buffer.sample(500, rng=0)
    p = (prios + 1e-3) ** 0.6
    prob = p / p.sum()
    w = (20 * prob) ** -0.7
    expected = w[sample.batch["i"]] / w.max()
    np.testing.assert_allclose(sample.weights, expected, rtol=1e-12)


def test_weights_are_normalised_over_the_whole_buffer_not_the_batch():
    # The least likely item is (almost surely) not in a small batch: normalising by the
    # batch's own smallest probability would then give different weights than brute force.
    prios = np.array([1e-6, *np.linspace(1.0, 5.0, 19)])
    buffer = PrioritizedReplayBuffer(32, alpha=0.8, beta=0.5, epsilon=0.0)
    buffer.add({"i": np.arange(20)}, priorities=prios)
    p = prios**0.8
    w_all = (20 * p / p.sum()) ** -0.5
    for seed in range(5):
        sample = buffer.sample(4, rng=seed)
        assert 0 not in sample.batch["i"]  # the premise: the rarest item was not drawn
        expected = w_all[sample.batch["i"]] / w_all.max()
        np.testing.assert_allclose(sample.weights, expected, rtol=1e-12)
        assert sample.weights.max() < 0.01  # far below 1: the rarest item sets the scale


def test_new_items_get_the_largest_priority_so_far():
    buffer = PrioritizedReplayBuffer(8, alpha=1.0, epsilon=0.0)
    buffer.add(np.arange(2), priorities=[7.0, 1.0])
    buffer.add(np.arange(2, 3))
    np.testing.assert_allclose(buffer.total_priority, 15.0)


def test_update_priorities_skips_overwritten_items():
    buffer = PrioritizedReplayBuffer(4, alpha=1.0, epsilon=0.0)
    buffer.add(np.arange(4), priorities=1.0)
    _, idx, _ = buffer.sample(16, rng=0)
    buffer.add(np.arange(4, 6))  # items 0 and 1 overwritten
    applied = buffer.update_priorities(idx, np.full(16, 2.0))
    assert applied == int(np.sum(idx >= 2))
    # the new items keep the max priority (1); the updated live ones became 2
    stored = {int(i) for i in idx if i >= 2}
    np.testing.assert_allclose(buffer.total_priority, 2.0 * len(stored) + (4 - len(stored)) * 1.0)
    assert buffer.update_priorities([0, 1, 99], [5.0, 5.0, 5.0]) == 0


def test_alpha_change_reweights():
    buffer = PrioritizedReplayBuffer(8, alpha=1.0, epsilon=0.0)
    buffer.add(np.arange(3), priorities=[1.0, 4.0, 9.0])
    buffer.alpha = 0.5
    np.testing.assert_allclose(buffer.total_priority, 6.0)


def test_beta_schedule_sees_sample_calls():
    seen = []

    def beta(step: int) -> float:
        seen.append(step)
        return 0.5

    buffer = PrioritizedReplayBuffer(8, beta=beta)
    buffer.add(np.arange(3))
    buffer.sample(2)
    buffer.sample(2)
    assert seen == [0, 0, 1] and buffer.sample_calls == 2  # checked once at construction


def test_jax_key_accepted():
    import jax

    buffer = PrioritizedReplayBuffer(8)
    buffer.add(np.arange(3))
    a = buffer.sample(5, rng=jax.random.key(0)).batch
    b = buffer.sample(5, rng=jax.random.key(0)).batch
    c = buffer.sample(5, rng=jax.random.PRNGKey(0)).batch
    assert np.array_equal(a, b) and np.array_equal(a, c)


@pytest.mark.parametrize(
    "bad, error, match",
    [
        ({"x": np.zeros((2, 3), np.float32)}, ValueError, "different structure.*unexpected.*'x'"),
        ({"obs": np.zeros((2, 5), np.float32), "r": np.zeros(2)}, ValueError, r"leaf \['obs'\]"),
        (
            {"obs": np.zeros((2, 3), np.complex64), "r": np.zeros(2)},
            TypeError,
            r"\['obs'\].*complex64",
        ),
        ({"obs": np.zeros((2, 3), np.float32), "r": np.zeros(3)}, ValueError, r"\['r'\] has 3"),
        ({"obs": np.zeros((2, 3), np.float32), "r": 1.0}, ValueError, r"\['r'\] has no batch"),
        ({"obs": np.zeros((2, 3), np.float32)}, ValueError, r"missing leaves \[\"\['r'\]\"\]"),
    ],
)
def test_bad_batches_are_rejected_and_leave_the_buffer_unchanged(bad, error, match):
    buffer = PrioritizedReplayBuffer(8, random_seed=0)
    buffer.add({"obs": np.ones((2, 3), np.float32), "r": np.ones(2)}, priorities=[1.0, 2.0])
    before = pickle.dumps(buffer)
    with pytest.raises(error, match=match):
        buffer.add(bad)
    assert pickle.dumps(buffer) == before


@pytest.mark.parametrize(
    "priorities, error, match",
    [
        ([1.0, float("nan")], ValueError, "priorities must be finite and non-negative.*nan"),
        ([1.0, -0.5], ValueError, "priorities must be finite and non-negative.*-0.5"),
        ([1.0, np.inf], ValueError, "priorities must be finite"),
        ([1.0], ValueError, r"priorities must have shape \(2,\)"),
        (["a", "b"], TypeError, "priorities must be an array"),
    ],
)
def test_bad_priorities_are_rejected(priorities, error, match):
    buffer = PrioritizedReplayBuffer(8, random_seed=0)
    buffer.add({"r": np.ones(2)})
    _, idx, _ = buffer.sample(2)
    before = pickle.dumps(buffer)
    with pytest.raises(error, match=match):
        buffer.add({"r": np.ones(2)}, priorities=priorities)
    with pytest.raises(error, match=match):
        buffer.update_priorities(idx, priorities)
    assert pickle.dumps(buffer) == before


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"capacity": 0}, ValueError, "capacity must be an int >= 1, got 0"),
        ({"capacity": 2.0}, TypeError, "capacity must be an int"),
        ({"capacity": True}, TypeError, "capacity must be an int"),
        ({"capacity": 4, "alpha": 1.5}, ValueError, "alpha must be"),
        ({"capacity": 4, "beta": "x"}, TypeError, "beta must be"),
        ({"capacity": 4, "beta": lambda s: 2.0}, ValueError, r"beta\(0\) must be"),
        ({"capacity": 4, "epsilon": -1.0}, ValueError, "epsilon must be"),
        ({"capacity": 4, "random_seed": -1}, ValueError, "random_seed must be"),
    ],
)
def test_constructor_checks(kwargs, error, match):
    with pytest.raises(error, match=match):
        PrioritizedReplayBuffer(**kwargs)


def test_sample_checks():
    buffer = PrioritizedReplayBuffer(4)
    with pytest.raises(RuntimeError, match="empty"):
        buffer.sample(1)
    buffer.add(np.arange(2))
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        buffer.sample(0)
    with pytest.raises(TypeError, match="rng must be"):
        buffer.sample(1, rng="seed")
    with pytest.raises(TypeError, match="idx must be"):
        buffer.update_priorities([0.5], [1.0])
    with pytest.raises(ValueError, match="idx must hold indices >= 0"):
        buffer.update_priorities([-1], [1.0])


def test_clear_keeps_identifiers_stale():
    buffer = PrioritizedReplayBuffer(4, alpha=1.0, epsilon=0.0)
    old = buffer.add(np.arange(3))
    buffer.clear()
    assert len(buffer) == 0 and buffer.total_priority == 0.0
    new = buffer.add(np.arange(10, 12))
    assert new.min() > old.max()
    assert buffer.update_priorities(old, [5.0, 5.0, 5.0]) == 0
    batch, idx, _ = buffer.sample(20, rng=0)
    assert set(batch.tolist()) == {10, 11} and set(idx.tolist()) == set(new.tolist())


@pytest.mark.parametrize("wrapped", [False, True])
def test_state_round_trips_through_rlu_serialize(tmp_path, wrapped):
    buffer = PrioritizedReplayBuffer(16, alpha=0.8, beta=lambda s: 0.3, random_seed=5)
    buffer.add(make_tb(10), priorities=np.linspace(0.1, 3, 10))
    if wrapped:
        buffer.add(make_tb(12, start=10))
    buffer.sample(4)
    dump(buffer, tmp_path / "buffer.lz4")
    restored = load(tmp_path / "buffer.lz4")
    assert len(restored) == len(buffer) and restored.inserted == buffer.inserted
    assert restored.sample_calls == buffer.sample_calls
    np.testing.assert_allclose(restored.total_priority, buffer.total_priority)
    a, b = buffer.sample(64), restored.sample(64)  # the random streams continue alike
    assert a == b
    ids = buffer.add(make_tb(1, start=99))
    assert restored.add(make_tb(1, start=99)).tolist() == ids.tolist()


def test_uniform_state_round_trips():
    buffer = ReplayBuffer(8, random_seed=1)
    buffer.add({"x": np.arange(5)})
    restored = pickle.loads(pickle.dumps(buffer))
    assert np.array_equal(buffer.sample(10).batch["x"], restored.sample(10).batch["x"])


def test_sample_type_for_plain_pytrees():
    buffer = ReplayBuffer(4)
    buffer.add(np.arange(2))
    assert isinstance(buffer.sample(1), Sample)


def test_a_refused_first_batch_fixes_no_layout():
    buffer = PrioritizedReplayBuffer(8)
    with pytest.raises(ValueError, match="priorities"):
        buffer.add({"x": np.zeros(2)}, priorities=[1.0, -1.0])
    buffer.add({"y": np.zeros((2, 3), np.int8)})  # another layout is welcome
    assert len(buffer) == 2


@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("add"), st.integers(1, 7)),
            st.tuples(st.just("add_with"), st.lists(st.floats(0.0, 9.0), min_size=1, max_size=6)),
            st.tuples(st.just("update"), st.lists(st.floats(0.0, 9.0), min_size=1, max_size=9)),
            st.tuples(st.just("update32"), st.lists(st.floats(0.0, 9.0), min_size=1, max_size=9)),
            st.tuples(st.just("read"), st.just(0)),
            st.tuples(
                st.just("update_any"),  # any identifier handed out: stale ones, repeats
                st.lists(st.tuples(st.integers(0, 10**6), st.floats(0.0, 9.0)), max_size=9),
            ),
        ),
        min_size=1,
        max_size=40,
    ),
    capacity=st.sampled_from([3, 8, 13]),
    queue=st.sampled_from([None, 4, 6]),
)
@settings(max_examples=120, deadline=None)
def test_queued_priority_writes_match_brute_force(ops, capacity, queue):
    """Adds at the default priority and priority updates (float64 or float32) wait in a queue
    of slots before the trees are written; any mix of them, reads, ring wrap-around, a full
    queue and runs too long to queue (``queue``: a queue that small, to reach those paths)
    gives both trees exactly the values a brute-force model computes."""
    from rlu_replay import _priorities

    alpha, eps = 0.6, 1e-4
    with contextlib.ExitStack() as patches:
        if queue is not None:
            patches.enter_context(mock.patch.object(_priorities, "_QUEUE", queue))
            ramp = np.arange(queue // 2, dtype=np.int64)
            patches.enter_context(mock.patch.object(_priorities, "_RAMP", ramp))
        buffer = PrioritizedReplayBuffer(capacity, alpha=alpha, epsilon=eps, random_seed=0)
        model = np.zeros(capacity)  # the base priority (priority + epsilon) of each slot
        serials, largest, nxt = {}, 1.0, 0
        for kind, arg in ops:
            if kind == "read":
                if nxt:
                    buffer.sample(1)  # a read writes the queued values
                continue
            if kind == "update_any":
                if not nxt or not arg:
                    continue
                ids = np.array([pick % nxt for pick, _ in arg])
                applied = buffer.update_priorities(ids, np.array([p for _, p in arg]))
                live = 0
                for i, (_, p) in zip(ids.tolist(), arg, strict=True):  # in order: last wins
                    if serials.get(i % capacity) == i:
                        model[i % capacity] = p + eps
                        largest = max(largest, p + eps)
                        live += 1
                assert applied == live
                continue
            if kind.startswith("update"):
                if not serials:
                    continue
                ids = np.array(sorted(serials.values()))[: len(arg)]
                dtype = np.float32 if kind == "update32" else np.float64
                new = np.array(arg[: len(ids)], dtype)
                buffer.update_priorities(ids, new)
                for i, p in zip(ids, new.tolist(), strict=True):
                    model[i % capacity] = p + eps
                    largest = max(largest, p + eps)
                continue
            n = arg if kind == "add" else len(arg)
            buffer.add(
                {"x": np.arange(nxt, nxt + n, dtype=np.float32)}, None if kind == "add" else arg
            )
            for j in range(n):
                slot = (nxt + j) % capacity
                model[slot] = largest if kind == "add" else arg[j] + eps
                serials[slot] = nxt + j
            if kind == "add_with":  # items of a batch longer than the buffer are never stored
                largest = max(largest, max(arg[-capacity:]) + eps)
            nxt += n
        if nxt == 0:
            return  # nothing stored, nothing to read
        buffer.sample(1)  # a read writes the queued values
    filled = np.arange(capacity) < min(nxt, capacity)
    p = buffer._priorities
    np.testing.assert_allclose(p.sum_tree.values, np.where(filled, model**alpha, 0.0), rtol=1e-12)
    np.testing.assert_allclose(p.smallest.value, np.min(model[filled] ** alpha), rtol=1e-12)
    assert p.max_base == pytest.approx(largest, rel=1e-12)
