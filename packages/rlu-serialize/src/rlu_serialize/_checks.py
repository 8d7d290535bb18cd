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


def check_trusted(trusted: Any) -> bool:
    if not isinstance(trusted, bool):
        raise TypeError(f"trusted must be a bool, got {type(trusted).__name__}")
    return trusted


def as_max_bytes(max_bytes: Any) -> int | None:
    """None or an int >= 0."""
    if max_bytes is None:
        return None
    if isinstance(max_bytes, bool):
        raise TypeError("max_bytes must be an int >= 0 or None, got bool")
    if not isinstance(max_bytes, int):
        try:
            max_bytes = operator.index(max_bytes)
        except TypeError:
            raise TypeError(
                f"max_bytes must be an int >= 0 or None, got {type(max_bytes).__name__}"
            ) from None
    if max_bytes < 0:
        raise ValueError(f"max_bytes must be an int >= 0 or None, got {max_bytes}")
    return int(max_bytes)


def as_path(filepath: Any) -> str:
    """``filepath`` (a str or os.PathLike) as a str, with ``~`` expanded."""
    try:
        path = os.fspath(filepath)
    except TypeError:
        raise TypeError(
            f"filepath must be a str or os.PathLike, got {type(filepath).__name__}"
        ) from None
    text = path if isinstance(path, str) else os.fsdecode(path)
    if not text:
        raise ValueAndFileNotFoundError("filepath must not be empty")
    return os.path.expanduser(text)


def as_byte_view(s: Any) -> memoryview:
    """``s`` (a bytes-like object) as a 1-d memoryview of bytes."""
    if isinstance(s, str):
        raise TypeError("s must be a bytes-like object (the output of dumps), got str")
    try:
        view = memoryview(s)
    except TypeError:
        raise TypeError(
            f"s must be a bytes-like object (the output of dumps), got {type(s).__name__}"
        ) from None
    return view.cast("B") if (view.ndim != 1 or view.itemsize != 1) else view


def as_data_view(data: Any) -> memoryview:
    try:
        return memoryview(data)
    except TypeError:
        raise TypeError(f"data must be a bytes-like object, got {type(data).__name__}") from None


def as_workers(workers: Any) -> int | None:
    """None (the default number of threads) or an int >= 1."""
    if workers is None:
        return None
    if isinstance(workers, bool):
        raise TypeError(f"workers must be an int >= 1, got {workers!r}")
    try:
        number = operator.index(workers)
    except TypeError:
        raise TypeError(f"workers must be an int >= 1, got {workers!r}") from None
    if number < 1:
        raise ValueError(f"workers must be an int >= 1, got {number}")
    return number


def check_header_sizes(content_size: int, largest_block: int, block_size: int) -> None:
    if not 0 <= content_size < 2**64:
        raise ValueError(f"content_size must be in [0, 2**64), got {content_size}")
    if not 0 <= largest_block <= block_size:
        raise ValueError(f"largest_block must be in [0, {block_size}], got {largest_block}")
