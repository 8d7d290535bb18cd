"""Cosine embedding of quantile fractions, as used by implicit quantile networks (IQN)."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from rlu_quantiles._checks import check_count


def quantile_cos_embedding(quantile_fractions: ArrayLike, n: int = 64) -> jax.Array:
    r"""Embed quantile fractions with ``n`` cosine basis functions.

    Each fraction $\tau$ is mapped to the vector

    $$
    \phi(\tau) = \bigl(\cos(\pi i \tau)\bigr)_{i = 0, 1, \dots, n - 1}
    $$

    i.e. the basis index runs over $0 \le i < n$ (the first component is the
    constant 1), as in the IQN paper (Dabney et al., 2018). The embedding is appended as a
    new last axis, so any input shape works.

    Parameters
    ----------
    quantile_fractions : array_like
        Fractions $\tau$, typically in ``[0, 1]``, of any shape (numpy or JAX).
    n : int, optional
        Number of basis functions (the embedding size), at least 1. Default 64.

    Returns
    -------
    jax.Array
        Floating array of shape ``quantile_fractions.shape + (n,)``.

    Raises
    ------
    TypeError
        If ``n`` is not an int (also a ValueError, as rlu-quantiles 0.1.0 raised).
    ValueError
        If ``n`` is smaller than 1.

    Examples
    --------
    >>> from rlu_quantiles import quantile_cos_embedding
    >>> emb = quantile_cos_embedding([[0.0, 1.0], [1 / 3, 2 / 3]], n=3)
    >>> emb.shape
    (2, 2, 3)
    >>> [[round(v, 6) for v in row] for row in emb[1].tolist()]
    [[1.0, 0.5, -0.5], [1.0, -0.5, -0.5]]
    """
    size = check_count("n", n, where="quantile_cos_embedding")
    embedding: jax.Array = _embed(jnp.asarray(quantile_fractions), size)
    return embedding


@functools.partial(jax.jit, static_argnums=1)
def _embed(tau: jax.Array, n: int) -> jax.Array:
    if not jnp.issubdtype(tau.dtype, jnp.inexact):
        tau = tau.astype(jnp.result_type(float))
    i = jnp.arange(n, dtype=tau.dtype)
    return jnp.cos(math.pi * i * tau[..., None])
