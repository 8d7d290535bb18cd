import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_jaxtools import diff_transform, diff_transform_matrix

REFERENCE_4x4 = [
    [-1, 0, 0, 0],
    [3, 1, 0, 0],
    [-3, -2, -1, 0],
    [1, 1, 1, 1],
]


def test_reference_4x4_matrix():
    m = diff_transform_matrix(num_frames=4)
    assert m.dtype == jnp.float32 and m.shape == (4, 4)
    np.testing.assert_array_equal(m, REFERENCE_4x4)
    assert diff_transform_matrix(4, dtype="int32").dtype == jnp.int32
    assert diff_transform_matrix(1).tolist() == [[1.0]]


# every num_frames from 1 to 6 with several frame values each: 50 examples
@settings(max_examples=50, deadline=None)
@given(num_frames=st.integers(1, 6), seed=st.integers(0, 1000))
def test_columns_are_backward_differences(num_frames, seed):
    # independent truth: numpy's repeated differences, evaluated at the latest frame
    x = np.random.default_rng(seed).integers(-5, 6, size=(2, num_frames)).astype(np.float32)
    out = np.asarray(diff_transform(x))
    assert out.shape == x.shape and out.dtype == np.float32
    for j in range(num_frames):
        order = num_frames - 1 - j
        np.testing.assert_array_equal(out[:, j], np.diff(x, n=order, axis=-1)[:, -1])


def test_polynomial_frames_and_dtype():
    t = np.arange(1, 5, dtype=np.int64)
    x = t**3  # third differences of a cubic are 3! = 6
    out = diff_transform(x)
    assert out.dtype == jnp.float32  # the dtype argument sets computation and output dtype
    assert out.tolist() == [6.0, 18.0, 37.0, 64.0]
    assert diff_transform(x, dtype="int32").tolist() == [6, 18, 37, 64]


def test_jit_vmap_and_frames_on_last_axis():
    x = np.random.default_rng(0).normal(size=(3, 2, 4)).astype(np.float32)
    m = np.array(REFERENCE_4x4, dtype=np.float32)  # the reference's matrix, not the code's
    np.testing.assert_allclose(diff_transform(x), x @ m, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(jax.jit(diff_transform)(x), x @ m, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(jax.vmap(diff_transform)(x), x @ m, rtol=1e-6, atol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match="num_frames must be an int >= 1, got 0"):
        diff_transform_matrix(0)
    with pytest.raises(TypeError, match="num_frames must be an int"):
        diff_transform_matrix(2.0)
    with pytest.raises(ValueError, match="at least one dimension"):
        diff_transform(np.float32(1.0))
    with pytest.raises(ValueError, match="is empty"):
        diff_transform(np.zeros((2, 0)))
