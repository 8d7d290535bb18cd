"""Piecewise-linear schedules of a global step counter (exploration rates, learning rates, ...)."""

from __future__ import annotations

import numbers
import sys
from typing import Any

import numpy as np

__all__ = ["StepwiseLinearFunction"]


class StepwiseLinearFunction:
    """A piecewise-linear function of the timestep, flat outside the given steps.

    Each step ``(timestep, value)`` fixes the output at ``timestep``; in between, the output is
    interpolated linearly; before the first step it is the first value and after the last step
    the last value.

    The function accepts

    * a scalar timestep (int or float, Python or numpy) and returns a Python float,
    * a numpy array (or list) of timesteps and returns a float64 array of the same shape,
    * a JAX array or tracer, also inside ``jax.jit``, and returns a JAX array of the same
      shape. rlu_noise doesn't import jax for this: a JAX array can only exist once
      ``jax.numpy`` is imported. Note that JAX computes in float32 unless ``jax_enable_x64``
      is on, which represents timesteps above 2**24 (about 16.8 million) inexactly.

    Parameters
    ----------
    *steps : pairs (int, float)
        One or more steps ``(timestep, value)``, as tuples or lists, with int timesteps in
        strictly increasing order and finite real values. A single step gives a constant.

    Raises
    ------
    TypeError
        If a step is not a pair, a timestep is not an int, or a value is not a real number.
    ValueError
        If no step is given, the timesteps are not strictly increasing, or a value is not
        finite.

    Examples
    --------
    The exploration schedule of a DQN agent, with ``T`` a global step counter:

    >>> epsilon = StepwiseLinearFunction((0, 1.0), (1_000_000, 0.1), (2_000_000, 0.01))
    >>> epsilon(0), epsilon(500_000), epsilon(1_500_000), epsilon(10_000_000)
    (1.0, 0.55, 0.055, 0.01)
    >>> epsilon(-5)  # flat before the first step too
    1.0
    >>> import numpy as np
    >>> epsilon(np.array([[0, 1_000_000], [1_500_000, 3_000_000]]))
    array([[1.   , 0.1  ],
           [0.055, 0.01 ]])
    """

    def __init__(self, *steps: tuple[int, float]) -> None:
        if not steps:
            raise ValueError(
                "StepwiseLinearFunction: give at least one step (timestep, value), "
                "e.g. StepwiseLinearFunction((0, 1.0), (1000, 0.1))"
            )
        timesteps: list[int] = []
        values: list[float] = []
        for i, step in enumerate(steps):
            if not isinstance(step, (tuple, list)) or len(step) != 2:
                raise TypeError(
                    f"StepwiseLinearFunction: step {i} must be a pair (timestep, value), "
                    f"got {step!r}"
                )
            t, v = step
            if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
                hint = f" (write {int(t)})" if isinstance(t, float) and t.is_integer() else ""
                raise TypeError(
                    f"StepwiseLinearFunction: the timestep of step {i} must be an int, "
                    f"got {type(t).__name__} {t!r}{hint}"
                )
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise TypeError(
                    f"StepwiseLinearFunction: the value of step {i} must be a real number, "
                    f"got {type(v).__name__} {v!r}"
                )
            if not np.isfinite(v):
                raise ValueError(
                    f"StepwiseLinearFunction: the value of step {i} must be finite, got {v!r}"
                )
            if timesteps and t <= timesteps[-1]:
                raise ValueError(
                    "StepwiseLinearFunction: timesteps must be strictly increasing, but step "
                    f"{i} has timestep {int(t)} after {timesteps[-1]}"
                )
            timesteps.append(int(t))
            values.append(float(v))
        self._timesteps = np.array(timesteps, dtype=np.float64)
        self._values = np.array(values, dtype=np.float64)
        self._steps = tuple(zip(timesteps, values, strict=True))

    @property
    def steps(self) -> tuple[tuple[int, float], ...]:
        """The steps ``((timestep, value), ...)``, with timesteps as ints and values as floats."""
        return self._steps

    def __call__(self, timestep: Any) -> Any:
        """Return the value of the schedule at ``timestep``.

        Parameters
        ----------
        timestep : int, float, array_like or JAX array
            The timestep (e.g. a global step counter), or an array of timesteps.

        Returns
        -------
        value : float, ndarray or JAX array
            A Python float for a scalar timestep; an array of the same shape as an array of
            timesteps (float64 for numpy, JAX's default float for JAX).

        Raises
        ------
        TypeError
            If ``timestep`` is not a real number or an array of real numbers.
        """
        if isinstance(timestep, numbers.Real) and not isinstance(timestep, bool):
            return float(np.interp(timestep, self._timesteps, self._values))
        if type(timestep).__module__.startswith(("jax", "jaxlib")):
            jnp = sys.modules["jax.numpy"]  # imported already, or no JAX array could exist
            return jnp.interp(timestep, jnp.asarray(self._timesteps), jnp.asarray(self._values))
        t = np.asarray(timestep)
        if t.dtype.kind not in "iuf":
            raise TypeError(
                "StepwiseLinearFunction: 'timestep' must be a real number or an array of real "
                f"numbers, got {type(timestep).__name__}"
                + (f" of dtype {t.dtype}" if isinstance(timestep, np.ndarray) else "")
            )
        return np.asarray(np.interp(t, self._timesteps, self._values))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self._steps))})"
