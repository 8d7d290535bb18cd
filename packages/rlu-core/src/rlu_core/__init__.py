"""rlu-core: the light helpers of rlu, its vocabulary of RL function roles, and TransitionBatch.

Importing rlu_core imports no third-party package. ``TransitionBatch`` and ``chunks_pow2`` need
numpy: it is imported the first time one of them is used (``rlu_core.TransitionBatch``).
"""

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from rlu_core._transition import TransitionBatch as TransitionBatch
    from rlu_core._transition import chunks_pow2 as chunks_pow2

__all__ = [
    "Policy",
    "QFunction",
    "RewardFunction",
    "StochasticFunction",
    "TransitionBatch",
    "TransitionModel",
    "VFunction",
    "__version__",
    "chunks_pow2",
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

# Names that need numpy, loaded from rlu_core._transition on first use (PEP 562).
_NEED_NUMPY = ("TransitionBatch", "chunks_pow2")

if not TYPE_CHECKING:  # type checkers read the imports above; only unknown names reach here

    def __getattr__(name: str) -> object:
        if name not in _NEED_NUMPY:
            raise AttributeError(f"module 'rlu_core' has no attribute {name!r}")
        from rlu_core import _transition

        value = getattr(_transition, name)
        globals()[name] = value  # later look-ups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(_NEED_NUMPY))
