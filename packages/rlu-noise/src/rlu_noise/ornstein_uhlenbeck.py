"""Ornstein-Uhlenbeck exploration noise for continuous actions, for one env or a batch of envs."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["OrnsteinUhlenbeckNoise"]


class OrnsteinUhlenbeckNoise:
    r"""Add Ornstein-Uhlenbeck noise to continuous actions.

    Each call maps an action :math:`A_t` to :math:`\widetilde{A}_t = A_t + X_t`, clipped to
    ``[min_value, max_value]``, and advances the noise process

    .. math::

        X_t\ =\ X_{t-1} - \theta\,(X_{t-1} - \mu) + \sigma\,\varepsilon_t,
        \qquad \varepsilon_t \sim \mathcal{N}(0, \mathbb{I}),
        \qquad X_0 = \mu.

    The process reverts to :math:`\mu`; its successive values are correlated, which explores
    better than white noise in physical environments with momentum (the reason the DDPG paper
    chose it). Its stationary distribution has mean :math:`\mu` and variance
    :math:`\sigma^2 / (1 - (1 - \theta)^2)`.

    **Batches.** The noise state has the shape of the action, and every element gets its own
    white noise, so a batch of actions of shape ``(num_envs, action_dim)`` from a vector
    environment gets an independent process per row. :meth:`reset` with a boolean mask restarts
    the processes of only the envs whose episode ended.

    **dtype.** The noise state and the output have the action's dtype (float32 in, float32
    out); integer or boolean actions are treated as float64.

    **Assignable parameters.** ``mu``, ``sigma``, ``theta``, ``min_value`` and ``max_value``
    are also attributes that may be assigned between calls, e.g. to anneal ``sigma``; an
    assignment is checked like the constructor's argument and, if invalid, raises and changes
    nothing.

    **Random stream.** The white noise of a call is ``rng.standard_normal(a.shape)`` (float64,
    then cast) from ``rng = numpy.random.default_rng(random_seed)``, so a seed fixes the whole
    sequence, whatever the dtype.

    Parameters
    ----------
    mu : float or array_like, optional
        The mean :math:`\mu` the process reverts to; must broadcast to the action's shape.
    sigma : positive float or array_like, optional
        The spread :math:`\sigma > 0` of the noise; must broadcast to the action's shape.
    theta : float or array_like in (0, 2), optional
        The (element-wise) dissipation rate :math:`\theta`; must broadcast to the action's
        shape. :math:`\theta \ge 2` is refused because the process then diverges;
        :math:`\theta = 1` gives white noise around :math:`\mu`.
    min_value : float or array_like, optional
        The lower bound of the output action (not of the noise); no bound if None.
    max_value : float or array_like, optional
        The upper bound of the output action (not of the noise); no bound if None.
    random_seed : int or numpy.random.Generator, optional
        A seed (non-negative int) for reproducible noise, or a Generator to draw from. If None,
        the noise is seeded from the operating system.

    Raises
    ------
    TypeError
        If a parameter is not numeric, or ``random_seed`` is neither None, an int nor a
        Generator.
    ValueError
        If ``sigma`` is not positive, ``theta`` is not in (0, 2), a parameter is not finite
        (bounds may be infinite), ``min_value > max_value`` anywhere, or the parameters don't
        broadcast together.

    Examples
    --------
    A single environment with a 2-d action space:

    >>> import numpy as np
    >>> noise = OrnsteinUhlenbeckNoise(sigma=0.2, min_value=-1.0, max_value=1.0, random_seed=7)
    >>> a = np.array([0.5, -0.25], dtype=np.float32)
    >>> a_noisy = noise(a)
    >>> a_noisy.shape, a_noisy.dtype
    ((2,), dtype('float32'))
    >>> bool(np.all(np.abs(a_noisy) <= 1.0))
    True
    >>> noise.reset()  # at the end of an episode

    Four environments at once; environments 0 and 2 start a new episode:

    >>> noise = OrnsteinUhlenbeckNoise(sigma=0.2, random_seed=7)
    >>> actions = np.zeros((4, 2), dtype=np.float32)
    >>> noise(actions).shape
    (4, 2)
    >>> noise.reset(np.array([True, False, True, False]))
    >>> noise.state[[0, 2]]
    array([[0., 0.],
           [0., 0.]], dtype=float32)
    """

    def __init__(
        self,
        mu: Any = 0.0,
        sigma: Any = 1.0,
        theta: Any = 0.15,
        min_value: Any = None,
        max_value: Any = None,
        random_seed: int | np.random.Generator | None = None,
    ) -> None:
        if random_seed is None or isinstance(random_seed, np.random.Generator):
            rng = np.random.default_rng(random_seed)
        elif isinstance(random_seed, (int, np.integer)) and not isinstance(random_seed, bool):
            if random_seed < 0:
                raise ValueError(
                    f"OrnsteinUhlenbeckNoise: 'random_seed' must be non-negative, got {random_seed}"
                )
            rng = np.random.default_rng(int(random_seed))
        else:
            raise TypeError(
                "OrnsteinUhlenbeckNoise: 'random_seed' must be None, an int or a "
                f"numpy.random.Generator, got {type(random_seed).__name__}"
            )
        self._given: dict[str, Any] = {}
        self._configure(mu=mu, sigma=sigma, theta=theta, min_value=min_value, max_value=max_value)
        self.random_seed = random_seed
        self._rng = rng
        self._state: np.ndarray | None = None

    # The parameters can be changed between calls (e.g. to anneal sigma with a schedule); each
    # assignment is validated like the constructor's arguments and takes effect at the next call.
    mu = property(
        lambda self: self._given["mu"],
        lambda self, value: self._configure(mu=value),
        doc="The mean the process reverts to.",
    )
    sigma = property(
        lambda self: self._given["sigma"],
        lambda self, value: self._configure(sigma=value),
        doc="The spread of the white noise (positive).",
    )
    theta = property(
        lambda self: self._given["theta"],
        lambda self, value: self._configure(theta=value),
        doc="The dissipation rate, in (0, 2).",
    )
    min_value = property(
        lambda self: self._given["min_value"],
        lambda self, value: self._configure(min_value=value),
        doc="The lower bound of the output action, or None.",
    )
    max_value = property(
        lambda self: self._given["max_value"],
        lambda self, value: self._configure(max_value=value),
        doc="The upper bound of the output action, or None.",
    )

    def _configure(self, **changes: Any) -> None:
        """Validate the parameters with ``changes`` applied, then adopt them (or change nothing)."""
        given = {**self._given, **changes}
        mu = _as_float_array("mu", given["mu"])
        sigma = _as_float_array("sigma", given["sigma"])
        theta = _as_float_array("theta", given["theta"])
        lo, hi = (
            None if given[k] is None else _as_float_array(k, given[k], bound=True)
            for k in ("min_value", "max_value")
        )
        if not np.all(sigma > 0):
            raise ValueError(
                f"OrnsteinUhlenbeckNoise: 'sigma' must be positive, got {given['sigma']!r}"
            )
        if not np.all((theta > 0) & (theta < 2)):
            raise ValueError(
                f"OrnsteinUhlenbeckNoise: 'theta' must lie in (0, 2), got {given['theta']!r}; "
                "theta > 0 makes the process revert to mu, theta >= 2 makes it diverge "
                "(typical: 0.15)"
            )
        arrays = {"mu": mu, "sigma": sigma, "theta": theta, "min_value": lo, "max_value": hi}
        arrays = {k: v for k, v in arrays.items() if v is not None}
        try:
            param_shape = np.broadcast_shapes(*(v.shape for v in arrays.values()))
        except ValueError:
            shapes = ", ".join(f"{k} {v.shape}" for k, v in arrays.items())
            raise ValueError(
                f"OrnsteinUhlenbeckNoise: the parameters must broadcast together, got shapes "
                f"{shapes}"
            ) from None
        if lo is not None and hi is not None and np.any(lo > hi):
            raise ValueError(
                "OrnsteinUhlenbeckNoise: 'min_value' must not exceed 'max_value', got "
                f"min_value={given['min_value']!r}, max_value={given['max_value']!r}"
            )
        self._given = given
        self._mu, self._sigma, self._theta, self._lo, self._hi = mu, sigma, theta, lo, hi
        self._param_shape = param_shape

    @property
    def state(self) -> np.ndarray | None:
        """A copy of the current noise :math:`X_t`, or None before the first call after a reset."""
        return None if self._state is None else self._state.copy()

    def __call__(self, a: Any) -> Any:
        r"""Add Ornstein-Uhlenbeck noise to an action or a batch of actions.

        Parameters
        ----------
        a : float or array_like
            A single action :math:`A_t`, or a batch of actions of shape
            ``(num_envs, action_dim)`` (any shape works: the noise has the action's shape).

        Returns
        -------
        a_noisy : numpy scalar or ndarray
            :math:`\widetilde{A}_t = A_t + X_t`, clipped to ``[min_value, max_value]``, with
            the shape of ``a`` and its dtype (float64 for integer or boolean actions).

        Raises
        ------
        TypeError
            If ``a`` is not numeric.
        ValueError
            If the parameters don't broadcast to the shape of ``a``, or the shape of ``a``
            differs from the previous call's without a :meth:`reset` in between. The noise
            state and the random stream are left untouched.
        """
        a = np.asarray(a)
        if a.dtype.kind not in "biuf":
            raise TypeError(
                f"OrnsteinUhlenbeckNoise: the action must be a real number or array, "
                f"got dtype {a.dtype}"
            )
        dtype = a.dtype if a.dtype.kind == "f" else np.dtype(np.float64)
        if not _broadcasts_to(self._param_shape, a.shape):
            raise ValueError(
                "OrnsteinUhlenbeckNoise: mu, sigma, theta, min_value and max_value (broadcast "
                f"shape {self._param_shape}) must broadcast to the action's shape {a.shape}"
            )
        if self._state is not None and self._state.shape != a.shape:
            raise ValueError(
                f"OrnsteinUhlenbeckNoise: the action's shape changed from {self._state.shape} "
                f"to {a.shape}; call reset() before switching shapes"
            )

        x = self._state
        if x is None:
            x = np.broadcast_to(self._mu, a.shape)
        eps = self._rng.standard_normal(a.shape)
        x = (x + self._theta * (self._mu - x) + self._sigma * eps).astype(dtype)
        self._state = x

        out = a.astype(dtype) + x
        if self._lo is not None or self._hi is not None:
            out = np.clip(out, self._lo, self._hi).astype(dtype, copy=False)
        return out[()] if out.ndim == 0 else out

    def reset(self, mask: Any = None) -> None:
        """Reset the Ornstein-Uhlenbeck process, entirely or for some envs of a batch.

        Parameters
        ----------
        mask : array_like of bool, optional
            Which processes to restart at :math:`\\mu`. Its shape must equal the leading
            dimensions of the action's shape, typically ``(num_envs,)`` for actions of shape
            ``(num_envs, action_dim)``. If None, everything is reset, and the next action may
            have a new shape. Before the first call there is nothing to reset.

        Raises
        ------
        TypeError
            If ``mask`` is not boolean.
        ValueError
            If ``mask``'s shape is not a leading part of the action's shape. Nothing is reset.
        """
        if mask is None:
            self._state = None
            return
        mask = np.asarray(mask)
        if mask.dtype != np.bool_:
            raise TypeError(
                f"OrnsteinUhlenbeckNoise.reset: 'mask' must be boolean, got dtype {mask.dtype}"
            )
        if self._state is None:  # no process runs yet: every env starts at mu anyway
            return
        shape = self._state.shape
        if mask.shape != shape[: mask.ndim]:
            raise ValueError(
                f"OrnsteinUhlenbeckNoise.reset: 'mask' of shape {mask.shape} does not match "
                f"the leading dimensions of the action's shape {shape}; expected shape "
                f"{shape[:1]} for a batch of {shape[0] if shape else 1} envs"
            )
        fresh = np.broadcast_to(self._mu, shape).astype(self._state.dtype)
        rows = mask.reshape(mask.shape + (1,) * (len(shape) - mask.ndim))
        self._state = np.where(rows, fresh, self._state)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(mu={self.mu!r}, sigma={self.sigma!r}, theta={self.theta!r}, "
            f"min_value={self.min_value!r}, max_value={self.max_value!r}, "
            f"random_seed={self.random_seed!r})"
        )


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether an array of ``shape`` broadcasts to ``target`` without changing ``target``."""
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _as_float_array(name: str, value: Any, bound: bool = False) -> np.ndarray:
    """``value`` as a float64 array, checking that it is numeric and finite."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):  # e.g. ragged nested lists
        arr = np.asarray(None)
    if arr.dtype.kind not in "biuf":  # numbers only: numpy would even parse the string "0.1"
        raise TypeError(
            f"OrnsteinUhlenbeckNoise: '{name}' must be a number or an array of numbers, "
            f"got {value!r}"
        )
    arr = arr.astype(np.float64)
    bad = np.isnan(arr) if bound else ~np.isfinite(arr)
    if np.any(bad):
        what = "must not be NaN" if bound else "must be finite"
        raise ValueError(f"OrnsteinUhlenbeckNoise: '{name}' {what}, got {value!r}")
    return arr
