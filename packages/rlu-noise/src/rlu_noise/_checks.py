"""The argument checks of rlu_noise, in one place.

House behaviour: integers accept ``int`` and numpy integers and refuse ``bool``; reals accept
``int``, ``float`` and numpy reals and refuse ``bool``; a wrong type raises ``TypeError``, a
wrong value ``ValueError``; the message names the argument and what was expected. A rejected
call changes nothing.
"""

from __future__ import annotations

import numbers
import operator
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_OU = "OrnsteinUhlenbeckNoise"
_SLF = "StepwiseLinearFunction"


class ValueAndTypeError(ValueError, TypeError):
    """A ValueError where coax raised TypeError for the same mistake."""


def _int_or_none(value: Any) -> int | None:
    """``value`` as an int if it is an integer (not a bool), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def as_generator(random_seed: Any) -> np.random.Generator:
    """The random stream of ``random_seed``: None, a non-negative int or a Generator."""
    if random_seed is None or isinstance(random_seed, np.random.Generator):
        return np.random.default_rng(random_seed)
    seed = _int_or_none(random_seed)
    if seed is None:
        raise TypeError(
            f"{_OU}: 'random_seed' must be None, an int or a numpy.random.Generator, "
            f"got {type(random_seed).__name__}"
        )
    if seed < 0:
        raise ValueError(f"{_OU}: 'random_seed' must be non-negative, got {random_seed}")
    return np.random.default_rng(seed)


def as_float_array(name: str, value: Any, bound: bool = False) -> FloatArray:
    """``value`` as a float64 array, checked to be numeric and finite (a bound may be infinite)."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):  # e.g. ragged nested lists
        arr = np.asarray(None)
    # Numbers only: numpy would even parse the string "0.1", and a bool is no number here.
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{_OU}: '{name}' must be a number or an array of numbers, got {value!r}")
    floats = arr.astype(np.float64)
    bad = np.isnan(floats) if bound else ~np.isfinite(floats)
    if np.any(bad):
        what = "must not be NaN" if bound else "must be finite"
        raise ValueError(f"{_OU}: '{name}' {what}, got {value!r}")
    return floats


def check_ou_parameters(
    given: dict[str, Any],
    sigma: FloatArray,
    theta: FloatArray,
    lo: FloatArray | None,
    hi: FloatArray | None,
    arrays: dict[str, FloatArray],
) -> tuple[int, ...]:
    """Check sigma > 0, 0 < theta < 2, min_value <= max_value; return the broadcast shape."""
    if not np.all(sigma > 0):
        raise ValueError(f"{_OU}: 'sigma' must be positive, got {given['sigma']!r}")
    if not np.all((theta > 0) & (theta < 2)):
        raise ValueError(
            f"{_OU}: 'theta' must lie in (0, 2), got {given['theta']!r}; "
            "theta > 0 makes the process revert to mu, theta >= 2 makes it diverge "
            "(typical: 0.15)"
        )
    try:
        param_shape = np.broadcast_shapes(*(v.shape for v in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {v.shape}" for k, v in arrays.items())
        raise ValueError(
            f"{_OU}: the parameters must broadcast together, got shapes {shapes}"
        ) from None
    if lo is not None and hi is not None and np.any(lo > hi):
        raise ValueError(
            f"{_OU}: 'min_value' must not exceed 'max_value', got "
            f"min_value={given['min_value']!r}, max_value={given['max_value']!r}"
        )
    return param_shape


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether an array of ``shape`` broadcasts to ``target`` without changing ``target``."""
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def check_action(
    a: npt.NDArray[Any], param_shape: tuple[int, ...], state_shape: tuple[int, ...] | None
) -> None:
    """A numeric action whose shape the parameters broadcast to and the state has."""
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{_OU}: the action must be a real number or array, got dtype {a.dtype}")
    if not _broadcasts_to(param_shape, a.shape):
        raise ValueError(
            f"{_OU}: mu, sigma, theta, min_value and max_value (broadcast shape {param_shape}) "
            f"must broadcast to the action's shape {a.shape}"
        )
    if state_shape is not None and state_shape != a.shape:
        raise ValueError(
            f"{_OU}: the action's shape changed from {state_shape} to {a.shape}; call reset() "
            "before switching shapes"
        )


def check_mask(mask: npt.NDArray[Any], state_shape: tuple[int, ...] | None) -> None:
    """A boolean mask over the leading dimensions of the action's shape."""
    if mask.dtype != np.bool_:
        raise TypeError(f"{_OU}.reset: 'mask' must be boolean, got dtype {mask.dtype}")
    if state_shape is not None and mask.shape != state_shape[: mask.ndim]:
        raise ValueError(
            f"{_OU}.reset: 'mask' of shape {mask.shape} does not match the leading dimensions "
            f"of the action's shape {state_shape}; expected shape {state_shape[:1]} for a batch "
            f"of {state_shape[0] if state_shape else 1} envs"
        )


def as_steps(steps: tuple[Any, ...]) -> tuple[list[int], list[float]]:
    """The timesteps (strictly increasing ints) and values (finite reals) of the steps."""
    if not steps:
        raise ValueAndTypeError(
            f"{_SLF}: give at least one step (timestep, value), e.g. {_SLF}((0, 1.0), (1000, 0.1))"
        )
    timesteps: list[int] = []
    values: list[float] = []
    for i, step in enumerate(steps):
        if not isinstance(step, (tuple, list)) or len(step) != 2:
            raise TypeError(f"{_SLF}: step {i} must be a pair (timestep, value), got {step!r}")
        t, v = step
        timestep = _int_or_none(t)
        if timestep is None:
            hint = f" (write {int(t)})" if isinstance(t, float) and t.is_integer() else ""
            raise TypeError(
                f"{_SLF}: the timestep of step {i} must be an int, "
                f"got {type(t).__name__} {t!r}{hint}"
            )
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise TypeError(
                f"{_SLF}: the value of step {i} must be a real number, got {type(v).__name__} {v!r}"
            )
        if not np.isfinite(float(v)):
            raise ValueError(f"{_SLF}: the value of step {i} must be finite, got {v!r}")
        if timesteps and timestep <= timesteps[-1]:
            raise ValueError(
                f"{_SLF}: timesteps must be strictly increasing, but step {i} has timestep "
                f"{timestep} after {timesteps[-1]}"
            )
        timesteps.append(timestep)
        values.append(float(v))
    return timesteps, values


def is_real_scalar(timestep: Any) -> bool:
    """Whether ``timestep`` is a single real number (Python or numpy), not a bool."""
    return isinstance(timestep, numbers.Real) and not isinstance(timestep, (bool, np.bool_))


def as_timestep_array(timestep: Any) -> npt.NDArray[Any]:
    """``timestep`` as a numpy array of real numbers."""
    t = np.asarray(timestep)
    if t.dtype.kind not in "iuf":
        raise TypeError(
            f"{_SLF}: 'timestep' must be a real number or an array of real numbers, "
            f"got {type(timestep).__name__}"
            + (f" of dtype {t.dtype}" if isinstance(timestep, np.ndarray) else "")
        )
    return t
