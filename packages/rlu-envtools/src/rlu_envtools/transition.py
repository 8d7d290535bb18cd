"""Compatibility module: exists only so that pickles written with rlu-envtools 0.1.0 load.

rlu-envtools 0.1.0 defined TransitionBatch here, and its pickles record
``rlu_envtools.transition.TransitionBatch``. TransitionBatch now records its public path,
``rlu_envtools.TransitionBatch``; import it from ``rlu_envtools``.
"""

from rlu_envtools._transition import TransitionBatch as TransitionBatch
from rlu_envtools._transition import get_transition_batch as get_transition_batch
