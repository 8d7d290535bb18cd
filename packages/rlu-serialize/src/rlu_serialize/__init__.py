"""rlu-serialize: fast, streamed, verified LZ4-compressed pickles.

Public names: [`dump`][rlu_serialize.dump], [`dumps`][rlu_serialize.dumps], [`load`][rlu_serialize.load], [`loads`][rlu_serialize.loads] and the
two exception types [`CorruptedDataError`][rlu_serialize.CorruptedDataError] and
[`ForbiddenGlobalError`][rlu_serialize.ForbiddenGlobalError].
"""

from rlu_serialize.__about__ import __version__ as __version__
from rlu_serialize._errors import CorruptedDataError as CorruptedDataError
from rlu_serialize._errors import ForbiddenGlobalError as ForbiddenGlobalError
from rlu_serialize._serialize import dump as dump
from rlu_serialize._serialize import dumps as dumps
from rlu_serialize._serialize import load as load
from rlu_serialize._serialize import loads as loads

__all__ = [
    "CorruptedDataError",
    "ForbiddenGlobalError",
    "__version__",
    "dump",
    "dumps",
    "load",
    "loads",
]
