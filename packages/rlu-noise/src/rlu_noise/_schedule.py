"""Piecewise-linear schedules of a global step counter (exploration rates, learning rates, ...)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, SupportsFloat, overload

import numpy as np
import numpy.typing as npt

from rlu_noise._checks import check_real_array, check_steps, is_real_scalar

_WHERE = "StepwiseLinearFunction"


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
        If no step is given (also a TypeError, as coax raised), the timesteps are not strictly
        increasing, or a value is not finite.

    Examples
    --------
    The exploration schedule of a DQN agent, with ``T`` a global step counter:

    >>> from rlu_noise import StepwiseLinearFunction
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

    def __init__(self, *steps: Sequence[SupportsFloat]) -> None:
        # The attribute names below are part of the pickle format of the instances (saved in
        # checkpoints): keep them, or teach __setstate__ the old ones.
        timesteps, values = check_steps("steps", steps, where=_WHERE)
        self._timesteps = np.array(timesteps, dtype=np.float64)
        self._values = np.array(values, dtype=np.float64)
        self._steps = tuple(zip(timesteps, values, strict=True))

    @property
    def steps(self) -> tuple[tuple[int, float], ...]:
        """The steps ``((timestep, value), ...)``, with timesteps as ints and values as floats."""
        return self._steps

    @overload
    def __call__(self, timestep: float | np.integer[Any] | np.floating[Any]) -> float: ...
    @overload
    def __call__(
        self, timestep: npt.NDArray[np.integer[Any] | np.floating[Any]] | Sequence[float]
    ) -> npt.NDArray[np.float64]: ...
    @overload
    def __call__(self, timestep: Any) -> Any: ...

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
        if is_real_scalar(timestep):
            return float(np.interp(float(timestep), self._timesteps, self._values))
        if type(timestep).__module__.startswith(("jax", "jaxlib")):
            jnp = sys.modules["jax.numpy"]  # imported already, or no JAX array could exist
            return jnp.interp(timestep, jnp.asarray(self._timesteps), jnp.asarray(self._values))
        t = check_real_array("timestep", timestep, where=_WHERE)
        return np.asarray(np.interp(t, self._timesteps, self._values))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self._steps))})"


# Pickles and checkpoints record the class's public path, rlu_noise.StepwiseLinearFunction;
# rlu-noise 0.1.0 recorded rlu_noise.schedule.StepwiseLinearFunction, which the compatibility
# module of that name keeps loading.
StepwiseLinearFunction.__module__ = "rlu_noise"
