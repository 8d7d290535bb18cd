import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_quantiles import quantiles, quantiles_uniform


# all 36 (batch_size, num_quantiles) pairs: hypothesis stops when none is left
@settings(max_examples=100, deadline=None)
@given(batch_size=st.integers(1, 4), num_quantiles=st.integers(1, 9))
def test_quantiles_closed_form(batch_size, num_quantiles):
    q = quantiles(batch_size, num_quantiles)
    assert q.shape == (batch_size, num_quantiles) and q.dtype == jnp.float32
    expected = np.tile(np.arange(num_quantiles) / num_quantiles, (batch_size, 1))
    np.testing.assert_allclose(q, expected, rtol=1e-7, atol=0)


def test_quantiles_default_jit_vmap():
    q = quantiles(2)
    assert q.shape == (2, 200)
    assert float(q[0, 1]) == pytest.approx(1 / 200) and float(q[0, -1]) == pytest.approx(199 / 200)
    jitted = jax.jit(quantiles, static_argnums=(0, 1))(3, 4)
    assert jitted.tolist() == [[0.0, 0.25, 0.5, 0.75]] * 3
    scaled = jax.vmap(lambda s: s * quantiles(1, 2))(jnp.array([1.0, 2.0]))
    assert scaled.tolist() == [[[0.0, 0.5]], [[0.0, 1.0]]]


KEY = jax.random.key(123)


ROWS, N = 4000, 8


@pytest.fixture(scope="module")
def tau():
    return np.asarray(quantiles_uniform(KEY, batch_size=ROWS, num_quantiles=N))


def test_quantiles_uniform_shape_sorted_and_last_column_exactly_one(tau):
    assert tau.shape == (ROWS, N) and tau.dtype == np.float32
    assert np.all(np.diff(tau, axis=-1) >= 0)
    assert np.all(tau > 0) and np.all(tau <= 1)
    assert np.all(tau[:, -1] == 1.0)
    assert len({tuple(row) for row in tau}) == ROWS  # rows are drawn independently
    again = np.asarray(quantiles_uniform(KEY, batch_size=ROWS, num_quantiles=N))
    np.testing.assert_array_equal(tau, again)  # same key, same fractions
    other = np.asarray(quantiles_uniform(jax.random.key(124), ROWS, N))
    assert not np.array_equal(tau, other)


def test_quantiles_uniform_gaps_are_exchangeable(tau):
    # The gaps u_k / sum(u) are exchangeable, so each has expectation exactly 1/N.
    gaps = np.diff(np.concatenate([np.zeros((ROWS, 1)), tau.astype(np.float64)], axis=1), axis=1)
    np.testing.assert_allclose(gaps.mean(axis=0), 1 / N, atol=0.006)
    # and the fractions are not equally spaced (that is what `quantiles` is for)
    assert gaps.std(axis=0).min() > 0.05


def test_quantiles_uniform_jit_vmap_legacy_key():
    f = jax.jit(quantiles_uniform, static_argnums=(1, 2))
    np.testing.assert_array_equal(f(jax.random.PRNGKey(0), 2, 1), [[1.0], [1.0]])
    keys = jax.random.split(KEY, 3)
    batched = np.asarray(jax.vmap(lambda k: quantiles_uniform(k, 2))(keys))
    assert batched.shape == (3, 2, 32)  # 32 is the default num_quantiles
    assert np.all(batched[..., -1] == 1.0) and np.all(np.diff(batched, axis=-1) >= 0)
    assert not np.array_equal(batched[0], batched[1])


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, None])
def test_argument_errors(bad):
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        quantiles(bad)
    with pytest.raises(ValueError, match="num_quantiles must be an int >= 1"):
        quantiles(1, bad)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        quantiles_uniform(KEY, bad)
    with pytest.raises(ValueError, match="num_quantiles must be an int >= 1"):
        quantiles_uniform(KEY, 1, bad)


@pytest.mark.parametrize("bad", [2.0, True, None, "4", np.bool_(True)])
def test_wrong_types_raise_type_errors_that_are_also_value_errors(bad):
    # TypeError as coax raised (from JAX) and as the house rule says; still a ValueError, as
    # rlu-quantiles 0.1.0 raised
    for call in (
        lambda: quantiles(bad),
        lambda: quantiles(1, bad),
        lambda: quantiles_uniform(KEY, bad),
        lambda: quantiles_uniform(KEY, 1, bad),
    ):
        with pytest.raises(TypeError, match=r"must be an int >= 1, got") as info:
            call()
        assert isinstance(info.value, ValueError)


def test_wrong_values_raise_value_errors():
    with pytest.raises(ValueError, match="num_quantiles must be an int >= 1, got 0") as info:
        quantiles(2, 0)
    assert not isinstance(info.value, TypeError)


def test_numpy_integers_are_accepted():
    assert quantiles(np.int64(2), np.int32(4)).shape == (2, 4)
    assert quantiles_uniform(KEY, np.int64(3), np.uint8(5)).shape == (3, 5)
