"""Exception types raised by rlu_serialize."""

from __future__ import annotations

import pickle

__all__ = ["CorruptedDataError", "ForbiddenGlobalError"]


class CorruptedDataError(ValueError):
    """The data is not an intact LZ4 frame holding a pickle.

    Raised for a truncated or damaged checkpoint (failed content checksum,
    malformed LZ4 frame, data cut short, bytes after the frame) and for input
    that is not an LZ4 frame at all. The message names the file, or says that
    the input was a byte string.

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
        super().__init__(
            f"restricted load (trusted=False) refuses the global {global_name!r}: only plain "
            "data is allowed (builtin containers and scalars, numpy arrays, dtypes and "
            "scalars, JAX arrays); load with trusted=True only data you trust, because "
            "unpickling can run arbitrary code"
        )
