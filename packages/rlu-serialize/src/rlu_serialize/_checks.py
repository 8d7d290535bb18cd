"""The argument checks of rlu_serialize, in one place.

A wrong type raises ``TypeError``, a wrong value ``ValueError``; the message names the argument
and what was expected. Where coax raised another class for the same mistake, the error is an
instance of both (the exception classes below), so ``except`` clauses written for coax still
catch it.
"""

from __future__ import annotations

import operator
import os
from typing import Any

from rlu_serialize._errors import CorruptedDataError


class ValueAndFileNotFoundError(ValueError, FileNotFoundError):
    """A ValueError where coax raised FileNotFoundError (an empty path)."""


class TruncatedDataError(CorruptedDataError, EOFError):
    """Data that ends before its LZ4 frame does; coax raised EOFError reading such a file."""


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def check_max_bytes(name: str, value: Any) -> int | None:
    """None or an int >= 0."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int >= 0 or None, got bool")
    if not isinstance(value, int):
        try:
            value = operator.index(value)
        except TypeError:
            raise TypeError(
                f"{name} must be an int >= 0 or None, got {type(value).__name__}"
            ) from None
    if value < 0:
        raise ValueError(f"{name} must be an int >= 0 or None, got {value}")
    return int(value)


def check_path(name: str, value: Any) -> str:
    """``value`` (a str or os.PathLike) as a str, with ``~`` expanded."""
    try:
        path = os.fspath(value)
    except TypeError:
        raise TypeError(
            f"{name} must be a str or os.PathLike, got {type(value).__name__}"
        ) from None
    text = path if isinstance(path, str) else os.fsdecode(path)
    if not text:
        raise ValueAndFileNotFoundError(f"{name} must not be empty")
    return os.path.expanduser(text)


def check_byte_view(name: str, value: Any) -> memoryview:
    """``value`` (a bytes-like object) as a 1-d memoryview of bytes."""
    if isinstance(value, str):
        raise TypeError(f"{name} must be a bytes-like object (the output of dumps), got str")
    try:
        view = memoryview(value)
    except TypeError:
        raise TypeError(
            f"{name} must be a bytes-like object (the output of dumps), got {type(value).__name__}"
        ) from None
    # any other format ('c', 'b', ...) is cast too: slices are copied into byte buffers
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def check_data_view(name: str, value: Any) -> memoryview:
    try:
        return memoryview(value)
    except TypeError:
        raise TypeError(f"{name} must be a bytes-like object, got {type(value).__name__}") from None


def check_workers(name: str, value: Any) -> int | None:
    """None (the default number of threads) or an int >= 1."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int >= 1, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int >= 1, got {value!r}") from None
    if number < 1:
        raise ValueError(f"{name} must be an int >= 1, got {number}")
    return number


def check_content_size(name: str, value: int) -> None:
    if not 0 <= value < 2**64:
        raise ValueError(f"{name} must be in [0, 2**64), got {value}")


def check_largest_block(name: str, value: int, *, block_size: int) -> None:
    if not 0 <= value <= block_size:
        raise ValueError(f"{name} must be in [0, {block_size}], got {value}")
