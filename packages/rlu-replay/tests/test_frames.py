"""The frame store behind ``frame_stack``: stacks in, the same stacks out, each frame kept once.

The truth is the input itself: whatever stacks went in (random junk, repeats, padded stacks,
stacks that share frames in any order) come back byte for byte, and the reference counts equal
a recount of who refers to whom.
"""

from __future__ import annotations

import pickle

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_replay._frames import FrameStore

PALETTE = 5  # few distinct frames, so that stacks share frames and fingerprints collide


def _frames(index: np.ndarray) -> np.ndarray:
    """Frames of shape (3, 2) uint8 numbered by ``index``: frame ``i`` is all ``i`` but one byte."""
    out = np.zeros((*index.shape, 3, 2), np.uint8)
    out[...] = index[..., None, None]
    out[..., 0, 0] = 7  # equal sums for 0..PALETTE would be a different frame: see _clash
    return out


def _clash() -> np.ndarray:
    # two frames whose 64-bit word sums agree but whose bytes differ: a fingerprint collision
    a = np.zeros((2, 8), np.uint8)
    b = np.zeros((2, 8), np.uint8)
    a[0, 0], a[1, 0] = 1, 2
    b[0, 0], b[1, 0] = 2, 1
    return np.stack([a, b])


def _recount(store: FrameStore, held: list[int]) -> np.ndarray:
    """The reference counts a brute-force walk finds: one per slot of each held stack."""
    count = np.zeros(store.resident, np.int64)
    for ref in held:
        s = ref
        for _ in range(store.stack):
            count[s] += 1
            s = store._prev[s]
    return count


def _check_invariants(store: FrameStore, held: list[int]) -> None:
    free = set(store._free)
    assert len(free) == len(store._free), "a slot is free twice"
    live = [s for s in range(store.resident) if s not in free]
    np.testing.assert_array_equal(store._count[live], _recount(store, held)[live])
    assert all(store._count[s] > 0 for s in live), "a live slot nobody refers to"
    for ref in held:
        for s in store.slots(np.array([ref]))[0]:
            assert int(s) not in free, "a held stack reaches a freed frame"
    for found in store._index.values():
        candidates = [found] if isinstance(found, int) else found
        assert len(candidates) >= 1 + (not isinstance(found, int))  # a list holds two or more
        assert all(s not in free for s in candidates)


@settings(max_examples=150, deadline=None)
@given(
    k=st.integers(1, 4),
    ops=st.lists(
        st.one_of(
            st.tuples(
                st.just("add"), st.lists(st.integers(0, PALETTE - 1), min_size=4, max_size=4)
            ),
            st.tuples(st.just("drop"), st.integers(0, 10**6)),
        ),
        max_size=60,
    ),
)
def test_stacks_come_back_exactly_and_counts_match_a_recount(k: int, ops: list) -> None:
    store = FrameStore(k, (3, 2), np.dtype(np.uint8), slots=2)  # tiny: it must grow
    held: list[tuple[int, np.ndarray]] = []
    for op, arg in ops:
        if op == "add":
            stack = _frames(np.array(arg[:k]))
            ref = int(store.intake(stack[None])[0])
            held.append((ref, stack))
        elif held:
            ref, _ = held.pop(arg % len(held))
            store.release(np.array([ref]))
        for ref, stack in held:
            np.testing.assert_array_equal(store.gather(np.array([ref]))[0], stack)
        _check_invariants(store, [r for r, _ in held])
    clone = pickle.loads(pickle.dumps(store))
    for ref, stack in held:
        np.testing.assert_array_equal(clone.gather(np.array([ref]))[0], stack)
    _check_invariants(clone, [r for r, _ in held])
    for ref, _ in held:
        store.release(np.array([ref]))
    assert store.live == 0 and not store._index


def test_a_stream_of_stacks_keeps_each_frame_once() -> None:
    """Stacks of one episode, as a frame-stack wrapper gives them: one new frame per step."""
    k, steps = 4, 40
    store = FrameStore(k, (3, 2), np.dtype(np.uint8), slots=8)
    frames = np.arange(steps) + 10
    refs = []
    for t in range(steps):
        window = frames[np.maximum(np.arange(t - k + 1, t + 1), 0)]  # padded with frame 0
        refs.append(int(store.intake(_frames(window)[None])[0]))
    assert store.live == steps
    last = frames[np.arange(steps - k, steps)]
    np.testing.assert_array_equal(store.gather(np.array(refs[-1:]))[0], _frames(last))
    # the same stacks again (an n-step S beside the S_next that stored them): nothing new
    for t in range(steps):
        window = frames[np.maximum(np.arange(t - k + 1, t + 1), 0)]
        assert int(store.intake(_frames(window)[None])[0]) == refs[t]
    assert store.live == steps


def test_frames_with_equal_fingerprints_are_told_apart() -> None:
    a, b = _clash()
    store = FrameStore(2, (2, 8), np.dtype(np.uint8), slots=4)
    assert store._fingerprint(a) == store._fingerprint(b)
    ra = int(store.intake(np.stack([a, a])[None])[0])
    rb = int(store.intake(np.stack([b, b])[None])[0])
    assert ra != rb
    np.testing.assert_array_equal(store.gather(np.array([ra, rb])), [[a, a], [b, b]])


def test_frames_of_odd_byte_sizes() -> None:
    store = FrameStore(2, (3,), np.dtype(np.uint8), slots=2)  # 3 bytes: no 64-bit word
    stacks = np.array([[[1, 2, 3], [4, 5, 6]], [[4, 5, 6], [4, 5, 7]]], np.uint8)
    refs = store.intake(stacks)
    np.testing.assert_array_equal(store.gather(refs), stacks)
    assert store.live == 3  # [4, 5, 6] is found again, and [4, 5, 7] differs only in its tail


def test_a_freed_frame_is_never_found_again() -> None:
    """A live frame's prev may be a freed slot that still holds its old bytes: not a match."""
    a, b, c, d = _frames(np.array([1, 2, 3, 4]))
    store = FrameStore(2, (3, 2), np.dtype(np.uint8), slots=8)
    first = store.intake(np.stack([a, b])[None])  # a pads, b follows it
    store.intake(np.stack([b, c])[None])  # keeps b alive, not a
    store.release(first)  # a is freed; b's prev still names its slot
    again = store.intake(np.stack([a, b])[None])  # must not revive the freed slot
    store.intake(np.stack([d, d])[None])  # takes the freed slot, if it is still free
    np.testing.assert_array_equal(store.gather(again)[0], [a, b])


def test_a_reloaded_store_finds_its_frames_in_another_process(tmp_path) -> None:
    """Fingerprints do not depend on the process (Python's hash is salted per process)."""
    import subprocess
    import sys

    store = FrameStore(2, (3,), np.dtype(np.uint8), slots=4)  # 3 bytes: all of it the tail
    stack = np.array([[[1, 2, 3], [4, 5, 6]]], np.uint8)
    store.intake(stack)
    (tmp_path / "store.pkl").write_bytes(pickle.dumps(store))
    code = (
        "import pickle, sys, numpy as np\n"
        f"store = pickle.loads(open({str(tmp_path / 'store.pkl')!r}, 'rb').read())\n"
        "store.intake(np.array([[[1, 2, 3], [4, 5, 6]]], np.uint8))\n"
        "print(store.live)\n"
    )
    for seed in ("1", "2"):
        env = {"PYTHONHASHSEED": seed, "PATH": ""}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "2"  # found again: no frame stored twice
