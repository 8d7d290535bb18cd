"""Compatibility module: exists only so that pickles written with rlu-envtools 0.1.0 load.

rlu-envtools 0.1.0 defined TransitionBatch here, and its pickles record
``rlu_envtools.transition.TransitionBatch``. TransitionBatch now lives in rlu-core and records
``rlu_core.TransitionBatch``; import it from ``rlu_core`` or ``rlu_envtools``.
"""

from rlu_core import TransitionBatch as TransitionBatch

from rlu_envtools._transition import get_transition_batch as get_transition_batch
