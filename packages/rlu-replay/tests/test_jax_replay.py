"""rlu_replay.jax against the host buffers and brute force: storage, draws, weights, updates."""

from __future__ import annotations

import pickle
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from rlu_replay import PrioritizedReplayBuffer, ReplayBuffer  # noqa: E402
from rlu_replay import jax as rj  # noqa: E402

ITEM = {"obs": jnp.zeros(3, jnp.float32), "action": jnp.int32(0)}
_JAX = tuple(int(part) for part in jax.__version__.split(".")[:2])
# what a compiled call raises when a host callback fails (jaxlib's name before JAX 0.4.36)
RUNTIME_ERROR: Any = getattr(jax.errors, "JaxRuntimeError", None)
if RUNTIME_ERROR is None:  # pragma: no cover - the floors' JAX
    from jaxlib.xla_extension import XlaRuntimeError as RUNTIME_ERROR


def _items(start: int, n: int) -> dict[str, np.ndarray]:
    k = np.arange(start, start + n)
    return {
        "obs": np.stack([k, -k, 2 * k], axis=1).astype(np.float32),
        "action": k.astype(np.int32),
    }


def _chi_square_ok(counts: np.ndarray, probs: np.ndarray) -> bool:
    """Pearson's test at the 0.1% level (Wilson-Hilferty quantile)."""
    keep = probs > 0
    assert counts[~keep].sum() == 0  # nothing of probability 0 is ever drawn
    counts, probs = counts[keep], probs[keep]
    expected = counts.sum() * probs
    stat = float(((counts - expected) ** 2 / expected).sum())
    k = len(probs) - 1
    return k == 0 or stat < k * (1 - 2 / (9 * k) + 3.09 * np.sqrt(2 / (9 * k))) ** 3


# ---------------------------------------------------------------------- storage and counters


@given(
    capacity=st.integers(1, 9),
    sizes=st.lists(st.integers(1, 12), min_size=1, max_size=6),
    prioritized=st.booleans(),
)
@settings(max_examples=40, deadline=None)
def test_adds_fill_the_ring_as_the_host_buffer_does(capacity, sizes, prioritized):
    """Batches of any size, longer than the ring too: slot for slot the same items and
    identifiers as rlu_replay.ReplayBuffer's."""
    host = ReplayBuffer(capacity)
    state = rj.init(ITEM, capacity) if prioritized else rj.init_uniform(ITEM, capacity)
    start = 0
    for n in sizes:
        batch = _items(start, n)
        host.add(batch)
        state = rj.add(state, batch)
        start += n
    size = len(host)
    assert int(state.size) == size and int(state.inserted) == host.inserted
    np.testing.assert_array_equal(state.serial[:size], host._serial[:size])
    np.testing.assert_array_equal(state.storage["obs"][:size], host._storage[1][:size])
    np.testing.assert_array_equal(state.storage["action"][:size], host._storage[0][:size])
    if prioritized:  # every stored item has the first priority (1), the rest none
        np.testing.assert_array_equal(state.sums.values, (np.arange(capacity) < size) * 1.0)


def test_dtypes_cast_where_same_kind_allows_and_are_refused_otherwise():
    state = rj.init_uniform(ITEM, 4)
    state = rj.add(state, {"obs": np.ones((2, 3), np.float64), "action": np.ones(2, np.int64)})
    assert state.storage["obs"].dtype == jnp.float32 and state.storage["action"].dtype == jnp.int32
    with pytest.raises(TypeError, match=r"batch leaf \['action'\] has dtype float32"):
        rj.add(state, {"obs": np.ones((2, 3), np.float32), "action": np.ones(2, np.float32)})
    with pytest.raises(ValueError, match=r"batch leaf \['obs'\] has shape \(2, 4\)"):
        rj.add(state, {"obs": np.ones((2, 4), np.float32), "action": np.ones(2, np.int32)})
    with pytest.raises(ValueError, match="different structure"):
        rj.add(state, {"obs": np.ones((2, 3), np.float32)})


# ---------------------------------------------------------------------- draws and weights


def _twins(
    priorities: np.ndarray, alpha: float, eps: float, beta: float = 0.4
) -> tuple[Any, PrioritizedReplayBuffer]:
    n = priorities.shape[0]
    host = PrioritizedReplayBuffer(2 * n, alpha=alpha, beta=beta, epsilon=eps, random_seed=0)
    host.add(_items(0, n), priorities=priorities)
    state = rj.add(rj.init(ITEM, 2 * n, alpha=alpha, epsilon=eps), _items(0, n))
    state = rj.update_priorities(state, jnp.arange(n), jnp.asarray(priorities))
    return state, host


@pytest.mark.parametrize("wide", [False, True], ids=["float32", "float64"])
@pytest.mark.parametrize("stratified", [False, True])
def test_draws_and_weights_match_brute_force_and_the_host_buffer(wide, stratified, x64):
    rng = np.random.default_rng(3)
    priorities = rng.random(12) * 4
    priorities[[2, 7]] = 0.0  # epsilon keeps them drawable
    alpha, eps, beta = 0.7, 0.05, 0.6
    with x64() if wide else _nothing():
        state, host = _twins(priorities, alpha, eps, beta)
        assert state.sums.dtype == (np.float64 if wide else np.float32)
        p = (priorities + eps) ** alpha  # brute force
        _, idx, weights = rj.sample(state, jax.random.key(1), 20_000, beta, stratified=stratified)
        idx, weights = np.asarray(idx), np.asarray(weights)
    counts = np.bincount(idx, minlength=12)
    assert _chi_square_ok(counts, p / p.sum())
    tol = 1e-12 if wide else 2e-6
    np.testing.assert_allclose(weights, (p.min() / p[idx]) ** beta, rtol=tol)
    _, host_idx, host_w = host.sample(2000, rng=0)
    np.testing.assert_allclose(host_w, (p.min() / p[host_idx]) ** beta, rtol=1e-12)
    assert _chi_square_ok(np.bincount(host_idx, minlength=12), p / p.sum())


def _nothing() -> Any:
    import contextlib

    return contextlib.nullcontext()


def test_stale_and_repeated_updates_follow_the_host_rules():
    """Item 0 is overwritten (capacity 3): its update is ignored, by both; repeats: the last
    one wins; new items get the largest priority given so far."""
    host = PrioritizedReplayBuffer(3, alpha=1.0, epsilon=0.0)
    state = rj.init(ITEM, 3, alpha=1.0, epsilon=0.0)
    for batch in (_items(0, 3), _items(3, 1)):
        host.add(batch)
        state = rj.add(state, batch)
    ids, prios = np.array([0, 1, 2, 1]), np.array([9.0, 4.0, 2.0, 3.0])
    assert host.update_priorities(ids, prios) == 3
    state = rj.update_priorities(state, jnp.asarray(ids), jnp.asarray(prios))
    expected = {0: 1.0, 1: 3.0, 2: 2.0}  # slot 0 holds item 3 (priority 1); slot 1: last wins
    np.testing.assert_array_equal(state.sums.values, [expected[s] for s in range(3)])
    assert float(state.max_base) == 4.0  # the 4.0 was applied before the 3.0 replaced it
    state = rj.add(state, _items(4, 1))  # item 4 into slot 1, at the largest priority
    assert float(state.sums.values[1]) == 4.0 and float(state.mins.root_value) == 1.0


def test_bad_priorities_are_skipped_inside_jit_and_keep_the_old_ones():
    state = rj.add(rj.init(ITEM, 4, alpha=1.0, epsilon=0.0), _items(0, 4))
    state = rj.update_priorities(state, jnp.arange(4), jnp.array([2.0, 3.0, 4.0, 5.0]))
    state = rj.update_priorities(state, jnp.arange(4), jnp.array([np.nan, -1.0, np.inf, 0.5]))
    np.testing.assert_array_equal(state.sums.values, [2.0, 3.0, 4.0, 0.5])
    assert float(state.mins.root_value) == 0.5 and float(state.max_base) == 5.0


def test_debug_checks_make_a_bad_priority_raise_but_not_a_stale_one():
    """Turned on after update_priorities was traced (its program cached): it still applies.
    The message names the entry of ``priorities`` and its identifier (it named the item's slot
    in the trees, which a user never sees: a user's trial of rlu)."""
    from rlu_trees.jax import debug_checks

    state = rj.add(rj.init(ITEM, 2, alpha=1.0), _items(0, 3))  # item 0 is stale
    state = rj.update_priorities(state, jnp.array([1, 2]), jnp.array([2.0, 1.0]))  # traced
    was = debug_checks(True)
    try:
        state = rj.update_priorities(state, jnp.array([0, 1]), jnp.array([-5.0, 1.0]))  # stale
        with pytest.raises(RUNTIME_ERROR, match=r"priorities\[1\] = nan, for identifier 1,"):
            rj.update_priorities(state, jnp.array([2, 1]), jnp.array([1.0, np.nan]))
        with pytest.raises(RUNTIME_ERROR, match=r"priorities\[0\] = -0.5, for identifier 2,"):
            rj.update_priorities(state, jnp.array([2]), jnp.array([-0.5]))
        with pytest.raises(RUNTIME_ERROR, match=r"priorities\[0\] = nan, .* \(2 such entries\)"):
            rj.update_priorities(state, jnp.array([2, 1]), np.nan)  # one number for both
        many = jax.vmap(lambda _: state)(jnp.arange(3))  # a batch of buffers: checked one by one
        with pytest.raises(RUNTIME_ERROR, match=r"priorities\[0\] = inf, for identifier 1,"):
            ids, priorities = jnp.ones((3, 1), jnp.int32), jnp.array([[1.0], [2.0], [np.inf]])
            jax.vmap(rj.update_priorities)(many, ids, priorities)
    finally:
        debug_checks(was)


def test_priorities_below_zero_are_bad_even_where_epsilon_would_lift_them():
    """As the host buffer: a priority of -0.05 with epsilon 0.1 is refused (skipped inside
    jit), not stored as 0.05."""
    host = PrioritizedReplayBuffer(4, alpha=1.0, epsilon=0.1)
    host.add(_items(0, 2))
    with pytest.raises(ValueError, match="finite and non-negative"):
        host.update_priorities([0], [-0.05])
    state = rj.add(rj.init(ITEM, 4, alpha=1.0, epsilon=0.1), _items(0, 2))
    state = rj.update_priorities(state, jnp.array([0, 1]), jnp.array([-0.05, 0.0]))
    np.testing.assert_allclose(state.sums.values[:2], [1.0, 0.1], rtol=1e-6)
    assert float(state.max_base) == 1.0


def test_negative_and_stale_identifiers_never_write():
    """Capacity 2, items 0, 1, 2: slot 0 holds item 2, so identifier 0 is stale, before or
    after item 2's live update in the same call; -1 (what an empty slot holds) and -2 are
    never live."""
    state = rj.add(rj.init(ITEM, 4, alpha=1.0, epsilon=0.0), _items(0, 1))
    state = rj.update_priorities(state, jnp.array([-1, -2, -3, -4]), jnp.full(4, 7.0))
    np.testing.assert_array_equal(state.sums.values, [1.0, 0.0, 0.0, 0.0])
    state = rj.add(rj.init(ITEM, 2, alpha=1.0, epsilon=0.0), _items(0, 3))
    for ids, prios in (([2, 0], [5.0, 9.0]), ([0, 2], [9.0, 5.0])):
        new = rj.update_priorities(state, jnp.array(ids), jnp.array(prios))
        np.testing.assert_array_equal(new.sums.values, [5.0, 1.0])
        assert float(new.max_base) == 5.0


def test_identifiers_wrap_around_their_period_and_stay_live():
    """In 32-bit mode, identifiers count modulo the largest multiple of the capacity below
    2^31: after the wrap, slot = identifier % capacity still, and updates still apply."""
    cap = 3
    state = rj.init(ITEM, cap, alpha=1.0, epsilon=0.0)
    period = state.identifier_period
    assert period % cap == 0 and period > 2**31 - 1 - cap
    start = period - 4  # four identifiers before the wrap
    state = state._replace(
        inserted=jnp.asarray(start, state.inserted.dtype),
        position=jnp.asarray(start % cap, state.position.dtype),
    )
    state = rj.add(rj.add(state, _items(0, 3)), _items(0, 3))  # the second one wraps
    np.testing.assert_array_equal(np.sort(np.asarray(state.serial)), [0, 1, period - 1])
    state = rj.add(state, _items(0, 3))
    expected_next = (start + 9) % period
    assert int(state.inserted) == expected_next == 5
    ids = np.asarray(state.serial)
    np.testing.assert_array_equal(np.sort(ids), [2, 3, 4])  # the last three, after the wrap
    np.testing.assert_array_equal(ids % cap, np.arange(cap))  # each in its slot
    state = rj.update_priorities(state, state.serial, jnp.array([5.0, 6.0, 7.0]))
    np.testing.assert_array_equal(state.sums.values, [5.0, 6.0, 7.0])
    _, idx, _ = rj.sample(state, jax.random.key(0), 8)
    assert set(np.asarray(idx).tolist()) <= {2, 3, 4}


@pytest.mark.parametrize("wide", [False, True], ids=["float32", "float64"])
def test_the_min_tree_holds_each_blocks_smallest_value_after_any_adds_and_updates(
    wide, x64, block_minima
):
    """Adds of any size (round the ring and past it) and updates with stale, repeated,
    negative and bad identifiers and priorities, on rings of 1 to 70 slots (up to 10 blocks
    of 8 or 16): the min tree's leaves are, by brute force, the smallest sampling value of
    each block's filled slots, and its root the smallest of all."""

    @given(
        # around the blocks' edges (a few shapes: each new one compiles the functions again)
        capacity=st.sampled_from([1, 2, 3, 8, 9, 15, 16, 17, 18, 33, 70]),
        steps=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 24)), min_size=1, max_size=5),
        seed=st.integers(0, 2**16),
    )
    @settings(max_examples=25, deadline=None)
    def run(capacity: int, steps: list[tuple[int, int]], seed: int) -> None:
        rng = np.random.default_rng(seed)
        state = rj.init(ITEM, capacity, alpha=0.7, epsilon=1e-3)
        for added, updated in steps:
            if added:
                state = rj.add(state, _items(int(state.inserted), added))
            inserted = int(state.inserted)
            ids = rng.integers(-2, inserted + 3, updated)
            given = rng.random(updated) * 10
            given[rng.random(updated) < 0.2] = rng.choice([np.nan, -1.0, np.inf, 0.0])
            if int(state.size) and updated:
                state = rj.update_priorities(state, jnp.asarray(ids), jnp.asarray(given))
            size = int(state.size)
            per_slot = np.where(np.arange(capacity) < size, state.sums.values, np.inf)
            np.testing.assert_array_equal(state.mins.values, block_minima(per_slot))
            assert float(state.mins.root_value) == per_slot.min()

    with x64() if wide else _nothing():
        run()


def test_huge_priorities_keep_the_minimum_and_the_weights_consistent():
    """The sum tree lowers values so that no sum overflows; the min tree gets the same
    values, so the largest weight stays 1."""
    state = rj.add(rj.init(ITEM, 1 << 10, alpha=1.0, epsilon=0.0), _items(0, 2))
    state = rj.update_priorities(state, jnp.array([0, 1]), jnp.array([1e36, 3e38]))
    sums = np.asarray(state.sums.values[:2])
    assert float(state.mins.root_value) == sums.min() and np.isfinite(state.sums.root_value)
    _, _, weights = rj.sample(state, jax.random.key(0), 64, beta=1.0)
    assert float(jnp.max(weights)) <= 1.0


def test_a_batch_of_buffers_says_to_use_vmap():
    states = jax.vmap(lambda _: rj.add(rj.init(ITEM, 8), _items(0, 2)))(jnp.arange(3))
    for call in (
        lambda: rj.sample(states, jax.random.key(0), 2),
        lambda: rj.add(states, _items(0, 1)),
        lambda: rj.update_priorities(states, jnp.arange(1), jnp.ones(1)),
    ):
        with pytest.raises(ValueError, match=r"batch of buffers .*\(3, 8\).*jax.vmap"):
            call()


def test_sample_refuses_an_empty_buffer_and_bad_arguments():
    state = rj.init(ITEM, 4)
    with pytest.raises(RuntimeError, match="empty buffer"):
        rj.sample(state, jax.random.key(0), 2)
    zero = rj.add(rj.init(ITEM, 4, epsilon=0.0), _items(0, 2))
    zero = rj.update_priorities(zero, jnp.arange(2), jnp.zeros(2))
    with pytest.raises(RuntimeError, match="every stored item has priority 0"):
        rj.sample(zero, jax.random.key(0), 2)
    state = rj.add(state, _items(0, 1))
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        rj.sample(state, jax.random.key(0), 0)
    with pytest.raises(TypeError, match="stratified must be a bool"):
        rj.sample(state, jax.random.key(0), 2, stratified="yes")
    with pytest.raises(TypeError, match="state must be a PrioritizedReplayState"):
        rj.update_priorities(rj.init_uniform(ITEM, 4), jnp.arange(1), jnp.ones(1))


def test_a_uniform_state_draws_uniformly_over_the_stored_items():
    state = rj.add(rj.init_uniform(ITEM, 16), _items(0, 10))
    batch, idx, weights = rj.sample(state, jax.random.key(2), 20_000)
    counts = np.bincount(np.asarray(idx), minlength=16)
    assert _chi_square_ok(counts, np.r_[np.full(10, 0.1), np.zeros(6)])
    np.testing.assert_array_equal(batch["action"], idx)  # item k holds action k
    assert (np.asarray(weights) == 1.0).all()


# ---------------------------------------------------------------------- composes like JAX code


def _step(state: Any, key: jax.Array, batch: Any) -> tuple[Any, jax.Array]:
    state = rj.add(state, batch)
    sample = rj.sample(state, key, 16, 0.5, stratified=True)
    td = sample.batch["obs"][:, 0] % 3.0  # a made-up TD error of the drawn items
    return rj.update_priorities(state, sample.idx, td), sample.idx


def test_a_scan_of_steps_equals_the_steps_one_by_one():
    keys = jax.random.split(jax.random.key(4), 6)
    batches = jax.tree.map(lambda x: x.reshape(6, 8, *x.shape[1:]), _items(0, 48))
    state = rj.init(ITEM, 32)
    scanned, drawn = jax.jit(lambda s, xs: jax.lax.scan(lambda c, x: _step(c, *x), s, xs))(
        state, (keys, batches)
    )
    one_by_one = state
    for t in range(6):
        batch = jax.tree.map(lambda x, t=t: x[t], batches)
        one_by_one, idx = _step(one_by_one, keys[t], batch)
        np.testing.assert_array_equal(drawn[t], idx)
    for a, b in zip(jax.tree.leaves(scanned), jax.tree.leaves(one_by_one), strict=True):
        np.testing.assert_array_equal(a, b)


def test_vmapped_buffers_each_equal_a_buffer_built_alone():
    seeds = 4
    keys = jax.random.split(jax.random.key(5), seeds)
    batch = _items(0, 8)
    many = jax.vmap(lambda _: rj.init(ITEM, 16))(jnp.arange(seeds))
    many, drawn = jax.jit(jax.vmap(_step, in_axes=(0, 0, None)))(many, keys, batch)
    for k in range(seeds):
        alone, idx = _step(rj.init(ITEM, 16), keys[k], batch)
        np.testing.assert_array_equal(drawn[k], idx)
        np.testing.assert_array_equal(many.sums.values[k], alone.sums.values)


def test_single_item_adds_in_a_scan_and_under_vmap_fill_each_ring_as_one_by_one():
    """Adds of one item (written as a slice, not a scatter) round the ring under vmap, where
    each buffer's slot differs, and as a scan carry."""
    seeds, steps, capacity = 3, 7, 4
    items = jax.tree.map(
        lambda x: x.reshape(seeds, steps, 1, *x.shape[1:]), _items(0, seeds * steps)
    )
    # buffer k starts k items in, so that the buffers write different slots on each step
    offsets = [rj.init(ITEM, capacity) for _ in range(seeds)]
    for k in range(seeds):
        for j in range(k):
            offsets[k] = rj.add(offsets[k], _items(100 + j, 1))
    many = jax.tree.map(lambda *xs: jnp.stack(xs), *offsets)
    scan = jax.jit(
        jax.vmap(lambda s, xs: jax.lax.scan(lambda c, x: (rj.add(c, x), None), s, xs)[0])
    )
    many = scan(many, items)
    for k in range(seeds):
        alone = offsets[k]
        for t in range(steps):
            alone = rj.add(alone, jax.tree.map(lambda x, k=k, t=t: x[k, t], items))
        for a, b in zip(jax.tree.leaves(many), jax.tree.leaves(alone), strict=True):
            np.testing.assert_array_equal(a[k], b)
        host = ReplayBuffer(capacity)
        for j in range(k):
            host.add(_items(100 + j, 1))
        for t in range(steps):
            host.add(_items(k * steps + t, 1))
        np.testing.assert_array_equal(alone.serial, host._serial)
        np.testing.assert_array_equal(alone.storage["obs"], host._storage[1])


def _learner_step(state: Any, key: jax.Array, batch: Any) -> tuple[Any, jax.Array]:
    """A DQN's step: the weights feed the loss, which nothing of the buffer reads."""
    state = rj.add(state, batch)
    sample = rj.sample(state, key, 16, 0.5)
    td = sample.batch["obs"][:, 0] % 3.0
    return rj.update_priorities(state, sample.idx, td), jnp.mean(sample.weights * td**2)


def _two_updates(state: Any, key: jax.Array, batch: Any) -> tuple[Any, jax.Array]:
    """Two learner updates per environment step, each drawing its own batch."""
    state = rj.add(state, batch)
    for j in range(2):
        sample = rj.sample(state, jax.random.fold_in(key, j), 16)
        state = rj.update_priorities(state, sample.idx, sample.batch["obs"][:, 0] % 3.0)
    return state, sample.idx


def _add_last(state: Any, key: jax.Array, batch: Any) -> tuple[Any, jax.Array]:
    """Learn from the buffer, then add the environment's new transitions."""
    sample = rj.sample(state, key, 16, 0.5)
    state = rj.update_priorities(state, sample.idx, sample.batch["obs"][:, 0] % 3.0)
    return rj.add(state, batch), jnp.mean(sample.weights)


@pytest.mark.parametrize("n", [1, 8])  # one item is written as a slice, more as a scatter
@pytest.mark.parametrize("body", [_step, _learner_step, _two_updates, _add_last])
def test_a_donated_step_writes_storage_and_trees_in_place(n, body, kernels, request):
    """No copy of the rows, counters or either tree, in a donated call or a scan, with the
    compiled calls and with the XLA kernels (every other platform's). XLA copies a whole
    tree where a read of it (the weights', a block's smallest value) has no path of data to
    the tree's next write: the loss-only weights, the second update and (on the XLA kernels'
    path) an add after the update each did once. The loss is an output, as a learner's is."""
    if kernels == "xla-kernels" and n == 1 and body is not _add_last and _JAX >= (0, 12):
        # JAX 0.12's XLA copies both trees of the scan's carry here (with rlu-replay 0.7.6's
        # per-slot min tree as well): one-item adds on the XLA kernels' path, which every
        # platform but the CPU takes; strict, so that a JAX that stops copying says so
        reason = "JAX 0.12 copies the trees in a scan of one-item adds (XLA kernels)"
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
    state = rj.add(rj.init({"obs": jnp.zeros(4, jnp.float32)}, 1 << 12), {"obs": jnp.ones((1, 4))})
    step = jax.jit(body, donate_argnums=0)
    batch = {"obs": jnp.ones((n, 4), jnp.float32)}
    hlo = step.lower(state, jax.random.key(0), batch).compile().as_text()
    trees = {f"[{state.sums.nodes.shape[0]}]", f"[{state.mins.nodes.shape[0]}]"}
    # rows (items, identifiers, then 2 rows of counters and the largest priority), the trees
    big = ("[4098,5]", *trees)
    assert [leaf.shape for leaf in jax.tree.leaves(state)][:1] == [(4098, 5)]
    assert len(trees) == 2  # 4096 slots, 257 blocks
    copies = [line for line in hlo.splitlines() if " copy(" in line and any(b in line for b in big)]
    assert not copies, copies
    old = jax.tree.leaves(state)
    state = step(state, jax.random.key(0), batch)[0]
    assert all(leaf.is_deleted() for leaf in old) and int(state.size) == n + 1
    # as a scan carry: no copy of the rows, counters or trees in the loop either
    scan = jax.jit(
        lambda s, ks, bs: jax.lax.scan(lambda c, x: body(c, *x), s, (ks, bs)), donate_argnums=0
    )
    batches = {"obs": jnp.ones((3, n, 4), jnp.float32)}
    hlo = scan.lower(state, jax.random.split(jax.random.key(1), 3), batches).compile().as_text()
    copies = [line for line in hlo.splitlines() if " copy(" in line and any(b in line for b in big)]
    assert not copies, copies


# ---------------------------------------------------------------------- checkpoints


def test_rlu_dump_and_load_round_trip_a_state(tmp_path):
    rlu_serialize = pytest.importorskip("rlu_serialize")
    state, _ = _twins(np.array([1.0, 2.0, 0.5]), 0.6, 1e-3)
    rlu_serialize.dump(state, tmp_path / "replay.lz4")
    loaded = rlu_serialize.load(tmp_path / "replay.lz4")
    assert type(loaded) is rj.PrioritizedReplayState and loaded.alpha == 0.6
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(state), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    same = rj.sample(loaded, jax.random.key(9), 8)
    np.testing.assert_array_equal(same.idx, rj.sample(state, jax.random.key(9), 8).idx)


def _load_elsewhere(data: bytes, tmp_path: Any) -> str:
    """Unpickle ``data`` in a fresh process (64-bit mode off): what it prints."""
    path = tmp_path / "state.pkl"
    path.write_bytes(data)
    script = (
        "import pickle\n"
        "try:\n"
        f"    state = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        "    print('loaded', state.storage['z'].dtype)\n"
        "except ValueError as error:\n"
        "    print(error)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    ).stdout


def test_a_32_bit_state_takes_adds_of_any_size_in_64_bit_mode(x64):
    """A state saved without 64-bit mode keeps its int32 counters where 64-bit mode is on; adds
    of one item (a slice update, whose start indices must share one int type) and of several
    still fill the ring as the host buffer does."""
    saved = pickle.dumps(rj.add(rj.init(ITEM, 4), _items(0, 2)))
    host = ReplayBuffer(4)
    host.add(_items(0, 2))
    with x64():
        state = pickle.loads(saved)
        assert state.counters.dtype == np.int32
        for start, n in ((2, 1), (3, 1), (4, 3), (7, 1)):
            state = rj.add(state, _items(start, n))
            host.add(_items(start, n))
            np.testing.assert_array_equal(state.serial, host._serial)
            np.testing.assert_array_equal(state.storage["obs"], host._storage[1])
        assert state.counters.dtype == np.int32 and int(state.inserted) == host.inserted


def test_a_64_bit_state_refuses_to_load_without_64_bit_mode(tmp_path, x64):
    """float32 trees and storage, but int64 counters (made in 64-bit mode): the state's own
    check refuses, naming the arrays; complex64 storage made without 64-bit mode loads."""
    with x64():
        state = rj.init({"z": jnp.zeros(2, jnp.float32)}, 4, dtype=np.float32)
        assert state.serial.dtype == np.int64 and state.sums.dtype == np.float32
        out = _load_elsewhere(pickle.dumps(state), tmp_path)
    assert "saved with 64-bit arrays (serial (int64)" in out and "jax_enable_x64" in out
    narrow = rj.init_uniform({"z": jnp.zeros(2, jnp.complex64)}, 4)
    assert _load_elsewhere(pickle.dumps(narrow), tmp_path).strip() == "loaded complex64"


# ---------------------------------------------------------------------- found by trying it


def test_issue_repro_arguments_are_checked_as_the_host_buffer_checks_them():
    """A number beta outside [0, 1] (it gave weights above 1), float identifiers (truncated to
    ints), and priorities of another length (JAX's broadcasting message) are refused."""
    state = rj.add(rj.init(ITEM, 8), _items(0, 4))
    for beta in (-1.0, 2.0, float("nan")):
        with pytest.raises(ValueError, match="beta must be a real number >= 0 and <= 1"):
            rj.sample(state, jax.random.key(0), 4, beta)
    with pytest.raises(TypeError, match="beta must be a real number"):
        rj.sample(state, jax.random.key(0), 4, "0.4")
    assert rj.sample(state, jax.random.key(0), 4, np.float32(0.5)).weights.shape == (4,)
    with pytest.raises(TypeError, match="idx must be a 1-d array of ints, got dtype float"):
        rj.update_priorities(state, jnp.array([1.7, 2.2]), jnp.array([5.0, 6.0]))
    with pytest.raises(ValueError, match=r"idx must be a 1-d array of ints, got shape \(2, 1\)"):
        rj.update_priorities(state, jnp.zeros((2, 1), jnp.int32), jnp.ones(2))
    single = rj.update_priorities(state, jnp.int32(1), 5.0)  # one identifier, as the host takes
    assert float(single.max_base) == pytest.approx(5.0 + 1e-4)
    for wrong in (jnp.ones(2), jnp.ones(1), jnp.ones((3, 1))):
        with pytest.raises(ValueError, match=r"priorities must have shape \(3,\), got shape"):
            rj.update_priorities(state, jnp.arange(3), wrong)
    one = rj.update_priorities(state, jnp.arange(3), 2.0)  # one number for every identifier
    expected = [(2.0 + 1e-4) ** 0.6] * 3 + [1.0]  # (priority + epsilon) ** alpha, defaults
    np.testing.assert_allclose(one.sums.values[:4], expected, rtol=1e-6)


def test_issue_repro_an_example_leaf_of_text_is_refused_naming_it():
    with pytest.raises(TypeError, match=r"example leaf \['name'\] must be an array of numbers"):
        rj.init({"obs": np.zeros(3, np.float32), "name": np.array("cartpole")}, 4)


def test_issue_repro_no_derivative_flows_through_stored_items():
    """Items are data: a derivative through an add and a sample is zero, as documented (it was
    zero before too, without a word), while one through beta flows."""
    state = rj.init_uniform({"obs": jnp.zeros(3, jnp.float32)}, capacity=2)
    prioritized = rj.init({"obs": jnp.zeros(3, jnp.float32)}, capacity=2)

    def loss(value: jax.Array, start: Any) -> jax.Array:
        filled = rj.add(start, {"obs": value * jnp.ones((2, 3))})
        return jnp.sum(rj.sample(filled, jax.random.key(0), 4).batch["obs"])

    for start in (state, prioritized):
        assert float(loss(2.0, start)) == 24.0
        assert float(jax.grad(loss)(2.0, start)) == 0.0
    filled = rj.update_priorities(
        rj.add(prioritized, {"obs": jnp.ones((2, 3))}), jnp.arange(2), jnp.array([1.0, 3.0])
    )
    slope = jax.grad(lambda b: rj.sample(filled, jax.random.key(1), 8, b).weights.sum())(0.5)
    assert float(slope) < 0.0  # weights (p_min / p_i) ** beta <= 1 shrink as beta grows


@pytest.mark.parametrize("wide", [False, True], ids=["32-bit", "64-bit"])
def test_issue_repro_an_empty_update_leaves_the_state_as_it_was(wide, x64):
    """No identifiers (the host buffer's ``update_priorities([], [])``): nothing changes, in
    either mode, eagerly and inside jit. In 64-bit mode, with identifiers of two words, reading
    the identifiers of no slots raised ZeroDivisionError."""
    with x64() if wide else _nothing():
        ints = np.int64 if wide else np.int32
        example = {"x": jnp.zeros(2, jnp.float32), "y": jnp.float32(0)}
        state = rj.add(rj.init(example, 4), {"x": jnp.ones((3, 2)), "y": jnp.arange(3.0)})
        state = rj.update_priorities(state, jnp.arange(3), jnp.array([1.0, 2.0, 3.0]))
        for update in (rj.update_priorities, jax.jit(rj.update_priorities)):
            after = update(state, jnp.zeros(0, ints), jnp.zeros(0))
            np.testing.assert_array_equal(after.sums.values, state.sums.values)
            np.testing.assert_array_equal(after.mins.values, state.mins.values)
            assert float(after.max_base) == float(state.max_base)
            np.testing.assert_array_equal(after.serial, state.serial)
        host = PrioritizedReplayBuffer(4)
        host.add({"x": np.ones((3, 2), np.float32), "y": np.arange(3.0, dtype=np.float32)})
        nothing = host.update_priorities(np.zeros(0, np.int64), np.zeros(0))
        assert nothing == 0  # the host's answer: no item updated


def test_issue_repro_stratified_takes_a_flag_as_the_host_buffer_does():
    """numpy's bool and the ints 0 and 1 are flags, as the host buffer's ``sample`` takes them
    (numpy's True was refused with "stratified must be a bool, got bool"); anything else is
    refused as the host refuses it."""
    state = rj.update_priorities(
        rj.add(rj.init(ITEM, 8), _items(0, 8)), jnp.arange(8), jnp.arange(1.0, 9.0)
    )
    key = jax.random.key(3)
    for flag, same in ((np.True_, True), (1, True), (np.False_, False), (0, False)):
        drawn = rj.sample(state, key, 16, stratified=flag)
        np.testing.assert_array_equal(drawn.idx, rj.sample(state, key, 16, stratified=same).idx)
    host = PrioritizedReplayBuffer(8)
    host.add(_items(0, 8))
    for wrong, error in ((2, ValueError), ("yes", TypeError), (0.5, TypeError)):
        with pytest.raises(error) as ours:
            rj.sample(state, key, 4, stratified=wrong)
        with pytest.raises(error) as theirs:
            host.sample(4, rng=0, stratified=wrong)
        assert str(ours.value) == str(theirs.value)
        assert str(ours.value).startswith("stratified must be a bool (or the int 0 or 1)")


def test_issue_repro_a_finite_priority_above_the_trees_range_is_clamped_not_skipped(x64):
    """float32 trees in 64-bit mode: a float64 priority above float32's largest was cast to
    inf first, then skipped as infinite, while one just below it was clamped. Both are finite,
    and both are kept now, clamped as every large priority is (a priority that is infinite
    when given is still skipped)."""
    with x64():
        state = rj.add(
            rj.init(jnp.float32(0), 4, alpha=1.0, epsilon=0.0, dtype=np.float32), jnp.zeros(4)
        )
        big = float(np.finfo(np.float32).max)
        below = rj.update_priorities(state, jnp.array([0]), jnp.array([3e38]))
        for given in (4e38, 1e300):
            above = rj.update_priorities(state, jnp.array([0]), jnp.array([given]))
            np.testing.assert_array_equal(above.sums.values, below.sums.values)
            assert above.sums.values[0] > 1.0  # clamped, not skipped (item 0 stays at 1.0)
            assert float(above.max_base) == pytest.approx(big, rel=1e-6)
        skipped = rj.update_priorities(state, jnp.array([0]), jnp.array([np.inf]))
        np.testing.assert_array_equal(skipped.sums.values, state.sums.values)


def test_issue_repro_a_state_of_another_type_is_refused_naming_it():
    """``add`` and ``sample`` of something that is not a state said AttributeError
    ('NoneType' object has no attribute '_one_buffer'); they name the argument now, as
    ``update_priorities`` did."""
    message = "state must be a ReplayState or PrioritizedReplayState, got NoneType"
    with pytest.raises(TypeError, match=message):
        rj.add(None, jnp.zeros(1))
    with pytest.raises(TypeError, match=message):
        rj.sample(None, jax.random.key(0), 1)
    with pytest.raises(TypeError, match="state must be a .*, got dict"):
        rj.sample({"rows": jnp.zeros(3)}, jax.random.key(0), 1)
