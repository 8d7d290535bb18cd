import base64
import importlib
import inspect
import operator
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from rlu_jaxtools import jit
from rlu_jaxtools._jit import JittedFunc

cloudpickle = pytest.importorskip("cloudpickle", reason="cloudpickle is a test-only dependency")

TRACES = []


def scaled_range_sum(x, n, scale):
    """Sum of x times scale, plus the sum of range(n)."""
    TRACES.append(type(x))
    return jnp.sum(x) * scale + jnp.sum(jnp.arange(n))  # n must be static (it sets a shape)


def _check_static_and_donated(f):
    assert f.static_argnums == (1,)
    assert f.donate_argnums == (2,)
    scale = jnp.array(2.0)
    out = f(np.ones(3), 4, scale)  # arange(4) needs n static
    assert float(out) == 3 * 2.0 + 6
    assert scale.is_deleted()  # donated buffer was taken
    with pytest.raises((TypeError, ValueError)):
        f(np.ones(3), jnp.array(4), jnp.array(2.0))  # a non-static value where one is required


def test_module_level_function_roundtrips_through_pickle():
    f = jit(scaled_range_sum, static_argnums=1, donate_argnums=(2,))
    _check_static_and_donated(f)
    restored = pickle.loads(pickle.dumps(f))
    assert isinstance(restored, JittedFunc)
    assert restored.func is scaled_range_sum
    _check_static_and_donated(restored)
    # restored is compiled again: the Python body sees tracers, once per new signature
    TRACES.clear()
    restored(np.ones(3), 5, jnp.array(1.0))
    restored(np.zeros(3), 5, jnp.array(3.0))
    assert len(TRACES) == 1 and issubclass(TRACES[0], jax.core.Tracer)


def test_closure_and_lambda_roundtrip_through_cloudpickle():
    offset = 10.0

    def add_offset(x, k):
        marker = 1.0 if isinstance(x, jax.core.Tracer) else 0.0  # 1 only when compiled
        return x * k + offset + marker

    f = jit(add_offset, static_argnums=1, donate_argnums=0)
    g = jit(lambda x: x * 3 + (100.0 if isinstance(x, jax.core.Tracer) else 0.0))
    f2, g2 = cloudpickle.loads(cloudpickle.dumps((f, g)))
    assert (f2.static_argnums, f2.donate_argnums) == ((1,), (0,))
    assert (g2.static_argnums, g2.donate_argnums) == ((), ())
    x = jnp.array([1.0, 2.0])
    assert f2(x, 2).tolist() == [13.0, 15.0]
    assert x.is_deleted()
    assert g2(jnp.array(1.0)).tolist() == 103.0


def test_wrapper_metadata_and_nesting():
    f = jit(scaled_range_sum, static_argnums=1)
    assert f.__name__ == "scaled_range_sum"
    assert f.__doc__ == scaled_range_sum.__doc__
    assert list(inspect.signature(f).parameters) == ["x", "n", "scale"]
    assert "scaled_range_sum" in repr(f) and "static_argnums=(1,)" in repr(f)
    # usable inside jax transformations
    out = jax.vmap(lambda x: f(x, 2, 1.0))(jnp.ones((4, 3)))
    assert out.tolist() == [4.0] * 4


def test_argument_errors():
    with pytest.raises(TypeError, match="func must be callable"):
        jit(42)
    with pytest.raises(TypeError, match="static_argnums must be an int or a tuple of ints"):
        jit(scaled_range_sum, static_argnums="1")
    with pytest.raises(TypeError, match="donate_argnums must be an int or a tuple of ints"):
        jit(scaled_range_sum, donate_argnums=(1.0,))
    with pytest.raises(TypeError, match="static_argnums must be an int or a tuple of ints"):
        jit(scaled_range_sum, static_argnums=True)


def test_numpy_integer_argnums_are_accepted():
    f = jit(scaled_range_sum, static_argnums=np.int64(1), donate_argnums=[np.int32(2)])
    assert f.static_argnums == (1,) and f.donate_argnums == (2,)
    assert all(type(a) is int for a in f.static_argnums + f.donate_argnums)


# Pickles written by rlu-jaxtools 0.1.0, whose JittedFunc lived in rlu_jaxtools.picklable_jit:
# pickle.dumps(rlu_jaxtools.jit(operator.neg), protocol=4) and
# cloudpickle.dumps(rlu_jaxtools.jit(operator.mul, static_argnums=1, donate_argnums=0)).
JIT_PICKLE = (
    "gASVRwAAAAAAAACMGnJsdV9qYXh0b29scy5waWNrbGFibGVfaml0lIwKSml0dGVkRnVuY5STlIwJX29wZXJhdG9y"
    "lIwDbmVnlJOUKSmHlFKULg=="
)
JIT_CLOUDPICKLE = (
    "gAWVTQAAAAAAAACMGnJsdV9qYXh0b29scy5waWNrbGFibGVfaml0lIwKSml0dGVkRnVuY5STlIwJX29wZXJhdG9y"
    "lIwDbXVslJOUSwGFlEsAhZSHlFKULg=="
)


def test_pickles_of_rlu_jaxtools_0_1_0_still_load():
    assert b"rlu_jaxtools.picklable_jit" in base64.b64decode(JIT_PICKLE)
    neg = pickle.loads(base64.b64decode(JIT_PICKLE))
    assert isinstance(neg, JittedFunc) and neg.func is operator.neg
    assert (neg.static_argnums, neg.donate_argnums) == ((), ())
    assert float(neg(jnp.float32(2.5))) == -2.5
    for loads in (pickle.loads, cloudpickle.loads):
        mul = loads(base64.b64decode(JIT_CLOUDPICKLE))
        assert isinstance(mul, JittedFunc) and mul.func is operator.mul
        assert (mul.static_argnums, mul.donate_argnums) == ((1,), (0,))
        assert mul(jnp.arange(3.0), 2).tolist() == [0.0, 2.0, 4.0]


def test_new_pickles_record_the_stable_private_path():
    data = pickle.dumps(jit(operator.neg), protocol=4)
    assert b"rlu_jaxtools._jit" in data and b"picklable_jit" not in data
    compat = importlib.import_module("rlu_jaxtools.picklable_jit")
    assert compat.JittedFunc is JittedFunc
    assert "old pickles" in compat.__doc__
