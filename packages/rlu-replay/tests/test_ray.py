"""rlu_replay.ray on a local Ray: the sampling law over shards, nothing lost, failures, limits."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
import ray
from rlu_core import TransitionBatch
from rlu_replay.ray import RateLimiter, ShardedPrioritizedReplay, ShardError
from rlu_serialize import load

pytestmark = pytest.mark.usefixtures("ray_session")

# the test modules are not importable by Ray's workers: ship this one's functions by value
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def make_tb(n: int, start: int = 0) -> TransitionBatch:
    x = np.arange(start, start + n)
    s = x[:, None].astype(np.float32).repeat(4, axis=1)
    zeros = np.zeros(n, np.float32)
    return TransitionBatch(S=s, A=x, logP=zeros, Rn=zeros, In=zeros + 0.9, S_next=s + 1)


def test_sampling_is_proportional_over_the_union_of_shards(make_replay, chi_square):
    replay = make_replay(
        capacity=300, num_shards=3, alpha=0.8, beta=0.6, epsilon=0.01, random_seed=0
    )
    rng = np.random.default_rng(0)
    prios = rng.random(60) * 2
    prios[:20] *= 5  # the first shard gets much more mass than the others
    for k in range(3):  # the driver's adds take turns: batch k goes to shard k
        replay.add({"i": np.arange(20 * k, 20 * k + 20)}, priorities=prios[20 * k : 20 * k + 20])
    assert [s["size"] for s in replay.stats()] == [20, 20, 20]
    p = (prios + 0.01) ** 0.8
    counts = np.zeros(60, dtype=np.int64)
    for _ in range(10):
        batch, idx, weights = replay.sample(4000)
        counts += np.bincount(batch["i"], minlength=60)
        w = (60 * p / p.sum()) ** -0.6
        np.testing.assert_allclose(weights, w[batch["i"]] / w.max(), rtol=1e-9)
        assert np.array_equal(idx % 3, batch["i"] // 20)  # identifiers name the shard
    assert chi_square(counts, p / p.sum())


def test_stratified_sampling_takes_one_draw_per_slice_of_all_shards(make_replay):
    replay = make_replay(capacity=300, num_shards=3, alpha=1.0, beta=0.5, epsilon=0.0)
    prios = np.arange(1.0, 61.0)
    for k in range(3):  # shard k holds items 20k .. 20k + 19
        replay.add({"i": np.arange(20 * k, 20 * k + 20)}, priorities=prios[20 * k : 20 * k + 20])
    share = prios / prios.sum()
    w = (60 * share) ** -0.5
    for seed in range(5):
        n = 64 + seed
        batch, idx, weights = replay.sample(n, rng=seed, stratified=True)
        drawn = batch["i"]
        # item i spans n * P(i) slices of the union: drawn that many times, up to one per end
        assert np.all(np.abs(np.bincount(drawn, minlength=60) - n * share) < 2)
        assert np.all(np.diff(drawn) >= 0)  # in the order of the cumulative priority
        np.testing.assert_allclose(weights, w[drawn] / w.max(), rtol=1e-9)
        assert np.array_equal(idx % 3, drawn // 20)
    with pytest.raises(TypeError, match="stratified must be a bool"):
        replay.sample(4, stratified="yes")


def test_priority_updates_go_to_the_owning_shard(make_replay):
    replay = make_replay(capacity=40, num_shards=2, alpha=1.0, epsilon=0.0, random_seed=1)
    replay.add({"i": np.arange(5)}, priorities=1.0)
    replay.add({"i": np.arange(5, 10)}, priorities=1.0)
    batch, idx, _ = replay.sample(64)
    first = {int(i): int(j) for i, j in zip(batch["i"], idx, strict=True)}
    replay.update_priorities(np.array(list(first.values())), 3.0)
    totals = [s["total"] for s in replay.stats()]
    on_0 = sum(1 for i in first if i < 5)
    np.testing.assert_allclose(totals, [5 + 2 * on_0, 5 + 2 * (len(first) - on_0)])
    with pytest.raises(ValueError, match="priorities must be finite"):
        replay.update_priorities(idx[:1], [np.nan])


def test_transition_batches_get_w_and_idx(make_replay):
    replay = make_replay(capacity=100, num_shards=2, random_seed=2)
    writer = replay.writer(flush_every=8)
    for start in range(0, 32, 4):
        writer.add(make_tb(4, start))
    writer.flush()
    tb = replay.sample(16)
    assert isinstance(tb, TransitionBatch) and tb.W.shape == (16,) and tb.idx.dtype == np.int64
    assert np.array_equal(tb.S[:, 0], tb.A.astype(np.float32))


@ray.remote(num_cpus=0)
def produce(writer, producer: int, count: int, chunk: int) -> int:
    for start in range(0, count, chunk):
        ids = producer * 1_000_000 + np.arange(start, min(start + chunk, count))
        writer.add({"id": ids, "obs": np.zeros((len(ids), 4), np.float32)})
    writer.flush()
    return writer.added


def _stored_ids(replay, tmp_path) -> np.ndarray:
    folder = replay.checkpoint(tmp_path / "ckpt")
    names = json.loads((folder / "manifest.json").read_text())["shards"]
    assert len(names) == replay.num_shards
    ids = []
    for name in names:
        buffer = load(folder / name)["buffer"]
        if len(buffer):
            ids.append(buffer._storage[buffer._layout.treedef.paths.index("['id']")][: len(buffer)])
    return np.concatenate(ids)


def test_concurrent_producers_lose_nothing(make_replay, tmp_path):
    replay = make_replay(capacity=20_000, num_shards=2, random_seed=3)
    refs = [
        produce.remote(replay.writer(flush_every=64, max_in_flight=2), p, 3000, 7) for p in (1, 2)
    ]
    assert ray.get(refs, timeout=120) == [3000, 3000]
    assert len(replay) == 6000
    ids = _stored_ids(replay, tmp_path)
    expected = np.concatenate([p * 1_000_000 + np.arange(3000) for p in (1, 2)])
    assert len(ids) == 6000 and np.array_equal(np.sort(ids), np.sort(expected))


def test_concurrent_producers_overwrite_by_capacity_only(make_replay, tmp_path):
    replay = make_replay(capacity=1000, num_shards=2, random_seed=4)
    refs = [
        produce.remote(replay.writer(flush_every=50, first_shard=p), p, 1500, 10) for p in (0, 1)
    ]
    ray.get(refs, timeout=120)
    stats = replay.stats()
    assert len(replay) == 1000 and sum(s["inserted"] for s in stats) == 3000
    ids = _stored_ids(replay, tmp_path)
    assert len(np.unique(ids)) == 1000  # stored exactly once each
    assert set(ids.tolist()) <= {p * 1_000_000 + i for p in (0, 1) for i in range(1500)}


def test_rate_limiter_holds_a_fast_learner_back(make_replay):
    limiter = RateLimiter(samples_per_insert=1.0, min_size=100)
    replay = make_replay(capacity=1000, num_shards=2, rate_limiter=limiter, random_seed=5)
    replay.add({"x": np.zeros(50)})
    with pytest.raises(TimeoutError, match="rate limiter"):
        replay.sample(32, timeout=0.2)
    replay.add({"x": np.zeros(100)})  # 150 inserted: 50 * 1.0 + 32 of slack
    replay.sample(32)
    replay.sample(32)
    with pytest.raises(TimeoutError, match="64 sampled"):
        replay.sample(32, timeout=0.2)
    replay.add({"x": np.zeros(40)})
    replay.sample(32)


def test_dead_shard_is_named_quickly_and_restore_brings_the_service_back(make_replay, tmp_path):
    replay = make_replay(capacity=1000, num_shards=2, timeout=5.0, random_seed=6)
    writer = replay.writer(flush_every=10)
    for i in range(10):
        writer.add({"x": np.full(10, float(i))})
    writer.flush()
    folder = replay.checkpoint(tmp_path / "ckpt")
    ray.kill(replay.shards[1])
    started = time.monotonic()
    with pytest.raises(ShardError, match=r"^replay shard 1 \(node \w+\) died during a ") as info:
        replay.sample(8)
    assert info.value.shard == 1 and info.value.node == replay.nodes[1]
    assert "\n" not in str(info.value) and info.value.__cause__ is not None
    with pytest.raises(ShardError, match="replay shard 1"):
        for _ in range(10):
            writer.add({"x": np.full(10, 0.0)})
        writer.flush()
    assert time.monotonic() - started < 30
    survivor = replay.writer(flush_every=5, first_shard=1)  # made before the restore
    replay.restore(folder)
    assert len(replay) == 100
    batch, idx, weights = replay.sample(8)
    assert batch["x"].shape == (8,)
    for _ in range(3):  # to shard 1, 0, 1: both gone, both replaced
        survivor.add({"x": np.full(5, 7.0)})
    survivor.flush()
    assert survivor.rebinds == 1
    assert [s["size"] for s in replay.stats()] == [50 + 5, 50 + 10]


def test_argument_checks(make_replay):
    with pytest.raises(ValueError, match="num_shards must be an int >= 1"):
        ShardedPrioritizedReplay(capacity=10, num_shards=0)
    with pytest.raises(ValueError, match="capacity must be an int >= 3"):
        ShardedPrioritizedReplay(capacity=2, num_shards=3)
    with pytest.raises(TypeError, match="rate_limiter must be"):
        ShardedPrioritizedReplay(capacity=10, rate_limiter=5)
    with pytest.raises(ValueError, match="samples_per_insert must be"):
        RateLimiter(samples_per_insert=0.0)
    with pytest.raises(ValueError, match="min_size must be an int >= 1"):
        RateLimiter(min_size=0)
    replay = make_replay(capacity=10, num_shards=2)
    with pytest.raises(ValueError, match="flush_every must be an int >= 1"):
        replay.writer(flush_every=0)
    writer = replay.writer()
    writer.add({"x": np.zeros(2)})
    with pytest.raises(ValueError, match="different structure"):
        writer.add({"y": np.zeros(2)})


def test_import_rlu_replay_loads_neither_ray_nor_gymnasium_nor_numba():
    code = (
        "import sys, rlu_replay\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}"
        " & {'ray', 'gymnasium', 'numba', 'jax'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_without_ray_the_limiter_and_error_import_and_the_rest_names_the_extra():
    code = (
        "import sys\nsys.modules['ray'] = None\n"
        "from rlu_replay.ray import RateLimiter, ShardError\n"
        "limiter = RateLimiter(samples_per_insert=2.0, min_size=10)\n"
        "print(limiter.allows(n=4, size=10, inserted=12, sampled=0), ShardError(0, 'x').shard)\n"
        "try:\n    from rlu_replay.ray import ShardedPrioritizedReplay\n"
        "except ImportError as e:\n    print(e)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    first, second = out.stdout.splitlines()
    assert first == "True 0"  # 4 <= 2 * (12 - 10) + 4
    assert 'pip install "rlu-replay[ray]"' in second


def test_a_writer_with_buffered_items_refuses_to_be_pickled(make_replay):
    import pickle

    replay = make_replay(capacity=10, num_shards=2)
    writer = replay.writer(flush_every=100)
    writer.add({"x": np.zeros(2)})
    with pytest.raises(RuntimeError, match="2 items buffered.*flush"):
        pickle.dumps(writer)
    writer.flush()
    assert pickle.loads(pickle.dumps(writer)).added == 2
