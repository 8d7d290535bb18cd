"""coax.utils' own tests, ported, and the errors that stay catchable the way coax raised them.

The ported tests are coax 0.1.13's (``coax/utils/_array_test.py``,
``coax/utils/_array_test_unvectorize.py``) with only the imports changed; ``TestCase`` stands in
for coax's test base class. coax's ``test_argmax_random_tiebreaking`` is not ported: it asserts
the particular indices coax's sampler drew for particular keys (``[1, 1, 3]``), which rlu, drawing
ties differently (uniformly, along any axis), does not reproduce.
"""

import unittest

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import numpy as onp
import pytest
from haiku import PRNGSequence
from rlu_jaxtools import (
    argmax,
    batch_to_single,
    check_array,
    diff_transform,
    diff_transform_matrix,
    idx,
    stack_trees,
    sync_shared_params,
    unvectorize,
)


class TestCase(unittest.TestCase):
    def assertArrayAlmostEqual(self, x, y, decimal=None):
        onp.testing.assert_array_almost_equal(x, y, decimal=decimal or 6)


# ---- coax/utils/_array_test.py ---------------------------------------------------------------
class TestArrayUtils(TestCase):
    def test_argmax_consistent(self):
        rngs = PRNGSequence(13)

        vec = jax.random.normal(next(rngs), shape=(5,))
        mat = jax.random.normal(next(rngs), shape=(3, 5))
        ten = jax.random.normal(next(rngs), shape=(3, 5, 7))

        self.assertEqual(argmax(next(rngs), vec), jnp.argmax(vec, axis=-1))
        self.assertArrayAlmostEqual(argmax(next(rngs), mat), jnp.argmax(mat, axis=-1))
        self.assertArrayAlmostEqual(argmax(next(rngs), mat, axis=0), jnp.argmax(mat, axis=0))
        self.assertArrayAlmostEqual(argmax(next(rngs), ten), jnp.argmax(ten, axis=-1))
        self.assertArrayAlmostEqual(argmax(next(rngs), ten, axis=0), jnp.argmax(ten, axis=0))
        self.assertArrayAlmostEqual(argmax(next(rngs), ten, axis=1), jnp.argmax(ten, axis=1))


# ---- coax/utils/_array_test_unvectorize.py ---------------------------------------------------
@pytest.fixture
def rngs():
    return hk.PRNGSequence(42)


@pytest.fixture
def x_batch():
    rng = jax.random.PRNGKey(13)
    return jax.random.normal(rng, shape=(7, 11))


@pytest.fixture
def x_single():
    rng = jax.random.PRNGKey(17)
    return jax.random.normal(rng, shape=(11,))


# x @ w + b in float64 numpy: the independent truth for hk.Linear's outputs below
_TOL = {"rtol": 1e-5, "atol": 1e-5}


def _affine(params, name, x):
    w = np.asarray(params[name]["w"], np.float64)
    b = np.asarray(params[name]["b"], np.float64)
    return np.asarray(x, np.float64) @ w + b


def test_unvectorize_single_output(rngs, x_batch, x_single):
    def f_batch(X):
        return hk.Linear(11)(X)

    init, f_batch = hk.transform(f_batch)
    params = init(next(rngs), x_batch)
    y_batch = f_batch(params, next(rngs), x_batch)
    assert y_batch.shape == (7, 11)
    np.testing.assert_allclose(y_batch, _affine(params, "linear", x_batch), **_TOL)

    f_single = unvectorize(f_batch, in_axes=(None, None, 0), out_axes=0)
    y_single = f_single(params, next(rngs), x_single)
    assert y_single.shape == (11,)
    # not added by coax: the values, against hk.Linear's closed form x @ w + b in numpy
    np.testing.assert_allclose(y_single, _affine(params, "linear", x_single), **_TOL)

    f_single = unvectorize(f_batch, in_axes=(None, None, 0), out_axes=(0,))
    msg = r"out_axes must be an int for functions with a single output; got: out_axes=\(0,\)"
    with pytest.raises(TypeError, match=msg):
        f_single(params, next(rngs), x_single)

    f_single = unvectorize(f_batch, in_axes=(None, None, 0, 0), out_axes=(0,))
    msg = r"number of in_axes must match the number of function inputs"
    with pytest.raises(ValueError, match=msg):
        f_single(params, next(rngs), x_single)


def test_unvectorize_multi_output(rngs, x_batch, x_single):
    def f_batch(X):
        return hk.Linear(11)(X), hk.Linear(13)(X)

    init, f_batch = hk.transform(f_batch)
    params = init(next(rngs), x_batch)
    y_batch = f_batch(params, next(rngs), x_batch)
    assert y_batch[0].shape == (7, 11)
    assert y_batch[1].shape == (7, 13)

    # not added by coax: the values, against the two layers' closed forms in numpy
    y11, y13 = _affine(params, "linear", x_single), _affine(params, "linear_1", x_single)
    np.testing.assert_allclose(y_batch[0], _affine(params, "linear", x_batch), **_TOL)
    np.testing.assert_allclose(y_batch[1], _affine(params, "linear_1", x_batch), **_TOL)

    f_single = unvectorize(f_batch, in_axes=(None, None, 0), out_axes=0)
    y_single = f_single(params, next(rngs), x_single)
    assert y_single[0].shape == (11,)
    assert y_single[1].shape == (13,)
    np.testing.assert_allclose(y_single[0], y11, **_TOL)
    np.testing.assert_allclose(y_single[1], y13, **_TOL)

    f_single = unvectorize(f_batch, in_axes=(None, None, 0), out_axes=(0, None))
    y_single = f_single(params, next(rngs), x_single)
    assert y_single[0].shape == (11,)
    assert y_single[1].shape == (1, 13)
    np.testing.assert_allclose(y_single[0], y11, **_TOL)
    np.testing.assert_allclose(y_single[1], y13[None], **_TOL)

    f_single = unvectorize(f_batch, in_axes=(None, None, 0), out_axes=None)
    y_single = f_single(params, next(rngs), x_single)
    assert y_single[0].shape == (
        1,
        11,
    )
    assert y_single[1].shape == (1, 13)
    np.testing.assert_allclose(y_single[0], y11[None], **_TOL)
    np.testing.assert_allclose(y_single[1], y13[None], **_TOL)

    f_single = unvectorize(f_batch, in_axes=(None, None, 0), out_axes=(0,))
    msg = r"number of out_axes must match the number of function outputs"
    with pytest.raises(ValueError, match=msg):
        f_single(params, next(rngs), x_single)


# ---- where rlu and coax raised different classes, rlu's error is an instance of both -----------
A = np.zeros((2, 3))


@pytest.mark.parametrize(
    ("call", "rlu_class", "coax_class", "message"),
    [
        (
            lambda: batch_to_single({"x": np.float32(1.0)}),
            ValueError,
            IndexError,
            r"^batch_to_single: the leaf at \['x'\] is 0-d; every leaf needs a leading batch axis",
        ),
        (lambda: stack_trees([]), ValueError, TypeError, r"^stack_trees: argument 0 is an empty"),
        (
            lambda: check_array(jnp.zeros((2, 3)), axis_size=2, axis=5),
            TypeError,
            IndexError,
            r"an axis 5, got shape: \(2, 3\)$",
        ),
        (
            lambda: idx(np.float32(1.0)),
            ValueError,
            TypeError,
            r"^idx: arr must have at least one dimension, got a 0-d array$",
        ),
        (
            lambda: idx(jnp.zeros((2, 3)), axis=2),
            ValueError,
            IndexError,
            r"^idx: axis 2 is out of bounds for arr with shape \(2, 3\)$",
        ),
        (
            lambda: diff_transform_matrix(0),
            ValueError,
            AssertionError,
            r"^diff_transform_matrix: num_frames must be an int >= 1, got 0$",
        ),
        (
            lambda: diff_transform_matrix(2.0),
            TypeError,
            AssertionError,
            r"^diff_transform_matrix: num_frames must be an int >= 1, got 2\.0$",
        ),
        (
            lambda: diff_transform_matrix("3"),
            TypeError,
            AssertionError,
            r"^diff_transform_matrix: num_frames must be an int >= 1, got '3'$",
        ),
        (
            lambda: diff_transform(np.float32(1.0)),
            ValueError,
            IndexError,
            r"^diff_transform: X must have at least one dimension, got a 0-d array$",
        ),
        (
            lambda: diff_transform(np.zeros((2, 0))),
            ValueError,
            AssertionError,
            r"^diff_transform: the last axis of X \(the frames\) is empty$",
        ),
        (
            lambda: sync_shared_params({"s": {"w": A}}, {"s": {"w": A, "b": A}}),
            ValueError,
            AssertionError,
            r"^sync_shared_params: the shared entry 's' has structure .*'b'.* in params 1 but ",
        ),
        (
            lambda: sync_shared_params({"s": A}, {"s": A}, weights=[0.0, 0.0]),
            ValueError,
            AssertionError,
            r"^sync_shared_params: weights must be positive finite numbers, got \[0\.0, 0\.0\]$",
        ),
        (
            lambda: sync_shared_params({"s": A}, {"s": A}, weights=[1.0, -1.0]),
            ValueError,
            AssertionError,
            r"^sync_shared_params: weights must be positive finite numbers, got \[1\.0, -1\.0\]$",
        ),
        (
            lambda: sync_shared_params({"s": A}, [A]),
            TypeError,
            AttributeError,
            r"^sync_shared_params: params 1 must be a mapping \(e\.g\. hk\.Params\), got list$",
        ),
        (
            lambda: sync_shared_params({"s": A}, {"s": A}, weights="ab"),
            TypeError,
            TypeError,
            r"^sync_shared_params: weights must be a sequence of positive numbers, got 'ab'$",
        ),
    ],
)
def test_errors_are_also_what_coax_raised(call, rlu_class, coax_class, message):
    # the message names the function, the argument and what was expected (house rule)
    with pytest.raises(rlu_class, match=message) as info:
        call()
    assert isinstance(info.value, coax_class)
    np.testing.assert_array_equal(A, np.zeros((2, 3)))  # a rejected call changes nothing


def test_house_integers_accept_numpy_integers_and_refuse_bools():
    # n = 2: column 0 is the first backward difference x_1 - x_0, column 1 the position x_1
    assert diff_transform_matrix(np.int64(2)).tolist() == [[-1.0, 0.0], [1.0, 1.0]]
    assert idx(np.zeros((2, 3)), axis=np.int32(1)).tolist() == [0, 1, 2]
    assert int(argmax(jax.random.key(0), np.array([0.0, 1.0]), axis=np.int64(0))) == 1
    with pytest.raises(TypeError, match="num_frames must be an int >= 1, got True"):
        diff_transform_matrix(True)
    with pytest.raises(TypeError, match="axis must be an int, got False"):
        idx(np.zeros(2), axis=False)
    with pytest.raises(TypeError, match="in_axes must be an int, None, or a tuple"):
        unvectorize(lambda x: x, in_axes=True)
