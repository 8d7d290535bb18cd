import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_jaxtools import argmax, argmin

# chi-square critical value for 4 degrees of freedom at p = 0.001: a fair 5-way choice
# exceeds it with probability 1e-3, a biased one (e.g. always the first tie) by far.
CHI2_4DF_P001 = 18.467
NUM_KEYS = 4000


def _counts(indices, size):
    return np.bincount(np.asarray(indices).ravel(), minlength=size)


def _chi2_uniform(counts):
    counts = np.asarray(counts, dtype=float)
    expected = counts.sum() / len(counts)
    return float(np.sum((counts - expected) ** 2 / expected))


@pytest.fixture(scope="module")
def keys():
    return jax.random.split(jax.random.key(20240601), NUM_KEYS)


def test_argmax_ties_uniform_over_five_entries(keys):
    x = jnp.array([1.0, 7.0, 7.0, -3.0, 7.0, 7.0, 2.0, 7.0])
    tied = [1, 2, 4, 5, 7]
    picks = jax.vmap(lambda k: argmax(k, x))(keys)
    counts = _counts(picks, x.size)
    assert counts.sum() == NUM_KEYS
    assert set(np.flatnonzero(counts)) == set(tied)  # never a non-maximal entry
    assert np.all(np.abs(counts[tied] / NUM_KEYS - 0.2) < 0.03)
    assert _chi2_uniform(counts[tied]) < CHI2_4DF_P001


def test_argmin_ties_uniform_along_axis0_of_3d_array(keys):
    # coax documented tie breaking for 1-d inputs only; here the ties sit along axis 0
    # of a 3-d array and every slice must choose uniformly and independently.
    col = np.array([4, 0, 0, 9, 0, 0, 5, 0], dtype=np.int32)  # five ties at the minimum
    unique = np.array([4, 3, 8, 9, 6, 1, 5, 2], dtype=np.int32)  # unique minimum at 5
    x = np.stack([col, col[::-1], unique], axis=1)[:, :, None]  # shape (8, 3, 1)
    picks = np.asarray(jax.vmap(lambda k: argmin(k, x, axis=0))(keys))
    assert picks.shape == (NUM_KEYS, 3, 1)
    for j, column in enumerate([col, col[::-1]]):
        tied = np.flatnonzero(column == column.min())
        counts = _counts(picks[:, j, 0], len(column))
        assert set(np.flatnonzero(counts)) == set(tied)
        assert _chi2_uniform(counts[tied]) < CHI2_4DF_P001
    assert np.all(picks[:, 2, 0] == 5)
    # the two tied slices draw independently: they do not always pick mirrored positions
    mirrored = np.mean(picks[:, 0, 0] == 7 - picks[:, 1, 0])
    assert 0.1 < mirrored < 0.3  # independent: about 1/5


# Compiled once: the property test varies the values (and their order), not the shape.
# Axis 0, the last axis and axis=None are covered by the tests above and below.
_both_middle_axis = jax.jit(lambda key, x: (argmax(key, x, axis=1), argmin(key, x, axis=1)))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_without_ties_equals_numpy(seed):
    axis = 1
    x = np.random.default_rng(seed).permutation(24).astype(np.float32).reshape(2, 3, 4)
    amax, amin = _both_middle_axis(jax.random.key(seed), x)
    np.testing.assert_array_equal(amax, np.argmax(x, axis=axis))
    np.testing.assert_array_equal(amin, np.argmin(x, axis=axis))


# The small tests below share shape (4,) and dtype float32 where they can, so that they
# reuse one compilation.


def test_axis_none_uses_flattened_array():
    x = np.array([[1, 2], [9, 3]], dtype=np.float32)
    key = jax.random.key(0)
    assert int(argmax(key, x, axis=None)) == 2
    assert int(argmin(key, x, axis=None)) == 0
    assert argmax(key, x).tolist() == [1, 0]  # default axis=-1


def test_unsigned_and_bool_inputs():
    key = jax.random.key(3)
    u = np.array([7, 200, 255, 0], dtype=np.uint8)
    assert int(argmin(key, u)) == 3  # coax negated the array, which wraps for unsigned ints
    b = np.array([True, False, True, True])
    assert int(argmin(key, b)) == 1


def test_nan_is_picked_like_numpy():
    x = np.array([1.0, np.nan, 5.0, 0.0], dtype=np.float32)
    key = jax.random.key(0)
    assert int(argmax(key, x)) == int(np.argmax(x)) == 1
    assert int(argmin(key, x)) == int(np.argmin(x)) == 1


def test_legacy_prng_key():
    x = jnp.array([3.0, 1.0, 3.0, 0.0])
    picks = {int(argmax(jax.random.PRNGKey(i), x)) for i in range(40)}
    assert picks == {0, 2}


def test_jit_and_vmap():
    x = np.array([[0.0, 2.0, 2.0], [5.0, 1.0, 1.0]])
    f = jax.jit(argmin, static_argnames="axis")
    outs = np.stack([f(jax.random.key(i), x, axis=1) for i in range(30)])
    assert np.all(outs[:, 0] == 0)
    assert set(outs[:, 1]) == {1, 2}
    keys = jax.random.split(jax.random.key(1), 3)
    batched = jax.vmap(argmax)(keys, jnp.asarray(x[[0, 1, 1]]))
    assert batched.shape == (3,)
    assert batched[0] in (1, 2) and batched[1] == 0 and batched[2] == 0


def test_errors():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="out of bounds"):
        argmax(key, np.zeros((2, 3)), axis=2)
    with pytest.raises(ValueError, match="at least one dimension"):
        argmin(key, 1.0)
    with pytest.raises(ValueError, match="no entries along axis"):
        argmax(key, np.zeros((2, 0)))
    with pytest.raises(TypeError, match="axis must be an int or None"):
        argmax(key, np.zeros(3), axis=1.0)
