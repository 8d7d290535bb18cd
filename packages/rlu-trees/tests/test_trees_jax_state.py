"""rlu_trees.jax: batches of trees read outside vmap, dtypes kept by pickles, debug checks."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from rlu_trees.jax import JaxMaxTree, JaxMinTree, JaxSumTree, debug_checks  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "jax_trees0.3.1.pkl"
# what a compiled call raises when a host callback fails (jaxlib's name before JAX 0.4.36)
RUNTIME_ERROR: Any = getattr(jax.errors, "JaxRuntimeError", None)
if RUNTIME_ERROR is None:  # pragma: no cover - the floors' JAX
    from jaxlib.xla_extension import XlaRuntimeError as RUNTIME_ERROR


class _CompatUnpickler(pickle.Unpickler):
    """Reads pickles written under numpy 2 (``numpy._core``) at numpy 1 (``numpy.core``)."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return super().find_class(module, name)
        except ModuleNotFoundError:
            if not module.startswith("numpy._core"):
                raise
            return super().find_class("numpy.core" + module[len("numpy._core") :], name)


def _loads(data: bytes) -> Any:
    import io

    return _CompatUnpickler(io.BytesIO(data)).load()


# ---------------------------------------------------------------------- a batch of trees


def _batch() -> tuple[Any, np.ndarray]:
    values = np.array([[1.0, 2.0, 0.0, 4.0], [0.0, 0.0, 3.0, 0.0], [5.0, 1.0, 1.0, 1.0]])
    trees = jax.vmap(lambda v: JaxSumTree(4).set_values(..., v))(jnp.asarray(values))
    return trees, values


def test_a_batch_of_trees_reads_its_roots_and_values_batched():
    """The repro of the issue: root_value of 3 vmapped trees is their 3 roots, not tree 0's
    node array."""
    trees, values = _batch()
    np.testing.assert_array_equal(trees.root_value, values.sum(axis=1))
    np.testing.assert_array_equal(trees.values, values)
    assert "batch=(3,)" in repr(trees)


@pytest.mark.parametrize(
    "operation",
    [
        ("sample", lambda t: t.sample(jax.random.key(0), 2)),
        ("inverse_cdf", lambda t: t.inverse_cdf(0.5)),
        ("set_values", lambda t: t.set_values(0, 1.0)),
        ("partial_reduce", lambda t: t.partial_reduce(0, 2)),
        ("to_host", lambda t: t.to_host()),
        ("astype", lambda t: t.astype(np.float32)),
    ],
    ids=lambda op: op[0] if isinstance(op, tuple) else str(op),
)
def test_operations_on_a_batch_of_trees_say_to_use_vmap(operation):
    name, call = operation
    trees, _ = _batch()
    with pytest.raises(
        ValueError, match=rf"batch of trees .*\(3, 7\).*{name} acts on one tree.*vmap"
    ):
        call(trees)
    with pytest.raises(ValueError, match="batch of trees"):  # traced the same way inside jit
        jax.jit(call)(trees)


def test_the_same_operations_run_per_tree_inside_vmap():
    trees, values = _batch()
    keys = jax.random.split(jax.random.key(1), 3)
    drawn = np.asarray(jax.vmap(lambda t, k: t.sample(k, 64))(trees, keys))
    assert drawn.shape == (3, 64)
    assert (values[np.arange(3)[:, None], drawn] > 0).all()  # only positive leaves are drawn
    halves = jax.vmap(lambda t: t.partial_reduce(0, 2))(trees)
    np.testing.assert_array_equal(halves, values[:, :2].sum(axis=1))


# ---------------------------------------------------------------------- dtypes and pickles


def test_a_pickle_keeps_the_dtype_of_its_tree(x64):
    tree = JaxSumTree(5).set_values(..., [1.0, 2.0, 3.0, 0.0, 0.5])
    assert tree.dtype == np.float32  # JAX's default float: 64-bit mode is off here
    with x64():  # a process with 64-bit mode loads it as it was
        loaded = pickle.loads(pickle.dumps(tree))
        assert loaded.dtype == np.float32
        np.testing.assert_array_equal(loaded.values, tree.values)
    with x64():
        wide = JaxMinTree(3, dtype=np.float64).set_values(..., [0.1, 0.2, 0.3])
        wide_loaded = pickle.loads(pickle.dumps(wide))
        assert wide_loaded.dtype == np.float64
        assert float(wide_loaded.root_value) == 0.1  # not rounded to float32


def test_rlu_serialize_round_trips_a_float64_tree(tmp_path, x64):
    rlu_serialize = pytest.importorskip("rlu_serialize")
    with x64():
        tree = JaxSumTree(4, dtype=np.float64).set_values(..., [0.1, 0.2, 0.3, 0.4])
        rlu_serialize.dump({"tree": tree}, tmp_path / "tree.pkl.lz4")
        loaded = rlu_serialize.load(tmp_path / "tree.pkl.lz4")["tree"]
        assert loaded.dtype == np.float64
        np.testing.assert_array_equal(loaded.nodes, tree.nodes)


def test_a_float64_tree_loaded_without_64_bit_mode_says_how_to_go_on(tmp_path, x64):
    """In a process without 64-bit mode the pickle of a float64 tree refuses to load (it would
    silently become float32), and the message names both ways forward; the second one, load
    with 64-bit mode and convert, works."""
    with x64():
        tree = JaxSumTree(3, dtype=np.float64).set_values(..., [0.1, 0.2, 0.7])
        data = pickle.dumps(tree)
    path = tmp_path / "tree.pkl"
    path.write_bytes(data)
    script = (
        "import pickle, sys\n"
        "try:\n"
        f"    pickle.loads(open({str(path)!r}, 'rb').read())\n"
        "except ValueError as error:\n"
        "    print(error)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert "saved with float64" in out and "jax_enable_x64" in out and "astype" in out
    with x64():
        converted = pickle.loads(data).astype(np.float32)
    assert converted.dtype == np.float32
    np.testing.assert_array_equal(converted.values, np.float32([0.1, 0.2, 0.7]))
    assert float(converted.root_value) == float(np.float32(0.1) + np.float32(0.2) + np.float32(0.7))


def test_pickles_of_rlu_trees_0_3_1_still_load():
    saved, expected = _loads(FIXTURE.read_bytes())
    sum_tree, min_tree = _loads(saved)
    np.testing.assert_array_equal(sum_tree.values, expected[0])
    np.testing.assert_array_equal(min_tree.values, expected[1])
    assert float(sum_tree.set_values(1, 2.0).root_value) == 10.0
    assert float(min_tree.root_value) == -1.0


def test_astype_recomputes_every_node_from_the_leaves(x64):
    with x64():
        values = np.array([0.1, 0.2, 0.3, 1e-3, 7.7])
        narrow = JaxSumTree(5, dtype=np.float64).set_values(..., values).astype(np.float32)
    fresh = JaxSumTree(5, dtype=np.float32).set_values(..., values.astype(np.float32))
    np.testing.assert_array_equal(narrow.nodes, fresh.nodes)
    with pytest.raises(ValueError, match="float64 needs JAX's 64-bit mode"):
        narrow.astype(np.float64)


# ---------------------------------------------------------------------- debug checks


@pytest.fixture
def checks():
    """The checks on for one test; programs traced with them are dropped after it (they
    apply to what is traced while they are on, and JAX caches traces)."""
    was = debug_checks(True)
    jax.clear_caches()
    yield
    debug_checks(was)
    jax.clear_caches()


def _root_after(tree: Any, idx: Any, values: Any) -> Any:
    return tree.set_values(idx, values).root_value


def test_off_by_default_bad_entries_are_skipped_and_nothing_is_traced():
    import importlib

    from rlu_trees.jax import _debug

    assert importlib.reload(_debug).enabled() is False  # off by default (no variable set)
    tree = JaxSumTree(4).set_values(..., [1.0, 1.0, 1.0, 1.0])
    root = jax.jit(_root_after)(tree, jnp.array([0, 1]), jnp.array([jnp.nan, -1.0]))
    assert float(root) == 4.0  # both skipped: the old values stay
    jaxpr = jax.make_jaxpr(_root_after)(tree, jnp.array([0, 1]), jnp.array([2.0, 3.0]))
    assert "callback" not in str(jaxpr)


@pytest.mark.parametrize(
    ("tree", "idx", "values", "message"),
    [
        (JaxSumTree(4), [0, 1], [1.0, np.nan], "position 1, value nan"),
        (JaxSumTree(4), [0, 3], [1.0, -2.0], "position 3, value -2.0"),
        (JaxSumTree(4), [2, 0], [np.inf, 1.0], "position 2, value inf"),
        (JaxMinTree(4), [1, 2], [np.nan, 1.0], "position 1, value nan"),
        (JaxMaxTree(4), [3, 0], [1.0, np.nan], "position 0, value nan"),
    ],
)
def test_on_bad_entries_raise_inside_jit(checks, tree, idx, values, message):
    with pytest.raises(RUNTIME_ERROR, match=message):
        jax.jit(_root_after)(tree, jnp.array(idx), jnp.array(values)).block_until_ready()


def test_on_entries_out_of_range_are_still_dropped_without_a_word(checks):
    """A batch of fixed shape drops entries by giving them a position out of range (a
    replay buffer drops stale updates so): those are not checked, whatever their value."""
    root = jax.jit(_root_after)(JaxSumTree(4), jnp.array([0, 4, -5]), jnp.array([2.0, 1.0, -1.0]))
    assert float(root) == 2.0


def test_on_negative_values_are_still_welcome_in_a_min_tree(checks):
    root = jax.jit(_root_after)(JaxMinTree(4), jnp.array([0, 1]), jnp.array([-3.0, np.inf]))
    assert float(root) == -3.0


def test_on_they_raise_inside_scan_vmap_and_whole_writes(checks):
    tree = JaxSumTree(4)

    def scanned(tree: Any, batches: Any) -> Any:
        return jax.lax.scan(lambda t, p: (t.set_values(jnp.arange(2), p), None), tree, batches)[0]

    with pytest.raises(RUNTIME_ERROR, match="position 0, value -1.0"):
        batches = jnp.array([[1.0, 2.0], [-1.0, 0.0]])
        jax.jit(scanned)(tree, batches).root_value.block_until_ready()
    trees = jax.vmap(lambda _: JaxSumTree(4))(jnp.arange(3))
    batched = jax.jit(jax.vmap(lambda t, p: _root_after(t, jnp.arange(2), p)))
    with pytest.raises(RUNTIME_ERROR, match="JaxSumTree.set_values"):
        batched(trees, jnp.array([[1.0, 1.0], [1.0, np.nan], [1.0, 1.0]])).block_until_ready()
    whole = jax.jit(lambda t, v: t.set_values(..., v).root_value)
    with pytest.raises(RUNTIME_ERROR, match="position 2, value nan"):
        whole(tree, jnp.array([1.0, 1.0, np.nan, 1.0])).block_until_ready()
    assert float(whole(tree, jnp.ones(4))) == 4.0  # good values pass


def test_turning_them_on_reaches_functions_traced_before():
    """A jitted function traced without the checks is traced again once they are on (the
    switch clears JAX's caches), and again without them once they are off."""
    step = jax.jit(_root_after)
    tree, bad = JaxSumTree(4), (jnp.array([0, 1]), jnp.array([1.0, np.nan]))
    assert float(step(tree, *bad)) == 1.0  # traced and cached without the checks
    was = debug_checks(True)
    try:
        with pytest.raises(RUNTIME_ERROR, match="position 1, value nan"):
            step(tree, *bad).block_until_ready()
    finally:
        debug_checks(was)
    assert float(step(tree, *bad)) == 1.0


def test_the_switch_takes_a_bool():
    with pytest.raises(TypeError, match="enabled must be a bool, got int"):
        debug_checks(1)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- found by trying it


@pytest.mark.parametrize(
    ("capacity", "start", "stop"),
    [
        (300, jnp.int8(0), jnp.int8(-1)),  # + 300 wrapped in int8: 43.0
        (300, jnp.array([0], jnp.uint8), jnp.array([255], jnp.uint8)),  # 300 as uint8 is 44
        (70_000, jnp.int16(0), jnp.int16(-1)),
        (70_000, jnp.uint16(0), jnp.uint16(65535)),
    ],
)
def test_issue_repro_narrow_int_bounds_reduce_inside_jit_as_outside(capacity, start, stop):
    tree = JaxSumTree(capacity).set_values(..., 1.0)
    inside = jax.jit(lambda t, a, b: t.partial_reduce(a, b))(tree, start, stop)
    outside = tree.partial_reduce(np.asarray(start), np.asarray(stop))
    stop_at = int(np.asarray(stop).reshape(-1)[0])
    expected = float(stop_at % capacity if stop_at < 0 else stop_at)  # a sum of ones
    np.testing.assert_array_equal(np.asarray(inside).reshape(-1), [expected])
    np.testing.assert_array_equal(np.asarray(outside).reshape(-1), [expected])


def test_issue_repro_a_loaded_tree_takes_the_switch_of_the_loading_process(tmp_path):
    """A pickle held the saving process's RLU_TREES_JAX_CPU_CALLS switch: with the calls off
    where it was loaded, the tree still lowered them (jax.export refused it) and its structure
    differed from that of a tree made there."""
    path = tmp_path / "tree.pkl"
    path.write_bytes(pickle.dumps(JaxSumTree(8).set_values(..., np.arange(8.0) + 1)))
    script = (
        "import pickle, jax, numpy as np\n"
        "from rlu_trees.jax import JaxSumTree\n"
        f"loaded = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        "fresh = JaxSumTree(8).set_values(..., np.arange(8.0) + 1)\n"
        "same = jax.tree.structure(loaded) == jax.tree.structure(fresh)\n"
        "step = jax.jit(lambda tree, key: tree.set_values(tree.sample(key, 2), 1.0))\n"
        "text = step.lower(loaded, jax.random.key(0)).as_text()\n"
        "print(same, 'rlu_trees_' in text, float(loaded.root_value))\n"
    )
    env = {**__import__("os").environ, "RLU_TREES_JAX_CPU_CALLS": "0"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.stdout.split() == ["True", "False", "36.0"], out.stderr[-2000:]


def test_issue_repro_trees_batched_on_another_axis_refuse_to_read():
    """vmap with out_axes=1 puts the node axis first: root_value read tree 0's nodes."""
    trees = jax.vmap(lambda v: JaxSumTree(4).set_values(..., v), out_axes=1)(jnp.ones((3, 4)))
    for read in (lambda t: t.root_value, lambda t: t.values):
        with pytest.raises(ValueError, match=r"has 7 nodes, but its node array has shape \(7, 3\)"):
            read(trees)
    good = jax.vmap(lambda v: JaxSumTree(4).set_values(..., v))(jnp.ones((3, 4)))
    np.testing.assert_array_equal(good.root_value, [4.0, 4.0, 4.0])


def test_issue_repro_traced_targets_must_be_real_numbers_as_outside_jit():
    tree = JaxSumTree(4).set_values(..., [1.0, 2.0, 3.0, 4.0])
    icdf = jax.jit(lambda t, u: t.inverse_cdf(u))
    for u in (jnp.array([0.5 + 0.9j]), jnp.array([True])):
        with pytest.raises(TypeError, match="u must be a real number or a 1-d array"):
            icdf(tree, u)
        with pytest.raises(TypeError, match="u must be a real number or a 1-d array"):
            tree.inverse_cdf(np.asarray(u))
    np.testing.assert_array_equal(icdf(tree, jnp.array([0.5], jnp.float32)), [2])


def test_issue_repro_host_trees_that_float32_cannot_hold_are_refused():
    """from_host rounded to float32 without a check: a total of inf (sampling then always took
    the last leaf) or, for a value beyond float32, a leaf of 0 with only numpy's warning."""
    from rlu_trees import MinTree, SumTree

    host = SumTree(2)
    host.set_values(..., [3e38, 3e38])
    with pytest.raises(ValueError, match="would make the total overflow float32"):
        JaxSumTree.from_host(host, dtype=np.float32)
    host.set_values(..., [1e300, 1.0])
    with pytest.raises(ValueError, match=r"tree holds values up to 1e\+300, beyond what float32"):
        JaxSumTree.from_host(host, dtype=np.float32)
    host.set_values(..., [3e37, 1.0])
    np.testing.assert_array_equal(JaxSumTree.from_host(host).values, np.float32([3e37, 1.0]))
    mins = MinTree(3)  # leaves never set hold +inf, the identity: fine in any dtype
    mins.set_values(0, 2.0)
    np.testing.assert_array_equal(
        JaxMinTree.from_host(mins, dtype=np.float32).values, [2.0, np.inf, np.inf]
    )
