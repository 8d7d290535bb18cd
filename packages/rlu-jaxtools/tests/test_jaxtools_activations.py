import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from rlu_jaxtools import clipped_logit, double_relu


def test_double_relu_reference_example():
    x = jnp.array([[-11, -8], [17, 5], [-13, 7], [19, -3]])
    out = double_relu(x)
    assert out.dtype == jnp.int32
    assert out.tolist() == [
        [-11, -8, 0, 0],
        [0, 0, 17, 5],
        [-13, 0, 0, 7],
        [0, -3, 19, 0],
    ]


# signs, zeros (both signs) and the two shapes: 100 examples
@settings(max_examples=100, deadline=None)
@given(
    x=hnp.arrays(
        np.float32,
        st.sampled_from([(3,), (2, 3)]),
        elements=st.floats(-100, 100, width=32, allow_subnormal=False),
    )
)
def test_double_relu_closed_form(x):
    out = np.asarray(double_relu(x))
    expected = np.concatenate([np.minimum(x, 0), np.maximum(x, 0)], axis=-1)
    np.testing.assert_array_equal(out, expected)
    # nothing is lost: the two halves add back up to the input
    half = x.shape[-1]
    np.testing.assert_array_equal(out[..., :half] + out[..., half:], x)


def test_double_relu_nan_jit_vmap_and_errors():
    out = double_relu(np.array([np.nan, 1.0]))
    assert np.isnan(out[0]) and np.isnan(out[2])
    x = np.array([[-1.0, 2.0], [3.0, -4.0]])
    expected = [[-1.0, 0.0, 0.0, 2.0], [0.0, -4.0, 3.0, 0.0]]  # negative part, positive part
    np.testing.assert_array_equal(jax.jit(double_relu)(x), expected)
    np.testing.assert_array_equal(jax.vmap(double_relu)(x), expected)
    np.testing.assert_array_equal(double_relu(x), expected)
    with pytest.raises(ValueError, match="at least one dimension"):
        double_relu(3.0)


def _numpy_clipped_logit(x, eps):
    x = np.asarray(x, dtype=np.float64)
    return np.log(np.maximum(eps, x)) - np.log(np.maximum(eps, 1 - x))


# 0, 1, values within epsilon of either end, three epsilons: 100 examples
@settings(max_examples=100, deadline=None)
@given(
    x=hnp.arrays(np.float32, (5,), elements=st.floats(0, 1, width=32, allow_subnormal=False)),
    eps=st.sampled_from([1e-15, 1e-6, 1e-2]),
)
def test_clipped_logit_matches_formula(x, eps):
    out = np.asarray(clipped_logit(x, epsilon=eps), dtype=np.float64)
    np.testing.assert_allclose(out, _numpy_clipped_logit(x, eps), rtol=1e-5, atol=1e-5)


def test_clipped_logit_interior_endpoints_and_inputs():
    x = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(clipped_logit(x), np.log(x / (1 - x)), rtol=1e-6)
    ends = np.asarray(clipped_logit(np.array([0.0, 1.0]), epsilon=1e-15), dtype=np.float64)
    np.testing.assert_allclose(ends, [np.log(1e-15), -np.log(1e-15)], rtol=1e-6)
    half = clipped_logit(np.array([0.0, 1.0], dtype=np.float16))  # eps=1e-15 is 0 in float16
    assert half.dtype == jnp.float16
    np.testing.assert_allclose(half.astype(np.float32), [np.log(1e-15), -np.log(1e-15)], rtol=1e-3)
    ints = clipped_logit(np.array([0, 1]))  # integers are converted to float
    assert jnp.issubdtype(ints.dtype, jnp.floating) and np.all(np.isfinite(ints))
    jitted = jax.jit(clipped_logit)(x, 1e-3)  # a traced epsilon
    assert jitted.shape == (3,)
    np.testing.assert_allclose(jitted, _numpy_clipped_logit(x, 1e-3), rtol=1e-6)
    at_ends = jax.jit(clipped_logit)(np.array([0.0, 1.0]), 1e-3)  # clipped at the traced epsilon
    np.testing.assert_allclose(at_ends, [np.log(1e-3), -np.log(1e-3)], rtol=1e-6)
    np.testing.assert_allclose(jax.vmap(clipped_logit)(x), np.log(x / (1 - x)), rtol=1e-6)
    with pytest.raises(ValueError, match="epsilon must be positive"):
        clipped_logit(x, epsilon=0.0)
