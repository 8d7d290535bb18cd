"""rlu_replay.ray with ``frame_stack``: shards store each frame once and sample what whole-
observation shards sample, through a checkpoint and restore."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.usefixtures("ray_session")


def _same(x, y) -> None:
    for field in ("S", "A", "Rn", "In", "S_next", "W", "idx"):
        np.testing.assert_array_equal(getattr(x, field), getattr(y, field), err_msg=field)


def test_shards_store_frames_once_and_sample_as_whole_shards(make_replay, frame_stream, tmp_path):
    kwargs = {"capacity": 400, "num_shards": 2, "random_seed": 5}
    plain = make_replay(**kwargs)
    compact = make_replay(**kwargs, frame_stack=4)
    writers = [r.writer(flush_every=32, first_shard=0) for r in (plain, compact)]
    for batch in frame_stream(4, 3, 2, 0.02, 60, 250, 7):
        for writer in writers:
            writer.add(batch)
    for writer in writers:
        writer.flush()
    _same(plain.sample(64, rng=0), compact.sample(64, rng=0))
    stats = compact.stats()
    size = sum(s["size"] for s in stats)
    assert size == len(plain) > 300
    # one frame per item, plus a stack's worth per environment at the start of each run of
    # 32 items a shard receives, plus a few per episode
    assert sum(s["frames"] for s in stats) < size * 1.5
    assert "frames" not in plain.stats()[0]

    folder = compact.checkpoint(tmp_path / "pixels")
    expected = compact.sample(64, rng=1)
    compact.add(next(iter(frame_stream(4, 3, 2, 0.02, 60, 10, 8))))  # gone after the restore
    compact.restore(folder)
    _same(expected, compact.sample(64, rng=1))
    assert [s["frames"] for s in compact.stats()] == [s["frames"] for s in stats]


def test_frame_arguments_are_checked_by_the_service(make_replay):
    from rlu_replay.ray import ShardedPrioritizedReplay

    with pytest.raises(ValueError, match="frame_stack must be an int >= 1"):
        ShardedPrioritizedReplay(capacity=10, frame_stack=0)
    example = {"obs": np.zeros((0, 3, 2), np.uint8)}
    with pytest.raises(ValueError, match="expects stacked leaves with 4 frames"):
        ShardedPrioritizedReplay(capacity=10, example=example, frame_stack=4, frame_leaves=("obs",))


def test_a_refused_first_batch_fixes_no_layout(make_replay):
    """A first batch the frame arguments refuse is refused, and claims no layout for the service."""
    replay = make_replay(capacity=20, num_shards=2, frame_stack=4, frame_leaves=("obs",))
    with pytest.raises(ValueError, match="expects stacked leaves with 4 frames"):
        replay.add({"obs": np.zeros((2, 3, 5), np.uint8)})
    assert replay.example is None
    for _ in range(2):  # both shards take a good batch
        replay.add({"obs": np.zeros((2, 4, 5), np.uint8)})
    assert len(replay) == 4
