"""Small checks and helpers about arrays: validate properties, test for scalars, index."""

from __future__ import annotations

import numbers
from collections.abc import Collection
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike

from rlu_jaxtools._checks import (
    TypeAndIndexError,
    TypeAndValueError,
    ValueAndIndexError,
    check_axis,
    check_has_axis,
    check_int,
)


def _as_options(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]


def _describe(options: list[Any]) -> str:
    return str(options[0]) if len(options) == 1 else "one of " + ", ".join(map(str, options))


def check_array(
    arr: Any,
    ndim: int | Collection[int] | None = None,
    ndim_min: int | None = None,
    ndim_max: int | None = None,
    dtype: DTypeLike | Collection[DTypeLike] | None = None,
    shape: tuple[int, ...] | None = None,
    axis_size: int | Collection[int] | None = None,
    axis: int | None = None,
    except_np: bool = False,
) -> None:
    """Check common properties of an array and raise TypeError if one does not hold.

    Each check runs only when its argument is given. By default ``arr`` must be a JAX array
    (a ``jax.Array``, which includes traced values inside ``jax.jit``); with
    ``except_np=True`` numpy arrays are accepted as well.

    Parameters
    ----------
    arr : Any
        The object to check.
    ndim : int or collection of ints, optional
        Allowed number(s) of dimensions.
    ndim_min, ndim_max : int, optional
        Inclusive lower / upper bound on the number of dimensions.
    dtype : dtype-like or collection of dtype-likes, optional
        Allowed dtype(s), e.g. ``"float32"`` or ``(jnp.int32, jnp.int64)``; compared exactly.
    shape : tuple of ints, optional
        The exact shape (a list is accepted too).
    axis_size : int or collection of ints, optional
        Allowed size(s) of axis ``axis``; must be given together with ``axis``.
    axis : int, optional
        The axis whose size ``axis_size`` checks.
    except_np : bool, optional
        Whether numpy arrays are accepted besides JAX arrays.

    Returns
    -------
    None
        The function only raises.

    Raises
    ------
    TypeError
        If ``arr`` fails one of the requested checks (the message says which and what was
        found). For an ``axis`` that ``arr`` does not have, also an IndexError, as coax raised.
    ValueError
        If only one of ``axis_size`` and ``axis`` is given.

    Examples
    --------
    >>> import jax.numpy as jnp, numpy as np
    >>> from rlu_jaxtools import check_array
    >>> check_array(jnp.zeros((3, 4)), ndim=2, dtype="float32", axis_size=4, axis=-1)
    >>> check_array(np.zeros(3), ndim_min=2, except_np=True)
    Traceback (most recent call last):
    ...
    TypeError: expected input with ndim at least 2, got ndim: 1
    """
    if (axis_size is None) != (axis is None):
        raise ValueError(
            "check_array: axis_size and axis must be given together, got "
            f"axis_size={axis_size!r}, axis={axis!r}"
        )
    if except_np:
        if not isinstance(arr, (jax.Array, np.ndarray)):
            raise TypeError(
                f"expected input to be a JAX or numpy array, got type: {type(arr).__name__}"
            )
    elif not isinstance(arr, jax.Array):
        raise TypeError(f"expected input to be a JAX array, got type: {type(arr).__name__}")

    if ndim is not None:
        ndims = _as_options(ndim)
        if arr.ndim not in ndims:
            raise TypeError(f"expected input with ndim {_describe(ndims)}, got ndim: {arr.ndim}")
    if ndim_min is not None and arr.ndim < ndim_min:
        raise TypeError(f"expected input with ndim at least {ndim_min}, got ndim: {arr.ndim}")
    if ndim_max is not None and arr.ndim > ndim_max:
        raise TypeError(f"expected input with ndim at most {ndim_max}, got ndim: {arr.ndim}")
    if dtype is not None:
        dtypes = [np.dtype(d) for d in _as_options(dtype)]
        if arr.dtype not in dtypes:
            raise TypeError(
                f"expected input with dtype {_describe(dtypes)}, got dtype: {arr.dtype}"
            )
    if shape is not None and tuple(arr.shape) != tuple(shape):
        raise TypeError(f"expected input with shape {tuple(shape)}, got shape: {arr.shape}")
    if axis is not None:
        if not -arr.ndim <= axis < arr.ndim:
            raise TypeAndIndexError(f"expected input with an axis {axis}, got shape: {arr.shape}")
        sizes = _as_options(axis_size)
        if arr.shape[axis] not in sizes:
            raise TypeError(
                f"expected input with size {_describe(sizes)} along axis {axis}, "
                f"got shape: {arr.shape}"
            )


def isscalar(num: Any) -> bool:
    """Whether ``num`` is a number or an array holding exactly one item.

    This is looser than ``numpy.isscalar``: besides Python and numpy numbers (including
    booleans), any numpy or JAX array with a single element counts, whatever its number of
    dimensions (``shape == ()``, ``(1,)``, ``(1, 1)``, ...). Strings and other non-numeric
    objects are not scalars here. The answer depends only on type and shape, so it also
    works on traced arrays inside ``jax.jit``.

    Parameters
    ----------
    num : Any
        The object to test.

    Returns
    -------
    bool
        True for numbers and single-item arrays, False otherwise.

    Examples
    --------
    >>> import numpy as np, jax.numpy as jnp
    >>> from rlu_jaxtools import isscalar
    >>> isscalar(3.0), isscalar(np.float32(2)), isscalar(jnp.ones((1, 1))), isscalar(np.ones(2))
    (True, True, True, False)
    >>> isscalar("a")
    False
    """
    if isinstance(num, (numbers.Number, np.bool_)):
        return True
    if isinstance(num, (np.ndarray, jax.Array)):
        return num.size == 1
    return False


def idx(arr: Any, axis: int = 0) -> jax.Array:
    """The integer index ``[0, 1, ..., n - 1]`` of an array along one axis.

    Parameters
    ----------
    arr : array_like
        A numpy or JAX array (or anything ``numpy.shape`` understands) with at least one
        dimension.
    axis : int, optional
        The axis to index; negative values count from the end.

    Returns
    -------
    jax.Array
        ``jnp.arange(arr.shape[axis])``, a 1-d integer array.

    Raises
    ------
    TypeError
        If ``axis`` is not an int.
    ValueError
        If ``arr`` is 0-d (also a TypeError, as coax raised) or ``axis`` is out of bounds
        (also an IndexError, as coax raised).

    Examples
    --------
    >>> import numpy as np
    >>> from rlu_jaxtools import idx
    >>> idx(np.zeros((2, 5)), axis=1).tolist()
    [0, 1, 2, 3, 4]
    """
    checked_axis = check_int("axis", axis, where="idx")
    shape = np.shape(arr)
    check_has_axis("arr", arr, where="idx", error=TypeAndValueError)
    checked_axis = check_axis(
        "axis", checked_axis, shape=shape, where="idx", error=ValueAndIndexError
    )
    return jnp.arange(shape[checked_axis])
