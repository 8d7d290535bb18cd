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


def check_int(name: str, value: object, *, minimum: int | None = None) -> int:
    """Return ``value`` as an ``int`` after checking that it is an integer (``>= minimum``)."""
    expected = "an int" if minimum is None else f"an int >= {minimum}"
    number = _index(value)
    if number is None:
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__}: {value!r}")
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be {expected}, got {number}")
    return number


def check_optional_int(name: str, value: object, *, minimum: int | None = None) -> int | None:
    """``check_int``, or None for None."""
    return None if value is None else check_int(name, value, minimum=minimum)


def check_real(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> float:
    """``value`` as a finite ``float`` in ``[low, high]`` (``(low, high]`` if ``low_open``)."""
    lo = "" if low is None else (f" > {low:g}" if low_open else f" >= {low:g}")
    hi = "" if high is None else f" <= {high:g}"
    expected = f"a real number{lo}{' and' if lo and hi else ''}{hi}"
    number = _real(value)
    if number is None:
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__}: {value!r}")
    if (
        not np.isfinite(number)
        or (low is not None and (number <= low if low_open else number < low))
        or (high is not None and number > high)
    ):
        raise ValueError(f"{name} must be {expected}, got {number!r}")
    return number


def check_bool(name: str, value: object) -> bool:
    """Return the flag ``value`` as a ``bool``: a bool in any form, or the integer 0 or 1."""
    if value is True or value is False:
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    arr = _scalar(value)
    if arr is not None and arr.dtype.kind == "b":
        return bool(arr)
    number = _index(value)
    if number is None:
        raise TypeError(
            f"{name} must be a bool (or the int 0 or 1), got {type(value).__name__}: {value!r}"
        )
    if number not in (0, 1):
        raise ValueError(f"{name} must be a bool (or the int 0 or 1), got {number}")
    return bool(number)


def check_reals(name: str, value: object, *, num_envs: int) -> np.ndarray:
    """A float64 array of ``num_envs`` finite real numbers."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"{name} must be an array of real numbers (one per environment), got "
            f"{type(value).__name__} of dtype {arr.dtype}"
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


def check_flags(name: str, value: object, *, num_envs: int) -> np.ndarray:
    """A bool array of ``num_envs`` flags: bools, or the ints 0 and 1."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biu":
        raise TypeError(
            f"{name} must be an array of bools (or of the ints 0 and 1), one per environment, "
            f"got {type(value).__name__} of dtype {arr.dtype}"
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


def check_schedule(name: str, value: object, *, low: float, high: float) -> float | Schedule:
    """A real number in ``[low, high]``, or a callable of the step count (checked at step 0)."""
    if callable(value):
        schedule = cast(Schedule, value)
        check_real(f"{name}(0)", schedule(0), low=low, high=high)
        return schedule
    if _real(value) is None:
        raise TypeError(
            f"{name} must be a real number in [{low:g}, {high:g}] or a callable of the step "
            f"count, got {type(value).__name__}: {value!r}"
        )
    return check_real(name, value, low=low, high=high)


def check_schedule_at(
    name: str, value: float | Schedule, *, step: int, low: float, high: float
) -> float:
    """The value of a checked schedule at ``step`` (a callable's value is checked too)."""
    if callable(value):
        return check_real(f"{name}({step})", value(step), low=low, high=high)
    return value


def check_generator(name: str, value: object) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a Generator, an int seed or a JAX PRNG key."""
    if isinstance(value, np.random.Generator):
        return value
    if _index(value) is not None:
        return np.random.default_rng(check_int(name, value, minimum=0))
    if type(value).__module__.split(".")[0] in ("jax", "jaxlib"):
        import jax  # only reached with a JAX key, so jax is there

        key = cast(Any, value)
        typed = jax.numpy.issubdtype(key.dtype, jax.dtypes.prng_key)
        data = jax.random.key_data(key) if typed else key
        words = np.asarray(data, dtype=np.uint32).ravel()
        return np.random.default_rng([int(w) for w in words])
    raise TypeError(
        f"{name} must be a numpy.random.Generator, an int seed >= 0 or a JAX PRNG key, "
        f"got {type(value).__name__}: {value!r}"
    )


def check_priorities(name: str, value: object, *, n: int) -> np.ndarray:
    """A float64 array of shape ``(n,)`` of finite, non-negative priorities."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be an array of {n} non-negative real numbers, got {type(value).__name__}"
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


def check_castable(
    name: str, value: np.dtype[Any], *, stored: np.dtype[Any], fixed_by: str
) -> None:
    """Refuse a ``dtype`` that numpy's ``same_kind`` rule does not cast to ``stored``.

    ``value`` is the dtype of the data named ``name``. The one dtype policy of rlu-replay: a
    layout's dtypes are fixed once (``fixed_by`` says by
    what); later data is cast where ``same_kind`` allows (int32 to int64, float64 to float32) and
    refused where the kind would change (float to int, anything to bool).
    """
    if not np.can_cast(value, stored, casting="same_kind"):
        raise TypeError(
            f"{name} has dtype {value}, which numpy's same_kind rule does not cast to {stored}, "
            f"the dtype fixed by {fixed_by} (a change of kind, such as float to int or anything "
            "to bool, is refused)"
        )


def check_unit_interval(name: str, value: object) -> np.ndarray:
    """A 1-d float64 array of numbers in ``[0, 1)``."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a 1-d array of numbers in [0, 1), got {type(value).__name__}"
        ) from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-d array of numbers in [0, 1), got shape {arr.shape}")
    if arr.size and not (arr.min() >= 0 and arr.max() < 1):  # NaN fails both
        raise ValueError(f"{name} must hold numbers in [0, 1), got {arr.min()!r} to {arr.max()!r}")
    return arr


def check_indices(name: str, value: object) -> np.ndarray:
    """A 1-d int64 array of non-negative indices (as ``sample`` returns them)."""
    arr = np.asarray(value)
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


def check_index_vector(name: str, value: Any) -> int:
    """The length of ``value``, an array (traced too: only its dtype and shape are read) that
    must be a 1-d array of ints."""
    dt = np.dtype(value.dtype)
    if dt == np.bool_ or not np.issubdtype(dt, np.integer):
        raise TypeError(f"{name} must be a 1-d array of ints, got dtype {dt}")
    if len(value.shape) != 1:
        raise ValueError(f"{name} must be a 1-d array of ints, got shape {tuple(value.shape)}")
    return int(value.shape[0])


def check_shape(name: str, value: Any, *, expected: tuple[int, ...], scalar: bool = False) -> None:
    """Refuse an array (traced too: only its shape is read) of another shape than ``expected``
    (a scalar too, if ``scalar``)."""
    shape = tuple(value.shape)
    if shape != tuple(expected) and not (scalar and len(shape) == 0):
        raise ValueError(f"{name} must have shape {tuple(expected)}, got shape {shape}")


def check_instance_or_none(name: str, value: object, *, cls: type, what: str) -> Any:
    """``value`` when it is an instance of ``cls`` (described as ``what``) or None."""
    if value is not None and not isinstance(value, cls):
        raise TypeError(f"{name} must be {what} or None, got {type(value).__name__}")
    return value


def check_mapping_or_callable(name: str, value: object, *, what: str) -> Any:
    """``value`` when it is a mapping, a callable (described as ``what``) or None."""
    if value is not None and not (callable(value) or isinstance(value, Mapping)):
        raise TypeError(f"{name} must be a dict, {what} or None, got {type(value).__name__}")
    return value


def check_frame_leaves(name: str, value: object) -> tuple[str, ...] | None:
    """``value`` as a tuple of one or more distinct leaf names (strings), or None."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (tuple, list)):
        raise TypeError(
            f"{name} must be a tuple of leaf names (e.g. ('obs', 'next_obs')) or None, "
            f"got {type(value).__name__}: {value!r}"
        )
    if not value or not all(isinstance(x, str) for x in value) or len(set(value)) < len(value):
        raise ValueError(f"{name} must hold one or more distinct leaf names, got {value!r}")
    return tuple(value)
