import jax
import jax.numpy as jnp
import numpy as np
import pytest
from rlu_jaxtools import check_array, idx, isscalar


def test_check_array_passes_and_fails_each_check():
    x = jnp.zeros((2, 3), dtype=jnp.float32)
    check_array(
        x, ndim=2, ndim_min=1, ndim_max=2, dtype="float32", shape=[2, 3], axis_size=3, axis=1
    )
    check_array(x, ndim=(1, 2), dtype=(jnp.int32, jnp.float32), axis_size=(4, 2), axis=-2)
    cases = [
        (dict(ndim=3), "ndim 3, got ndim: 2"),
        (dict(ndim=[1, 3]), "ndim one of 1, 3, got ndim: 2"),
        (dict(ndim_min=3), "ndim at least 3, got ndim: 2"),
        (dict(ndim_max=1), "ndim at most 1, got ndim: 2"),
        (dict(dtype="int32"), "dtype int32, got dtype: float32"),
        (dict(shape=(3, 2)), r"shape \(3, 2\), got shape: \(2, 3\)"),
        (dict(axis_size=2, axis=1), "size 2 along axis 1"),
        (dict(axis_size=2, axis=5), "an axis 5"),
    ]
    for kwargs, message in cases:
        with pytest.raises(TypeError, match=message):
            check_array(x, **kwargs)


def test_check_array_array_types():
    with pytest.raises(TypeError, match="expected input to be a JAX array, got type: ndarray"):
        check_array(np.zeros(2))
    check_array(np.zeros(2), ndim=1, except_np=True)
    with pytest.raises(TypeError, match="JAX or numpy array, got type: list"):
        check_array([1, 2], except_np=True)
    with pytest.raises(ValueError, match="axis_size and axis must be given together"):
        check_array(jnp.zeros(2), axis_size=2)


def test_check_array_on_tracers():
    def f(x):
        check_array(x, ndim=1, dtype="float32", shape=(3,))
        return x * 2

    assert jax.jit(f)(np.ones(3, np.float32)).tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(TypeError, match="ndim 1, got ndim: 0"):
        jax.vmap(f)(np.ones(3, np.float32))  # inside vmap each example is 0-d


def test_isscalar():
    yes = [
        1,
        2.5,
        True,
        1 + 2j,
        np.float32(3),
        np.int64(1),
        np.bool_(False),
        np.array(1.0),
        np.ones((1, 1)),
        jnp.array([7]),
        jnp.float32(2),
    ]
    no = [np.ones(2), jnp.zeros((2, 1)), np.zeros(0), "a", b"x", None, [1], (1,), {"a": 1}]
    assert all(isscalar(v) for v in yes)
    assert not any(isscalar(v) for v in no)
    seen = []
    jax.jit(lambda x: seen.append(isscalar(x)) or x)(np.ones(1))
    jax.vmap(lambda x: seen.append(isscalar(x)) or x)(np.ones(3))
    assert seen == [True, True]


def test_idx():
    assert idx(np.zeros((4, 2))).tolist() == [0, 1, 2, 3]  # numpy input (coax rejected it)
    assert idx(jnp.zeros((4, 2)), axis=-1).tolist() == [0, 1]
    assert jnp.issubdtype(idx(np.zeros(3)).dtype, jnp.integer)
    assert jax.jit(idx, static_argnums=1)(np.zeros((2, 5)), 1).tolist() == list(range(5))
    assert idx(np.zeros((0, 3))).shape == (0,)
    # under vmap each example is indexed along its own axis
    rows = jax.vmap(lambda x: x + idx(x))(np.zeros((2, 3), dtype=np.int32))
    assert rows.tolist() == [[0, 1, 2], [0, 1, 2]]
    with pytest.raises(ValueError, match="at least one dimension"):
        idx(np.float32(1))
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        idx(np.zeros((2, 2)), axis=2)
    with pytest.raises(TypeError, match="axis must be an int"):
        idx(np.zeros(2), axis=None)
