"""Argument checks of rlu-replay: the distribution's one home for them.

Each check takes the argument's name and what the caller passed, and returns it in the form the
buffers use, or raises: ``TypeError`` for a wrong type, ``ValueError`` for a wrong value. The
message names the argument and what was expected.

Numbers and flags come in whatever form users have them: Python, numpy and JAX scalars and 0-d
arrays. Integers are never ``bool``; reals are integers or floats, never ``bool``; a flag is a
``bool`` (Python, numpy, or a 0-d bool array) or the integer 0 or 1.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, SupportsIndex, cast

import numpy as np

Schedule = Callable[[int], float]


def _scalar(x: object) -> np.ndarray | None:
    """``x`` as a 0-d numpy array if it is a numpy or JAX scalar or 0-d array, else None."""
    if isinstance(x, (np.generic, np.ndarray)) or hasattr(x, "__array__"):
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError, RuntimeError):
            return None
        if arr.ndim == 0:
            return arr
    return None


def _index(x: object) -> int | None:
    if type(x) is int:
        return x
    if isinstance(x, (bool, np.bool_)):
        return None
    arr = _scalar(x)
    if arr is not None:
        return int(arr) if arr.dtype.kind in "iu" else None
    try:
        return operator.index(cast(SupportsIndex, x))
    except TypeError:
        return None


def _real(x: object) -> float | None:
    """``x`` as a float if it is a real number in any of the accepted forms, else None."""
    if type(x) is float or type(x) is int:
        return float(x)
    if isinstance(x, (bool, np.bool_)):
        return None
    if isinstance(x, (int, float)):  # subclasses of int and float, e.g. IntEnum members
        return float(x)
    arr = _scalar(x)
    if arr is not None and arr.dtype.kind in "iuf":
        return float(arr)
    return None


def check_int(name: str, x: object, *, minimum: int | None = None) -> int:
    """Return ``x`` as an ``int`` after checking that it is an integer (``>= minimum``)."""
    expected = "an int" if minimum is None else f"an int >= {minimum}"
    value = _index(x)
    if value is None:
        raise TypeError(f"{name} must be {expected}, got {type(x).__name__}: {x!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be {expected}, got {value}")
    return value


def check_optional_int(name: str, x: object, *, minimum: int | None = None) -> int | None:
    """``check_int``, or None for None."""
    return None if x is None else check_int(name, x, minimum=minimum)


def check_real(
    name: str,
    x: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> float:
    """Return ``x`` as a finite ``float`` in ``[low, high]`` (``(low, high]`` if ``low_open``)."""
    lo = "" if low is None else (f" > {low:g}" if low_open else f" >= {low:g}")
    hi = "" if high is None else f" <= {high:g}"
    expected = f"a real number{lo}{' and' if lo and hi else ''}{hi}"
    value = _real(x)
    if value is None:
        raise TypeError(f"{name} must be {expected}, got {type(x).__name__}: {x!r}")
    if (
        not np.isfinite(value)
        or (low is not None and (value <= low if low_open else value < low))
        or (high is not None and value > high)
    ):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return value


def check_bool(name: str, x: object) -> bool:
    """Return the flag ``x`` as a ``bool``: a bool in any form, or the integer 0 or 1."""
    if x is True or x is False:
        return x
    if isinstance(x, np.bool_):
        return bool(x)
    arr = _scalar(x)
    if arr is not None and arr.dtype.kind == "b":
        return bool(arr)
    value = _index(x)
    if value is None:
        raise TypeError(f"{name} must be a bool (or the int 0 or 1), got {type(x).__name__}: {x!r}")
    if value not in (0, 1):
        raise ValueError(f"{name} must be a bool (or the int 0 or 1), got {value}")
    return bool(value)


def check_reals(name: str, x: object, num_envs: int) -> np.ndarray:
    """A float64 array of ``num_envs`` finite real numbers."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"{name} must be an array of real numbers (one per environment), got "
            f"{type(x).__name__} of dtype {arr.dtype}"
        )
    if arr.shape != (num_envs,):
        raise ValueError(
            f"{name} must have shape ({num_envs},), one entry per environment, "
            f"got shape {arr.shape}"
        )
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        i = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{name} must be finite, got {float(arr[i])!r} at position {i}")
    return arr


def check_flags(name: str, x: object, num_envs: int) -> np.ndarray:
    """A bool array of ``num_envs`` flags: bools, or the ints 0 and 1."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biu":
        raise TypeError(
            f"{name} must be an array of bools (or of the ints 0 and 1), one per environment, "
            f"got {type(x).__name__} of dtype {arr.dtype}"
        )
    if arr.shape != (num_envs,):
        raise ValueError(
            f"{name} must have shape ({num_envs},), one flag per environment, got shape {arr.shape}"
        )
    if arr.dtype.kind != "b":
        bad = (arr != 0) & (arr != 1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{name} must hold bools (or the ints 0 and 1), got {arr[i].item()!r} "
                f"at position {i}"
            )
    return arr.astype(bool, copy=False)


def check_schedule(name: str, x: object, *, low: float, high: float) -> float | Schedule:
    """A real number in ``[low, high]``, or a callable of the step count (checked at step 0)."""
    if callable(x):
        schedule = cast(Schedule, x)
        check_real(f"{name}(0)", schedule(0), low=low, high=high)
        return schedule
    if _real(x) is None:
        raise TypeError(
            f"{name} must be a real number in [{low:g}, {high:g}] or a callable of the step "
            f"count, got {type(x).__name__}: {x!r}"
        )
    return check_real(name, x, low=low, high=high)


def evaluate_schedule(
    name: str, schedule: float | Schedule, step: int, *, low: float, high: float
) -> float:
    """The value of a checked schedule at ``step`` (a callable's value is checked too)."""
    if callable(schedule):
        return check_real(f"{name}({step})", schedule(step), low=low, high=high)
    return schedule


def check_generator(name: str, rng: object) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a Generator, an int seed or a JAX PRNG key."""
    if isinstance(rng, np.random.Generator):
        return rng
    if _index(rng) is not None:
        return np.random.default_rng(check_int(name, rng, minimum=0))
    if type(rng).__module__.split(".")[0] in ("jax", "jaxlib"):
        import jax  # only reached with a JAX key, so jax is there

        key = cast(Any, rng)
        typed = jax.numpy.issubdtype(key.dtype, jax.dtypes.prng_key)
        data = jax.random.key_data(key) if typed else key
        words = np.asarray(data, dtype=np.uint32).ravel()
        return np.random.default_rng([int(w) for w in words])
    raise TypeError(
        f"{name} must be a numpy.random.Generator, an int seed >= 0 or a JAX PRNG key, "
        f"got {type(rng).__name__}: {rng!r}"
    )


def check_priorities(name: str, x: object, n: int) -> np.ndarray:
    """A float64 array of shape ``(n,)`` of finite, non-negative priorities."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be an array of {n} non-negative real numbers, got {type(x).__name__}"
        ) from None
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got shape {arr.shape}")
    if n and not (arr.min() >= 0 and arr.max() < np.inf):  # NaN fails both
        bad = ~np.isfinite(arr) | (arr < 0)
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} must be finite and non-negative, got {float(arr[i])!r} at position {i} "
            f"({int(bad.sum())} of {n} rejected)"
        )
    return arr


def check_castable(what: str, dtype: np.dtype[Any], stored: np.dtype[Any], fixed_by: str) -> None:
    """Refuse a ``dtype`` that numpy's ``same_kind`` rule does not cast to ``stored``.

    The one dtype policy of rlu-replay: a layout's dtypes are fixed once (``fixed_by`` says by
    what); later data is cast where ``same_kind`` allows (int32 to int64, float64 to float32) and
    refused where the kind would change (float to int, anything to bool).
    """
    if not np.can_cast(dtype, stored, casting="same_kind"):
        raise TypeError(
            f"{what} has dtype {dtype}, which numpy's same_kind rule does not cast to {stored}, "
            f"the dtype fixed by {fixed_by} (a change of kind, such as float to int or anything "
            "to bool, is refused)"
        )


def check_unit_interval(name: str, x: object) -> np.ndarray:
    """A 1-d float64 array of numbers in ``[0, 1)``."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a 1-d array of numbers in [0, 1), got {type(x).__name__}"
        ) from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-d array of numbers in [0, 1), got shape {arr.shape}")
    if arr.size and not (arr.min() >= 0 and arr.max() < 1):  # NaN fails both
        raise ValueError(f"{name} must hold numbers in [0, 1), got {arr.min()!r} to {arr.max()!r}")
    return arr


def check_indices(name: str, x: object) -> np.ndarray:
    """A 1-d int64 array of non-negative indices (as ``sample`` returns them)."""
    arr = np.asarray(x)
    if arr.dtype == np.int64 and arr.ndim == 1:
        if arr.size and arr.min() < 0:
            raise ValueError(
                f"{name} must hold indices >= 0 (as sample returns them), got {arr.min()}"
            )
        return arr
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be a 1-d array of ints, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False).reshape(-1) if arr.ndim == 0 else arr
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-d array of ints, got shape {arr.shape}")
    if arr.size and int(arr.min()) < 0:
        raise ValueError(f"{name} must hold indices >= 0 (as sample returns them), got {arr.min()}")
    return arr.astype(np.int64, copy=False)


def check_instance_or_none(name: str, x: object, cls: type, what: str) -> Any:
    """``x`` when it is an instance of ``cls`` (described as ``what``) or None."""
    if x is not None and not isinstance(x, cls):
        raise TypeError(f"{name} must be {what} or None, got {type(x).__name__}")
    return x


def check_mapping_or_callable(name: str, x: object, what: str) -> Any:
    """``x`` when it is a mapping, a callable (described as ``what``) or None."""
    if x is not None and not (callable(x) or isinstance(x, Mapping)):
        raise TypeError(f"{name} must be a dict, {what} or None, got {type(x).__name__}")
    return x
