"""Argument checks of rlu-trees: the distribution's one home for them.

Each check is ``check_<what>(name, value, *, <options>)``: it takes the argument's name as the
user sees it and what the caller passed (every option keyword-only), and returns it in the exact
form the trees and their kernels take (an ``int``, a contiguous 1-d array of the right dtype), or
raises: ``TypeError`` for a wrong type, ``ValueError`` for a wrong value, ``IndexError`` for a
position or a level out of range. The message names the argument and what was expected.

Integers are ``int`` and numpy integers (what ``operator.index`` takes; numpy and JAX 0-d integer
arrays too), never ``bool``; reals are ``int``, ``float`` and numpy reals, never ``bool``. The
private helpers ``_scalar`` and ``_index`` are rlu-replay's, word for word.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, SupportsIndex, TypeVar, cast

import numpy as np
import numpy.typing as npt

from rlu_trees._kernel_contract import INT64

_INT64_MAX = np.iinfo(np.int64).max
_FLOAT64 = np.dtype(np.float64)
_FLOAT32 = np.dtype(np.float32)

_F = TypeVar("_F", bound=Callable[..., Any])


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
    """``x`` as an ``int`` if it is an integer (Python, numpy or JAX, 0-d arrays too), else None.

    Never a bool.
    """
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


def check_int(name: str, value: object, *, minimum: int | None = None) -> int:
    """Return ``value`` as an ``int`` after checking that it is an integer (``>= minimum``)."""
    expected = "an int" if minimum is None else f"an int >= {minimum}"
    number = _index(value)
    if number is None:
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__}: {value!r}")
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be {expected}, got {number}")
    return number


def check_real(name: str, value: object) -> float:
    """Return ``value`` as a ``float`` after checking that it is a real number."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}: {value!r}")
    return float(value)


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` as a ``bool`` after checking that it is one (Python or numpy)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}: {value!r}")
    return bool(value)


def check_callable(name: str, value: _F) -> _F:
    """Return ``value`` after checking that it is callable."""
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type(value).__name__}: {value!r}")
    return value


def check_dtype(name: str, value: npt.DTypeLike) -> np.dtype[np.floating[Any]]:
    """Return float64 or float32 as a dtype, from any spelling numpy understands."""
    try:
        dt = np.dtype(value)
    except TypeError as exc:
        raise TypeError(f"{name} must be float64 or float32, got {value!r}") from exc
    if dt != _FLOAT64 and dt != _FLOAT32:
        raise ValueError(f"{name} must be float64 or float32, got {dt}")
    return cast("np.dtype[np.floating[Any]]", dt)


def check_seed(name: str, value: object) -> npt.NDArray[np.uint64]:
    """Four uint64 words of xoshiro256+ state derived from the seed ``value`` through SeedSequence.

    ``value`` is None (fresh entropy) or an int >= 0.
    """
    entropy = None if value is None else _index(value)
    if value is not None and (entropy is None or entropy < 0):
        error = TypeError if entropy is None else ValueError
        raise error(f"{name} must be None or an int >= 0, got {type(value).__name__}: {value!r}")
    # numpy types generate_state's result as uint32 or uint64 whatever the dtype asked for
    state = (
        np.random.SeedSequence(entropy).generate_state(4, np.uint64).astype(np.uint64, copy=False)
    )
    if not state.any():  # the all-zero state is the one state xoshiro cannot leave
        state[0] = 1
    return state


def check_lookup(name: str, value: object, *, height: int) -> tuple[int, tuple[Any, ...]]:
    """Split a lookup ``tree[value]`` into a level in ``[0, height)`` and ``()`` or ``(index,)``.

    ``value`` is ``level`` or ``(level, index)``, ``name`` the name of the level (``"level"``);
    negative levels count from the leaves. A lookup that names no level of the tree raises
    ``IndexError``, whatever is wrong with it, as a lookup does; ``index`` is left to numpy.
    """
    index: tuple[Any, ...] = ()
    if isinstance(value, tuple):
        if not 1 <= len(value) <= 2:
            raise IndexError(f"a tree lookup is tree[{name}] or tree[{name}, index], got {value!r}")
        index = value[1:]
        value = value[0]
    level = _index(value)
    if level is None:
        raise IndexError(f"tree[{name}] needs an int {name}, got {type(value).__name__}: {value!r}")
    if not -height <= level < height:
        raise IndexError(f"{name} {level} is out of range for a tree of height {height}")
    return level % height, index


def check_index_array(name: str, value: object) -> npt.NDArray[np.int64]:
    """Return ``value`` (an int or a 1-d sequence/array of ints) as a contiguous 1-d int64 array.

    Positions are not checked against a capacity here (the kernels do that); an integer too
    large for int64 raises ``IndexError``.
    """
    # fast path first (the prioritized-replay loop)
    if type(value) is np.ndarray and value.dtype is INT64 and value.ndim == 1:
        plain = cast("npt.NDArray[np.int64]", value)
        return plain if plain.flags.c_contiguous else np.ascontiguousarray(plain)
    if isinstance(value, (list, tuple, np.ndarray)):
        arr = np.asarray(value)
        if arr.size == 0 and arr.dtype.kind == "f" and not isinstance(value, np.ndarray):
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
    number = _index(value)
    if number is None:
        raise TypeError(
            f"{name} must be an int or a 1-d sequence/array of ints, got {type(value).__name__}"
        )
    if not -_INT64_MAX <= number <= _INT64_MAX:
        raise IndexError(f"{name} = {number!r} is out of range")
    return np.array([number], dtype=np.int64)


def check_ranges(
    name: str, value: tuple[object, object], *, capacity: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return ranges ``[start, stop)`` as two int64 arrays of one length, within ``[0, capacity]``.

    ``value`` is the pair ``(start, stop)`` and ``name`` names the pair (``"start and stop"``);
    the bounds are named ``start`` and ``stop``. ``stop=None`` means ``capacity``; a length-1
    side is repeated to the other's length; negative bounds count from the end. A bound outside
    ``[-capacity, capacity]`` or a range with ``start > stop`` raises ``IndexError``.
    """
    start, stop = value
    starts = check_index_array("start", start)
    stops = np.array([capacity], np.int64) if stop is None else check_index_array("stop", stop)
    if starts.shape != stops.shape:
        if starts.shape[0] == 1:
            starts = np.full(stops.shape, starts[0], dtype=np.int64)
        elif stops.shape[0] == 1:
            stops = np.full(starts.shape, stops[0], dtype=np.int64)
        else:
            raise ValueError(
                f"{name} must have the same length (or one of them length 1), got "
                f"{starts.shape[0]} and {stops.shape[0]}"
            )
    check_bounds("start", starts, capacity=capacity)
    check_bounds("stop", stops, capacity=capacity)
    starts = np.where(starts < 0, starts + capacity, starts)
    stops = np.where(stops < 0, stops + capacity, stops)
    backwards = starts > stops
    if backwards.any():
        k = int(np.argmax(backwards))
        raise IndexError(f"range {k} runs backwards: start {int(starts[k])} > stop {int(stops[k])}")
    return starts, stops


def check_bounds(name: str, value: npt.NDArray[Any], *, capacity: int) -> None:
    """Raise ``IndexError`` for a range bound in ``value`` outside ``[-capacity, capacity]``."""
    bad = (value < -capacity) | (value > capacity)
    if bad.any():
        k = int(np.argmax(bad))
        raise IndexError(
            f"{name}[{k}] = {int(value[k])} is out of range; expected "
            f"-{capacity} <= {name} <= {capacity}"
        )


def _real_array(name: str, x: object, expected: str) -> npt.NDArray[Any]:
    """``numpy.asarray(x)``, checked to hold real numbers (no bools)."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be {expected}, got {type(x).__name__}") from exc
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be {expected}, got an array of dtype {arr.dtype}")
    return arr


def check_value_array(
    name: str, value: object, *, n: int, dtype: np.dtype[np.floating[Any]]
) -> npt.NDArray[np.floating[Any]]:
    """Return ``value`` as a contiguous array of shape ``(n,)`` and the tree's dtype.

    A scalar is repeated ``n`` times; anything else must already have shape ``(n,)``.
    """
    if (
        type(value) is np.ndarray
        and value.dtype is dtype
        and value.ndim == 1
        and value.shape[0] == n
    ):
        plain = cast("npt.NDArray[np.floating[Any]]", value)
        return plain if plain.flags.c_contiguous else np.ascontiguousarray(plain)
    arr = _real_array(name, value, f"a real number or a 1-d array of {n} real numbers")
    if arr.ndim == 0:
        return np.full(n, arr, dtype=dtype)
    if arr.shape != (n,):
        raise ValueError(
            f"{name} must be a real number or have shape ({n},), got shape {arr.shape}"
        )
    return np.ascontiguousarray(arr, dtype=dtype)


def check_unit_array(name: str, value: object) -> npt.NDArray[np.float64]:
    """Return ``value`` (a real or a 1-d array of reals in ``[0, 1]``) as a contiguous 1-d
    float64 array."""
    arr = _real_array(name, value, "a real number or a 1-d array of real numbers in [0, 1]")
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a real number or a 1-d array, got shape {arr.shape}")
    flat = np.ascontiguousarray(arr.reshape(-1), dtype=np.float64)
    outside = ~((flat >= 0.0) & (flat <= 1.0))
    if outside.any():
        k = int(np.argmax(outside))
        raise ValueError(f"{name}[{k}] = {flat[k]!r} lies outside the unit interval [0, 1]")
    return flat
