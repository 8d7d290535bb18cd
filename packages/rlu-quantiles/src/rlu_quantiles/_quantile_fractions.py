"""Quantile fractions: fixed equally spaced ones (QR-DQN) and random ones (IQN)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from rlu_quantiles._checks import check_count


def quantiles(batch_size: int, num_quantiles: int = 200) -> jax.Array:
    r"""Equally spaced quantile fractions, the same row for every batch entry.

    Row ``b`` holds $\tau_i = i / N$ for $i = 0, 1, \dots, N - 1$ with
    ``N = num_quantiles``: the left edges of ``N`` equal-width bins that split
    ``[0, 1]``.

    Parameters
    ----------
    batch_size : int
        Number of rows, at least 1.
    num_quantiles : int, optional
        Number of fractions per row ``N``, at least 1. Default 200.

    Returns
    -------
    jax.Array
        float32 array of shape ``(batch_size, num_quantiles)``.

    Raises
    ------
    TypeError
        If ``batch_size`` or ``num_quantiles`` is not an int (also a ValueError, as
        rlu-quantiles 0.1.0 raised).
    ValueError
        If ``batch_size`` or ``num_quantiles`` is smaller than 1.

    Examples
    --------
    >>> from rlu_quantiles import quantiles
    >>> quantiles(batch_size=2, num_quantiles=4).tolist()
    [[0.0, 0.25, 0.5, 0.75], [0.0, 0.25, 0.5, 0.75]]
    """
    rows = check_count("batch_size", batch_size, where="quantiles")
    n = check_count("num_quantiles", num_quantiles, where="quantiles")
    row = jnp.asarray([i / n for i in range(n)], dtype=jnp.float32)
    return jnp.broadcast_to(row, (rows, n))


def quantiles_uniform(rng: ArrayLike, batch_size: int, num_quantiles: int = 32) -> jax.Array:
    r"""Random quantile fractions: sorted, strictly positive, each row ending at 1.

    Every row is built from ``N = num_quantiles`` independent uniform draws
    $u_k \in (0, 1]$ as the normalised cumulative sum
    $\tau_i = \sum_{k \le i} u_k / \sum_{k < N} u_k$. The gaps between consecutive
    fractions therefore split ``[0, 1]`` at random; each row is non-decreasing, its
    entries lie in ``(0, 1]`` and its last entry is exactly 1. Rows are independent.

    Parameters
    ----------
    rng : jax.Array
        A PRNG key (typed ``jax.random.key`` or legacy ``jax.random.PRNGKey``).
    batch_size : int
        Number of rows, at least 1.
    num_quantiles : int, optional
        Number of fractions per row ``N``, at least 1. Default 32.

    Returns
    -------
    jax.Array
        float32 array of shape ``(batch_size, num_quantiles)``.

    Raises
    ------
    TypeError
        If ``batch_size`` or ``num_quantiles`` is not an int (also a ValueError, as
        rlu-quantiles 0.1.0 raised).
    ValueError
        If ``batch_size`` or ``num_quantiles`` is smaller than 1.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from rlu_quantiles import quantiles_uniform
    >>> tau = quantiles_uniform(jax.random.key(0), batch_size=3, num_quantiles=5)
    >>> tau.shape, tau[:, -1].tolist()
    ((3, 5), [1.0, 1.0, 1.0])
    >>> bool(jnp.all(jnp.diff(tau, axis=-1) >= 0)), bool(jnp.all(tau > 0))
    (True, True)
    """
    rows = check_count("batch_size", batch_size, where="quantiles_uniform")
    n = check_count("num_quantiles", num_quantiles, where="quantiles_uniform")
    fractions: jax.Array = _uniform_fractions(rng, rows, n)
    return fractions


@functools.partial(jax.jit, static_argnums=(1, 2))
def _uniform_fractions(rng: ArrayLike, batch_size: int, num_quantiles: int) -> jax.Array:
    # 1 - U[0, 1) lies in (0, 1], so no gap is zero and the total is never zero.
    gaps = 1.0 - jax.random.uniform(rng, (batch_size, num_quantiles), dtype=jnp.float32)
    cumulative = jnp.cumsum(gaps, axis=-1)
    fractions = jnp.minimum(cumulative / cumulative[:, -1:], 1.0)
    # XLA may divide by multiplying with a reciprocal, so x / x can miss 1 by an ulp: pin it.
    return fractions.at[:, -1].set(1.0)
