"""rlu-core: the dependency-free helpers of rlu and its vocabulary of RL function roles.

Everything here is plain Python: importing rlu_core imports no third-party package.
"""

from rlu_core.__about__ import __version__ as __version__
from rlu_core._dicts import merge_dicts as merge_dicts
from rlu_core._docstrings import docstring as docstring
from rlu_core._log import enable_logging as enable_logging
from rlu_core._pretty import pretty_print as pretty_print
from rlu_core._pretty import pretty_repr as pretty_repr
from rlu_core._reload import reload_recursive as reload_recursive
from rlu_core._vocabulary import Policy as Policy
from rlu_core._vocabulary import QFunction as QFunction
from rlu_core._vocabulary import RewardFunction as RewardFunction
from rlu_core._vocabulary import StochasticFunction as StochasticFunction
from rlu_core._vocabulary import TransitionModel as TransitionModel
from rlu_core._vocabulary import VFunction as VFunction
from rlu_core._vocabulary import is_policy as is_policy
from rlu_core._vocabulary import is_qfunction as is_qfunction
from rlu_core._vocabulary import is_reward_function as is_reward_function
from rlu_core._vocabulary import is_stochastic as is_stochastic
from rlu_core._vocabulary import is_transition_model as is_transition_model
from rlu_core._vocabulary import is_vfunction as is_vfunction

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
