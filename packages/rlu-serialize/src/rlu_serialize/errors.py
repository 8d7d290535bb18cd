"""Compatibility module: it exists only so that old pickles keep loading.

rlu-serialize 0.1.0 defined ``CorruptedDataError`` and ``ForbiddenGlobalError`` here, and
pickles of these errors record the paths ``rlu_serialize.errors.*``. Import them from
``rlu_serialize`` instead.
"""

from rlu_serialize._errors import CorruptedDataError as CorruptedDataError
from rlu_serialize._errors import ForbiddenGlobalError as ForbiddenGlobalError
