"""rlu_replay.ray: one layout per service, the learner's stream, restores that writers survive."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import ray
from rlu_replay.ray import ShardedPrioritizedReplay, ShardError

pytestmark = pytest.mark.usefixtures("ray_session")

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


# ------------------------------------------------------------------ one layout


def test_the_corruption_repro_raises_and_stores_nothing(make_replay):
    # the repro: writer A's first flush goes to shard 0, writer B's to shard 1
    replay = make_replay(capacity=100, num_shards=2, random_seed=0)
    a = replay.writer(flush_every=4, first_shard=0)
    b = replay.writer(flush_every=4, first_shard=1)
    a.add({"x": np.zeros((4, 2))})
    a.flush()
    b.add({"y": np.ones((4, 2))})
    with pytest.raises(ValueError, match=r"replay shard 1 refused an add: .*different structure"):
        b.flush()
    assert [s["size"] for s in replay.stats()] == [4, 0]
    batch, _, _ = replay.sample(8)
    assert list(batch) == ["x"] and np.all(batch["x"] == 0.0)


def test_dtypes_follow_the_service_layout_in_every_shard(make_replay):
    replay = make_replay(capacity=100, num_shards=2, random_seed=1)
    replay.add({"a": np.zeros(4, np.int64), "s": np.zeros((4, 3), np.float32)})  # shard 0
    replay.add({"a": np.ones(4, np.int32), "s": np.ones((4, 3), np.float64)})  # same kind: cast
    for _ in range(5):
        batch, _, _ = replay.sample(16)
        assert batch["a"].dtype == np.int64 and batch["s"].dtype == np.float32
    with pytest.raises(TypeError, match=r"refused an add: batch leaf \['a'\] has dtype float64"):
        replay.add({"a": np.zeros(4), "s": np.zeros((4, 3), np.float32)})
    with pytest.raises(ValueError, match=r"refused an add: batch leaf \['s'\] has shape \(4, 2\)"):
        replay.add({"a": np.zeros(4, np.int64), "s": np.zeros((4, 2), np.float32)})
    assert len(replay) == 8


def test_a_declared_example_fixes_the_layout_before_any_add(make_replay):
    example = {"obs": np.zeros((0, 2), np.float32), "a": np.zeros(0, np.int64)}
    replay = make_replay(capacity=100, num_shards=3, example=example)
    assert replay.example["obs"].dtype == np.float32
    replay.add({"obs": np.ones((2, 2)), "a": np.ones(2, np.int32)})  # cast to the example's
    with pytest.raises(ValueError, match="different structure"):
        replay.add({"obs": np.ones((2, 2))})
    batch, _, _ = replay.sample(4)
    assert batch["obs"].dtype == np.float32 and batch["a"].dtype == np.int64
    with pytest.raises(ValueError, match="example: "):
        ShardedPrioritizedReplay(capacity=10, example={"x": np.zeros(())})


@ray.remote(num_cpus=0)
def write(writer, producer: int, plan: list[tuple[str, int, str]]) -> list[str]:
    """Add the batches of ``plan`` (layout, size, dtype); the errors each flush raised."""
    errors = []
    for i, (layout, size, dtype) in enumerate(plan):
        ident = producer * 10_000 + i * 100 + np.arange(size)
        value = ident.astype(dtype)
        leaves = {"id": ident, layout: value[:, None].repeat(2, axis=1)}
        writer.add(leaves)
        try:
            writer.flush()
        except (TypeError, ValueError) as exc:
            errors.append(str(exc))
    return errors


@pytest.mark.parametrize("seed", range(3))
def test_mixed_writers_layouts_and_shards_never_corrupt_a_sample(make_replay, seed):
    """Producers send batches of two structures and several dtypes to shards in turn; whatever is
    stored is exactly what was written under the layout the first stored batch fixed."""
    rng = np.random.default_rng(seed)
    replay = make_replay(capacity=400, num_shards=3, random_seed=seed)
    plans = []  # a writer keeps one structure; writers differ in it, batches in their dtype
    for w in range(3):  # writers 0 and 1 disagree: one of them is refused whole
        layout = ["x", "y", str(rng.choice(["x", "y"]))][w]
        dtypes = rng.choice(["int64", "int32", "float64", "float32"], size=6)
        plans.append([(layout, int(rng.integers(1, 6)), str(d)) for d in dtypes])
    writers = [replay.writer(flush_every=1, first_shard=int(rng.integers(3))) for _ in plans]
    errors = ray.get(
        [write.remote(w, p, plan) for p, (w, plan) in enumerate(zip(writers, plans, strict=True))]
    )
    example = replay.example
    key = next(k for k in example if k != "id")
    stored_dtype = example[key].dtype
    accepted = [
        (p, i, size)
        for p, plan in enumerate(plans)
        for i, (layout, size, dtype) in enumerate(plan)
        if layout == key and np.can_cast(dtype, stored_dtype, "same_kind")
    ]
    assert len(replay) == sum(size for *_, size in accepted)
    assert sum(len(e) for e in errors) == sum(len(plan) for plan in plans) - len(accepted) >= 6
    batch, idx, _ = replay.sample(256)
    assert set(batch) == {"id", key}
    assert batch[key].dtype == stored_dtype and batch[key].shape == (256, 2)
    # every sampled row is the one written with that id, cast to the stored dtype
    np.testing.assert_array_equal(
        batch[key], batch["id"].astype(stored_dtype)[:, None].repeat(2, 1)
    )
    allowed = {p * 10_000 + i * 100 + j for p, i, size in accepted for j in range(size)}
    assert set(batch["id"].tolist()) <= allowed


# ------------------------------------------------------------------ the learner's stream


def test_the_stream_is_proportional_over_the_union_of_shards(make_replay, chi_square):
    replay = make_replay(
        capacity=300, num_shards=3, alpha=0.8, beta=0.6, epsilon=0.01, random_seed=0
    )
    rng = np.random.default_rng(0)
    prios = rng.random(60) * 2
    prios[:20] *= 5
    for k in range(3):
        replay.add({"i": np.arange(20 * k, 20 * k + 20)}, priorities=prios[20 * k : 20 * k + 20])
    p = (prios + 0.01) ** 0.8
    w = (60 * p / p.sum()) ** -0.6
    counts = np.zeros(60, dtype=np.int64)
    stream = replay.stream(1000, prefetch=3, per_call=1)
    for _ in range(40):
        batch, idx, weights = next(stream)
        counts += np.bincount(batch["i"], minlength=60)
        np.testing.assert_allclose(weights, w[batch["i"]] / w.max(), rtol=1e-9)
        assert np.array_equal(idx % 3, batch["i"] // 20)
        assert stream.ahead == 3
    assert replay.sample_calls == 40
    assert chi_square(counts, p / p.sum())


def test_stream_sees_priority_updates_and_new_items_within_prefetch_draws(make_replay):
    replay = make_replay(capacity=100, num_shards=2, alpha=1.0, epsilon=0.0, random_seed=1)
    replay.add({"i": np.arange(10)}, priorities=1.0)  # shard 0 only
    stream = replay.stream(64, prefetch=2)
    batch, idx, _ = next(stream)
    replay.update_priorities(idx[batch["i"] == 3][:1], 0.0)  # item 3 can no longer be drawn
    replay.add({"i": np.arange(10, 20)}, priorities=1.0)  # shard 1 gets items
    seen = set()
    for _ in range(2):  # draws sent before the update may still hold item 3
        next(stream)
    for _ in range(10):
        batch, _, _ = next(stream)
        seen |= set(batch["i"].tolist())
    assert 3 not in seen and seen >= set(range(10, 20))


def test_stream_survives_a_restore(make_replay, tmp_path):
    replay = make_replay(capacity=100, num_shards=2, random_seed=2)
    replay.add({"i": np.arange(10)})
    replay.add({"i": np.arange(10, 20)})
    folder = replay.checkpoint(tmp_path / "ckpt")
    stream = replay.stream(8, prefetch=4)
    next(stream)
    replay.add({"i": np.arange(100, 110)})  # after the checkpoint: gone after the restore
    replay.restore(folder)
    for _ in range(20):
        batch, _, _ = next(stream)
        assert batch["i"].max() < 20


def test_stream_waits_for_the_rate_limiter_then_times_out(make_replay):
    from rlu_replay.ray import RateLimiter

    replay = make_replay(
        capacity=100, num_shards=2, rate_limiter=RateLimiter(samples_per_insert=1.0, min_size=10)
    )
    stream = replay.stream(8, prefetch=4, timeout=0.3)
    with pytest.raises(TimeoutError, match="rate limiter"):
        next(stream)
    replay.add({"x": np.zeros(30)})  # 1.0 * (30 - 10) + 8 of slack: 3 batches of 8
    for _ in range(3):
        next(stream)
    with pytest.raises(TimeoutError, match="24 sampled"):
        next(stream)


def test_stream_argument_checks(make_replay):
    replay = make_replay(capacity=10, num_shards=2)
    with pytest.raises(ValueError, match="prefetch must be an int >= 1"):
        replay.stream(4, prefetch=0)
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        replay.stream(0)
    with pytest.raises(TypeError, match="stratified must be a bool"):
        replay.stream(4, stratified=1.5)


# ------------------------------------------------------------------ tidy


def test_a_closed_service_says_so_to_its_writers(make_replay):
    replay = make_replay(capacity=10, num_shards=2)
    writer = replay.writer(flush_every=1)
    replay.close()
    with pytest.raises(ShardError, match="service was closed") as info:
        writer.add({"x": np.zeros(1)})
        writer.flush()
    assert "\n" not in str(info.value)
    replay.close()  # again: the actors are gone, nothing to report


def test_checkpoint_keeps_one_set_of_files_and_restore_checks_the_layout(make_replay, tmp_path):
    replay = make_replay(capacity=100, num_shards=2, random_seed=3)
    replay.add({"x": np.arange(4.0)})
    folder = replay.checkpoint(tmp_path / "c")
    replay.add({"x": np.arange(4.0)})
    replay.checkpoint(folder)  # the second replaces the first, file by file
    assert len(list(folder.glob("shard-*.lz4"))) == 2
    other = make_replay(capacity=100, num_shards=2, example={"x": np.zeros(0, np.int64)})
    before = other.shards
    with pytest.raises(ValueError, match="another layout than the service's example"):
        other.restore(folder)
    assert other.shards == before and len(other) == 0  # unchanged
    with pytest.raises(ValueError, match="capacity 100, this service has 50"):
        make_replay(capacity=50, num_shards=2).restore(folder)


def test_a_checkpoint_of_rlu_replay_0_2_restores(make_replay, tmp_path):
    """0.2.0 wrote shard-k.lz4 (from the driver: {"buffer", "sampled"}) and a manifest without
    file names; such a folder restores, each new shard reading its file."""
    import json

    from rlu_replay import PrioritizedReplayBuffer
    from rlu_serialize import dump

    folder = tmp_path / "old"
    folder.mkdir()
    for k in range(2):
        buffer = PrioritizedReplayBuffer(50, 0.6, 0.0, 1e-4, k)
        buffer.add({"x": np.arange(10.0 * k, 10.0 * k + 10)})
        dump({"buffer": buffer, "sampled": 3 * k}, folder / f"shard-{k}.lz4")
    manifest = {"num_shards": 2, "capacity": 100, "sample_calls": 7}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    replay = make_replay(capacity=100, num_shards=2)
    replay.restore(folder)
    assert [s["size"] for s in replay.stats()] == [10, 10]
    assert [s["sampled"] for s in replay.stats()] == [0, 3]
    assert replay.sample_calls == 7
    batch, idx, _ = replay.sample(64)
    assert np.array_equal(batch["x"] // 10, idx % 2)  # shard k holds 10k .. 10k + 9
