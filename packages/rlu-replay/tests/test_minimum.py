"""The buffer's smallest sampling value (rlu_replay._minimum): against ``min`` by brute force."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_replay import PrioritizedReplayBuffer
from rlu_replay._minimum import BlockMinimum

# few distinct values: ties everywhere, so walks stop, rescans happen and old minima repeat
VALUES = st.sampled_from([0.0, 0.5, 1.0, 1.0, 2.0, 3.0, 7.0])


@settings(max_examples=150, deadline=None)
@given(
    capacity=st.sampled_from([1, 2, 63, 64, 65, 130, 4096, 4097, 9000]),
    rounds=st.lists(
        st.tuples(
            st.integers(0, 200),  # how many slots to fill more
            st.lists(st.tuples(st.integers(0, 10**6), VALUES), max_size=60),  # writes
        ),
        min_size=1,
        max_size=6,
    ),
    data=st.data(),
)
def test_repairs_keep_every_entry_what_a_rebuild_gives(capacity, rounds, data):
    """Slots fill from 0 up; each round writes values (repeats allowed) to filled slots, as
    the buffer does, then repairs. The minimum is always ``min(p[:filled])`` (inf when none)
    and every entry of every level equals the entry a rebuild from scratch computes."""
    p = np.zeros(capacity)  # a leaf that was never written holds 0.0, as a SumTree's does
    minimum = BlockMinimum(capacity)
    filled = 0
    for grow, writes in rounds:
        new = list(range(filled, min(filled + grow, capacity)))
        filled = min(filled + grow, capacity)
        slots = new + [slot % filled for slot, _ in writes] if filled else []
        if not slots:
            continue
        values = [data.draw(VALUES) for _ in new] + [v for _, v in writes]
        slots_arr = np.array(slots, dtype=np.int64)
        old = p[slots_arr]
        p[slots_arr] = values  # repeats: the last write wins, as numpy's assignment
        minimum.repair(p, filled, slots_arr, old)
        assert minimum.value == (p[:filled].min() if filled else np.inf)
        fresh = BlockMinimum(capacity)
        fresh.rebuild(p, filled)
        np.testing.assert_array_equal(minimum._mins, fresh._mins)


def test_slots_not_yet_filled_do_not_count():
    p = np.array([4.0, 2.0, 0.0, 0.0])
    minimum = BlockMinimum(4)
    minimum.rebuild(p, 2)
    assert minimum.value == 2.0
    minimum.rebuild(p, 0)
    assert minimum.value == np.inf


def test_single_adds_count_as_filled_when_the_minimum_grows():
    # the old minimum's slot grows: its block is read again, and the slots added one at a
    # time (the queue's fast path) must be among those read
    buffer = PrioritizedReplayBuffer(8, alpha=1.0, epsilon=0.0)
    for _ in range(3):
        buffer.add_single({"x": 0.0})
    buffer.update_priorities([0], [0.5])
    assert buffer.min_priority == 0.5
    buffer.update_priorities([0], [2.0])
    assert buffer.min_priority == 1.0


@settings(max_examples=40, deadline=None)
@given(
    priorities=st.lists(st.floats(0.0, 50.0), min_size=1, max_size=300),
    updates=st.lists(st.tuples(st.integers(0, 10**6), st.floats(0.0, 50.0)), max_size=80),
    capacity=st.sampled_from([5, 64, 200]),
    alpha=st.sampled_from([0.0, 0.6, 1.0]),
)
def test_the_buffer_minimum_is_the_smallest_p_of_its_items(priorities, updates, capacity, alpha):
    """Through the buffer: adds that wrap around, updates, a change of alpha and a pickle
    round trip; ``min_priority`` is always the smallest ``(priority + eps) ** alpha`` held."""
    eps = 1e-3
    buffer = PrioritizedReplayBuffer(capacity, alpha=alpha, epsilon=eps)
    held: dict[int, float] = {}  # slot -> priority + eps
    for i, prio in enumerate(priorities):
        buffer.add({"x": np.zeros(1)}, priorities=[prio])
        held[i % capacity] = prio + eps
    serial = len(priorities)
    live = list(range(max(0, serial - capacity), serial))
    for pick, prio in updates:
        ident = live[pick % len(live)]
        buffer.update_priorities([ident], [prio])
        held[ident % capacity] = prio + eps

    def expected(a: float) -> float:
        return min(b**a for b in held.values())

    assert buffer.min_priority == pytest.approx(expected(alpha), rel=1e-12)
    buffer.alpha = 0.5
    assert buffer.min_priority == pytest.approx(expected(0.5), rel=1e-12)
    restored = pickle.loads(pickle.dumps(buffer))
    assert restored.min_priority == pytest.approx(expected(0.5), rel=1e-12)
    restored.update_priorities([live[-1]], [0.0])
    assert restored.min_priority == pytest.approx(eps**0.5, rel=1e-12)


def test_a_buffer_saved_by_rlu_replay_0_4_1_loads_with_its_minimum(compat_loads):
    """0.4.1 pickled a MinTree; its buffer loads with the same minimum, total, draws and
    weights, and its minimum keeps up with later updates (see the fixture's writer)."""
    fixture = Path(__file__).parent / "fixtures" / "prioritized_replay0.4.1.pkl"
    saved, expected = compat_loads(fixture.read_bytes())
    buffer = compat_loads(saved)
    assert buffer.min_priority == expected["min"]
    assert buffer.total_priority == expected["total"]
    batch, idx, weights = buffer.sample(16)
    np.testing.assert_array_equal(idx, expected["idx"])
    np.testing.assert_array_equal(batch["x"], expected["x"])
    np.testing.assert_allclose(weights, expected["weights"], rtol=1e-12)
    buffer.update_priorities(np.array([45]), np.array([2.0]))
    assert buffer.min_priority == expected["min after"]
