r"""Discrete differentiation of stacked frames: position, velocity, acceleration, ...

With ``n`` frames $x_0, \dots, x_{n-1}$ stacked chronologically along the last axis,
``X @ M`` for the matrix ``M`` of [`diff_transform_matrix`][rlu_jaxtools.diff_transform_matrix]
replaces them by the backward differences of the latest frame, highest order first:

$$
(X M)_j = \nabla^{d} x_{n-1} = \sum_{k=0}^{d} (-1)^k \binom{d}{k} x_{n-1-k},
\qquad d = n - 1 - j,
$$

so the last column is the latest frame itself (position), the one before it the first
difference (velocity), then the second difference (acceleration), and so on.
"""

from __future__ import annotations

from math import comb

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike, DTypeLike

from rlu_jaxtools._checks import (
    TypeAndAssertionError,
    ValueAndAssertionError,
    ValueAndIndexError,
    check_has_axis,
    check_int,
)


def _matrix(num_frames: int) -> np.ndarray:
    n = num_frames
    m = np.zeros((n, n), dtype=np.int64)
    for i in range(n):
        for j in range(n):
            m[i, j] = (-1) ** (n - 1 - i) * comb(n - 1 - j, n - 1 - i)
    return m


def diff_transform_matrix(num_frames: int, dtype: DTypeLike = "float32") -> jax.Array:
    r"""The square matrix that turns stacked frames into finite differences.

    For frames stacked in chronological order along the last axis of ``X``, the product
    ``X @ M`` keeps the shape but mixes the frames into discrete derivatives: the last
    column is the latest frame (position), the one before it the first backward difference
    (velocity), then the second difference (acceleration), and so on. The entries are signed
    binomial coefficients,

    $$
    M_{ij} = (-1)^{\,n-1-i} \binom{n-1-j}{\,n-1-i}, \qquad 0 \le i, j < n,
    $$

    computed exactly with integer arithmetic (no scipy needed). For ``num_frames=4``:

    $$
    M = \begin{pmatrix} -1 & 0 & 0 & 0 \\ 3 & 1 & 0 & 0 \\
        -3 & -2 & -1 & 0 \\ 1 & 1 & 1 & 1 \end{pmatrix}
    $$

    Parameters
    ----------
    num_frames : int
        The number of stacked frames ``n``, at least 1.
    dtype : dtype or str, optional
        The dtype of the returned matrix.

    Returns
    -------
    jax.Array
        Shape ``(num_frames, num_frames)``; meant to be multiplied from the right,
        ``X_diff = X @ M``.

    Raises
    ------
    TypeError
        If ``num_frames`` is not an int (also an AssertionError, as coax's ``assert`` was).
    ValueError
        If ``num_frames`` is smaller than 1 (also an AssertionError).

    Examples
    --------
    >>> from rlu_jaxtools import diff_transform_matrix
    >>> diff_transform_matrix(4).astype(int).tolist()
    [[-1, 0, 0, 0], [3, 1, 0, 0], [-3, -2, -1, 0], [1, 1, 1, 1]]
    """
    n = check_int(
        "num_frames",
        num_frames,
        where="diff_transform_matrix",
        minimum=1,
        type_error=TypeAndAssertionError,
        value_error=ValueAndAssertionError,
    )
    return jnp.asarray(_matrix(n), dtype=dtype)


def diff_transform(X: ArrayLike, dtype: DTypeLike = "float32") -> jax.Array:
    """Replace stacked frames by their finite differences: ``X @ diff_transform_matrix(n)``.

    See [`diff_transform_matrix`][rlu_jaxtools.diff_transform_matrix] for the matrix. ``X`` is
    converted to ``dtype`` and the product is computed in that dtype at full precision, so the
    result has the shape of ``X`` and the dtype ``dtype``.

    Parameters
    ----------
    X : array_like
        Array whose last axis is the frame stack, ``X.shape[-1] == num_frames``, in
        chronological order (oldest first).
    dtype : dtype or str, optional
        The dtype of the computation and of the result.

    Returns
    -------
    jax.Array
        Same shape as ``X``; along the last axis the backward differences of the latest
        frame, of order ``n - 1`` down to 0 (the latest frame itself, last).

    Raises
    ------
    ValueError
        If ``X`` is 0-d (also an IndexError, as coax raised) or its last axis is empty (also
        an AssertionError, as coax's ``assert`` was).

    Examples
    --------
    >>> import numpy as np
    >>> from rlu_jaxtools import diff_transform
    >>> x = np.array([1.0, 8.0, 27.0, 64.0])  # x_t = t**3 at t = 1, 2, 3, 4
    >>> diff_transform(x).tolist()           # third, second, first difference, position
    [6.0, 18.0, 37.0, 64.0]
    """
    X = jnp.asarray(X)
    check_has_axis("X", X, where="diff_transform", error=ValueAndIndexError)
    if X.shape[-1] == 0:
        raise ValueAndAssertionError("diff_transform: the last axis of X (the frames) is empty")
    M = diff_transform_matrix(X.shape[-1], dtype=dtype)
    return jnp.matmul(X.astype(dtype), M, precision=jax.lax.Precision.HIGHEST)
