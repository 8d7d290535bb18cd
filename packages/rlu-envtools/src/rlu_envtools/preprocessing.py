"""Compatibility module: exists only so that checkpoints written with rlu-envtools 0.1.0 load.

rlu-envtools 0.1.0 defined the preprocessors here. A cloudpickled default preprocessor of a
``Tuple`` or ``Dict`` space (as stored in a checkpoint of an agent) refers to this module's
``_split`` helper by name. Import the preprocessors from ``rlu_envtools``.
"""

from rlu_envtools._preprocessing import _split as _split
from rlu_envtools._preprocessing import check_preprocessors as check_preprocessors
from rlu_envtools._preprocessing import default_preprocessor as default_preprocessor
