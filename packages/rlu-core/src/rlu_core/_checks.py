"""Argument checks of rlu-core: the one place where its public functions' arguments are checked.

One behaviour everywhere: integers accept ``int`` and numpy integers and refuse ``bool``; a wrong
type raises TypeError, a wrong value ValueError; the message names the function, the argument
and what was expected. rlu-core imports no third-party package, so numpy integers are recognised
through ``numbers.Integral``, which numpy registers them with.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from numbers import Integral
from types import ModuleType
from typing import Any, TypeGuard


class TypeAndValueError(TypeError, ValueError):
    """A wrong argument that is a TypeError and a ValueError at once.

    Raised where rlu and coax disagree about which of the two a mistake is, so that an
    ``except`` clause written for either still catches it.
    """


def _got(value: object) -> str:
    return type(value).__name__


def is_int(value: object) -> TypeGuard[Integral]:
    """Whether ``value`` is an ``int`` or a numpy integer (a ``bool`` is not)."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def check_int(where: str, name: str, value: object, minimum: int) -> int:
    """Return ``value`` as an ``int`` after checking that it is an integer >= ``minimum``."""
    expected = f"an int >= {minimum}"
    if not is_int(value):
        raise TypeError(f"{where}: '{name}' must be {expected}, got {_got(value)}")
    number = int(value)
    if number < minimum:
        raise ValueError(f"{where}: '{name}' must be {expected}, got {value!r}")
    return number


def check_bool(where: str, name: str, value: object) -> bool:
    """Return ``value`` after checking that it is a ``bool``."""
    if not isinstance(value, bool):
        raise TypeError(f"{where}: '{name}' must be a bool, got {_got(value)}")
    return value


def check_optional_str(where: str, name: str, value: object) -> str | None:
    """Return ``value`` after checking that it is a ``str`` or None."""
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{where}: '{name}' must be a str or None, got {_got(value)}")
    return value


def check_optional_path(where: str, name: str, value: object) -> str | os.PathLike[str] | None:
    """Return ``value`` after checking that it is a str, a path-like object or None."""
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{where}: '{name}' must be a str or path-like, got {_got(value)}")
    return value


def check_level(where: str, name: str, value: object) -> int:
    """Return a logging level, given as an int or a level name such as ``"DEBUG"``, as an int."""
    if isinstance(value, str):
        level = logging.getLevelName(value.upper())
        if not isinstance(level, int):
            raise ValueError(
                f"{where}: '{name}' got unknown level name {value!r}; "
                "use one of 'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL' or an int"
            )
        return level
    if not is_int(value):
        raise TypeError(
            f"{where}: '{name}' must be an int or a level name such as 'DEBUG', got {_got(value)}"
        )
    return int(value)


def check_mapping(where: str, position: int, value: object) -> Mapping[Any, Any]:
    """Return the ``position``-th positional argument after checking that it is a mapping.

    coax's ``merge_dicts`` raised TypeError or ValueError for a non-mapping, depending on what
    it was; this raises ``TypeAndValueError``, which is both.
    """
    if not isinstance(value, Mapping):
        raise TypeAndValueError(
            f"{where}: argument {position} must be a mapping (e.g. a dict), got {_got(value)}"
        )
    return value


def check_module(where: str, name: str, value: object) -> ModuleType | str:
    """Return ``value`` after checking that it is a module or a dotted module name."""
    if not isinstance(value, (ModuleType, str)):
        raise TypeError(
            f"{where}: '{name}' must be a module or its dotted name (str), got {_got(value)}"
        )
    return value
