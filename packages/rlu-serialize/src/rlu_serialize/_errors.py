"""Exception types raised by rlu_serialize.

Pickles record the public paths ``rlu_serialize.CorruptedDataError`` and
``rlu_serialize.ForbiddenGlobalError``; rlu-serialize 0.1.0 recorded
``rlu_serialize.errors.*``, which the compatibility module of that name keeps loading.
"""

from __future__ import annotations

import pickle
from typing import Any


class CorruptedDataError(ValueError, RuntimeError):
    """The data is not an intact LZ4 frame holding a pickle.

    Raised for a truncated or damaged checkpoint (a failed block or content checksum,
    malformed LZ4 frame, data cut short, bytes after the frame) and for input
    that is not an LZ4 frame at all. The message names the file, or says that
    the input was a byte string.

    It is a ValueError, and also a RuntimeError, the class coax's ``load`` and
    ``loads`` raised (from ``lz4.frame``) for such data; input that ends too
    early is moreover an EOFError, as it was when coax read a truncated file.

    Examples
    --------
    >>> import rlu_serialize
    >>> try:
    ...     rlu_serialize.loads(b"definitely not a checkpoint")
    ... except rlu_serialize.CorruptedDataError as err:
    ...     print("refused:", type(err).__name__)
    refused: CorruptedDataError
    """


class LoadRefusedError(pickle.UnpicklingError):
    """A load refused the data before returning anything built from it.

    Every refusal of [`load`][rlu_serialize.load] and [`loads`][rlu_serialize.loads] that is
    not damage ([`CorruptedDataError`][rlu_serialize.CorruptedDataError]) is an instance of
    this class: in restricted mode (``trusted=False``) a global, an opcode or an array
    description that plain data does not need, a frame without checksums, or objects
    beyond the memory bound; in either mode a payload larger than ``max_bytes``, and, when a
    ``key`` is given, a missing or wrong signature. The two subclasses
    [`ForbiddenGlobalError`][rlu_serialize.ForbiddenGlobalError] and
    [`SignatureError`][rlu_serialize.SignatureError] say which global, or that the signature
    failed.

    It is a ``pickle.UnpicklingError``, as the refusals of rlu-serialize 0.2 were.

    Examples
    --------
    >>> import rlu_serialize
    >>> try:
    ...     rlu_serialize.loads(rlu_serialize.dumps(list(range(1000))), max_bytes=100)
    ... except rlu_serialize.LoadRefusedError as err:
    ...     print(type(err).__name__)
    LoadRefusedError
    """


class ForbiddenGlobalError(LoadRefusedError):
    """A restricted load (``trusted=False``) met a global it does not allow.

    The message names the refused global as ``module.qualname``; nothing is
    imported to look it up.

    Examples
    --------
    >>> import rlu_serialize
    >>> s = rlu_serialize.dumps(print)
    >>> try:
    ...     rlu_serialize.loads(s, trusted=False)
    ... except rlu_serialize.ForbiddenGlobalError as err:
    ...     print(err.global_name)
    builtins.print
    """

    def __init__(self, global_name: str) -> None:
        self.global_name = global_name
        super().__init__(self._message(global_name))

    @staticmethod
    def _message(global_name: str) -> str:
        return (
            f"restricted load (trusted=False) refuses the global {global_name!r}: only plain "
            "data is allowed (builtin containers and scalars, numpy arrays, dtypes and "
            "scalars, JAX arrays); load with trusted=True only a file you trust, because "
            "unpickling it can run arbitrary code"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.global_name,))

    def __setstate__(self, state: dict[str, Any] | None) -> None:
        # Pickles of rlu-serialize 0.1.0 rebuild the error from its message, then restore
        # global_name from the instance dict: rebuild the message from that name.
        if state:
            self.__dict__.update(state)
            super().__init__(self._message(self.global_name))


class SignatureError(LoadRefusedError):
    """A load given a ``key`` found no signature, or one the key does not match.

    Raised before anything is unpickled: the file was not signed with this key
    (``dump(..., key=key)``), or its bytes changed since.

    Examples
    --------
    >>> import rlu_serialize
    >>> key = b"0123456789abcdef0123456789abcdef"
    >>> s = rlu_serialize.dumps({"w": [1.0]}, key=key)
    >>> rlu_serialize.loads(s, key=key)
    {'w': [1.0]}
    >>> try:
    ...     rlu_serialize.loads(s, key=b"another key, 32 bytes long......")
    ... except rlu_serialize.SignatureError:
    ...     print("refused")
    refused
    """


for _error in (CorruptedDataError, LoadRefusedError, ForbiddenGlobalError, SignatureError):
    _error.__module__ = "rlu_serialize"
