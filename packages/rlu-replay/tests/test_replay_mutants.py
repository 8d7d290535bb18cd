"""Tests for mutants that survived ``hatch run mutate:replay`` (see CONTRIBUTING.md).

Each test says which mutated line it fails on. The expected values are worked out by hand.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from rlu_replay import NStepTracer, PrioritizedReplayBuffer, ReplayBuffer


def test_a_uniform_buffer_refuses_capacity_zero():
    # Survivor: `check_int("capacity", capacity, minimum=0)` in ReplayBuffer.__init__ (the
    # prioritized buffer's SumTree refuses 0 with the same message, so only the uniform one shows).
    with pytest.raises(ValueError, match="capacity must be an int >= 1, got 0"):
        ReplayBuffer(0)


def test_an_identifier_never_handed_out_is_not_live():
    # Survivors: `np.full(capacity, +1)` (and `- 0`) for the slots' identifiers in
    # ReplayBuffer.__init__: the empty slot 1 (or 0) then holds identifier 1 (or 0), and an update
    # for it lands on an empty slot.
    buffer = PrioritizedReplayBuffer(4, alpha=1.0, epsilon=0.0)
    assert buffer.update_priorities([0], [5.0]) == 0
    assert buffer.add({"x": np.zeros(1)}, priorities=[1.0]).tolist() == [0]
    assert buffer.update_priorities([1], [5.0]) == 0
    assert buffer.total_priority == 1.0


@pytest.mark.parametrize("cls", [ReplayBuffer, PrioritizedReplayBuffer])
def test_a_flat_dict_with_an_extra_key_is_refused(cls):
    # Survivor: `len(batch) != len(self._flat_keys)` in _checked_leaves, which takes a dict with
    # more keys than the stored ones down the fast path and drops the extra key.
    buffer = cls(4)
    buffer.add({"x": np.zeros(2)})
    with pytest.raises(ValueError, match="different structure"):
        buffer.add({"x": np.zeros(2), "y": np.zeros(2)})
    assert len(buffer) == 2


@pytest.mark.parametrize("first", [True, False])
def test_leaves_of_different_lengths_are_refused_when_the_first_is_empty(first):
    # Survivors: `if size < 1` in _checked_leaves and `size >= 1 and s[0] != size` in
    # _fast_check; both stop comparing lengths after a first leaf of 0 items.
    buffer = ReplayBuffer(4)
    if not first:
        buffer.add({"a": np.zeros(2), "b": np.zeros(2)})
    with pytest.raises(ValueError, match=r"\['b'\] has 3 items, but \['a'\] has 0"):
        buffer.add({"a": np.zeros(0), "b": np.zeros(3)})
    assert len(buffer) == (0 if first else 2)


def test_a_leaf_with_the_wrong_batch_size_is_refused_whatever_its_last_axis():
    # Survivor: `s[-1] != size` in _fast_check: a (3, 2) leaf passes for a batch of 2, and numpy
    # fails the copy after the first leaf is written.
    buffer = ReplayBuffer(4)
    buffer.add({"a": np.zeros(2), "b": np.zeros((2, 2))})
    with pytest.raises(ValueError, match=r"\['b'\] has 3 items, but \['a'\] has 2"):
        buffer.add({"a": np.ones(2), "b": np.zeros((3, 2))})
    assert len(buffer) == 2


def test_a_leaf_with_an_extra_axis_is_refused_by_its_shape():
    # Survivor: `s[2:] != shape` in _fast_check, which lets a (2, 5, 3) leaf pass for stored items
    # of shape (3,); numpy then fails the copy with its own message.
    buffer = ReplayBuffer(4)
    buffer.add({"x": np.zeros((2, 3))})
    with pytest.raises(ValueError, match=r"shape \(2, 5, 3\), but the buffer stores .* \(3,\)"):
        buffer.add({"x": np.zeros((2, 5, 3))})


def test_alpha_and_beta_must_not_be_negative():
    # Survivors: `low=-1.0` in the checks of alpha (constructor and setter) and beta (setter).
    with pytest.raises(ValueError, match="alpha must be"):
        PrioritizedReplayBuffer(4, alpha=-0.5)
    with pytest.raises(ValueError, match="beta must be"):
        PrioritizedReplayBuffer(4, beta=-0.5)
    buffer = PrioritizedReplayBuffer(4)
    for bad in (-0.5, 1.5):  # also `high=2.0` in the setters
        with pytest.raises(ValueError, match="alpha must be"):
            buffer.alpha = bad
        with pytest.raises(ValueError, match="beta must be"):
            buffer.beta = bad
    assert (buffer.alpha, buffer.beta) == (0.6, 0.4)
    buffer.beta = 0.5  # `low=1.0` or `high=0.0` in the beta setter would refuse it
    assert buffer.beta == 0.5


def test_the_random_seed_drives_the_default_sampler():
    # Survivor: `self._rng.integers(1**63)` in _tree_seed, which seeds every buffer's SumTree
    # with 0 whatever its random_seed.
    def draws(seed: int) -> list[int]:
        buffer = PrioritizedReplayBuffer(64, random_seed=seed)
        buffer.add({"x": np.arange(64)})
        return buffer.sample(32).idx.tolist()

    assert draws(1) == draws(1)
    assert draws(1) != draws(2)


def test_a_tuple_added_to_a_buffer_of_dicts_is_refused_as_a_structure():
    # Survivor: `type(batch) is not dict` in PrioritizedReplayBuffer.add, which takes the dict
    # fast path for a tuple and fails inside it with a TypeError.
    buffer = PrioritizedReplayBuffer(4)
    buffer.add({"x": np.zeros(2)})
    with pytest.raises(ValueError, match="different structure"):
        buffer.add((np.zeros(2),))


def test_alpha_reweights_items_added_with_the_default_priority():
    # Survivor: `self._base[start : start - size] = self._max_base` in PrioritizedReplayBuffer.add
    # (a batch that is not a flat dict, default priority): slots 3 and 4 get an empty slice
    # `[3:1]`, keep a base of 0, and re-weighting by alpha turns them to 0. Bases 1, 1, 4, then
    # the largest so far, 4 and 4: 14; sqrt gives 1 + 1 + 2 + 2 + 2.
    buffer = PrioritizedReplayBuffer(8, alpha=1.0, epsilon=0.0)
    buffer.add((np.zeros(3),), priorities=[1.0, 1.0, 4.0])
    buffer.add((np.zeros(2),))
    assert buffer.total_priority == 14.0
    buffer.alpha = 0.5
    assert buffer.total_priority == 8.0


def test_updating_no_identifiers_applies_none():
    # Survivor: `return -1` for an empty `idx` in update_priorities.
    buffer = PrioritizedReplayBuffer(4, alpha=1.0, epsilon=0.0)
    buffer.add({"x": np.zeros(2)})
    assert buffer.update_priorities(np.zeros(0, dtype=np.int64), np.zeros(0)) == 0
    assert buffer.total_priority == 2.0


def test_queued_runs_of_new_items_merge_only_when_adjacent():
    # Survivor: `entry[1] == run_stop` in _flush_queue, which merges the run (0, 4) into the run
    # (2, 4) that ends where it ends, and so drops the write to slots 0 and 1. Priorities: slots 0
    # and 1 start at 0.5; the later adds give every slot the largest priority so far, 1.
    buffer = PrioritizedReplayBuffer(4, alpha=1.0, epsilon=0.0)
    buffer.add({"x": np.zeros(2)}, priorities=[0.5, 0.5])
    buffer.add({"x": np.zeros(2)})  # slots 2, 3: the run (2, 4)
    buffer.add({"x": np.zeros(4)})  # slots 0 to 3: the run (0, 4)
    assert buffer.total_priority == 4.0


def test_queued_runs_of_new_items_across_the_wrap():
    # Survivor: `entry[-1] == run_stop` in _flush_queue: the run (0, 1) of value 4 follows the run
    # (3, 4) and is merged into it because its value equals that run's stop, which leaves the
    # empty run (3, 1): slot 3 is never written. Four slots of priority 4.
    buffer = PrioritizedReplayBuffer(4, alpha=1.0, epsilon=0.0)
    buffer.add({"x": np.zeros(3)}, priorities=[4.0, 4.0, 4.0])
    assert buffer.total_priority == 12.0
    buffer.add({"x": np.zeros(1)})  # slot 3: the run (3, 4)
    buffer.add({"x": np.zeros(1)})  # slot 0: the run (0, 1)
    assert buffer.total_priority == 16.0


def test_stats_report_the_smallest_priority():
    # Survivor: `if not self._size` in _stats (what a Ray shard reports): inf with items, and the
    # empty tree's root without.
    buffer = PrioritizedReplayBuffer(4, alpha=1.0, epsilon=0.0)
    assert (buffer.total_priority, buffer.min_priority, len(buffer)) == (0.0, math.inf, 0)
    buffer.add({"x": np.zeros(2)}, priorities=[1.0, 4.0])
    assert (buffer.total_priority, buffer.min_priority, len(buffer)) == (5.0, 1.0, 2)
    buffer.clear()
    assert (buffer.total_priority, buffer.min_priority, len(buffer)) == (0.0, math.inf, 0)


def test_sampling_zero_items_with_a_generator_is_refused():
    # Survivor: `n < 0` in PrioritizedReplayBuffer.sample: with an rng the SumTree's own check of
    # n is never reached, and an empty sample comes back.
    buffer = PrioritizedReplayBuffer(4)
    buffer.add({"x": np.zeros(2)})
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        buffer.sample(0, rng=0)
    # Survivor: `type(n) is int or n < 1`, which skips the check of a float or a bool
    for bad in (2.0, True):
        with pytest.raises(TypeError, match="n must be an int"):
            buffer.sample(bad, rng=0)  # type: ignore[arg-type]
    assert buffer.sample_calls == 0


def test_importing_rlu_replay_loads_neither_gymnasium_nor_rlu_envtools():
    # Survivor: `if not TYPE_CHECKING:` in _tracer, which imports rlu_envtools (and gymnasium) with
    # rlu_replay; NStepTracer imports it only when a tracer is made.
    code = "import sys, rlu_replay; print(sorted({'gymnasium', 'rlu_envtools'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_logp_defaults_to_zero():
    # Survivor: `logp: float = 1.0` as the default of NStepTracer.add.
    tracer = NStepTracer(n=1, gamma=0.9)
    batch = tracer.add(np.zeros(2), 0, 1.0, True, False, np.ones(2))
    assert batch is not None
    assert batch.logP.tolist() == [0.0]
