"""rlu-envtools: gymnasium 1.x and dm_control helpers that are right about episodes.

Importing this package loads gymnasium, numpy and Pillow only; jax (extra ``jax``) and
dm_control (extra ``dmc``) are imported when a feature that needs them is used.
``TransitionBatch`` and ``chunks_pow2`` live in rlu-core (they need numpy, not gymnasium) and
are exported here as well: ``rlu_envtools.TransitionBatch is rlu_core.TransitionBatch``.
"""

from rlu_core import TransitionBatch as TransitionBatch
from rlu_core import chunks_pow2 as chunks_pow2

from rlu_envtools.__about__ import __version__ as __version__
from rlu_envtools._dmc import make_dmc as make_dmc
from rlu_envtools._env_attrs import get_env_attr as get_env_attr
from rlu_envtools._env_attrs import has_env_attr as has_env_attr
from rlu_envtools._preprocessing import check_preprocessors as check_preprocessors
from rlu_envtools._preprocessing import default_preprocessor as default_preprocessor
from rlu_envtools._rendering import generate_gif as generate_gif
from rlu_envtools._rendering import render_episode as render_episode
from rlu_envtools._spaces import safe_sample as safe_sample
from rlu_envtools._transition import get_transition_batch as get_transition_batch

__all__ = [
    "TransitionBatch",
    "__version__",
    "check_preprocessors",
    "chunks_pow2",
    "default_preprocessor",
    "generate_gif",
    "get_env_attr",
    "get_transition_batch",
    "has_env_attr",
    "make_dmc",
    "render_episode",
    "safe_sample",
]
