"""Sampling from gymnasium spaces that gives finite, moderate values, reproducibly."""

from __future__ import annotations

import copy
from typing import Any

import gymnasium
import numpy as np

from rlu_envtools._checks import check_rng, check_space

# Infinite or huge Box bounds are clipped to this magnitude before sampling.
_BOUND = 1e9


def _sample_box(space: gymnasium.spaces.Box, rng: np.random.Generator) -> np.ndarray:
    dtype = space.dtype
    if not np.issubdtype(dtype, np.floating):
        # integer (or bool) boxes always have finite bounds: draw uniformly among the integers
        low = np.asarray(space.low, dtype=np.int64)
        high = np.asarray(space.high, dtype=np.int64)
        return rng.integers(low, high, endpoint=True, size=space.shape).astype(dtype)

    low = np.asarray(space.low, dtype=np.float64)
    high = np.asarray(space.high, dtype=np.float64)
    lo = np.clip(low, -_BOUND, _BOUND)
    hi = np.clip(high, -_BOUND, _BOUND)
    x = lo + rng.random(space.shape) * (hi - lo)
    # Where a bound is infinite, squash with a signed log so values stay moderate (|x| < 21).
    unbounded = ~(np.asarray(space.bounded_below) & np.asarray(space.bounded_above))
    x = np.where(unbounded, np.sign(x) * np.log1p(np.abs(x)), x)
    return np.clip(x, low, high).astype(dtype)


def _safe_sample(space: gymnasium.Space[Any], rng: np.random.Generator) -> Any:
    spaces = gymnasium.spaces
    if isinstance(space, spaces.Discrete):
        return space.dtype.type(space.start + rng.integers(space.n))
    if isinstance(space, spaces.MultiDiscrete):
        return (space.start + rng.integers(space.nvec)).astype(space.dtype)
    if isinstance(space, spaces.MultiBinary):
        return rng.integers(2, size=space.shape).astype(space.dtype)
    if isinstance(space, spaces.Box):
        return _sample_box(space, rng)
    if isinstance(space, spaces.Tuple):
        return tuple(_safe_sample(sp, rng) for sp in space.spaces)
    if isinstance(space, spaces.Dict):
        return {k: _safe_sample(space.spaces[k], rng) for k in sorted(space.spaces)}
    # Any other space: its own sample(), on a seeded copy so that the user's space is untouched.
    space = copy.deepcopy(space)
    space.seed(int(rng.integers(2**31 - 1)))
    return space.sample()


def safe_sample(
    space: gymnasium.Space[Any],
    seed: int | np.random.Generator | np.random.RandomState | None = None,
) -> Any:
    """Draw one finite, moderate sample from a gymnasium space.

    Unlike ``gymnasium.Space.sample``, this never returns huge or infinite numbers for
    unbounded boxes, which makes it suitable for building dummy inputs (e.g. to initialise
    function approximators). What each space gives:

    * ``Discrete``: an integer in ``[start, start + n)``, of the space's dtype.
    * ``MultiDiscrete``: an array in ``[start, start + nvec)``, of the space's shape and dtype.
    * ``MultiBinary``: an array of zeros and ones, of the space's shape and dtype.
    * ``Box``: bounds are clipped to ``±1e9`` and a value is drawn uniformly between them. On
      entries with an infinite bound the value is then log-transformed,
      ``sign(x) * log(1 + |x|)``, so its magnitude stays below about 21. The result is clipped
      into ``[low, high]`` and cast to the space's dtype, so it always lies in the space.
    * ``Tuple``: a tuple of samples; ``Dict``: a dict of samples in sorted key order.
    * any other space: its own ``sample()``, drawn from a seeded copy of the space.

    Parameters
    ----------
    space : gymnasium.Space
        The space to sample from.
    seed : int, numpy.random.Generator or numpy.random.RandomState, optional
        A non-negative seed, or a generator to draw from (it is advanced; a legacy
        ``RandomState``, which coax took, seeds a new generator with one draw). The same seed
        gives the same sample. If left out, fresh entropy is used.

    Returns
    -------
    object
        A single element of ``space``.

    Raises
    ------
    TypeError
        If ``space`` is not a ``gymnasium.Space``, or ``seed`` is neither None, an int
        nor a numpy Generator or RandomState.
    ValueError
        If ``seed`` is a negative int.

    Examples
    --------
    >>> import numpy as np
    >>> from gymnasium.spaces import Box, Dict, Discrete
    >>> from rlu_envtools import safe_sample
    >>> space = Dict({"pos": Box(-np.inf, np.inf, shape=(3,)), "mode": Discrete(4, start=1)})
    >>> x = safe_sample(space, seed=13)
    >>> list(x), space.contains(x), bool(np.all(np.abs(x["pos"]) < 21))
    (['mode', 'pos'], True, True)
    >>> y = safe_sample(space, seed=13)
    >>> bool(x["mode"] == y["mode"] and np.array_equal(x["pos"], y["pos"]))
    True
    """
    space = check_space("space", space)
    return _safe_sample(space, check_rng("seed", seed))
