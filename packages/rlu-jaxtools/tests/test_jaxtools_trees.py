from collections import namedtuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_jaxtools import batch_to_single, single_to_batch, stack_trees, tree_ravel

Pair = namedtuple("Pair", ["a", "b"])


@pytest.fixture
def batch():
    return {
        "obs": np.arange(12, dtype=np.float32).reshape(3, 2, 2),
        "info": Pair(a=np.array([10, 20, 30]), b=[np.array([[1.0], [2.0], [3.0]])]),
    }


def test_batch_to_single_matches_numpy_indexing(batch):
    for index in (0, 2, -1, np.int64(1), jnp.array(1)):
        single = batch_to_single(batch, index)
        i = int(index)
        np.testing.assert_array_equal(single["obs"], batch["obs"][i])
        assert int(single["info"].a) == batch["info"].a[i]
        np.testing.assert_array_equal(single["info"].b[0], batch["info"].b[0][i])
        assert isinstance(single["info"], Pair)
    assert isinstance(batch_to_single(batch)["obs"], np.ndarray)  # numpy stays numpy


def test_batch_to_single_errors(batch):
    with pytest.raises(IndexError, match=r"index 3 is out of range .* size 3"):
        batch_to_single(batch, 3)
    with pytest.raises(ValueError, match=r"leaf at \['x'\] is 0-d"):
        batch_to_single({"x": np.float32(1.0)})
    with pytest.raises(TypeError, match="index must be an integer"):
        batch_to_single(batch, 1.0)
    with pytest.raises(TypeError, match="index must be an integer"):
        batch_to_single(batch, True)


def test_batch_to_single_with_traced_index_under_jit_and_vmap(batch):
    rows = jax.vmap(lambda i: batch_to_single(batch, i))(jnp.arange(3))
    np.testing.assert_array_equal(rows["obs"], batch["obs"])
    np.testing.assert_array_equal(rows["info"].a, batch["info"].a)
    picked = jax.jit(batch_to_single)(batch, 2)
    np.testing.assert_array_equal(picked["obs"], batch["obs"][2])


# empty axes, 0-d leaves and up to three axes: 85 shapes, so 100 examples
@settings(max_examples=100, deadline=None)
@given(shape=st.lists(st.integers(0, 3), max_size=3), scalar=st.floats(-5, 5))
def test_single_to_batch_adds_unit_axis_and_roundtrips(shape, scalar):
    leaf = np.full(shape, scalar, dtype=np.float32)
    tree = {"x": leaf, "y": (leaf, 2)}
    batched = single_to_batch(tree)
    assert batched["x"].shape == (1, *shape)
    assert batched["y"][1].shape == (1,)
    np.testing.assert_array_equal(batched["x"][0], leaf)
    back = batch_to_single(batched, 0)
    np.testing.assert_array_equal(back["y"][0], leaf)
    assert int(back["y"][1]) == 2


def test_single_to_batch_under_jit_and_vmap():
    x = np.arange(6.0).reshape(2, 3)
    out = jax.jit(single_to_batch)({"x": x})
    assert out["x"].shape == (1, 2, 3)
    per_row = jax.vmap(single_to_batch)({"x": x})  # each row (3,) -> (1, 3)
    assert per_row["x"].shape == (2, 1, 3)
    np.testing.assert_array_equal(per_row["x"][:, 0], x)


def test_stack_trees_calling_convention():
    rng = np.random.default_rng(0)
    param_list = [{"w": rng.normal(size=(2, 3)), "b": rng.normal(size=3)} for _ in range(4)]
    state_list = [{"count": np.array(i)} for i in range(4)]
    result = stack_trees(param_list, state_list)
    assert isinstance(result, tuple) and len(result) == 2
    params, states = result
    np.testing.assert_allclose(params["w"], np.stack([p["w"] for p in param_list]), rtol=1e-6)
    np.testing.assert_allclose(params["b"], np.stack([p["b"] for p in param_list]), rtol=1e-6)
    np.testing.assert_array_equal(states["count"], np.arange(4))
    (only,) = stack_trees(state_list)  # a single argument gives a 1-tuple
    np.testing.assert_array_equal(only["count"], np.arange(4))


def test_stack_trees_feeds_vmap():
    param_list = [{"w": np.full(3, float(i))} for i in range(5)]
    (params,) = stack_trees(param_list)
    x = np.arange(3.0)
    out = jax.vmap(lambda p: jnp.dot(p["w"], x))(params)
    np.testing.assert_allclose(out, [np.dot(p["w"], x) for p in param_list])
    traced = jax.jit(lambda ps: stack_trees(ps)[0])(param_list)
    np.testing.assert_array_equal(traced["w"], params["w"])
    inside_vmap = jax.vmap(lambda v: stack_trees([{"a": v}, {"a": 2 * v}])[0]["a"])(x)
    np.testing.assert_array_equal(inside_vmap, np.stack([x, 2 * x], axis=1))


def test_stack_trees_errors():
    with pytest.raises(ValueError, match="pytree 1 has structure"):
        stack_trees([{"a": np.zeros(1)}, {"b": np.zeros(1)}])
    with pytest.raises(ValueError, match=r"same length, got lengths \[2, 1\]"):
        stack_trees([{"a": 1.0}, {"a": 2.0}], [{"s": 0}])
    with pytest.raises(ValueError, match="different shapes"):
        stack_trees([np.zeros(2), np.zeros(3)])
    with pytest.raises(ValueError, match="argument 0 is an empty sequence"):
        stack_trees([])
    with pytest.raises(TypeError, match="must be a sequence"):
        stack_trees({"a": np.zeros(2)})
    with pytest.raises(TypeError, match="at least one sequence"):
        stack_trees()


# empty trees, empty and 0-d leaves, up to four leaves: 100 examples
@settings(max_examples=100, deadline=None)
@given(shapes=st.lists(st.lists(st.integers(0, 3), max_size=2), max_size=4))
def test_tree_ravel_matches_numpy_concatenate(shapes):
    rng = np.random.default_rng(len(shapes))
    leaves = [rng.normal(size=s).astype(np.float32) for s in shapes]
    tree = {f"k{i}": leaf for i, leaf in enumerate(leaves)}
    expected = np.concatenate([tree[k].ravel() for k in sorted(tree)] + [np.zeros(0, np.float32)])
    flat = tree_ravel(tree)
    assert flat.ndim == 1
    np.testing.assert_array_equal(flat, expected)


def test_tree_ravel_order_dtype_jit_vmap():
    tree = ([np.array([[1, 2], [3, 4]], dtype=np.int32)], {"z": np.array([0.5])})
    flat = tree_ravel(tree)
    assert flat.dtype == jnp.float32
    assert flat.tolist() == [1.0, 2.0, 3.0, 4.0, 0.5]
    assert tree_ravel({}).shape == (0,)
    np.testing.assert_array_equal(jax.jit(tree_ravel)(tree), flat)
    batched = {"a": np.arange(6.0).reshape(2, 3), "b": np.array([[10.0], [20.0]])}
    rows = jax.vmap(tree_ravel)(batched)
    np.testing.assert_array_equal(rows, [[0, 1, 2, 10], [3, 4, 5, 20]])
