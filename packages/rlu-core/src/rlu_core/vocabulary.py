"""Compatibility module: exists only so that pickles written with rlu-core 0.1.0 keep loading.

rlu-core 0.1.0 defined the vocabulary classes here, and pickles (a class pickled by reference,
or a cloudpickled class that derives from one of them) record ``rlu_core.vocabulary.Policy``.
The classes now record their public path, ``rlu_core.Policy``; import them from ``rlu_core``.
"""

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
