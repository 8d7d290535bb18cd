"""The argument checks of rlu_jaxtools, in one place.

House behaviour: integers accept ``int`` and numpy integers and refuse ``bool``; a wrong type
raises ``TypeError``, a wrong value ``ValueError``; the message names the argument and what was
expected (``num_frames must be an int >= 1, got 0``). A rejected call changes nothing.

Where ``coax.utils`` raised another exception class for the same mistake, the error raised here
is an instance of both classes (the exception classes below), so that ``except`` clauses written
for coax still catch it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer

PyTree = Any
Axes = int | None | tuple[int | None, ...]


class TypeAndValueError(TypeError, ValueError):
    """A ValueError where coax raised TypeError for the same mistake."""


class ValueAndIndexError(ValueError, IndexError):
    """A ValueError where coax raised IndexError for the same mistake."""


class TypeAndIndexError(TypeError, IndexError):
    """A TypeError where coax raised IndexError for the same mistake."""


class ValueAndAssertionError(ValueError, AssertionError):
    """A ValueError where coax failed an ``assert`` for the same mistake."""


class TypeAndAssertionError(TypeError, AssertionError):
    """A TypeError where coax failed an ``assert`` for the same mistake."""


class TypeAndAttributeError(TypeError, AttributeError):
    """A TypeError where coax raised AttributeError for the same mistake."""


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def _int_or_none(value: Any) -> int | None:
    """``value`` as an int if it is an integer (not a bool), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def check_int(
    name: str,
    value: Any,
    *,
    where: str = "",
    minimum: int | None = None,
    type_error: type[Exception] = TypeError,
    value_error: type[Exception] = ValueError,
) -> int:
    """``value`` as a Python int, checked to be an integer (and at least ``minimum``)."""
    expected = "an int" if minimum is None else f"an int >= {minimum}"
    number = _int_or_none(value)
    if number is None:
        raise type_error(f"{_prefix(where)}{name} must be {expected}, got {value!r}")
    if minimum is not None and number < minimum:
        raise value_error(f"{_prefix(where)}{name} must be {expected}, got {number}")
    return number


def check_optional_int(name: str, value: Any, *, where: str = "") -> int | None:
    """``value`` as a Python int, or None."""
    if value is None:
        return None
    number = _int_or_none(value)
    if number is None:
        raise TypeError(f"{_prefix(where)}{name} must be an int or None, got {value!r}")
    return number


def check_axis(
    name: str,
    value: int,
    *,
    shape: tuple[int, ...],
    where: str = "",
    error: type[Exception] = ValueError,
) -> int:
    """``value`` normalised to ``[0, len(shape))``, checked to be a valid axis of ``shape``."""
    if not -len(shape) <= value < len(shape):
        raise error(
            f"{_prefix(where)}{name} {value} is out of bounds for arr with shape {tuple(shape)}"
        )
    return value % len(shape)


def check_has_axis(
    name: str, value: Any, *, where: str = "", error: type[Exception] = ValueError
) -> None:
    """Refuse a 0-d array: the function works along an axis."""
    if np.ndim(value) == 0:
        raise error(f"{_prefix(where)}{name} must have at least one dimension, got a 0-d array")


def check_callable(name: str, value: Any, *, where: str = "") -> None:
    if not callable(value):
        raise TypeError(f"{_prefix(where)}{name} must be callable, got {type(value).__name__}")


def check_str(name: str, value: Any, *, where: str = "") -> None:
    if not isinstance(value, str):
        raise TypeError(f"{_prefix(where)}{name} must be a str, got {type(value).__name__}")


def check_positive_if_concrete(name: str, value: Any, *, where: str = "") -> None:
    """Check a concrete real number to be positive; arrays and traced values pass unchecked."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{_prefix(where)}{name} must be a real number, got {value!r}")
    if isinstance(value, (int, float, np.integer, np.floating)) and not value > 0:
        raise ValueError(f"{_prefix(where)}{name} must be positive, got {value!r}")


def check_argnums(name: str, value: Any, *, where: str = "") -> tuple[int, ...]:
    """An int or a tuple/list of ints (``static_argnums``, ``donate_argnums``) as a tuple."""
    single = _int_or_none(value)
    if single is not None:
        return (single,)
    if isinstance(value, (tuple, list)):
        numbers = [_int_or_none(a) for a in value]
        if all(n is not None for n in numbers):
            return tuple(n for n in numbers if n is not None)
    raise TypeError(f"{_prefix(where)}{name} must be an int or a tuple of ints, got {value!r}")


def check_axes(name: str, value: Any, *, where: str = "") -> Axes:
    """An axis spec of ``unvectorize``: an int, None, or a tuple/list of ints and Nones."""
    if value is None:
        return None
    single = _int_or_none(value)
    if single is not None:
        return single
    if isinstance(value, (tuple, list)):
        axes = [None if a is None else _int_or_none(a) for a in value]
        if all(a is not None or b is None for a, b in zip(axes, value, strict=True)):
            return tuple(axes)
    raise TypeError(
        f"{_prefix(where)}{name} must be an int, None, or a tuple of ints and Nones, got {value!r}"
    )


def check_static_index(name: str, value: Any, *, where: str = "") -> int | None:
    """``value`` as a Python int if it is a concrete integer, None if it is traced."""
    if isinstance(value, Tracer):
        return None
    number = _int_or_none(value)
    if number is not None:
        return number
    if isinstance(value, (np.ndarray, jax.Array)) and value.ndim == 0:
        if jnp.issubdtype(value.dtype, jnp.integer):
            return int(value)
    raise TypeError(
        f"{_prefix(where)}{name} must be an integer or a 0-d integer array, got {value!r}"
    )


def check_batch_leaves(name: str, value: PyTree, *, index: int | None, where: str = "") -> None:
    """Every leaf has a leading batch axis, and a concrete ``index`` lies within it."""
    del name  # the messages name the leaf at fault, not the pytree
    leaves_with_paths, _ = jax.tree_util.tree_flatten_with_path(value)
    for path, leaf in leaves_with_paths:
        shape = np.shape(leaf)
        at = jax.tree_util.keystr(path) or "<root>"
        if len(shape) == 0:
            raise ValueAndIndexError(
                f"{_prefix(where)}the leaf at {at} is 0-d; every leaf needs a leading batch axis"
            )
        if index is not None and not -shape[0] <= index < shape[0]:
            raise IndexError(
                f"{_prefix(where)}index {index} is out of range for the batch axis of size "
                f"{shape[0]} of the leaf at {at}"
            )


def check_tree_sequences(name: str, value: tuple[Any, ...], *, where: str = "") -> None:
    """One or more non-empty sequences of pytrees, all of the same length."""
    del name  # the messages name each sequence by its position
    if not value:
        raise TypeError(f"{_prefix(where)}expected at least one sequence of pytrees, got none")
    for position, sequence in enumerate(value):
        if not isinstance(sequence, Sequence) or isinstance(sequence, (str, bytes)):
            raise TypeError(
                f"{_prefix(where)}argument {position} must be a sequence (list or tuple) of "
                f"pytrees, got {type(sequence).__name__}"
            )
        if len(sequence) == 0:
            raise TypeAndValueError(f"{_prefix(where)}argument {position} is an empty sequence")
    lengths = [len(sequence) for sequence in value]
    if len(set(lengths)) > 1:
        raise ValueError(
            f"{_prefix(where)}all arguments must have the same length, got lengths {lengths}"
        )


def check_alike(
    name: str,
    value: Sequence[PyTree],
    *,
    structure_message: Callable[[int, Any, Any], str],
    shapes_message: Callable[[int, list[tuple[int, ...]]], str],
    error: type[Exception] = ValueError,
) -> Any:
    """Check that pytrees share their structure and leaf shapes; return the common treedef.

    ``structure_message(i, treedef_i, treedef_0)`` and ``shapes_message(leaf_number, shapes)``
    word the error for the caller.
    """
    del name  # the caller words the messages
    treedef = jax.tree.structure(value[0])
    for i, tree in enumerate(value[1:], start=1):
        other = jax.tree.structure(tree)
        if other != treedef:  # type: ignore[operator]  # jaxlib's PyTreeDef stub lacks __ne__
            raise error(structure_message(i, other, treedef))
    for leaf_number, leaves in enumerate(zip(*(jax.tree.leaves(t) for t in value), strict=True)):
        shapes = [tuple(np.shape(leaf)) for leaf in leaves]
        if len(set(shapes)) > 1:
            raise error(shapes_message(leaf_number, shapes))
    return treedef


def check_mappings(name: str, value: tuple[Any, ...], *, where: str = "") -> None:
    """One or more mappings (haiku params dicts)."""
    if not value:
        raise TypeError(f"{_prefix(where)}expected at least one {name} dict, got none")
    for i, p in enumerate(value):
        if not isinstance(p, Mapping):
            raise TypeAndAttributeError(
                f"{_prefix(where)}{name} {i} must be a mapping (e.g. hk.Params), "
                f"got {type(p).__name__}"
            )


def check_weights(name: str, value: Any, *, count: int, where: str = "") -> jax.Array:
    """``count`` positive finite weights (default: all 1) as a float array.

    Traced weights are checked for their shape only: their values are not known yet.
    """
    if value is None:
        return jnp.ones((count,))
    w: Any = value
    if not isinstance(value, Tracer):
        try:
            w = np.asarray(value)
        except (TypeError, ValueError):  # e.g. ragged nested lists
            w = np.asarray(None)
        if w.dtype.kind not in "iuf":
            raise TypeError(
                f"{_prefix(where)}{name} must be a sequence of positive numbers, got {value!r}"
            )
        w = w.astype(float)
    if w.shape != (count,):
        raise ValueError(
            f"{_prefix(where)}{name} must hold one number per params dict ({count}), "
            f"got shape {w.shape}"
        )
    if isinstance(w, np.ndarray) and not (np.all(np.isfinite(w)) and np.all(w > 0)):
        raise ValueAndAssertionError(
            f"{_prefix(where)}{name} must be positive finite numbers, got {w.tolist()}"
        )
    return jnp.asarray(w)


def check_single_output_axis(name: str, value: Axes) -> int | None:
    """The axis to drop from a function's single (non-tuple) output."""
    if isinstance(value, tuple):
        raise TypeError(
            f"{name} must be an int for functions with a single output; got: {name}={value}"
        )
    return value


def check_axes_per_item(
    name: str, value: Axes, *, count: int, items: str
) -> tuple[int | None, ...]:
    """One axis per function input (``items="input"``) or output (``items="output"``)."""
    per_item = value if isinstance(value, tuple) else (value,) * count
    if len(per_item) != count:
        raise ValueError(
            f"number of {name} must match the number of function {items}s; got "
            f"{name}={value} for {count} {items}(s)"
        )
    return per_item
