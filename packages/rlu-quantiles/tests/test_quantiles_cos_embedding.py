import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from rlu_quantiles import quantile_cos_embedding, quantiles


# 0, 1, tiny and subnormal fractions in two shapes: 100 examples
@settings(max_examples=100, deadline=None)
@given(
    tau=hnp.arrays(
        np.float32,
        st.sampled_from([(2, 3), (1, 2, 2)]),
        elements=st.floats(0, 1, width=32),
    ),
)
def test_closed_form_and_shape(tau):
    n = 4
    emb = np.asarray(quantile_cos_embedding(tau, n=n))
    assert emb.shape == tau.shape + (n,)
    # basis index i = 0, 1, ..., n - 1
    expected = np.cos(np.pi * np.arange(n) * tau.astype(np.float64)[..., None])
    np.testing.assert_allclose(emb, expected, atol=2e-6)
    np.testing.assert_array_equal(emb[..., 0], 1.0)  # i = 0 is the constant basis function


def test_known_values_and_default_n():
    emb = quantile_cos_embedding(np.array([0.5, 1.0]), n=4)
    np.testing.assert_allclose(emb, [[1, 0, -1, 0], [1, -1, 1, -1]], atol=1e-6)
    tau = quantiles(2, 3)
    assert quantile_cos_embedding(tau).shape == (2, 3, 64)


def test_inputs_jit_vmap_and_errors():
    ints = quantile_cos_embedding(np.array([0, 1]), n=2)
    assert jnp.issubdtype(ints.dtype, jnp.floating)
    np.testing.assert_allclose(ints, [[1, 1], [1, -1]], atol=1e-6)
    tau = np.array([[0.1, 0.2], [0.3, 0.4]], dtype=np.float32)
    direct = quantile_cos_embedding(tau, n=4)
    np.testing.assert_allclose(jax.jit(quantile_cos_embedding, static_argnums=1)(tau, 4), direct)
    np.testing.assert_allclose(jax.vmap(lambda t: quantile_cos_embedding(t, 4))(tau), direct)
    # all three against the closed form cos(pi i tau), i = 0 .. n - 1, in float64 numpy
    closed = np.cos(np.pi * np.arange(4) * tau.astype(np.float64)[..., None])
    np.testing.assert_allclose(direct, closed, rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        jax.jit(quantile_cos_embedding, static_argnums=1)(tau, 4), closed, rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(
        jax.vmap(lambda t: quantile_cos_embedding(t, 4))(tau), closed, rtol=0, atol=1e-6
    )
    for bad in (0, 2.0, True):
        with pytest.raises(ValueError, match="n must be an int >= 1"):
            quantile_cos_embedding(tau, n=bad)
    for bad in (2.0, True, "4", None):
        with pytest.raises(TypeError, match="n must be an int >= 1"):
            quantile_cos_embedding(tau, n=bad)
    assert quantile_cos_embedding(tau, n=np.int64(3)).shape == (2, 2, 3)
