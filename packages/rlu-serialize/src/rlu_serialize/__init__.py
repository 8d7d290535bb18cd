"""rlu-serialize: fast, streamed, verified LZ4-compressed pickles.

Public names: [`dump`][rlu_serialize.dump], [`dumps`][rlu_serialize.dumps],
[`load`][rlu_serialize.load], [`loads`][rlu_serialize.loads] and the
exception types [`CorruptedDataError`][rlu_serialize.CorruptedDataError] (damaged data) and
[`LoadRefusedError`][rlu_serialize.LoadRefusedError] (data refused: a restricted load's
refusals, a failed signature, a size limit) with its subclasses
[`ForbiddenGlobalError`][rlu_serialize.ForbiddenGlobalError] and
[`SignatureError`][rlu_serialize.SignatureError], and ``RESTRICTED_MAX_BYTES``.
"""

from rlu_serialize.__about__ import __version__ as __version__
from rlu_serialize._errors import CorruptedDataError as CorruptedDataError
from rlu_serialize._errors import ForbiddenGlobalError as ForbiddenGlobalError
from rlu_serialize._errors import LoadRefusedError as LoadRefusedError
from rlu_serialize._errors import SignatureError as SignatureError
from rlu_serialize._serialize import RESTRICTED_MAX_BYTES as RESTRICTED_MAX_BYTES
from rlu_serialize._serialize import dump as dump
from rlu_serialize._serialize import dumps as dumps
from rlu_serialize._serialize import load as load
from rlu_serialize._serialize import loads as loads

__all__ = [
    "CorruptedDataError",
    "ForbiddenGlobalError",
    "LoadRefusedError",
    "RESTRICTED_MAX_BYTES",
    "SignatureError",
    "__version__",
    "dump",
    "dumps",
    "load",
    "loads",
]
