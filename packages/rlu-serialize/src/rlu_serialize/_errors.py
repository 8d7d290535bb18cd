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

    Raised for a truncated or damaged checkpoint (failed content checksum,
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


class ForbiddenGlobalError(pickle.UnpicklingError):
    """A restricted load (``trusted=False``) met a global it does not allow.

    The message names the refused global as ``module.qualname``.

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
            "scalars, JAX arrays); load with trusted=True only data you trust, because "
            "unpickling can run arbitrary code"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.global_name,))

    def __setstate__(self, state: dict[str, Any] | None) -> None:
        # Pickles of rlu-serialize 0.1.0 rebuild the error from its message, then restore
        # global_name from the instance dict: rebuild the message from that name.
        if state:
            self.__dict__.update(state)
            super().__init__(self._message(self.global_name))


CorruptedDataError.__module__ = "rlu_serialize"
ForbiddenGlobalError.__module__ = "rlu_serialize"
