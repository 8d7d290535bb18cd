"""The argument checks of rlu_noise, in one place.

House behaviour: integers accept ``int`` and numpy integers and refuse ``bool``; reals accept
``int``, ``float`` and numpy reals and refuse ``bool``; a wrong type raises ``TypeError``, a
wrong value ``ValueError``; the message names the argument and what was expected. A rejected
call changes nothing.
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class TypeAndValueError(TypeError, ValueError):
    """A ValueError where coax raised TypeError for the same mistake."""


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def _int_or_none(value: Any) -> int | None:
    """``value`` as an int if it is an integer (not a bool), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def _floats(value: Any) -> FloatArray:
    """``value``, which ``check_float_array`` accepted, as a float64 array."""
    return np.asarray(value).astype(np.float64)


def check_generator(name: str, value: Any, *, where: str = "") -> np.random.Generator:
    """The random stream of ``value``: None, a non-negative int or a Generator."""
    if value is None or isinstance(value, np.random.Generator):
        return np.random.default_rng(value)
    seed = _int_or_none(value)
    if seed is None:
        raise TypeError(
            f"{_prefix(where)}'{name}' must be None, an int or a numpy.random.Generator, "
            f"got {type(value).__name__}"
        )
    if seed < 0:
        raise ValueError(f"{_prefix(where)}'{name}' must be non-negative, got {value}")
    return np.random.default_rng(seed)


def check_float_array(name: str, value: Any, *, bound: bool = False, where: str = "") -> FloatArray:
    """``value`` as a float64 array, checked to be numeric and finite (a bound may be infinite)."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):  # e.g. ragged nested lists
        arr = np.asarray(None)
    # Numbers only: numpy would even parse the string "0.1", and a bool is no number here.
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"{_prefix(where)}'{name}' must be a number or an array of numbers, got {value!r}"
        )
    floats = arr.astype(np.float64)
    bad = np.isnan(floats) if bound else ~np.isfinite(floats)
    if np.any(bad):
        what = "must not be NaN" if bound else "must be finite"
        raise ValueError(f"{_prefix(where)}'{name}' {what}, got {value!r}")
    return floats


def check_positive(name: str, value: Any, *, where: str = "") -> None:
    """Check that ``value`` (a numeric array-like) is positive everywhere."""
    if not np.all(_floats(value) > 0):
        raise ValueError(f"{_prefix(where)}'{name}' must be positive, got {value!r}")


def check_theta(name: str, value: Any, *, where: str = "") -> None:
    """Check that the dissipation rate ``value`` (a numeric array-like) lies in (0, 2)."""
    theta = _floats(value)
    if not np.all((theta > 0) & (theta < 2)):
        raise ValueError(
            f"{_prefix(where)}'{name}' must lie in (0, 2), got {value!r}; "
            "theta > 0 makes the process revert to mu, theta >= 2 makes it diverge "
            "(typical: 0.15)"
        )


def check_broadcastable(
    name: str, value: Mapping[str, FloatArray], *, where: str = ""
) -> tuple[int, ...]:
    """The shape that the arrays ``value`` (by argument name) broadcast to together."""
    try:
        return np.broadcast_shapes(*(v.shape for v in value.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {v.shape}" for k, v in value.items())
        raise ValueError(
            f"{_prefix(where)}the {name} must broadcast together, got shapes {shapes}"
        ) from None


def check_max_value(name: str, value: Any, *, min_value: Any, where: str = "") -> None:
    """Check that the upper bound ``value`` is nowhere below ``min_value`` (either may be None)."""
    if value is not None and min_value is not None and np.any(_floats(min_value) > _floats(value)):
        raise ValueError(
            f"{_prefix(where)}'min_value' must not exceed '{name}', got "
            f"min_value={min_value!r}, {name}={value!r}"
        )


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether an array of ``shape`` broadcasts to ``target`` without changing ``target``."""
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def check_action(
    name: str,
    value: npt.ArrayLike,
    *,
    param_shape: tuple[int, ...],
    state_shape: tuple[int, ...] | None,
    where: str = "",
) -> npt.NDArray[Any]:
    """A numeric action whose shape the parameters broadcast to and the state has, as an array."""
    a = np.asarray(value)
    if a.dtype.kind not in "biuf":
        raise TypeError(
            f"{_prefix(where)}the {name} must be a real number or array, got dtype {a.dtype}"
        )
    if not _broadcasts_to(param_shape, a.shape):
        raise ValueError(
            f"{_prefix(where)}mu, sigma, theta, min_value and max_value (broadcast shape "
            f"{param_shape}) must broadcast to the {name}'s shape {a.shape}"
        )
    if state_shape is not None and state_shape != a.shape:
        raise ValueError(
            f"{_prefix(where)}the {name}'s shape changed from {state_shape} to {a.shape}; "
            "call reset() before switching shapes"
        )
    return a


def check_mask(
    name: str, value: npt.ArrayLike, *, state_shape: tuple[int, ...] | None, where: str = ""
) -> npt.NDArray[Any]:
    """A boolean mask over the leading dimensions of the action's shape, as an array."""
    mask = np.asarray(value)
    if mask.dtype != np.bool_:
        raise TypeError(f"{_prefix(where)}'{name}' must be boolean, got dtype {mask.dtype}")
    if state_shape is not None and mask.shape != state_shape[: mask.ndim]:
        raise ValueError(
            f"{_prefix(where)}'{name}' of shape {mask.shape} does not match the leading "
            f"dimensions of the action's shape {state_shape}; expected shape {state_shape[:1]} "
            f"for a batch of {state_shape[0] if state_shape else 1} envs"
        )
    return mask


def check_steps(
    name: str, value: tuple[Any, ...], *, where: str = ""
) -> tuple[list[int], list[float]]:
    """The timesteps (strictly increasing ints) and values (finite reals) of the steps ``value``.

    The messages speak of each step by its position (``step 2``), not by ``name``.
    """
    if not value:
        raise TypeAndValueError(
            f"{_prefix(where)}give at least one step (timestep, value), "
            "e.g. StepwiseLinearFunction((0, 1.0), (1000, 0.1))"
        )
    timesteps: list[int] = []
    values: list[float] = []
    for i, step in enumerate(value):
        if not isinstance(step, (tuple, list)) or len(step) != 2:
            raise TypeError(
                f"{_prefix(where)}step {i} must be a pair (timestep, value), got {step!r}"
            )
        t, v = step
        timestep = _int_or_none(t)
        if timestep is None:
            hint = f" (write {int(t)})" if isinstance(t, float) and t.is_integer() else ""
            raise TypeError(
                f"{_prefix(where)}the timestep of step {i} must be an int, "
                f"got {type(t).__name__} {t!r}{hint}"
            )
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise TypeError(
                f"{_prefix(where)}the value of step {i} must be a real number, "
                f"got {type(v).__name__} {v!r}"
            )
        if not np.isfinite(float(v)):
            raise ValueError(f"{_prefix(where)}the value of step {i} must be finite, got {v!r}")
        if timesteps and timestep <= timesteps[-1]:
            raise ValueError(
                f"{_prefix(where)}timesteps must be strictly increasing, but step {i} has "
                f"timestep {timestep} after {timesteps[-1]}"
            )
        timesteps.append(timestep)
        values.append(float(v))
    return timesteps, values


def is_real_scalar(value: Any) -> bool:
    """Whether ``value`` is a single real number (Python or numpy), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_real_array(name: str, value: Any, *, where: str = "") -> npt.NDArray[Any]:
    """``value`` as a numpy array of real numbers."""
    t = np.asarray(value)
    if t.dtype.kind not in "iuf":
        raise TypeError(
            f"{_prefix(where)}'{name}' must be a real number or an array of real numbers, "
            f"got {type(value).__name__}"
            + (f" of dtype {t.dtype}" if isinstance(value, np.ndarray) else "")
        )
    return t
