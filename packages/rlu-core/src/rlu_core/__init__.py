"""rlu-core: the dependency-free helpers of rlu and its vocabulary of RL function roles.

Everything here is plain Python: importing rlu_core imports no third-party package.
"""

from .__about__ import __version__
from .dicts import merge_dicts
from .docstrings import docstring
from .log import enable_logging
from .pretty import pretty_print, pretty_repr
from .reload import reload_recursive
from .vocabulary import (
    Policy,
    QFunction,
    RewardFunction,
    StochasticFunction,
    TransitionModel,
    VFunction,
    is_policy,
    is_qfunction,
    is_reward_function,
    is_stochastic,
    is_transition_model,
    is_vfunction,
)

__all__ = [
    "Policy",
    "QFunction",
    "RewardFunction",
    "StochasticFunction",
    "TransitionModel",
    "VFunction",
    "__version__",
    "docstring",
    "enable_logging",
    "is_policy",
    "is_qfunction",
    "is_reward_function",
    "is_stochastic",
    "is_transition_model",
    "is_vfunction",
    "merge_dicts",
    "pretty_print",
    "pretty_repr",
    "reload_recursive",
]
