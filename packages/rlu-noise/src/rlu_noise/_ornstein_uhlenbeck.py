"""Ornstein-Uhlenbeck exploration noise for continuous actions, for one env or a batch of envs."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from rlu_noise._checks import (
    FloatArray,
    check_action,
    check_broadcastable,
    check_float_array,
    check_generator,
    check_mask,
    check_max_value,
    check_positive,
    check_theta,
)

_WHERE = "OrnsteinUhlenbeckNoise"


class OrnsteinUhlenbeckNoise:
    r"""Add Ornstein-Uhlenbeck noise to continuous actions.

    Each call maps an action $A_t$ to $\widetilde{A}_t = A_t + X_t$, clipped to
    ``[min_value, max_value]``, and advances the noise process

    $$
    X_t = X_{t-1} - \theta\,(X_{t-1} - \mu) + \sigma\,\varepsilon_t,
    \qquad \varepsilon_t \sim \mathcal{N}(0, \mathbb{I}),
    \qquad X_0 = \mu.
    $$

    The process reverts to $\mu$; its successive values are correlated, which explores
    better than white noise in physical environments with momentum (the reason the DDPG paper
    chose it). Its stationary distribution has mean $\mu$ and variance
    $\sigma^2 / (1 - (1 - \theta)^2)$.

    **Batches.** The noise state has the shape of the action, and every element gets its own
    white noise, so a batch of actions of shape ``(num_envs, action_dim)`` from a vector
    environment gets an independent process per row.
    [`reset`][rlu_noise.OrnsteinUhlenbeckNoise.reset] with a boolean mask restarts the processes of
    only the envs whose episode ended.

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
        The mean $\mu$ the process reverts to; must broadcast to the action's shape.
    sigma : positive float or array_like, optional
        The spread $\sigma > 0$ of the noise; must broadcast to the action's shape.
    theta : float or array_like in (0, 2), optional
        The (element-wise) dissipation rate $\theta$; must broadcast to the action's
        shape. $\theta \ge 2$ is refused because the process then diverges;
        $\theta = 1$ gives white noise around $\mu$.
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
    >>> from rlu_noise import OrnsteinUhlenbeckNoise
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
        mu: npt.ArrayLike = 0.0,
        sigma: npt.ArrayLike = 1.0,
        theta: npt.ArrayLike = 0.15,
        min_value: npt.ArrayLike | None = None,
        max_value: npt.ArrayLike | None = None,
        random_seed: int | np.random.Generator | None = None,
    ) -> None:
        # The attribute names below are part of the pickle format of the instances (saved in
        # checkpoints): keep them, or teach __setstate__ the old ones.
        rng = check_generator("random_seed", random_seed, where=_WHERE)
        self._given: dict[str, Any] = {}
        self._configure(mu=mu, sigma=sigma, theta=theta, min_value=min_value, max_value=max_value)
        self.random_seed = random_seed
        self._rng = rng
        self._state: FloatArray | None = None

    # The parameters can be changed between calls (e.g. to anneal sigma with a schedule); each
    # assignment is validated like the constructor's arguments and takes effect at the next call.
    @property
    def mu(self) -> npt.ArrayLike:
        """The mean the process reverts to."""
        mu: npt.ArrayLike = self._given["mu"]
        return mu

    @mu.setter
    def mu(self, value: npt.ArrayLike) -> None:
        self._configure(mu=value)

    @property
    def sigma(self) -> npt.ArrayLike:
        """The spread of the white noise (positive)."""
        sigma: npt.ArrayLike = self._given["sigma"]
        return sigma

    @sigma.setter
    def sigma(self, value: npt.ArrayLike) -> None:
        self._configure(sigma=value)

    @property
    def theta(self) -> npt.ArrayLike:
        """The dissipation rate, in (0, 2)."""
        theta: npt.ArrayLike = self._given["theta"]
        return theta

    @theta.setter
    def theta(self, value: npt.ArrayLike) -> None:
        self._configure(theta=value)

    @property
    def min_value(self) -> npt.ArrayLike | None:
        """The lower bound of the output action, or None."""
        min_value: npt.ArrayLike | None = self._given["min_value"]
        return min_value

    @min_value.setter
    def min_value(self, value: npt.ArrayLike | None) -> None:
        self._configure(min_value=value)

    @property
    def max_value(self) -> npt.ArrayLike | None:
        """The upper bound of the output action, or None."""
        max_value: npt.ArrayLike | None = self._given["max_value"]
        return max_value

    @max_value.setter
    def max_value(self, value: npt.ArrayLike | None) -> None:
        self._configure(max_value=value)

    def _configure(self, **changes: Any) -> None:
        """Validate the parameters with ``changes`` applied, then adopt them (or change nothing)."""
        given = {**self._given, **changes}
        mu = check_float_array("mu", given["mu"], where=_WHERE)
        sigma = check_float_array("sigma", given["sigma"], where=_WHERE)
        theta = check_float_array("theta", given["theta"], where=_WHERE)
        lo, hi = (
            None if given[k] is None else check_float_array(k, given[k], bound=True, where=_WHERE)
            for k in ("min_value", "max_value")
        )
        check_positive("sigma", given["sigma"], where=_WHERE)
        check_theta("theta", given["theta"], where=_WHERE)
        arrays = {"mu": mu, "sigma": sigma, "theta": theta, "min_value": lo, "max_value": hi}
        param_shape = check_broadcastable(
            "parameters", {k: v for k, v in arrays.items() if v is not None}, where=_WHERE
        )
        check_max_value("max_value", given["max_value"], min_value=given["min_value"], where=_WHERE)
        self._given = given
        self._mu, self._sigma, self._theta, self._lo, self._hi = mu, sigma, theta, lo, hi
        self._param_shape = param_shape

    @property
    def state(self) -> FloatArray | None:
        """A copy of the current noise $X_t$, or None before the first call after a reset."""
        return None if self._state is None else self._state.copy()

    def __call__(self, a: npt.ArrayLike) -> Any:
        r"""Add Ornstein-Uhlenbeck noise to an action or a batch of actions.

        Parameters
        ----------
        a : float or array_like
            A single action $A_t$, or a batch of actions of shape
            ``(num_envs, action_dim)`` (any shape works: the noise has the action's shape).

        Returns
        -------
        a_noisy : numpy scalar or ndarray
            $\widetilde{A}_t = A_t + X_t$, clipped to ``[min_value, max_value]``, with
            the shape of ``a`` and its dtype (float64 for integer or boolean actions).

        Raises
        ------
        TypeError
            If ``a`` is not numeric.
        ValueError
            If the parameters don't broadcast to the shape of ``a``, or the shape of ``a``
            differs from the previous call's without a
            [`reset`][rlu_noise.OrnsteinUhlenbeckNoise.reset] in between. The noise state and the
            random stream are left untouched.
        """
        action = check_action(
            "action",
            a,
            param_shape=self._param_shape,
            state_shape=None if self._state is None else self._state.shape,
            where=_WHERE,
        )
        dtype = action.dtype if action.dtype.kind == "f" else np.dtype(np.float64)

        x = np.broadcast_to(self._mu, action.shape) if self._state is None else self._state
        eps = self._rng.standard_normal(action.shape)
        x = (x + self._theta * (self._mu - x) + self._sigma * eps).astype(dtype)
        self._state = x

        out = action.astype(dtype) + x
        if self._lo is not None or self._hi is not None:
            out = np.clip(out, self._lo, self._hi).astype(dtype, copy=False)
        return out[()] if out.ndim == 0 else out

    def reset(self, mask: npt.ArrayLike | None = None) -> None:
        r"""Reset the Ornstein-Uhlenbeck process, entirely or for some envs of a batch.

        Parameters
        ----------
        mask : array_like of bool, optional
            Which processes to restart at $\mu$. Its shape must equal the leading
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
        flags = check_mask(
            "mask",
            mask,
            state_shape=None if self._state is None else self._state.shape,
            where=f"{_WHERE}.reset",
        )
        if self._state is None:  # no process runs yet: every env starts at mu anyway
            return
        shape = self._state.shape
        fresh = np.broadcast_to(self._mu, shape).astype(self._state.dtype)
        rows = flags.reshape(flags.shape + (1,) * (len(shape) - flags.ndim))
        self._state = np.where(rows, fresh, self._state)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(mu={self.mu!r}, sigma={self.sigma!r}, theta={self.theta!r}, "
            f"min_value={self.min_value!r}, max_value={self.max_value!r}, "
            f"random_seed={self.random_seed!r})"
        )


# Pickles and checkpoints record the class's public path, rlu_noise.OrnsteinUhlenbeckNoise;
# rlu-noise 0.1.0 recorded rlu_noise.ornstein_uhlenbeck.OrnsteinUhlenbeckNoise, which the
# compatibility module of that name keeps loading.
OrnsteinUhlenbeckNoise.__module__ = "rlu_noise"
