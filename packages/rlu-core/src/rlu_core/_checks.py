"""Argument checks of rlu-core: the one place where its public functions' arguments are checked.

One behaviour everywhere: integers accept ``int`` and numpy integers and refuse ``bool``; a wrong
type raises TypeError, a wrong value ValueError; the message names the function, the argument
and what was expected. ``import rlu_core`` imports no third-party package, so numpy integers are
recognised through ``numbers.Integral`` (and numpy reals through ``numbers.Real``), which numpy
registers them with.

The checks of TransitionBatch (the second half of this module) import numpy when they run, as
TransitionBatch does; their messages name the argument alone (``terminated must be a bool, got
int``), as they did when TransitionBatch lived in rlu-envtools, so that code matching them keeps
working. Where coax raised another class for the same mistake, they raise a class that is both
(``TypeAndValueError``, ``TypeAndAttributeError``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from numbers import Integral, Real
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    import numpy as np

    from rlu_core._transition import TransitionBatch


class TypeAndValueError(TypeError, ValueError):
    """A wrong argument that is a TypeError and a ValueError at once.

    Raised where rlu and coax disagree about which of the two a mistake is, so that an
    ``except`` clause written for either still catches it.
    """


class TypeAndAttributeError(TypeError, AttributeError):
    """A wrong argument that is a TypeError, and an AttributeError as coax's was.

    coax read an attribute (``transition_batch.batch_size``) without checking, and failed with
    AttributeError where rlu raises TypeError.
    """


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def _got(value: object) -> str:
    return type(value).__name__


def is_int(value: object) -> TypeGuard[Integral]:
    """Whether ``value`` is an ``int`` or a numpy integer (a ``bool`` is not)."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_real(value: object) -> TypeGuard[Real]:
    """Whether ``value`` is an ``int``, a ``float`` or a numpy real (a ``bool`` is not)."""
    return isinstance(value, Real) and not isinstance(value, bool)


def check_int(name: str, value: object, *, minimum: int, where: str = "") -> int:
    """Return ``value`` as an ``int`` after checking that it is an integer >= ``minimum``."""
    expected = f"an int >= {minimum}"
    if not is_int(value):
        raise TypeError(f"{_prefix(where)}'{name}' must be {expected}, got {_got(value)}")
    number = int(value)
    if number < minimum:
        raise ValueError(f"{_prefix(where)}'{name}' must be {expected}, got {value!r}")
    return number


def check_bool(name: str, value: object, *, where: str = "") -> bool:
    """Return ``value`` after checking that it is a ``bool``."""
    if not isinstance(value, bool):
        raise TypeError(f"{_prefix(where)}'{name}' must be a bool, got {_got(value)}")
    return value


def check_optional_str(name: str, value: object, *, where: str = "") -> str | None:
    """Return ``value`` after checking that it is a ``str`` or None."""
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{_prefix(where)}'{name}' must be a str or None, got {_got(value)}")
    return value


def check_optional_path(
    name: str, value: object, *, where: str = ""
) -> str | os.PathLike[str] | None:
    """Return ``value`` after checking that it is a str, a path-like object or None."""
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{_prefix(where)}'{name}' must be a str or path-like, got {_got(value)}")
    return value


def check_level(name: str, value: object, *, where: str = "") -> int:
    """Return a logging level, given as an int or a level name such as ``"DEBUG"``, as an int."""
    if isinstance(value, str):
        level = logging.getLevelName(value.upper())
        if not isinstance(level, int):
            raise ValueError(
                f"{_prefix(where)}'{name}' got unknown level name {value!r}; "
                "use one of 'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL' or an int"
            )
        return level
    if not is_int(value):
        raise TypeError(
            f"{_prefix(where)}'{name}' must be an int or a level name such as 'DEBUG', "
            f"got {_got(value)}"
        )
    return int(value)


def check_mapping(name: str, value: object, *, where: str = "") -> Mapping[Any, Any]:
    """Return ``value`` after checking that it is a mapping.

    ``name`` is how the message names the argument: ``argument 2`` for a ``*args`` one.

    coax's ``merge_dicts`` raised TypeError or ValueError for a non-mapping, depending on what
    it was; this raises ``TypeAndValueError``, which is both.
    """
    if not isinstance(value, Mapping):
        raise TypeAndValueError(
            f"{_prefix(where)}{name} must be a mapping (e.g. a dict), got {_got(value)}"
        )
    return value


def check_module(name: str, value: object, *, where: str = "") -> ModuleType | str:
    """Return ``value`` after checking that it is a module or a dotted module name."""
    if not isinstance(value, (ModuleType, str)):
        raise TypeError(
            f"{_prefix(where)}'{name}' must be a module or its dotted name (str), got {_got(value)}"
        )
    return value


# --- TransitionBatch: messages name the argument alone; numpy is imported when a check runs ---


def check_flag(name: str, value: object) -> bool:
    """Return ``value`` as a ``bool`` after checking that it is a bool (numpy's included)."""
    import numpy as np

    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {_got(value)}")
    return bool(value)


def check_real(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    positive: bool = False,
    error: type[Exception] = ValueError,
) -> float:
    """Return ``value`` as a ``float`` after checking that it is a real number in range.

    ``low`` and ``high`` are inclusive bounds; ``positive`` asks for ``value > 0``. NaN is
    never in range. A value out of range raises ``error``.
    """
    if positive:
        expected = "a positive number"
    elif low is not None and high is not None:
        expected = f"a float in [{low:g}, {high:g}]"
    elif low is not None:
        expected = f"a number >= {low:g}"
    else:
        expected = "a number"
    if not is_real(value):
        raise TypeError(f"{name} must be {expected}, got {_got(value)}")
    number = float(value)
    ok = (
        (not positive or number > 0)
        and (low is None or number >= low)
        and (high is None or number <= high)
        and number == number  # not NaN
    )
    if not ok:
        raise error(f"{name} must be {expected}, got {value!r}")
    return number


def check_log_propensity(name: str, value: object) -> None:
    """Check that ``value`` is a non-positive number or array of them (a log-probability).

    coax raised TypeError for a positive one: the error is a ``TypeAndValueError``.
    """
    import numpy as np

    try:
        nonpositive = bool(np.all(np.asarray(value, dtype=np.float64) <= 0))
    except (TypeError, ValueError):
        nonpositive = False
    if not nonpositive:
        raise TypeAndValueError(f"{name} must be a non-positive float or array, got {value!r}")


def check_numeric_array(name: str, value: object) -> np.ndarray:
    """Return ``value`` as a float64 array after checking that it is numeric."""
    import numpy as np

    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or a numeric array, got {value!r}") from None


def check_transition_batch(name: str, value: object) -> TransitionBatch:
    """Return ``value`` after checking that it is a TransitionBatch.

    coax read ``value.batch_size`` unchecked: the error is a ``TypeAndAttributeError``.
    """
    from rlu_core._transition import TransitionBatch  # _transition imports this module

    if not isinstance(value, TransitionBatch):
        raise TypeAndAttributeError(f"{name} must be a TransitionBatch, got {_got(value)}")
    return value


def check_batches(name: str, value: object) -> list[TransitionBatch]:
    """Return ``value`` as a list after checking that it holds TransitionBatches that agree.

    Batches agree when each field is None in all of them or in none, the fields have one pytree
    structure, and each leaf has a leading (batch) axis, the same shape after it in every batch
    and a dtype that numpy promotes with the others'. A difference is a ValueError (a TypeError
    for dtypes) that names both places (``batches[2].S['obs']`` and ``batches[0].S['obs']``).
    """
    import numpy as np

    from rlu_core._pytree import leaves_with_paths, structure_difference
    from rlu_core._transition import TransitionBatch  # _transition imports this module

    expected = f"{name} must be a sequence of TransitionBatches"
    if isinstance(value, TransitionBatch):
        raise TypeError(f"{expected}, got a single TransitionBatch: put it in a list")
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(f"{expected}, got {_got(value)}")
    batches = list(value)
    if not batches:
        raise ValueError(f"{expected}, got an empty {_got(value)}: nothing to concatenate")
    for i, batch in enumerate(batches):
        if not isinstance(batch, TransitionBatch):
            raise TypeError(f"{name}[{i}] must be a TransitionBatch, got {_got(batch)}")

    for field in TransitionBatch._fields:
        trees = [getattr(batch, field) for batch in batches]
        here = f"{name}[0].{field}"
        for i, tree in enumerate(trees[1:], start=1):
            there = f"{name}[{i}].{field}"
            if (trees[0] is None) != (tree is None):
                none, some = (here, there) if trees[0] is None else (there, here)
                raise ValueError(
                    f"{none} is None but {some} is not: a field must be None in every batch "
                    "or in none"
                )
            found = structure_difference(trees[0], tree)
            if found is not None:
                path, ours, theirs = found
                raise ValueError(
                    f"{there}{path} is {theirs} but {here}{path} is {ours}: the batches' "
                    "fields must have one structure"
                )
        columns = [dict(leaves_with_paths(tree)) for tree in trees]
        for path, leaf in columns[0].items():
            shape, dtype = np.shape(leaf), _dtype(leaf)
            for i, column in enumerate(columns):
                where = f"{name}[{i}].{field}{path}"
                other_shape, other_dtype = np.shape(column[path]), _dtype(column[path])
                if not other_shape:
                    raise ValueError(f"{where} has no leading (batch) axis: it is a scalar")
                if other_shape[1:] != shape[1:]:
                    raise ValueError(
                        f"{where} has shape {other_shape} but {here}{path} has {shape}: only "
                        "the leading (batch) axis may differ"
                    )
                try:
                    np.result_type(dtype, other_dtype)
                except TypeError:
                    raise TypeError(
                        f"{where} has dtype {other_dtype}, which does not combine with "
                        f"{here}{path}'s {dtype}"
                    ) from None
    return batches


def _dtype(leaf: object) -> np.dtype[Any]:
    import numpy as np

    dtype = getattr(leaf, "dtype", None)
    return np.asarray(leaf).dtype if dtype is None else np.dtype(dtype)
