"""rlu-serialize: fast, streamed, verified LZ4-compressed pickles.

Public names: :func:`dump`, :func:`dumps`, :func:`load`, :func:`loads` and the
two exception types :class:`CorruptedDataError` and
:class:`ForbiddenGlobalError`.
"""

from .__about__ import __version__
from .errors import CorruptedDataError, ForbiddenGlobalError
from .serialize import dump, dumps, load, loads

__all__ = [
    "CorruptedDataError",
    "ForbiddenGlobalError",
    "__version__",
    "dump",
    "dumps",
    "load",
    "loads",
]
