"""rlu-envtools: gymnasium 1.x and dm_control helpers that are right about episodes.

Importing this package loads gymnasium, numpy and Pillow only; jax (extra ``jax``) and
dm_control (extra ``dmc``) are imported when a feature that needs them is used.
"""

from .__about__ import __version__
from .dmc import make_dmc
from .env_attrs import get_env_attr, has_env_attr
from .preprocessing import check_preprocessors, default_preprocessor
from .rendering import generate_gif, render_episode
from .spaces import safe_sample
from .transition import TransitionBatch, get_transition_batch

__all__ = [
    "TransitionBatch",
    "__version__",
    "check_preprocessors",
    "default_preprocessor",
    "generate_gif",
    "get_env_attr",
    "get_transition_batch",
    "has_env_attr",
    "make_dmc",
    "render_episode",
    "safe_sample",
]
