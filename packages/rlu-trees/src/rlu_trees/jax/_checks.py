"""Argument checks that only the JAX trees need: traced arrays, JAX dtypes, 64-bit mode.

The distribution's checks live in `rlu_trees._checks` (its one home for them); the
checks of concrete arguments here call those and only add what JAX needs on top (tracers
pass through unchecked, arrays become JAX arrays, ``capacity`` has JAX's int32 bound).
Importing this module does not import numba.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer

from rlu_trees import _checks as _host

_REDUCER_NAMES = {"add": "add", "sum": "add", "min": "min", "minimum": "min", "max": "max"}
_MAX_CAPACITY = 1 << 30  # node numbers are int32
_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1


def is_traced(x: Any) -> bool:
    """True for values that only exist while JAX traces a function (jit, vmap, scan, grad)."""
    return isinstance(x, Tracer)


def as_capacity(x: Any) -> int:
    """``capacity`` as an int in ``[1, 2**30]``."""
    value = _host.check_int("capacity", x, minimum=1)
    if value > _MAX_CAPACITY:
        raise ValueError(f"capacity must be an int in [1, 2**30], got {value}")
    return value


def as_reducer(x: Any) -> str:
    """``reducer`` as one of ``'add'``, ``'min'``, ``'max'``."""
    import operator

    known: dict[Any, str] = {
        np.add: "add",
        jnp.add: "add",
        operator.add: "add",
        np.minimum: "min",
        np.fmin: "min",
        jnp.minimum: "min",
        min: "min",
        np.maximum: "max",
        np.fmax: "max",
        jnp.maximum: "max",
        max: "max",
    }
    if isinstance(x, str):
        if x in _REDUCER_NAMES:
            return _REDUCER_NAMES[x]
        raise ValueError(f"reducer must be 'add', 'min' or 'max', got {x!r}")
    try:
        name = known.get(x)
    except TypeError:  # unhashable
        name = None
    if name is None:
        if callable(x):
            raise ValueError(
                f"reducer must be 'add', 'min' or 'max' (or numpy.add, numpy.minimum, "
                f"numpy.maximum), got {x!r}"
            )
        raise TypeError(f"reducer must be a str or a known function, got {type(x).__name__}")
    return name


def as_dtype(x: Any) -> np.dtype[Any]:
    """``dtype`` as float32 or float64 (None: JAX's default float); float64 needs x64."""
    if x is None:
        return np.dtype(np.float64) if _x64() else np.dtype(np.float32)
    dt: np.dtype[Any] = _host.check_dtype("dtype", x)
    if dt == np.dtype(np.float64) and not _x64():
        raise ValueError(
            "dtype float64 needs JAX's 64-bit mode: jax.config.update('jax_enable_x64', True)"
        )
    return dt


def as_index_array(name: str, x: Any) -> jax.Array:
    """An int or 1-d array of ints as a 1-d integer array (traced arrays pass unchecked)."""
    if is_traced(x):
        if not jnp.issubdtype(x.dtype, jnp.integer):
            raise TypeError(f"{name} must hold integers, got dtype {x.dtype}")
        if x.ndim > 1:
            raise ValueError(f"{name} must be an int or 1-d, got shape {x.shape}")
        flat: jax.Array = jnp.reshape(x, (-1,))
        return flat
    if isinstance(x, jax.Array):
        x = np.asarray(x)
    arr = _host.as_index_array(name, x)
    if not _x64():
        wide = (arr < _INT32_MIN) | (arr > _INT32_MAX)
        if wide.any():
            k = int(np.argmax(wide))
            raise IndexError(f"{name}[{k}] = {int(arr[k])} is out of range")
        arr = arr.astype(np.int32)
    return jnp.asarray(arr)


def check_indices(name: str, idx: jax.Array, capacity: int) -> None:
    """Raise IndexError for a concrete index outside ``[-capacity, capacity)``."""
    arr = np.asarray(idx)
    bad = (arr < -capacity) | (arr >= capacity)
    if bad.any():
        k = int(np.argmax(bad))
        raise IndexError(
            f"{name}[{k}] = {int(arr[k])} is out of range for capacity {capacity}; "
            f"expected -{capacity} <= {name} < {capacity}"
        )


def as_value_array(name: str, x: Any, n: int, dtype: np.dtype[Any]) -> jax.Array:
    """Real numbers as an array of shape ``(n,)`` (a scalar is repeated)."""
    if is_traced(x):
        if not (jnp.issubdtype(x.dtype, jnp.floating) or jnp.issubdtype(x.dtype, jnp.integer)):
            raise TypeError(f"{name} must be real numbers, got dtype {x.dtype}")
        arr_t: jax.Array = x.astype(dtype)
        if arr_t.ndim == 0:
            return jnp.full((n,), arr_t)
        if arr_t.shape != (n,):
            raise ValueError(f"{name} must be a scalar or have shape ({n},), got {arr_t.shape}")
        return arr_t
    if isinstance(x, jax.Array):
        x = np.asarray(x)
    return jnp.asarray(_host.as_value_array(name, x, n, dtype))


def check_values(name: str, values: jax.Array, reducer: str) -> None:
    """Raise ValueError for concrete values the tree refuses (see the tree's docstring)."""
    arr = np.asarray(values)
    if reducer == "add":
        bad = ~((arr >= 0) & (arr < np.inf))
        what = "takes finite, non-negative values"
    else:
        bad = np.isnan(arr)
        what = "refuses NaN, which breaks the comparisons"
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"{name}[{k}] = {arr[k]!r} is not allowed: the tree {what}")


def as_unit_array(name: str, x: Any, dtype: np.dtype[Any]) -> tuple[jax.Array, bool]:
    """Numbers in ``[0, 1]`` as a 1-d array and whether ``x`` was a scalar."""
    if is_traced(x):
        if x.ndim > 1:
            raise ValueError(f"{name} must be a float or 1-d, got shape {x.shape}")
        return jnp.reshape(x, (-1,)).astype(dtype), x.ndim == 0
    if isinstance(x, jax.Array):
        x = np.asarray(x)
    flat = _host.as_unit_array(name, x)
    return jnp.asarray(flat.astype(dtype)), np.ndim(x) == 0


def _x64() -> bool:
    return bool(jax.dtypes.canonicalize_dtype(np.float64) == np.dtype(np.float64))


def x64_enabled() -> bool:
    """Whether JAX's 64-bit mode is on."""
    return _x64()


def accumulator_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype of the descent's target mass: float64 when JAX allows it (as the host)."""
    return np.dtype(np.float64) if _x64() else dtype
