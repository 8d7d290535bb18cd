"""Elementwise activations: a double ReLU and a logit that stays finite at 0 and 1."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from rlu_jaxtools._checks import check_has_axis, check_positive_if_concrete


def double_relu(arr: ArrayLike) -> jax.Array:
    """Split an array into its negative and positive parts, side by side.

    The output is ``concatenate([min(arr, 0), max(arr, 0)], axis=-1)``, i.e.
    ``-relu(-arr)`` followed by ``relu(arr)``: every input value is passed on (no signal is
    lost), while for each input exactly one of its two output slots is zero. The last axis
    doubles in size; the dtype is kept. NaN propagates to both halves.

    Parameters
    ----------
    arr : array_like
        Input with at least one dimension, e.g. the activations of a layer.

    Returns
    -------
    jax.Array
        Shape ``arr.shape[:-1] + (2 * arr.shape[-1],)``, same dtype as ``arr``.

    Raises
    ------
    ValueError
        If ``arr`` is 0-d (there is no last axis to double).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from rlu_jaxtools import double_relu
    >>> x = jnp.array([[-11, -8],
    ...                [ 17,  5],
    ...                [-13,  7],
    ...                [ 19, -3]])
    >>> double_relu(x).tolist()
    [[-11, -8, 0, 0], [0, 0, 17, 5], [-13, 0, 0, 7], [0, -3, 19, 0]]
    """
    arr = jnp.asarray(arr)
    check_has_axis("arr", arr, where="double_relu")
    out: jax.Array = _double_relu(arr)
    return out


@jax.jit
def _double_relu(arr: jax.Array) -> jax.Array:
    zero = jnp.zeros((), dtype=arr.dtype)
    return jnp.concatenate((jnp.minimum(arr, zero), jnp.maximum(arr, zero)), axis=-1)


def clipped_logit(x: ArrayLike, epsilon: float = 1e-15) -> jax.Array:
    r"""Logit function with both logarithms clipped from below, so it stays finite.

    Computes, elementwise,

    $$
    \text{logit}_\epsilon(x) = \log\max(\epsilon, x) - \log\max(\epsilon, 1 - x)
    $$

    which equals $\log(x / (1 - x))$ for $\epsilon \le x \le 1 - \epsilon$ and
    saturates at $\pm\log(1/\epsilon)$ near 0 and 1 instead of diverging. Integer and
    boolean inputs are converted to JAX's default float dtype. Half-precision inputs
    (float16, bfloat16) are computed in float32, where the default ``epsilon`` does not
    underflow to 0, and the result is cast back to the input dtype.

    Parameters
    ----------
    x : array_like
        Values on the unit interval, $x_i \in [0, 1]$.
    epsilon : float, optional
        The positive lower bound applied to both arguments of the logarithm.

    Returns
    -------
    jax.Array
        Logits of the same shape as ``x``, floating point.

    Raises
    ------
    TypeError
        If ``epsilon`` is a bool.
    ValueError
        If ``epsilon`` is a concrete number that is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> from rlu_jaxtools import clipped_logit
    >>> z = clipped_logit(np.array([0.0, 0.5, 0.75, 1.0]))
    >>> np.round(np.asarray(z, dtype=np.float64), 4).tolist()
    [-34.5388, 0.0, 1.0986, 34.5388]
    """
    check_positive_if_concrete("epsilon", epsilon, where="clipped_logit")
    out: jax.Array = _clipped_logit(jnp.asarray(x), epsilon)
    return out


@jax.jit
def _clipped_logit(x: jax.Array, epsilon: ArrayLike) -> jax.Array:
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.result_type(float))
    out_dtype = x.dtype
    x = x.astype(jnp.promote_types(out_dtype, jnp.float32))
    z = jnp.log(jnp.maximum(epsilon, x)) - jnp.log(jnp.maximum(epsilon, 1 - x))
    return z.astype(out_dtype)
