"""Argument checks of rlu-envtools: the one place where its public arguments are checked.

One behaviour everywhere: integers accept ``int`` and numpy integers and refuse ``bool``; reals
accept ``int``, ``float`` and numpy reals and refuse ``bool``. A wrong type raises TypeError, a
wrong value ValueError, and the message names the argument and what was expected
(``frame_skip must be an int >= 1, got 0``).

Where coax raised another class for the same mistake, the check raises a class that is both
(``TypeAndValueError``, ``TypeAndAttributeError``), so that ``except`` clauses written
for coax still catch it; pass ``error=`` to choose it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral, Real
from typing import Any, TypeGuard

import gymnasium
import numpy as np


class TypeAndValueError(TypeError, ValueError):
    """A wrong argument that is both a TypeError and a ValueError.

    Raised where rlu and coax disagree about which of the two a mistake is, so that an
    ``except`` clause written for either catches it.
    """


class TypeAndAttributeError(TypeError, AttributeError):
    """A wrong argument that is a TypeError, and an AttributeError as coax's was.

    coax read an attribute (``env.observation_space``, ``space.sample``) without checking, and
    failed with AttributeError where rlu raises TypeError.
    """


def _got(value: object) -> str:
    return type(value).__name__


def is_int(value: object) -> TypeGuard[Integral]:
    """Whether ``value`` is an ``int`` or a numpy integer (a ``bool`` is not)."""
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def is_real(value: object) -> TypeGuard[Real]:
    """Whether ``value`` is an ``int``, a ``float`` or a numpy real (a ``bool`` is not)."""
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))


def check_int(
    name: str,
    value: object,
    *,
    minimum: int,
    error: type[Exception] = ValueError,
    type_error: type[Exception] = TypeError,
) -> int:
    """Return ``value`` as an ``int`` after checking that it is an integer >= ``minimum``."""
    expected = f"an int >= {minimum}"
    if not is_int(value):
        raise type_error(f"{name} must be {expected}, got {_got(value)}")
    number = int(value)
    if number < minimum:
        raise error(f"{name} must be {expected}, got {value!r}")
    return number


def check_optional_int(name: str, value: object, *, minimum: int) -> int | None:
    """Like ``check_int``, but None passes (and is returned)."""
    return None if value is None else check_int(name, value, minimum=minimum)


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
    never in range.
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


def check_str(name: str, value: object, *, error: type[Exception] = TypeError) -> str:
    """Return ``value`` after checking that it is a ``str``."""
    if not isinstance(value, str):
        raise error(f"{name} must be a str, got {_got(value)}")
    return value


def check_camera(name: str, value: object) -> int | str:
    """Return a camera, given by id (an int; -1 is MuJoCo's free camera) or by name."""
    if isinstance(value, str):
        return value
    if not is_int(value):
        raise TypeError(f"{name} must be an int or a camera name, got {_got(value)}")
    return int(value)


def check_choice(name: str, value: object, *, choices: tuple[object, ...]) -> object:
    """Return ``value`` after checking that it is one of ``choices`` (ValueError if not)."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices!r}, got {value!r}")
    return value


def check_optional_mapping(name: str, value: object) -> Mapping[str, Any] | None:
    """Return ``value`` after checking that it is a mapping or None."""
    if value is not None and not isinstance(value, Mapping):
        raise TypeError(f"{name} must be None or a dict, got {_got(value)}")
    return value


def check_count(name: str, value: Sequence[Any], *, minimum: int, message: str) -> None:
    """Check that at least ``minimum`` values were given (ValueError with ``message``)."""
    if len(value) < minimum:
        raise ValueError(f"{message}: {name} got {len(value)}, need at least {minimum}")


def check_callable(name: str, value: object, *, expected: str = "callable") -> Callable[..., Any]:
    """Return ``value`` after checking that it is callable."""
    if not callable(value):
        raise TypeError(f"{name} must be {expected}, got {_got(value)}")
    return value


def check_optional_callable(
    name: str, value: object, *, expected: str
) -> Callable[..., Any] | None:
    """Like ``check_callable``, but None passes (and is returned)."""
    return None if value is None else check_callable(name, value, expected=expected)


def check_path(name: str, value: object) -> str:
    """Return a str or path-like ``value`` as a str."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or path-like, got {_got(value)}")
    return os.fspath(value)


def check_space(
    name: str, value: object, *, type_error: type[Exception] = TypeError
) -> gymnasium.Space[Any]:
    """Return ``value`` after checking that it is a ``gymnasium.Space``."""
    if not isinstance(value, gymnasium.Space):
        raise type_error(f"{name} must be a gymnasium.Space, got {_got(value)}")
    return value


def check_size(name: str, value: object) -> tuple[int, int]:
    """Return a ``(width, height)`` pair of positive ints."""
    if not (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and len(value) == 2
        and all(is_int(v) for v in value)
    ):
        raise TypeError(f"{name} must be a pair of ints (width, height), got {value!r}")
    width, height = int(value[0]), int(value[1])
    if width < 1 or height < 1:
        raise ValueError(f"{name} must be positive (width, height), got {value!r}")
    return width, height


def check_seed(name: str, value: object) -> int | None:
    """Return a seed (None or a non-negative int)."""
    return None if value is None else check_int(name, value, minimum=0)


def check_rng(name: str, value: object) -> np.random.Generator:
    """A numpy Generator from None, a seed (an int >= 0), a Generator or a legacy RandomState.

    A Generator is returned as it is (drawing from it advances it); a RandomState, which coax
    took, seeds a new Generator with one draw from it.
    """
    if isinstance(value, np.random.Generator):
        return value
    if isinstance(value, np.random.RandomState):
        return np.random.default_rng(value.randint(2**31 - 1))
    if value is None:
        return np.random.default_rng()
    expected = "None, an int >= 0, a numpy.random.Generator or a numpy.random.RandomState"
    if not is_int(value):
        raise TypeError(f"{name} must be {expected}, got {_got(value)}")
    if int(value) < 0:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return np.random.default_rng(int(value))
