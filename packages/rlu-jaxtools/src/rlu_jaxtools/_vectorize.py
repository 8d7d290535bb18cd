"""Run a batch-oriented function on a single instance: the inverse of ``jax.vmap``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from rlu_jaxtools._checks import (
    Axes,
    check_axes,
    check_axes_per_item,
    check_callable,
    check_single_output_axis,
)

AxesLike = int | None | Sequence[int | None]


def _expand(tree: Any, axis: int) -> Any:
    return jax.tree.map(lambda leaf: jnp.expand_dims(leaf, axis), tree)


def _squeeze(tree: Any, axis: int, where: str) -> Any:
    def squeeze(leaf: Any) -> jax.Array:
        leaf = jnp.asarray(leaf)
        if not -leaf.ndim <= axis < leaf.ndim or leaf.shape[axis] != 1:
            raise ValueError(
                f"unvectorize: cannot drop axis {axis} of {where} with shape {leaf.shape}; "
                "the batched function must return a batch axis of size 1 there"
            )
        return jnp.squeeze(leaf, axis)

    return jax.tree.map(squeeze, tree)


def unvectorize(
    f: Callable[..., Any], in_axes: AxesLike = 0, out_axes: AxesLike = 0
) -> Callable[..., Any]:
    """Turn a batched function into one that acts on a single instance.

    The returned function inserts a batch axis of size 1 into its inputs, calls ``f`` and
    drops that axis again from the outputs: the opposite of what ``jax.vmap`` does. Inputs
    and outputs may be pytrees; the axis is inserted into (dropped from) every leaf.

    Parameters
    ----------
    f : callable
        A batched function, taking positional arguments only.
    in_axes : int, None or tuple of (int or None), optional
        Where to insert the batch axis in each positional input. An int or None applies to
        every input; a tuple gives one entry per input, and None passes that input through
        unchanged (e.g. haiku's ``params`` and ``rng``). Default: axis 0 of every input.
    out_axes : int, None or tuple of (int or None), optional
        Which axis to drop from the outputs. A function that returns a tuple may get an int
        or None (applied to every element) or a tuple with one entry per element; any other
        return value counts as a single output and needs an int or None. None leaves an
        output unchanged. Default: axis 0.

    Returns
    -------
    callable
        ``f_single(*args)``, the unvectorized version of ``f``.

    Raises
    ------
    TypeError
        If ``f`` is not callable or the axes are not ints / None / tuples of those (raised
        here); if ``out_axes`` is a tuple while ``f`` returns a single output (raised when
        ``f_single`` is called: "out_axes must be an int for functions with a single
        output").
    ValueError
        Raised by ``f_single``: "number of in_axes must match the number of function
        inputs", "number of out_axes must match the number of function outputs", or an
        output whose batch axis does not have size 1.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from rlu_jaxtools import unvectorize
    >>> def batched_norms(x_batch):
    ...     return jnp.linalg.norm(x_batch, axis=-1)
    >>> norm = unvectorize(batched_norms)
    >>> float(norm(jnp.array([3.0, 4.0])))
    5.0

    Inputs marked None are passed as they are, and tuple outputs are handled per element:

    >>> def affine(w, x_batch):
    ...     y = x_batch @ w
    ...     return y, y.sum(axis=-1)
    >>> y, total = unvectorize(affine, in_axes=(None, 0), out_axes=(0, 0))(
    ...     jnp.eye(2), jnp.array([1.0, 2.0]))
    >>> y.tolist(), float(total)
    ([1.0, 2.0], 3.0)
    """
    check_callable("f", f, where="unvectorize")
    checked_in_axes: Axes = check_axes("in_axes", in_axes, where="unvectorize")
    checked_out_axes: Axes = check_axes("out_axes", out_axes, where="unvectorize")

    @functools.wraps(f)
    def f_single(*args: Any) -> Any:
        in_axes_ = check_axes_per_item("in_axes", checked_in_axes, count=len(args), items="input")
        batched_args = [
            arg if axis is None else _expand(arg, axis)
            for arg, axis in zip(args, in_axes_, strict=True)
        ]
        out = f(*batched_args)

        if isinstance(out, tuple):
            out_axes_ = check_axes_per_item(
                "out_axes", checked_out_axes, count=len(out), items="output"
            )
            items = [
                y if axis is None else _squeeze(y, axis, f"output {i}")
                for i, (y, axis) in enumerate(zip(out, out_axes_, strict=True))
            ]
            return type(out)(*items) if hasattr(out, "_fields") else tuple(items)

        axis = check_single_output_axis("out_axes", checked_out_axes)
        return out if axis is None else _squeeze(out, axis, "the output")

    return f_single
