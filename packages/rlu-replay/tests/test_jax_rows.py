"""rlu_replay.jax stores items packed into rows: every bit kept, old checkpoints still load."""

from __future__ import annotations

import contextlib
import importlib.util
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from rlu_replay import jax as rj  # noqa: E402
from rlu_replay.jax import _rows, _tail  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
# every dtype a leaf may have outside 64-bit mode, and what its bits are stored as
STORED_AS = {
    np.dtype(np.float32): np.uint32,
    np.dtype(np.int32): np.uint32,
    np.dtype(np.uint32): np.uint32,
    np.dtype(np.float16): np.uint16,
    np.dtype(jnp.bfloat16): np.uint16,
    np.dtype(np.int16): np.uint16,
    np.dtype(np.uint16): np.uint16,
    np.dtype(np.int8): np.uint8,
    np.dtype(np.uint8): np.uint8,
    np.dtype(jnp.float8_e4m3fn): np.uint8,
    np.dtype(np.bool_): np.bool_,  # as they are
    np.dtype(np.complex64): np.complex64,
}
DTYPES = list(STORED_AS)
CARTPOLE = {
    "obs": jnp.zeros(4, jnp.float32),
    "action": jnp.int32(0),
    "reward": jnp.float32(0),
    "discount": jnp.float32(0),
    "next_obs": jnp.zeros(4, jnp.float32),
}


def _random_bits(rng: np.random.Generator, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Any bit pattern of ``dtype`` (NaN payloads, negative zeros, subnormals), bools 0 or 1."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(np.bool_)
    raw = rng.integers(0, 256, (*shape, dtype.itemsize), dtype=np.uint8)
    return raw.view(dtype).reshape(shape)


def _same_bits(a: Any, b: Any) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.reshape(-1).view(np.uint8), b.reshape(-1).view(np.uint8))


leaf_specs = st.lists(
    st.tuples(st.sampled_from(DTYPES), st.lists(st.integers(0, 3), max_size=2).map(tuple)),
    min_size=1,
    max_size=5,
)


@given(
    specs=leaf_specs,
    lead=st.lists(st.integers(1, 3), min_size=1, max_size=2),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=40, deadline=None)
def test_pack_then_unpack_gives_back_every_bit(specs, lead, seed):
    """Any mix of dtypes and shapes (empty ones too), under any leading axes, and the items'
    identifiers: the same bits."""
    rng = np.random.default_rng(seed)
    items = {f"leaf{k}": (np.dtype(dtype), shape) for k, (dtype, shape) in enumerate(specs)}
    treedef = jax.tree.structure({name: 0 for name in items})
    paths = [f"['{name}']" for name in sorted(items)]
    lay = _rows.layout(treedef, paths, [items[name] for name in sorted(items)], np.int32)
    given_leaves = {name: _random_bits(rng, d, (*lead, *s)) for name, (d, s) in items.items()}
    ids = _random_bits(rng, np.int32, tuple(lead))
    leaves = [jnp.asarray(given_leaves[name]) for name in sorted(items)]
    rows = _rows.pack(lay, leaves, jnp.asarray(ids))
    # one array per kind of word, each (..., words); the identifiers among the 32-bit words
    kinds = {np.dtype(STORED_AS[np.dtype(d)]) for d, _ in specs} | {np.dtype(np.uint32)}
    assert len(rows) == len(kinds) == len(lay.groups)
    for (dtype, width), row in zip(lay.groups, rows, strict=True):
        assert row.dtype == dtype and row.shape == (*lead, width) and dtype in kinds
    back = _rows.unpack(lay, rows)
    for name in items:
        _same_bits(back[name], given_leaves[name])
    _same_bits(_rows.identifiers(lay, rows), ids)
    if len(lead) == 1:  # one buffer's rows: the identifiers of some slots
        slots = rng.integers(0, lead[0], 7)
        _same_bits(_rows.identifiers_at(lay, rows, jnp.asarray(slots)), ids[slots])


def test_a_cartpole_transition_and_its_identifier_are_one_row_of_twelve_words():
    state = rj.init(CARTPOLE, 100)
    # 11 words of the item, its identifier: one row; then one row for the counters and the
    # largest priority (5 words)
    assert [(r.dtype, r.shape) for r in state.rows] == [(jnp.uint32, (101, 12))]
    assert state.counters.shape == (3,)
    assert len(jax.tree.leaves(state)) == 3  # the rows, two trees
    assert len(jax.tree.leaves(rj.init_uniform(CARTPOLE, 100))) == 1
    with_done = rj.init({**CARTPOLE, "done": jnp.bool_(False)}, 100)
    assert [(r.dtype, r.shape) for r in with_done.rows] == [
        (jnp.uint32, (101, 12)),
        (jnp.bool_, (100, 1)),
    ]


@pytest.mark.parametrize("wide", [False, True], ids=["32-bit", "64-bit"])
def test_the_tail_holds_counters_and_largest_priority_where_the_kernels_read_them(wide, x64):
    """The tail after the items' rows, as numpy reads its memory (as the CPU kernels do):
    the largest priority at an even word, the counters after it, every bit kept (NaN
    payloads too), the items' rows untouched by writing it; each buffer of a batch an even
    number of words, so that its 8-byte values are aligned."""
    ints, floats = (np.int64, np.float64) if wide else (np.int32, np.float32)

    @given(
        capacity=st.integers(1, 40),
        given_words=st.integers(1, 12),
        lead=st.sampled_from([(), (3,)]),
        seed=st.integers(0, 2**16),
    )
    @settings(max_examples=40, deadline=None)
    def check(capacity: int, given_words: int, lead: tuple[int, ...], seed: int) -> None:
        rng = np.random.default_rng(seed)
        structure = jax.tree_util.tree_structure(0)
        lay = _rows.layout(structure, ["x"], [(np.dtype(np.uint32), (given_words,))], ints)
        w = lay.groups[0][1]
        base_at, counters_at, extra = _tail.tail_offsets(capacity, w, lay.ident.words)
        n = 3 * lay.ident.words
        assert base_at % 2 == 0 and (capacity + extra) * w % 2 == 0
        assert capacity * w <= base_at and counters_at + n <= (capacity + extra) * w
        items = rng.integers(0, 2**32, (*lead, capacity, w), dtype=np.uint32)
        info = np.iinfo(ints)
        counters = rng.integers(info.min, info.max, (*lead, 3), dtype=ints)
        base = _random_bits(rng, floats, lead)
        (rows,) = _tail.with_tail(
            lay, capacity, (jnp.asarray(items),), jnp.asarray(counters), jnp.asarray(base)
        )
        assert rows.shape == (*lead, capacity + extra, w)
        memory = np.asarray(rows).reshape(*lead, -1)
        for k in np.ndindex(*lead):
            words = memory[k]
            np.testing.assert_array_equal(words[: capacity * w], items[k].reshape(-1))
            seen = words[base_at : base_at + (2 if wide else 1)].view(floats)[0]
            assert seen.tobytes() == np.asarray(base)[k].tobytes()
            np.testing.assert_array_equal(
                words[counters_at : counters_at + n].view(ints), counters[k]
            )
        _same_bits(_tail.read_counters(lay, capacity, (rows,)), counters)
        _same_bits(_tail.read_base(lay, capacity, (rows,), floats), base)
        # writing one of them keeps the other and the items
        new = rng.integers(0, 2**20, (*lead, 3)).astype(ints)
        (written,) = _tail.set_tail(lay, capacity, (rows,), jnp.asarray(new), dtype=floats)
        _same_bits(_tail.read_counters(lay, capacity, (written,)), new)
        _same_bits(_tail.read_base(lay, capacity, (written,), floats), base)
        np.testing.assert_array_equal(np.asarray(written)[..., :capacity, :], items)

    with x64() if wide else contextlib.nullcontext():
        check()


_LOWERED = "/jax/core/compile/jaxpr_to_mlir_module_duration"  # JAX's event, per lowering


def test_reading_items_or_identifiers_lowers_one_program_per_new_shape():
    """state.storage and state.serial outside jit are one program each for rows of a shape
    not read before (eager slices, reshapes and bitcasts would lower one per operation), and
    none when read again. Counted as lowerings, which JAX's persistent cache does not skip."""
    seen: list[str] = []
    listening = [False]

    def listen(event: str, *args: Any, **kwargs: Any) -> None:
        if listening[0] and event == _LOWERED:
            seen.append(event)

    def read_counting_lowerings(name: str) -> tuple[Any, int]:
        seen.clear()
        listening[0] = True
        try:
            value = getattr(state, name)
        finally:
            listening[0] = False  # JAX keeps the listener: off between reads
        return value, len(seen)

    jax.monitoring.register_event_duration_secs_listener(listen)
    state = rj.add(rj.init(CARTPOLE, 37), jax.tree.map(lambda x: jnp.stack([x, x]), CARTPOLE))
    for name in ("storage", "serial"):
        first, lowered = read_counting_lowerings(name)
        again, lowered_again = read_counting_lowerings(name)
        assert (lowered, lowered_again) == (1, 0), name
        for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(again), strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(state.serial, [0, 1] + [-1] * 35)


def test_eight_byte_leaves_are_two_words_each_in_64_bit_mode(x64):
    with x64():
        item = {"x": jnp.zeros(2, jnp.float64), "n": jnp.int64(0), "f": jnp.float32(0)}
        state = rj.init_uniform(item, 3)
        # 4 + 2 + 1 words, and 2 for the int64 identifier; then the tail: a word to align,
        # 2 for the largest priority, 3 * 2 for the counters (one row of 9)
        assert [(r.dtype, r.shape) for r in state.rows] == [(jnp.uint32, (4, 9))]
        np.testing.assert_array_equal(state.serial, [-1, -1, -1])
        rng = np.random.default_rng(0)
        batch = {
            "x": _random_bits(rng, np.float64, (3, 2)),
            "n": _random_bits(rng, np.int64, (3,)),
            "f": _random_bits(rng, np.float32, (3,)),
        }
        state = rj.add(state, batch)
        for name in batch:
            _same_bits(state.storage[name], batch[name])


@given(specs=leaf_specs, n=st.integers(1, 9), seed=st.integers(0, 2**16))
@settings(max_examples=12, deadline=None)  # each layout compiles add and sample anew
def test_stored_and_sampled_items_keep_every_bit(specs, n, seed):
    """Through ``add`` and ``sample`` (jitted), each item comes back bit for bit, with the
    identifier of the slot it was drawn from."""
    rng = np.random.default_rng(seed)
    example = {f"leaf{k}": jnp.zeros(shape, dtype) for k, (dtype, shape) in enumerate(specs)}
    batch = {name: _random_bits(rng, x.dtype, (n, *x.shape)) for name, x in example.items()}
    state = jax.jit(rj.add)(rj.init(example, 16), batch)
    for name in batch:
        _same_bits(state.storage[name][:n], batch[name])
    drawn = jax.jit(lambda s, k: rj.sample(s, k, 12))(state, jax.random.key(seed))
    idx = np.asarray(drawn.idx)
    assert ((idx >= 0) & (idx < n)).all()
    for name in batch:
        _same_bits(drawn.batch[name], batch[name][idx])


# ---------------------------------------------------------------------- checkpoints


def _writer() -> Any:
    """``fixtures/write_jax_states_fixture.py`` as a module: how it made and asked the states."""
    path = FIXTURES / "write_jax_states_fixture.py"
    spec = importlib.util.spec_from_file_location("write_jax_states_fixture", path)
    assert spec is not None and spec.loader is not None
    writer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(writer)
    return writer


def test_states_saved_by_rlu_replay_0_6_2_load_with_every_answer_kept(compat_loads, block_minima):
    """``fixtures/write_jax_states_fixture.py`` wrote them with one array per leaf (numpy 2's
    pickles: ``compat_loads`` reads them with numpy 1 too). Loaded, they hold what 0.6.2
    answered, every array of the state made here by the same calls, and draw what it draws
    (0.6.2's own draws are not compared: JAX's random numbers differ between its versions)."""
    states, expected = compat_loads((FIXTURES / "jax_states_replay0.6.2.pkl").read_bytes())
    writer = _writer()
    here = writer.make_states()
    for name, state in states.items():
        got = writer.answers(state)
        if "trees" in got:  # 0.6.2's min tree had a leaf per slot; now one per block of them
            sums, per_slot = expected[name]["trees"]
            expected[name]["trees"] = [sums, block_minima(per_slot)]
        for key in got:
            jax.tree.map(_same_bits, got[key], expected[name][key])
        assert len(state.rows) == 2  # float32 and int32 words, and the bools
        for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(here[name]), strict=True):
            _same_bits(a, b)
        key = jax.random.key(3)
        _same_bits(rj.sample(state, key, 6).idx, rj.sample(here[name], key, 6).idx)
    state = states["prioritized"]
    assert (state.alpha, state.epsilon) == (0.7, 1e-3)
    more = rj.add(
        state,
        {"obs": np.ones((1, 3), np.float32), "action": np.array([7]), "done": np.array([True])},
    )
    assert int(more.inserted) == 8 and more.storage["action"][7 % 5] == 7


def test_a_state_built_by_hand_takes_a_min_tree_per_slot_or_per_block(block_minima):
    """As 0.7 and before built it (a leaf per slot), or as this version keeps it; any other
    min tree is refused, naming both capacities."""
    from rlu_trees.jax import JaxMinTree

    base = rj.add(
        rj.init(CARTPOLE, 40), jax.tree.map(lambda x: jnp.ones((3, *x.shape), x.dtype), CARTPOLE)
    )
    per_slot = np.full(40, np.inf, np.float32)
    per_slot[:3] = [4.0, 2.0, 3.0]  # slot 0 in block 0, slots 1 and 2 in block 1

    def build(mins):
        return rj.PrioritizedReplayState(
            40, base.storage, base.serial, base.position, base.size, base.inserted,
            base.sums, mins, base.max_base, base.alpha, base.epsilon,
        )  # fmt: skip

    state = build(JaxMinTree(40).set_values(..., per_slot))
    np.testing.assert_array_equal(state.mins.values, block_minima(per_slot))
    np.testing.assert_array_equal(state.mins.values, [4.0, 2.0, np.inf, np.inf])
    assert build(state.mins).mins.capacity == 4
    inside = jax.jit(lambda m: build(m).mins.root_value)  # a per-slot tree inside jit too
    assert float(inside(JaxMinTree(40).set_values(..., per_slot))) == 2.0
    with pytest.raises(
        ValueError,
        match=r"per block of slots \(4 for 40 slots of float32\) or per slot \(40\), got 7",
    ):
        build(JaxMinTree(7))


def test_a_pickle_holds_the_items_unpacked_as_0_6_wrote_them():
    """So that rlu-replay 0.6 loads what this version saves: the same names and arrays."""
    state = rj.add(
        rj.init(CARTPOLE, 4), jax.tree.map(lambda x: jnp.ones((2, *x.shape), x.dtype), CARTPOLE)
    )
    saved = state.__getstate__()
    assert set(saved) == {
        "capacity", "storage", "serial", "position", "size", "inserted",
        "sums", "mins", "max_base", "alpha", "epsilon",
    }  # fmt: skip
    assert all(isinstance(leaf, np.ndarray) for leaf in jax.tree.leaves(saved["storage"]))
    np.testing.assert_array_equal(saved["serial"], [0, 1, -1, -1])
    # and a min tree with a leaf per slot, the empty slots' leaves empty (inf)
    np.testing.assert_array_equal(saved["mins"].values, [1.0, 1.0, np.inf, np.inf])
    assert state.mins.capacity == 2 and float(state.mins.root_value) == 1.0  # slots 0; 1-3
    loaded = pickle.loads(pickle.dumps(state))
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(state), strict=True):
        _same_bits(a, b)
