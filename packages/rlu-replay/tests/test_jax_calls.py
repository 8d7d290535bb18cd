"""rlu_replay.jax's compiled add, sample and update (one CPU custom call each) against their
XLA paths, bit for bit."""

from __future__ import annotations

import functools
import os
import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from rlu_replay import jax as rj  # noqa: E402
from rlu_replay.jax import _state  # noqa: E402
from rlu_trees.jax import cpu_calls, debug_checks  # noqa: E402

# whether the compiled kernels serve this JAX (not at the floors' JAX 0.4.26, which cannot
# make the custom calls): where they do not, every add takes the XLA path, and the tests check
# that it does
CALLS = cpu_calls().active

ITEM = {"obs": jnp.zeros(3, jnp.float32), "action": jnp.int32(0)}


@jax.jit
def _xla_add(state: Any, batch: Any) -> Any:
    """``rj.add`` through its XLA operations only: the reference."""
    leaves, size = _state._batch_leaves(state, batch)
    keep = min(size, state.capacity)
    return _state._add_xla(state, [leaf[size - keep :] for leaf in leaves], size)


@jax.jit
def _xla_update(state: Any, idx: Any, priorities: Any) -> Any:
    """``rj.update_priorities`` through its XLA operations only: the reference."""
    idx = jnp.asarray(idx)
    given = jnp.broadcast_to(jnp.asarray(priorities, state.sums.dtype), idx.shape)
    return _state._update_xla(state, idx.astype(state.counters.dtype), given)


@functools.partial(jax.jit, static_argnames=("n", "stratified"))
def _xla_sample(state: Any, key: Any, n: int, beta: float, stratified: bool = False) -> Any:
    """``rj.sample`` of a prioritized state through its XLA operations only: the reference."""
    acc = _state._accumulator_dtype(state.sums.dtype)
    x = _state._targets(state._sum_nodes, key, n, stratified, acc)
    batch, idx, ratio = _state._draw_xla(state, x)
    return rj.Sample(batch, idx, ratio ** jnp.asarray(beta, state.sums.dtype))


_sample = jax.jit(rj.sample, static_argnames=("n", "stratified"))  # traced: no checks


def _uses_call(fn: Any, *args: Any, kind: str = "add") -> bool:
    return f"rlu_replay_{kind}_" in jax.jit(fn).lower(*args).compile().as_text()


def _items(rng: np.random.Generator, n: int, *lead: int) -> dict[str, np.ndarray]:
    return {
        "obs": rng.standard_normal((*lead, n, 3)).astype(np.float32),
        "action": rng.integers(-(2**31), 2**31, (*lead, n)).astype(np.int32),
    }


def _same(a: Any, b: Any) -> None:
    """Every leaf equal, bit for bit, with the same dtype."""
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes()


def _run(state: Any, steps: list[tuple[int, np.ndarray | None]], seed: int) -> None:
    """Adds of the given sizes (each followed by priorities for the items just drawn, when
    given), through both paths; the states must stay identical."""
    rng = np.random.default_rng(seed)
    fast = slow = state
    assert _uses_call(rj.add, state, _items(rng, 1)) == CALLS
    for n, priorities in steps:
        batch = _items(rng, n)
        fast, slow = rj.add(fast, batch), _xla_add(slow, batch)
        _same(fast, slow)
        if priorities is not None:
            idx = rj.sample(fast, jax.random.key(seed + n), len(priorities)).idx
            fast = rj.update_priorities(fast, idx, priorities)
            slow = _xla_update(slow, idx, priorities)
    _same(fast, slow)


@given(
    capacity=st.integers(1, 40),
    steps=st.lists(
        st.tuples(
            st.integers(1, 20),
            st.none() | st.lists(st.floats(0, 1e6, width=32), min_size=1, max_size=4),
        ),
        min_size=1,
        max_size=6,
    ),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=40, deadline=None)
def test_adds_of_any_size_leave_the_state_the_xla_path_leaves(capacity, steps, seed):
    """Items, identifiers, counters and both trees, round the ring and past it (batches
    longer than the ring), with the largest priority changing between adds; rings of up to
    40 slots have 4 blocks for the min tree, and an add of at least 4 items rebuilds it whole
    on the XLA path."""
    state = rj.init(ITEM, capacity, alpha=0.7, epsilon=1e-3)
    _run(state, [(n, None if p is None else np.asarray(p, np.float32)) for n, p in steps], seed)


# priorities of every kind: ordinary, 0, and those the update skips (NaN, inf, below 0) or
# changes (above the trees' clamp, subnormal)
_PRIORITY = st.floats(0, 1e6, width=32) | st.sampled_from([0.0, -1.0, np.nan, np.inf, 3e38, 1e-40])


@given(
    capacity=st.integers(1, 40),
    rounds=st.lists(
        st.tuples(
            st.integers(1, 30),
            st.lists(st.tuples(st.integers(-3, 130), _PRIORITY), min_size=1, max_size=40),
            st.booleans(),
        ),
        min_size=1,
        max_size=3,
    ),
)
@settings(max_examples=40, deadline=None)
def test_updates_leave_the_state_the_xla_path_leaves(capacity, rounds):
    """Adds, each followed by an update of identifiers live, overwritten since, never given
    or below 0, with repeats (the last wins), and priorities of every kind (or one for all);
    on rings of up to 40 slots (4 blocks), with as many entries as blocks or more (where the
    XLA path rebuilds the min tree whole). Trees, largest priority, everything: the same."""
    rng = np.random.default_rng(capacity)
    state = rj.init(ITEM, capacity, alpha=0.6, epsilon=1e-2)
    probe = (state, jnp.zeros(2, jnp.int32), jnp.ones(2))
    assert _uses_call(rj.update_priorities, *probe, kind="update") == CALLS
    fast = slow = state
    for n, entries, one in rounds:
        batch = _items(rng, n)
        fast, slow = rj.add(fast, batch), rj.add(slow, batch)
        idx = jnp.array([i for i, _ in entries], jnp.int32)
        given = np.array([p for _, p in entries], np.float32)
        priorities = given[0] if one else given
        fast = rj.update_priorities(fast, idx, priorities)
        slow = _xla_update(slow, idx, priorities)
        _same(fast, slow)


@given(
    capacity=st.integers(1, 40),
    added=st.integers(1, 60),
    priorities=st.lists(_PRIORITY, min_size=1, max_size=60),
    n=st.integers(1, 70),
    stratified=st.booleans(),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=40, deadline=None)
def test_draws_are_the_xla_paths(capacity, added, priorities, n, stratified, seed):
    """Items, identifiers and weights of draws from rings of up to 40 slots, wrapped, with
    priorities of every kind (all 0 included: identifiers -1), independent or stratified."""
    rng = np.random.default_rng(seed)
    state = rj.add(rj.init(ITEM, capacity, alpha=0.8, epsilon=0.0), _items(rng, added))
    idx = jnp.arange(added - len(priorities), added, dtype=jnp.int32)
    state = rj.update_priorities(state, idx, np.array(priorities, np.float32))
    key = jax.random.key(seed)
    assert _uses_call(lambda s, k: rj.sample(s, k, n), state, key, kind="sample") == CALLS
    drawn = _sample(state, key, n=n, beta=0.6, stratified=stratified)
    _same(drawn, _xla_sample(state, key, n, 0.6, stratified))


@pytest.mark.parametrize("trees", ["float32", "float64"])
def test_draws_of_64_bit_leaves_trees_and_identifiers_are_the_xla_paths(x64, trees):
    """In 64-bit mode: float64 leaves (two words each), int64 identifiers, float64 masses;
    and a batch of buffers under vmap, each with its own key (XLA's path: the call is slower
    over many buffers)."""
    rng = np.random.default_rng(10)
    with x64():
        item = {"obs": jnp.zeros((2, 3), jnp.float64), "action": jnp.int32(0)}
        state = rj.init(item, 11, dtype=trees)
        batch = {"obs": rng.standard_normal((15, 2, 3)), "action": np.arange(15, dtype=np.int32)}
        state = rj.update_priorities(rj.add(state, batch), jnp.arange(15), rng.random(15))
        key = jax.random.key(1)
        _same(_sample(state, key, n=9, beta=0.5), _xla_sample(state, key, 9, 0.5))
        many = jax.vmap(lambda _: state)(jnp.arange(3))
        keys = jax.random.split(key, 3)
        draw = jax.vmap(lambda s, k: rj.sample(s, k, 5, 0.5, stratified=True))
        assert not _uses_call(draw, many, keys, kind="sample")
        reference = jax.vmap(lambda s, k: _xla_sample(s, k, 5, 0.5, True))
        _same(draw(many, keys), reference(many, keys))


@pytest.mark.parametrize("trees", ["float32", "float64"])
def test_64_bit_identifiers_and_trees_are_written_as_the_xla_path_writes_them(x64, trees):
    """In 64-bit mode identifiers are two words of each row, and trees may be float64; a
    32-bit state loaded there keeps int32 counters. Each takes the call and agrees."""
    saved = pickle.dumps(rj.add(rj.init(ITEM, 5), _items(np.random.default_rng(0), 3)))
    with x64():
        state = rj.init(ITEM, 5, dtype=trees)
        assert state.counters.dtype == np.int64
        _run(state, [(2, None), (4, np.array([3.0, 0.5])), (1, None), (11, None)], 1)
        loaded = pickle.loads(saved)
        assert loaded.counters.dtype == np.int32
        _run(loaded, [(1, np.array([2.0])), (6, None), (2, None)], 2)


def test_vmapped_and_scanned_adds_agree_with_the_xla_path():
    """A batch of buffers at different positions, with a batch of items each or one batch for
    all, and a scan of adds: one call over every buffer, the same states."""
    rng = np.random.default_rng(3)
    many = jax.vmap(lambda _: rj.init(ITEM, 6))(jnp.arange(3))
    for k, n in enumerate((1, 4, 5)):  # buffer k holds a different number of items
        one = jax.tree.map(lambda x, k=k: x[k], many)
        one = rj.add(one, _items(rng, n))
        many = jax.tree.map(lambda m, o, k=k: m.at[k].set(o), many, one)
    for batch, axes in ((_items(rng, 4, 3), 0), (_items(rng, 2), None)):
        assert _uses_call(jax.vmap(rj.add, in_axes=(0, axes)), many, batch) == CALLS
        fast = jax.vmap(rj.add, in_axes=(0, axes))(many, batch)
        _same(fast, jax.vmap(_xla_add, in_axes=(0, axes))(many, batch))
        many = fast
    items = _items(rng, 2, 5)  # five adds of two items

    def scan(add: Any) -> Any:
        return jax.jit(lambda s, xs: jax.lax.scan(lambda c, x: (add(c, x), None), s, xs)[0])

    state = rj.init(ITEM, 7)
    _same(scan(rj.add)(state, items), scan(_xla_add)(state, items))


def test_scanned_draws_agree_with_the_xla_path():
    """A scan of adds and draws of one buffer takes the call: the same draws, every step."""
    rng = np.random.default_rng(9)

    def scan(draw: Any) -> Any:
        def step(state: Any, x: Any) -> Any:
            batch, key = x
            state = rj.add(state, batch)
            return state, draw(state, key, n=6, beta=0.7, stratified=False)

        return jax.jit(lambda s, xs: jax.lax.scan(step, s, xs))

    xs = (_items(rng, 3, 5), jax.random.split(jax.random.key(3), 5))
    state = rj.init(ITEM, 7, alpha=0.7)
    assert _uses_call(scan(rj.sample), state, xs, kind="sample") == CALLS
    _same(scan(rj.sample)(state, xs), scan(_xla_sample)(state, xs))


def test_vmapped_and_scanned_updates_agree_with_the_xla_path():
    """Buffers holding different items, with identifiers and priorities per buffer or one set
    for all, take the XLA path (the call is slower over many buffers); a scan of adds and
    updates of one buffer takes the call: the same states."""
    rng = np.random.default_rng(8)
    many = jax.vmap(lambda _: rj.init(ITEM, 9, alpha=0.5))(jnp.arange(3))
    many = jax.vmap(rj.add)(many, _items(rng, 12, 3))  # items 3 to 11 held, 0 to 2 stale
    per_buffer = (jnp.asarray(rng.integers(0, 14, (3, 6)), jnp.int32), rng.random((3, 6)) * 5)
    shared = (jnp.array([2, 3, 11, 11, 12]), np.float32(4.0))
    for (idx, p), axes in ((per_buffer, 0), (shared, None)):
        update = jax.vmap(rj.update_priorities, in_axes=(0, axes, axes))
        assert not _uses_call(update, many, idx, p, kind="update")
        fast = update(many, idx, p)
        _same(fast, jax.vmap(_xla_update, in_axes=(0, axes, axes))(many, idx, p))
        many = fast

    def scan(update: Any) -> Any:
        def step(state: Any, x: Any) -> Any:
            batch, p = x
            state = rj.add(state, batch)
            drawn = rj.sample(state, jax.random.key(0), 4)
            return update(state, drawn.idx, p), drawn.idx

        return jax.jit(lambda s, xs: jax.lax.scan(step, s, xs))

    xs = (_items(rng, 3, 5), jnp.asarray(rng.random((5, 4)), jnp.float32))
    state = rj.init(ITEM, 7)
    assert _uses_call(scan(rj.update_priorities), state, xs, kind="update") == CALLS
    _same(scan(rj.update_priorities)(state, xs), scan(_xla_update)(state, xs))


def test_the_call_serves_only_where_it_applies():
    """Not for uniform states, items with a leaf stored apart from the 32-bit words (bool), or
    while the trees' debug checks are on; those take the XLA path, as before."""
    rng = np.random.default_rng(4)
    assert not _uses_call(rj.add, rj.init_uniform(ITEM, 4), _items(rng, 1))
    flagged = {"x": jnp.zeros(2, jnp.float32), "done": jnp.bool_(False)}
    batch = {"x": np.ones((2, 2), np.float32), "done": np.array([True, False])}
    assert not _uses_call(rj.add, rj.init(flagged, 4), batch)
    state = rj.init(ITEM, 4)
    update = (state, jnp.array([0]), jnp.array([1.0]))
    before = debug_checks(True)
    try:
        assert not _uses_call(rj.add, state, _items(rng, 1))
        assert not _uses_call(rj.update_priorities, *update, kind="update")
    finally:
        debug_checks(before)
    assert _uses_call(rj.add, state, _items(rng, 1)) == CALLS
    assert _uses_call(rj.update_priorities, *update, kind="update") == CALLS


def test_derivatives_flow_through_the_xla_path():
    """Through the call, a derivative by the sum tree's nodes: after an add the root is the
    sum of the leaves, so a tangent on a kept item's leaf reaches it, one on a leaf the add
    overwrites does not. (The largest priority, in the rows' tail as bits, has none.)"""
    alpha, n = 0.5, 3
    state = rj.init(ITEM, 8, alpha=alpha, epsilon=0.0)
    state = rj.update_priorities(
        rj.add(state, _items(np.random.default_rng(5), 1)), jnp.array([0]), jnp.array([4.0])
    )
    batch = _items(np.random.default_rng(6), n)
    aux = state._tree_aux[0]

    def total(nodes: jax.Array) -> jax.Array:
        changed = state._replace(sums=type(state.sums).tree_unflatten(aux, (nodes,)))
        return rj.add(changed, batch).sums.root_value

    leaf = 8 - 1  # slot 0's leaf: the root at 0, 8 leaves from 7
    tangent = jnp.zeros_like(state._sum_nodes).at[leaf].set(1.0).at[leaf + 1].set(1.0)
    value, slope = jax.jvp(total, (state._sum_nodes,), (tangent,))
    assert float(value) == pytest.approx(2.0 + n * 4.0**alpha)  # slot 0's 2, 3 new of 2 each
    assert float(slope) == pytest.approx(1.0)  # slot 1's leaf was written over


def test_derivatives_flow_through_the_xla_path_of_updates():
    """Through the update's call, a derivative by the priority given: the item's sampling
    value is ``(p + epsilon) ** alpha``."""
    alpha, eps = 0.5, 0.25
    state = rj.add(rj.init(ITEM, 8, alpha=alpha, epsilon=eps), _items(np.random.default_rng(9), 2))

    def total(p: jax.Array) -> jax.Array:
        return rj.update_priorities(state, jnp.array([1]), p[None]).sums.root_value

    value, slope = jax.jvp(total, (jnp.float32(2.0),), (jnp.float32(1.0),))
    assert float(value) == pytest.approx(1.0 + (2.0 + eps) ** alpha)
    assert float(slope) == pytest.approx(alpha * (2.0 + eps) ** (alpha - 1))


def test_trees_and_largest_priority_of_other_dtypes_agree_with_the_xla_path(x64):
    """A state built by hand may mix dtypes: a float64 largest priority beside float32 trees
    (the kernel read the leaf value's low half), or trees of two dtypes (it wrote float64
    values into a float32 tree, past its end). Both agree with the XLA path; their updates
    take it (the update's call writes the largest priority in the trees' dtype)."""
    rng = np.random.default_rng(7)
    with x64():
        base = rj.add(rj.init(ITEM, 4, dtype="float32"), _items(rng, 1))
        mixes = (
            (base.sums, base.mins, jnp.float64(2.0)),
            (base.sums.astype(np.float64), base.mins, jnp.float32(2.0)),
            (base.sums, base.mins.astype(np.float64), jnp.float32(2.0)),
        )
        for sums, mins, max_base in mixes:
            state = rj.PrioritizedReplayState(
                4, base.storage, base.serial, base.position, base.size, base.inserted,
                sums, mins, max_base, base.alpha, base.epsilon,
            )  # fmt: skip
            batch = _items(rng, 2)
            assert _uses_call(rj.add, state, batch) == (CALLS and sums.dtype == mins.dtype)
            _same(rj.add(state, batch), _xla_add(state, batch))
            update = (state, jnp.array([0, 1]), jnp.array([3.0, 0.5]))
            assert not _uses_call(rj.update_priorities, *update, kind="update")
            _same(rj.update_priorities(*update), _xla_update(*update))


_SAVED = """
import pickle, sys
import jax, jax.numpy as jnp, numpy as np
from jax.experimental import serialize_executable
from rlu_replay import jax as rj

def step(s, key, t):
    s = rj.add(s, t)
    batch, idx, w = rj.sample(s, key, 4)
    return rj.update_priorities(s, idx, w + 1.0), idx

s = rj.init({"x": jnp.zeros(3)}, 16)
args = (s, jax.random.key(0), {"x": jnp.ones((2, 3))})
if sys.argv[2] == "save":
    compiled = jax.jit(step).lower(*args).compile()
    with open(sys.argv[1], "wb") as f:
        pickle.dump(serialize_executable.serialize(compiled), f)
else:
    jax.jit(step).lower(*args)  # what the guide says to do first: registers the calls
    with open(sys.argv[1], "rb") as f:
        compiled = serialize_executable.deserialize_and_load(*pickle.load(f))
print(np.asarray(compiled(*args)[1]).tolist())
"""


def test_a_saved_program_loads_in_a_new_process_once_its_functions_are_lowered(tmp_path):
    """A program saved with jax.experimental.serialize_executable names the compiled calls;
    a fresh process that lowers the same functions first (the guide's advice) loads and runs
    it, with the same draws (without that, XLA finds no such call: a user's trial of rlu).
    JAX before 0.10 (0.6.2 here) crashes loading a program that holds them; there the guide
    says to save it with the calls off, and that is what runs. Both processes run without
    JAX's persistent compilation cache (CI turns it on): a program JAX loaded from it
    serializes without its own code, for any program (JAX 0.10.2 and 0.12.1 say
    "Function ..._fusion not found" when it is loaded), which is JAX's matter, not rlu's."""
    import subprocess
    import sys

    saved = str(tmp_path / "step.pkl")
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_ENABLE_COMPILATION_CACHE": "false"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    if jax.__version_info__ < (0, 10):
        env["RLU_TREES_JAX_CPU_CALLS"] = "0"
    outs = []
    for mode in ("save", "load"):
        done = subprocess.run(
            [sys.executable, "-c", _SAVED, saved, mode], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-3000:]
        outs.append(done.stdout.strip().splitlines()[-1])
    assert outs[0] == outs[1]
