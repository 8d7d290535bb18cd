"""Argmax and argmin that pick uniformly at random among tied entries.

``numpy.argmax`` and ``jax.numpy.argmax`` always return the first of several equal maxima.
A greedy policy built on them therefore favours low action indices whenever Q-values tie,
for instance right after initialisation. The two functions here return one of the tied
indices with equal probability, along any axis, and agree with the deterministic versions
whenever there is no tie.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from rlu_jaxtools._checks import check_axis, check_has_axis, check_optional_int


@functools.partial(jax.jit, static_argnames=("axis", "reduce"))
def _pick_extreme(
    rng: jax.Array, arr: jax.Array, axis: int, reduce: Callable[..., jax.Array]
) -> jax.Array:
    extreme = reduce(arr, axis=axis, keepdims=True)
    # NaN wins, as in jnp.argmax / jnp.argmin: if a slice holds NaN, its NaNs are the candidates.
    candidates = jnp.where(jnp.isnan(extreme), jnp.isnan(arr), arr == extreme)
    # Give every candidate an independent uniform score in [0, 1) and every other entry -1;
    # the position of the highest score is then uniformly distributed over the candidates.
    scores = jnp.where(candidates, jax.random.uniform(rng, arr.shape), -1.0)
    return jnp.argmax(scores, axis=axis)


def _random_arg_extreme(
    rng: ArrayLike,
    arr: ArrayLike,
    axis: int | None,
    reduce: Callable[..., jax.Array],
    name: str,
) -> jax.Array:
    checked_axis = check_optional_int("axis", axis, where=name)
    arr = jnp.asarray(arr)
    if checked_axis is None:
        arr = jnp.ravel(arr)
        checked_axis = 0
    check_has_axis("arr", arr, where=name)
    checked_axis = check_axis("axis", checked_axis, shape=arr.shape, where=name)
    if arr.shape[checked_axis] == 0:
        raise ValueError(f"{name}: arr has no entries along axis {axis} (shape {arr.shape})")
    picked: jax.Array = _pick_extreme(rng, arr, axis=checked_axis, reduce=reduce)
    return picked


def argmax(rng: ArrayLike, arr: ArrayLike, axis: int | None = -1) -> jax.Array:
    """Index of the maximum along an axis, breaking ties uniformly at random.

    Where the maximum is unique the result equals ``jnp.argmax(arr, axis)``. Where several
    entries share the maximum, each of them is returned with equal probability; different
    slices of ``arr`` draw independently. This holds along any axis of an array of any rank.
    A slice that contains NaN returns (one of) its NaN positions, like ``jnp.argmax``.

    Parameters
    ----------
    rng : jax.Array
        A PRNG key, either a new-style typed key (``jax.random.key``) or a legacy
        ``jax.random.PRNGKey``.
    arr : array_like
        Input array (numpy or JAX) with at least one dimension.
    axis : int or None, optional
        The axis to reduce. The default ``-1`` reduces the last axis. ``None`` reduces the
        flattened array, as in ``numpy.argmax``.

    Returns
    -------
    jax.Array
        Integer indices (int32) with the shape of ``arr`` minus ``axis`` (a scalar when
        ``axis`` is None or ``arr`` is one-dimensional).

    Raises
    ------
    TypeError
        If ``axis`` is not an int or None.
    ValueError
        If ``arr`` is 0-d, ``axis`` is out of bounds, or ``arr`` is empty along ``axis``.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from rlu_jaxtools import argmax
    >>> int(argmax(jax.random.key(0), jnp.array([1.0, 3.0, 2.0, 0.0])))
    1

    With a tie, both tied positions come up over many keys:

    >>> x = jnp.array([0.0, 5.0, 1.0, 5.0])
    >>> sorted({int(argmax(jax.random.key(seed), x)) for seed in range(20)})
    [1, 3]
    """
    return _random_arg_extreme(rng, arr, axis, jnp.max, "argmax")


def argmin(rng: ArrayLike, arr: ArrayLike, axis: int | None = -1) -> jax.Array:
    """Index of the minimum along an axis, breaking ties uniformly at random.

    The mirror image of [`argmax`][rlu_jaxtools.argmax]: without ties the result equals
    ``jnp.argmin(arr, axis)``; tied minima are chosen with equal probability along any axis
    and for arrays of any rank. The minimum is found directly (not as the maximum of
    ``-arr``), so unsigned and boolean arrays give correct results.

    Parameters
    ----------
    rng : jax.Array
        A PRNG key (typed ``jax.random.key`` or legacy ``jax.random.PRNGKey``).
    arr : array_like
        Input array (numpy or JAX) with at least one dimension.
    axis : int or None, optional
        The axis to reduce; default ``-1``. ``None`` reduces the flattened array.

    Returns
    -------
    jax.Array
        Integer indices (int32) with the shape of ``arr`` minus ``axis``.

    Raises
    ------
    TypeError
        If ``axis`` is not an int or None.
    ValueError
        If ``arr`` is 0-d, ``axis`` is out of bounds, or ``arr`` is empty along ``axis``.

    Examples
    --------
    >>> import jax, numpy as np
    >>> from rlu_jaxtools import argmin
    >>> x = np.array([[3, 1, 2],
    ...               [0, 4, 0]], dtype=np.uint8)
    >>> argmin(jax.random.key(0), x, axis=0).tolist()
    [1, 0, 1]
    >>> sorted({int(argmin(jax.random.key(seed), x[1])) for seed in range(20)})
    [0, 2]
    """
    return _random_arg_extreme(rng, arr, axis, jnp.min, "argmin")
