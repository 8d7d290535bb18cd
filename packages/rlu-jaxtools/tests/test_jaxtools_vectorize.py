from collections import namedtuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_jaxtools import unvectorize

Out = namedtuple("Out", ["total", "rows"])


def row_sums(x_batch):
    return jnp.sum(x_batch, axis=-1)


def test_single_input_single_output():
    x = np.array([1.0, 2.0, 4.0])
    y = unvectorize(row_sums)(x)
    assert y.shape == ()
    assert float(y) == 7.0


def test_in_axes_none_and_pytree_inputs_outputs():
    def f(w, batch):
        h = batch["x"] @ w  # (B, 2)
        return {"h": h, "n": batch["n"] * 2}, Out(total=h.sum(axis=-1), rows=h)

    w = np.eye(2)
    single = {"x": np.array([3.0, 4.0]), "n": np.array(5)}
    d, out = unvectorize(f, in_axes=(None, 0), out_axes=(0, 0))(w, single)
    np.testing.assert_array_equal(d["h"], [3.0, 4.0])
    assert d["n"].shape == () and int(d["n"]) == 10
    assert isinstance(out, Out)  # namedtuple outputs keep their type
    assert float(out.total) == 7.0 and out.rows.shape == (2,)


def test_out_axes_none_leaves_output_alone_and_nonzero_axes():
    def f(x):  # batch axis at position 1 on input and output
        return x * 2, jnp.sum(x)

    y, s = unvectorize(f, in_axes=1, out_axes=(1, None))(np.ones(3))
    assert y.shape == (3,)
    assert s.shape == ()  # not squeezed
    assert float(s) == 3.0
    y_only = unvectorize(lambda x: x + 1, in_axes=-1, out_axes=-1)(np.zeros((2, 3)))
    assert y_only.shape == (2, 3)


def test_documented_errors():
    f = unvectorize(row_sums, in_axes=(0, 0))
    with pytest.raises(
        ValueError, match="number of in_axes must match the number of function inputs"
    ):
        f(np.ones(3))
    g = unvectorize(lambda x: (x, x), out_axes=(0, 0, 0))
    with pytest.raises(
        ValueError, match="number of out_axes must match the number of function outputs"
    ):
        g(np.ones(3))
    h = unvectorize(row_sums, out_axes=(0,))
    msg = r"out_axes must be an int for functions with a single output; got: out_axes=\(0,\)"
    with pytest.raises(TypeError, match=msg):
        h(np.ones(3))


def test_argument_checks():
    with pytest.raises(TypeError, match="f must be callable"):
        unvectorize(3)
    with pytest.raises(TypeError, match="in_axes must be an int, None, or a tuple"):
        unvectorize(row_sums, in_axes=1.5)
    with pytest.raises(TypeError, match="out_axes must be an int, None, or a tuple"):
        unvectorize(row_sums, out_axes="0")
    with pytest.raises(ValueError, match="cannot drop axis 0 .* shape \\(3,\\)"):
        unvectorize(lambda x: jnp.ones(3), in_axes=None)(np.ones(2))


def test_keeps_name_and_works_under_jit_and_vmap():
    f_single = unvectorize(row_sums)
    assert f_single.__name__ == "row_sums"
    x = np.arange(6.0).reshape(2, 3)
    assert float(jax.jit(f_single)(x[1])) == 12.0
    # vmap(unvectorize(f)) recovers the batched function
    np.testing.assert_array_equal(jax.vmap(f_single)(x), row_sums(x))


_cumsum_last = jax.jit(lambda x: jnp.cumsum(x, axis=-1))


@settings(max_examples=10, deadline=None)
@given(axis=st.integers(0, 2), seed=st.integers(0, 1000))
def test_inverse_of_vmap_for_any_axis(axis, seed):
    x_single = np.random.default_rng(seed).normal(size=(2, 3)).astype(np.float32)
    batched = jax.vmap(_cumsum_last, in_axes=axis, out_axes=axis)
    y = unvectorize(batched, in_axes=axis, out_axes=axis)(x_single)
    np.testing.assert_allclose(y, np.cumsum(x_single, axis=-1), rtol=1e-6)


# ---- haiku: the reference's two usage patterns -------------------------------------------
hk = pytest.importorskip("haiku", reason="dm-haiku is a test-only dependency")


def _linear(x_batch):
    return hk.Linear(11)(x_batch)


def test_unvectorize_haiku_transformed_function():
    rngs = hk.PRNGSequence(42)
    x_batch = jnp.zeros((3, 5))
    x_single = jnp.arange(5.0)
    init, f_batch = hk.transform(_linear)
    params = init(next(rngs), x_batch)
    assert f_batch(params, next(rngs), x_batch).shape == (3, 11)
    f_single = unvectorize(f_batch, in_axes=(None, None, 0), out_axes=0)
    y_single = f_single(params, next(rngs), x_single)
    assert y_single.shape == (11,)
    expected = x_single @ params["linear"]["w"] + params["linear"]["b"]
    np.testing.assert_allclose(y_single, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="out_axes must be an int for functions with a single"):
        unvectorize(f_batch, in_axes=(None, None, 0), out_axes=(0,))(params, None, x_single)


def test_unvectorize_before_haiku_transform():
    rngs = hk.PRNGSequence(7)
    x_single = jnp.ones(5)
    init, f_single = hk.transform(unvectorize(_linear))
    params = init(next(rngs), x_single)
    assert params["linear"]["w"].shape == (5, 11)
    y_single = f_single(params, next(rngs), x_single)
    assert y_single.shape == (11,)
    np.testing.assert_allclose(
        y_single, x_single @ params["linear"]["w"] + params["linear"]["b"], rtol=1e-5
    )
