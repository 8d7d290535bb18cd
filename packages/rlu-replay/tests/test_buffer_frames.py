"""Buffers with ``frame_stack``: each frame stored once, samples equal to whole-observation buffers.

The brute-force model is the same buffer without ``frame_stack``, which stores every observation
whole: fed the same transitions and drawing with the same seeds, the two must return identical
samples (stacks, n-step fields, identifiers, weights) through wrap-around, priority updates,
``clear`` and a pickle round trip. The transitions come from gymnasium's own
``FrameStackObservation`` (its padding of an episode's start) over real single and vector
environments, through ``NStepTracer`` (the ``frame_stream`` fixture of conftest.py).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_replay import PrioritizedReplayBuffer, ReplayBuffer


def _same(x, y) -> None:
    for field in ("S", "A", "logP", "Rn", "In", "S_next", "W", "idx"):
        np.testing.assert_array_equal(getattr(x, field), getattr(y, field), err_msg=field)
        assert np.asarray(getattr(x, field)).dtype == np.asarray(getattr(y, field)).dtype


@settings(max_examples=40, deadline=None)
@given(
    k=st.integers(1, 4),
    n=st.integers(1, 3),
    num_envs=st.sampled_from([None, 1, 3]),
    p_end=st.sampled_from([0.0, 0.2, 0.6]),
    limit=st.integers(1, 12),
    capacity=st.integers(1, 40),
    prioritized=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_samples_equal_a_buffer_of_whole_observations(
    frame_stream, k, n, num_envs, p_end, limit, capacity, prioritized, seed
) -> None:
    cls = PrioritizedReplayBuffer if prioritized else ReplayBuffer
    plain = cls(capacity, random_seed=seed)
    compact = cls(capacity, random_seed=seed, frame_stack=k)
    rng = np.random.default_rng(seed)
    for step, batch in enumerate(frame_stream(k, n, num_envs, p_end, limit, 60, seed)):
        np.testing.assert_array_equal(plain.add(batch), compact.add(batch))
        assert len(plain) == len(compact)
        if step % 3 == 0:
            draw = int(rng.integers(2**32))
            x, y = plain.sample(8, rng=draw), compact.sample(8, rng=draw)
            _same(x, y)
            if prioritized:
                p = rng.exponential(size=8)
                assert plain.update_priorities(x.idx, p) == compact.update_priorities(y.idx, p)
        if step == 30 and seed % 4 == 0:
            plain.clear()
            compact.clear()
            assert compact._frames.store.live == 0
    if not len(plain):
        return
    clone = pickle.loads(pickle.dumps(compact))
    _same(plain.sample(16, rng=1), clone.sample(16, rng=1))
    _same(plain.sample(16, rng=2), compact.sample(16, rng=2))
    # the frames kept are those the stored stacks reach, each reached by some stored item
    store = compact._frames.store
    column = [compact._storage[i][: len(compact)] for i in compact._frames.indices]
    reached = np.unique(store.slots(np.concatenate(column)))
    assert store.live == reached.shape[0]


@pytest.mark.parametrize(("k", "n"), [(1, 1), (3, 1), (4, 3), (2, 5)])
def test_each_frame_stored_about_once(frame_stream, k: int, n: int) -> None:
    """Long episodes: the frames kept are one per stored item, plus a few per episode."""
    capacity, limit = 500, 50
    buffer = PrioritizedReplayBuffer(capacity, frame_stack=k)
    plain_bytes = 0
    for batch in frame_stream(k, n, None, 0.0, limit, 2_000, 0):
        buffer.add(batch)
        plain_bytes = batch.S[0].nbytes * 2
    store = buffer._frames.store
    episodes = capacity // limit + 2  # the episodes the stored items come from
    assert len(buffer) == capacity
    assert store.live <= capacity + episodes * (k + 1) + n + k
    assert store.live * store._data[0].nbytes < 0.6 * capacity * plain_bytes or k == 1


def test_vector_environments_share_nothing_they_should_not(frame_stream) -> None:
    """Three environments stepped together: stacks never mix frames of two environments."""
    buffer = ReplayBuffer(300, frame_stack=4)
    plain = ReplayBuffer(300)
    for batch in frame_stream(4, 2, 3, 0.05, 40, 200, 3):
        buffer.add(batch)
        plain.add(batch)
    _same(plain.sample(256, rng=0), buffer.sample(256, rng=0))
    assert buffer._frames.store.live < 1.2 * len(buffer)


def test_a_dict_batch_names_its_stacked_leaves() -> None:
    stacks = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 2, 3)  # (batch, frames..)
    batch = {"obs": stacks, "next_obs": stacks[:, ::-1], "r": np.ones(2)}
    buffer = ReplayBuffer(4, frame_stack=3, frame_axis=-1, frame_leaves=("obs", "next_obs"))
    buffer.add(batch)
    got = buffer.sample(6, rng=0).batch
    for i in range(6):
        j = int(np.flatnonzero((stacks == got["obs"][i]).all(axis=(1, 2)))[0])
        np.testing.assert_array_equal(got["next_obs"][i], stacks[j, ::-1])
    assert buffer.example["obs"].shape == (0, 2, 3)


@pytest.mark.parametrize(
    ("kwargs", "batch", "error", "match"),
    [
        ({"frame_stack": 0}, None, ValueError, "frame_stack must be"),
        ({"frame_stack": 2.0}, None, TypeError, "frame_stack must be"),
        ({"frame_leaves": "obs", "frame_stack": 2}, None, TypeError, "frame_leaves must be"),
        ({"frame_leaves": ()}, None, ValueError, "frame_leaves must hold"),
        ({"frame_leaves": ("obs",)}, None, TypeError, "frame_stack must be"),
        ({"frame_stack": 2}, {"obs": np.zeros((1, 2, 3))}, ValueError, "frame_leaves must name"),
        (
            {"frame_stack": 2, "frame_leaves": ("x",)},
            {"obs": np.zeros((1, 2, 3))},
            ValueError,
            "names 'x', which is not a leaf",
        ),
        (
            {"frame_stack": 3, "frame_leaves": ("obs",)},
            {"obs": np.zeros((1, 2, 3))},
            ValueError,
            "expects stacked leaves with 3 frames on axis 0",
        ),
        (
            {"frame_stack": 2, "frame_leaves": ("a", "b")},
            {"a": np.zeros((1, 2, 3)), "b": np.zeros((1, 2, 4))},
            ValueError,
            "must all have one shape and dtype",
        ),
    ],
)
def test_bad_frame_arguments_are_refused(kwargs, batch, error, match) -> None:
    if batch is None:
        with pytest.raises(error, match=match):
            ReplayBuffer(4, **kwargs)
        return
    buffer = ReplayBuffer(4, **kwargs)
    with pytest.raises(error, match=match):
        buffer.add(batch)
    assert len(buffer) == 0 and buffer.example is None  # refused whole: a later layout may fit
    with pytest.raises(error, match=match):
        ReplayBuffer(4, example=batch, **kwargs)


def test_a_checkpoint_holds_each_frame_once(frame_stream, tmp_path) -> None:
    """rlu.dump of a frame_stack buffer: the frames its items read, once; loads to equal samples."""
    from rlu_serialize import dump, load

    plain = PrioritizedReplayBuffer(200, random_seed=3)
    compact = PrioritizedReplayBuffer(200, random_seed=3, frame_stack=4)
    for batch in frame_stream(4, 3, None, 0.02, 80, 300, 1):  # wraps around: frames freed
        plain.add(batch)
        compact.add(batch)
    sizes = [len(pickle.dumps(b, protocol=5)) for b in (plain, compact)]
    frame_bytes = compact._frames.store._data[0].nbytes
    assert compact._frames.store.__getstate__()["data"].shape[0] == compact.stored_frames
    assert compact.stored_frames < 1.2 * len(compact)
    # frames of 12 bytes: the pickle saves the stacks' bytes, less 5 words of bookkeeping
    # per item and frame (references, and each frame's slot, prev, count and fingerprint)
    saved = (2 * 4 * len(compact) - compact.stored_frames) * frame_bytes
    bookkeeping = 8 * (2 * len(compact) + 4 * compact.stored_frames)
    assert sizes[0] - sizes[1] > 0.9 * saved - bookkeeping
    dump(compact, tmp_path / "pixels.lz4")
    loaded = load(tmp_path / "pixels.lz4")
    _same(plain.sample(32, rng=4), loaded.sample(32, rng=4))
    assert loaded.stored_frames == compact.stored_frames


def test_stacks_of_another_unsigned_dtype_are_cast_then_shared() -> None:
    """uint16 stacks into uint8 storage (numpy's same_kind rule): stored and found as uint8."""
    stacks = np.array([[[1, 1], [1, 2]], [[1, 2], [2, 3]]], np.uint8)  # (2 items, 2 frames, 2)
    plain = ReplayBuffer(8, random_seed=0)
    compact = ReplayBuffer(8, random_seed=0, frame_stack=2, frame_leaves=("obs",))
    for buffer in (plain, compact):
        buffer.add({"obs": stacks})
        buffer.add({"obs": stacks.astype(np.uint16) + 256})  # wraps to the same uint8 values
    assert compact.stored_frames == 3  # [1 1], [1 2], [2 3]: the uint16 stacks found them
    x, y = plain.sample(16, rng=0), compact.sample(16, rng=0)
    np.testing.assert_array_equal(x.batch["obs"], y.batch["obs"])
    assert y.batch["obs"].dtype == np.uint8


def test_a_cast_that_reinterprets_nothing() -> None:
    """int32 stacks into float32 storage are cast by value: never matched by their raw bytes."""
    ones = np.ones((1, 2, 3), np.float32)
    plain = ReplayBuffer(4, random_seed=0)
    compact = ReplayBuffer(4, random_seed=0, frame_stack=2, frame_leaves=("obs",))
    for buffer in (plain, compact):
        buffer.add({"obs": ones})
        buffer.add({"obs": ones.view(np.int32)})  # the bytes of 1.0, the value 1065353216
    x, y = plain.sample(8, rng=0), compact.sample(8, rng=0)
    np.testing.assert_array_equal(x.batch["obs"], y.batch["obs"])
    assert compact.stored_frames == 2


def test_observations_of_one_frame_each() -> None:
    """frame_stack=1, frame_axis=None: no stack axis; S_next is stored once as the next S."""
    obs = np.arange(5 * 3, dtype=np.float32).reshape(5, 3)  # an episode's 5 observations
    batch = {"obs": obs[:-1], "next_obs": obs[1:], "r": np.ones(4)}
    buffer = ReplayBuffer(10, frame_stack=1, frame_axis=None, frame_leaves=("obs", "next_obs"))
    buffer.add(batch)
    assert buffer.stored_frames == 5
    got = buffer.sample(8, rng=0).batch
    assert got["obs"].shape == (8, 3)
    np.testing.assert_array_equal(got["next_obs"], got["obs"] + 3)
    with pytest.raises(ValueError, match="frame_axis=None means observations of one frame"):
        ReplayBuffer(4, frame_stack=2, frame_axis=None, frame_leaves=("obs",)).add(batch)


def test_a_refused_batch_leaves_no_frames_behind() -> None:
    """A cast that raises on the second stacked leaf: the first leaf's frames are not kept."""
    example = {k: np.zeros((0, 2, 3), np.float32) for k in "ab"}
    buffer = ReplayBuffer(4, example=example, frame_stack=2, frame_leaves=("a", "b"))
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        buffer.add({"a": np.ones((1, 2, 3)), "b": np.full((1, 2, 3), 1e300)})
    assert len(buffer) == 0 and buffer.stored_frames == 0


def test_one_leaf_named_twice_is_refused() -> None:
    buffer = ReplayBuffer(8, frame_stack=2, frame_leaves=("obs", "['obs']"))
    with pytest.raises(ValueError, match=r"names the leaf \['obs'\] twice"):
        buffer.add({"obs": np.zeros((3, 2, 5), np.uint8)})
    assert buffer.example is None


def test_frame_axis_is_checked_even_without_frame_stack() -> None:
    with pytest.raises(TypeError, match="frame_axis must be an int"):
        ReplayBuffer(4, frame_axis="x")
    with pytest.raises(TypeError, match="frame_stack must be an int >= 1, got bool: True"):
        ReplayBuffer(4, frame_stack=True)
