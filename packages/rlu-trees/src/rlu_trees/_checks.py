"""Argument checks shared by the trees: turn user input into the exact arrays the kernels take."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["as_dtype", "as_index_array", "as_positive_int", "as_value_array", "is_int"]

_INT64 = np.dtype(np.int64)
_INT64_MAX = np.iinfo(np.int64).max


def is_int(x: Any) -> bool:
    """True for Python and numpy integers, False for bools."""
    return isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_))


def as_positive_int(name: str, x: Any) -> int:
    """Return ``x`` as an ``int`` after checking that it is an integer >= 1."""
    if not is_int(x):
        raise TypeError(f"{name} must be a positive int, got {type(x).__name__}: {x!r}")
    if x < 1:
        raise ValueError(f"{name} must be a positive int, got {x!r}")
    return int(x)


def as_dtype(dtype: npt.DTypeLike) -> np.dtype:
    """Accept float64 (default) or float32, in any spelling numpy understands."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be float64 or float32, got {dtype!r}") from exc
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"dtype must be float64 or float32, got {dt}")
    return dt


def as_index_array(name: str, x: Any) -> np.ndarray:
    """Return ``x`` (an int or a 1-d sequence/array of ints) as a contiguous 1-d int64 array."""
    # fast path first (the prioritized-replay loop): builtin dtypes are singletons, so ``is``
    # is an exact and cheap dtype test
    if type(x) is np.ndarray and x.dtype is _INT64 and x.ndim == 1:
        return x if x.flags.c_contiguous else np.ascontiguousarray(x)
    if is_int(x):
        if not -_INT64_MAX <= x <= _INT64_MAX:
            raise IndexError(f"{name} = {x!r} is out of range")
        return np.array([x], dtype=np.int64)
    if isinstance(x, (list, tuple, np.ndarray)):
        arr = np.asarray(x)
        if arr.size == 0 and arr.dtype.kind == "f" and not isinstance(x, np.ndarray):
            arr = arr.astype(np.int64)  # an empty list is an empty batch of indices
        if arr.dtype.kind not in "iu":
            raise TypeError(
                f"{name} must be an int or a 1-d array of ints, got an array of dtype {arr.dtype}"
            )
        if arr.ndim > 1:
            raise ValueError(f"{name} must be 1-d, got shape {arr.shape}")
        if arr.dtype.kind == "u" and arr.size and arr.max() > _INT64_MAX:
            raise IndexError(f"{name} holds an index that is out of range: {arr.max()}")
        return np.ascontiguousarray(arr.reshape(-1), dtype=np.int64)
    raise TypeError(
        f"{name} must be an int or a 1-d sequence/array of ints, got {type(x).__name__}"
    )


def as_value_array(name: str, x: Any, n: int, dtype: np.dtype) -> np.ndarray:
    """Return ``x`` as a contiguous array of shape ``(n,)`` and the tree's dtype.

    A scalar is repeated ``n`` times; anything else must already have shape ``(n,)``.
    """
    if type(x) is np.ndarray and x.dtype is dtype and x.ndim == 1 and x.shape[0] == n:
        return x if x.flags.c_contiguous else np.ascontiguousarray(x)
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be real numbers, got {type(x).__name__}") from exc
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers, got an array of dtype {arr.dtype}")
    if arr.ndim == 0:
        return np.full(n, arr, dtype=dtype)
    if arr.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},), got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=dtype)
