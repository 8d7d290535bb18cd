"""Argument checks of the JAX trees: the one home for them in ``rlu_trees.jax``."""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer

_REDUCER_NAMES = {"add": "add", "sum": "add", "min": "min", "minimum": "min", "max": "max"}
_MAX_CAPACITY = 1 << 30  # node numbers are int32


def is_traced(x: Any) -> bool:
    """True for values that only exist while JAX traces a function (jit, vmap, scan, grad)."""
    return isinstance(x, Tracer)


def as_capacity(x: Any) -> int:
    """``capacity`` as an int in ``[1, 2**30]``."""
    if not isinstance(x, numbers.Integral) or isinstance(x, (bool, np.bool_)):
        raise TypeError(f"capacity must be an int >= 1, got {type(x).__name__}: {x!r}")
    value = int(x)
    if not 1 <= value <= _MAX_CAPACITY:
        raise ValueError(f"capacity must be an int in [1, 2**30], got {x!r}")
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
    try:
        dt: np.dtype[Any] = np.dtype(x)
    except TypeError as exc:
        raise TypeError(f"dtype must be float32 or float64, got {x!r}") from exc
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    if dt == np.dtype(np.float64) and not _x64():
        raise ValueError(
            "dtype float64 needs JAX's 64-bit mode: jax.config.update('jax_enable_x64', True)"
        )
    return dt


def as_positive_int(name: str, x: Any) -> int:
    """``x`` as an int >= 1."""
    if not isinstance(x, numbers.Integral) or isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int >= 1, got {type(x).__name__}: {x!r}")
    if x < 1:
        raise ValueError(f"{name} must be an int >= 1, got {x!r}")
    return int(x)


def as_bool(name: str, x: Any) -> bool:
    if not isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(x).__name__}: {x!r}")
    return bool(x)


def as_index_array(name: str, x: Any) -> jax.Array:
    """An int or 1-d array of ints as a 1-d integer array (traced arrays pass unchecked)."""
    if is_traced(x):
        if not jnp.issubdtype(x.dtype, jnp.integer):
            raise TypeError(f"{name} must hold integers, got dtype {x.dtype}")
        if x.ndim > 1:
            raise ValueError(f"{name} must be an int or 1-d, got shape {x.shape}")
        flat: jax.Array = jnp.reshape(x, (-1,))
        return flat
    arr = np.asarray(x)
    if arr.size == 0 and arr.dtype.kind == "f" and not isinstance(x, (np.ndarray, jax.Array)):
        arr = arr.astype(np.int32)  # an empty list is an empty batch of indices
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an int or a 1-d array of ints, got dtype {arr.dtype}")
    if arr.ndim > 1:
        raise ValueError(f"{name} must be an int or 1-d, got shape {arr.shape}")
    return jnp.asarray(arr.reshape(-1).astype(np.int64 if _x64() else np.int32, copy=False))


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
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be real numbers, got {type(x).__name__}") from exc
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers, got an array of dtype {arr.dtype}")
    if arr.ndim == 0:
        arr = np.full(n, arr)
    if arr.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},), got shape {arr.shape}")
    return jnp.asarray(arr.astype(dtype, copy=False))


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
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a float or a 1-d array of floats, got {x!r}") from exc
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a float or a 1-d array of floats, got dtype {arr.dtype}")
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a float or 1-d, got shape {arr.shape}")
    flat = arr.reshape(-1).astype(np.float64)
    outside = ~((flat >= 0.0) & (flat <= 1.0))
    if outside.any():
        k = int(np.argmax(outside))
        raise ValueError(f"{name}[{k}] = {flat[k]!r} lies outside the unit interval [0, 1]")
    return jnp.asarray(flat.astype(dtype)), arr.ndim == 0


def _x64() -> bool:
    return bool(jax.dtypes.canonicalize_dtype(np.float64) == np.dtype(np.float64))


def x64_enabled() -> bool:
    """Whether JAX's 64-bit mode is on."""
    return _x64()


def accumulator_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype of the descent's target mass: float64 when JAX allows it (as the host)."""
    return np.dtype(np.float64) if _x64() else dtype
