"""Argument checks that only the JAX trees need: traced arrays, JAX dtypes, 64-bit mode.

The distribution's checks live in `rlu_trees._checks` (its one home for them); the
checks of concrete arguments here call those and only add what JAX needs on top (tracers
pass through unchecked, arrays become JAX arrays, ``capacity`` has JAX's int32 bound).
Each check is ``check_<what>(name, value, *, <options>)`` as in `rlu_trees._checks`.
Importing this module does not import numba.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer

from rlu_trees import _checks as _host
from rlu_trees import _reducers
from rlu_trees.jax._kernels import x64_enabled

# the accepted reducer functions: numpy's and Python's (see _reducers), and JAX's
_FUNCTIONS: dict[Any, str] = {
    **_reducers.FUNCTIONS,
    jnp.add: "add",
    jnp.minimum: "min",
    jnp.maximum: "max",
}
_MAX_CAPACITY = 1 << 30  # node numbers are int32
_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1


def is_traced(value: Any) -> bool:
    """True for values that only exist while JAX traces a function (jit, vmap, scan, grad)."""
    return isinstance(value, Tracer)


def check_capacity(name: str, value: Any) -> int:
    """``value`` (a capacity) as an int in ``[1, 2**30]``."""
    number = _host.check_int(name, value, minimum=1)
    if number > _MAX_CAPACITY:
        raise ValueError(f"{name} must be an int in [1, 2**30], got {number}")
    return number


def check_reducer(name: str, value: Any) -> str:
    """``value`` (a reducer) as one of ``'add'``, ``'min'``, ``'max'``."""
    if isinstance(value, str):
        if value in _reducers.NAMES:
            return _reducers.NAMES[value]
        raise ValueError(f"{name} must be 'add', 'min' or 'max', got {value!r}")
    try:
        reducer = _FUNCTIONS.get(value)
    except TypeError:  # unhashable
        reducer = None
    if reducer is None:
        if callable(value):
            raise ValueError(
                f"{name} must be 'add', 'min' or 'max' (or numpy.add, numpy.minimum, "
                f"numpy.maximum), got {value!r}"
            )
        raise TypeError(f"{name} must be a str or a known function, got {type(value).__name__}")
    return reducer


def check_dtype(name: str, value: Any) -> np.dtype[Any]:
    """``value`` (a dtype) as float32 or float64 (None: JAX's default float); float64 needs x64."""
    if value is None:
        return np.dtype(np.float64) if x64_enabled() else np.dtype(np.float32)
    dt: np.dtype[Any] = _host.check_dtype(name, value)
    if dt == np.dtype(np.float64) and not x64_enabled():
        raise ValueError(
            f"{name} float64 needs JAX's 64-bit mode: jax.config.update('jax_enable_x64', True)"
        )
    return dt


def check_index_array(name: str, value: Any) -> jax.Array:
    """An int or 1-d array of ints as a 1-d integer array of at least 32 bits (traced arrays
    are checked by dtype and shape only)."""
    if is_traced(value):
        if not jnp.issubdtype(value.dtype, jnp.integer):
            raise TypeError(f"{name} must hold integers, got dtype {value.dtype}")
        if value.ndim > 1:
            raise ValueError(f"{name} must be an int or 1-d, got shape {value.shape}")
        flat: jax.Array = jnp.reshape(value, (-1,))
        # int8/int16 positions would wrap in arithmetic with the capacity (``+ cap``, clips)
        return flat.astype(jnp.int32) if flat.dtype.itemsize < 4 else flat
    if isinstance(value, jax.Array):
        value = np.asarray(value)
    arr = _host.check_index_array(name, value)
    if not x64_enabled():
        wide = (arr < _INT32_MIN) | (arr > _INT32_MAX)
        if wide.any():
            k = int(np.argmax(wide))
            raise IndexError(f"{name}[{k}] = {int(arr[k])} is out of range")
        arr = arr.astype(np.int32)
    return jnp.asarray(arr)


def check_indices(name: str, value: jax.Array, *, capacity: int) -> None:
    """Raise IndexError for a concrete index in ``value`` outside ``[-capacity, capacity)``."""
    arr = np.asarray(value)
    bad = (arr < -capacity) | (arr >= capacity)
    if bad.any():
        k = int(np.argmax(bad))
        raise IndexError(
            f"{name}[{k}] = {int(arr[k])} is out of range for capacity {capacity}; "
            f"expected -{capacity} <= {name} < {capacity}"
        )


def check_value_array(name: str, value: Any, *, n: int, dtype: np.dtype[Any]) -> jax.Array:
    """Real numbers as an array of shape ``(n,)`` (a scalar is repeated)."""
    if is_traced(value):
        if not (
            jnp.issubdtype(value.dtype, jnp.floating) or jnp.issubdtype(value.dtype, jnp.integer)
        ):
            raise TypeError(f"{name} must be real numbers, got dtype {value.dtype}")
        arr_t: jax.Array = value.astype(dtype)
        if arr_t.ndim == 0:
            return jnp.full((n,), arr_t)
        if arr_t.shape != (n,):
            raise ValueError(f"{name} must be a scalar or have shape ({n},), got {arr_t.shape}")
        return arr_t
    if isinstance(value, jax.Array):
        value = np.asarray(value)
    return jnp.asarray(_host.check_value_array(name, value, n=n, dtype=dtype))


def check_values(name: str, value: jax.Array, *, reducer: str) -> None:
    """Raise ValueError for concrete values the tree refuses (see the tree's docstring).

    ``reducer`` is the tree's, or ``""`` for no rule but NaN (only sum trees refuse more).
    """
    arr = np.asarray(value)
    if reducer == "add":
        bad = ~((arr >= 0) & (arr < np.inf))
        what = "takes finite, non-negative values"
    else:
        bad = np.isnan(arr)
        what = "refuses NaN, which breaks the comparisons"
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"{name}[{k}] = {arr[k]!r} is not allowed: the tree {what}")


def check_unit_array(name: str, value: Any, *, dtype: np.dtype[Any]) -> tuple[jax.Array, bool]:
    """Numbers in ``[0, 1]`` as a 1-d array and whether ``value`` was a scalar."""
    if is_traced(value):
        real = jnp.issubdtype(value.dtype, jnp.integer) or jnp.issubdtype(value.dtype, jnp.floating)
        if not real:  # never bool or complex, as outside jit (bfloat16 is welcome)
            raise TypeError(
                f"{name} must be a real number or a 1-d array of real numbers in [0, 1], got an "
                f"array of dtype {value.dtype}"
            )
        if value.ndim > 1:
            raise ValueError(f"{name} must be a float or 1-d, got shape {value.shape}")
        return jnp.reshape(value, (-1,)).astype(dtype), value.ndim == 0
    if isinstance(value, jax.Array):
        value = np.asarray(value)
    flat = _host.check_unit_array(name, value)
    return jnp.asarray(flat.astype(dtype)), np.ndim(value) == 0
