"""The vocabulary of rlu: abstract base classes for the kinds of functions an RL agent is made of.

rlu cannot import coax (or any other RL library), so instead of checking for concrete classes it
names the roles. A class plays a role when it subclasses the ABC or is registered with it::

    class MyQ(QFunction):           # subclass ...
        def __call__(self, s, a=None): ...

    QFunction.register(SomeQClass)  # ... or register an existing class

and the predicates ([`is_qfunction`][rlu_core.is_qfunction], ...) then hold for its instances.
coax's own classes (``coax.Q``, ``coax.Policy``, ...) play their roles too, without rlu importing
coax: each ABC recognises them by the module and qualified name of a class in the instance's MRO, so
a coax object counts exactly when coax is imported and its class derives from one of those classes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

# Where coax (0.1.x) defines the classes that play each role: (module, qualified name).
_COAX_POLICY = ("coax._core.policy", "Policy")
_COAX_EPSILON_GREEDY = ("coax._core.value_based_policy", "EpsilonGreedy")
_COAX_BOLTZMANN = ("coax._core.value_based_policy", "BoltzmannPolicy")
_COAX_Q = ("coax._core.q", "Q")
_COAX_STOCHASTIC_Q = ("coax._core.stochastic_q", "StochasticQ")
_COAX_SUCCESSOR_STATE_Q = ("coax._core.successor_state_q", "SuccessorStateQ")
_COAX_V = ("coax._core.v", "V")
_COAX_STOCHASTIC_V = ("coax._core.stochastic_v", "StochasticV")
_COAX_REWARD = ("coax._core.reward_function", "RewardFunction")
_COAX_STOCHASTIC_REWARD = ("coax._core.stochastic_reward_function", "StochasticRewardFunction")
_COAX_TRANSITION = ("coax._core.transition_model", "TransitionModel")
_COAX_STOCHASTIC_TRANSITION = (
    "coax._core.stochastic_transition_model",
    "StochasticTransitionModel",
)


def _derives_from(cls: type, names: frozenset[tuple[str, str]]) -> bool:
    """Whether a class in ``cls``'s MRO has a (module, qualname) pair in ``names``."""
    for base in getattr(cls, "__mro__", ()):
        key = (getattr(base, "__module__", None), getattr(base, "__qualname__", None))
        if key in names:
            return True
    return False


class _Role(ABC):  # noqa: B024 -- StochasticFunction is a marker with no abstract method
    """Base of the vocabulary ABCs: also recognises the foreign classes listed in ``_foreign``."""

    _foreign: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def __subclasshook__(cls, subclass: type) -> Any:
        # Only the vocabulary ABC itself recognises coax's classes, not a user's subclass of it:
        # coax.Q is a QFunction, but it is not a MyQ just because MyQ subclasses QFunction.
        if "_foreign" in cls.__dict__ and _derives_from(subclass, cls._foreign):
            return True
        return NotImplemented


class Policy(_Role):
    """A policy: maps a state observation to an action (or to a distribution over actions).

    Subclasses implement ``__call__(s)``. An object is a policy ([`is_policy`][rlu_core.is_policy])
    when its class subclasses Policy or is registered with it (``Policy.register(cls)``), or derives
    from ``coax.Policy``, ``coax.EpsilonGreedy`` or ``coax.BoltzmannPolicy``. The coax classes
    are recognised by module and qualified name in the MRO, so rlu never imports coax; the
    other vocabulary classes recognise theirs the same way.

    Examples
    --------
    >>> from rlu_core import Policy
    >>> class AlwaysLeft(Policy):
    ...     def __call__(self, s):
    ...         return 0
    >>> AlwaysLeft()([0.1, -0.2]), isinstance(AlwaysLeft(), Policy)
    (0, True)
    """

    _foreign = frozenset({_COAX_POLICY, _COAX_EPSILON_GREEDY, _COAX_BOLTZMANN})

    @abstractmethod
    def __call__(self, s: Any, *args: Any, **kwargs: Any) -> Any:
        """Pick an action for the state observation ``s``."""


class QFunction(_Role):
    """A state-action value function ``q(s, a)``.

    Subclasses implement ``__call__(s, a=None)`` (all actions' values when ``a`` is None, for
    discrete actions). Counts as well (see [`Policy`][rlu_core.Policy] for how): ``coax.Q``,
    ``coax.StochasticQ``, ``coax.SuccessorStateQ``, and coax's reward functions, which coax
    derives from its Q-functions.

    Examples
    --------
    >>> from rlu_core import QFunction
    >>> class TableQ(QFunction):
    ...     def __init__(self, table):
    ...         self.table = table
    ...     def __call__(self, s, a=None):
    ...         return self.table[s] if a is None else self.table[s][a]
    >>> q = TableQ({0: [1.0, 2.0]})
    >>> q(0), q(0, 1), isinstance(q, QFunction)
    ([1.0, 2.0], 2.0, True)
    """

    _foreign = frozenset({_COAX_Q, _COAX_STOCHASTIC_Q, _COAX_SUCCESSOR_STATE_Q})

    @abstractmethod
    def __call__(self, s: Any, a: Any = None, *args: Any, **kwargs: Any) -> Any:
        """Estimate the value of taking action ``a`` in state ``s``."""


class VFunction(_Role):
    """A state value function ``v(s)``.

    Subclasses implement ``__call__(s)``. Counts as well (see [`Policy`][rlu_core.Policy] for how):
    ``coax.V`` and ``coax.StochasticV``.

    Examples
    --------
    >>> from rlu_core import VFunction
    >>> class ZeroV(VFunction):
    ...     def __call__(self, s):
    ...         return 0.0
    >>> ZeroV()("any state"), isinstance(ZeroV(), VFunction)
    (0.0, True)
    """

    _foreign = frozenset({_COAX_V, _COAX_STOCHASTIC_V})

    @abstractmethod
    def __call__(self, s: Any, *args: Any, **kwargs: Any) -> Any:
        """Estimate the value of the state ``s``."""


class RewardFunction(_Role):
    """A model of the immediate reward ``r(s, a)``.

    Subclasses implement ``__call__(s, a=None)``. Counts as well (see [`Policy`][rlu_core.Policy]
    for how): ``coax.RewardFunction`` and ``coax.StochasticRewardFunction``.

    Examples
    --------
    >>> from rlu_core import RewardFunction
    >>> class MinusOne(RewardFunction):
    ...     def __call__(self, s, a=None):
    ...         return -1.0
    >>> MinusOne()(0, 1), isinstance(MinusOne(), RewardFunction)
    (-1.0, True)
    """

    _foreign = frozenset({_COAX_REWARD, _COAX_STOCHASTIC_REWARD})

    @abstractmethod
    def __call__(self, s: Any, a: Any = None, *args: Any, **kwargs: Any) -> Any:
        """Predict the reward of taking action ``a`` in state ``s``."""


class TransitionModel(_Role):
    """A dynamics model: predicts the next state ``s'`` from ``(s, a)``.

    Subclasses implement ``__call__(s, a=None)``. Counts as well (see [`Policy`][rlu_core.Policy]
    for how): ``coax.TransitionModel`` and ``coax.StochasticTransitionModel``.

    Examples
    --------
    >>> from rlu_core import TransitionModel
    >>> class Drift(TransitionModel):
    ...     def __call__(self, s, a=None):
    ...         return s + (a or 0)
    >>> Drift()(3, 1), isinstance(Drift(), TransitionModel)
    (4, True)
    """

    _foreign = frozenset({_COAX_TRANSITION, _COAX_STOCHASTIC_TRANSITION})

    @abstractmethod
    def __call__(self, s: Any, a: Any = None, *args: Any, **kwargs: Any) -> Any:
        """Predict the next state after taking action ``a`` in state ``s``."""


class StochasticFunction(_Role):
    """A marker for function approximators whose output is a probability distribution.

    It has no abstract methods: combine it with a role, ``class MyPi(Policy,
    StochasticFunction)``, or register a class with it. Counts as well (see
    [`Policy`][rlu_core.Policy] for how) what coax itself calls stochastic: ``coax.Policy``,
    ``coax.StochasticQ``, ``coax.StochasticV``, ``coax.StochasticRewardFunction`` and
    ``coax.StochasticTransitionModel`` (not ``coax.EpsilonGreedy`` or ``BoltzmannPolicy``).

    Examples
    --------
    >>> from rlu_core import Policy, StochasticFunction
    >>> class SoftmaxPolicy(Policy, StochasticFunction):
    ...     def __call__(self, s):
    ...         return {"probs": [0.5, 0.5]}
    >>> isinstance(SoftmaxPolicy(), StochasticFunction)
    True
    """

    _foreign = frozenset(
        {
            _COAX_POLICY,
            _COAX_STOCHASTIC_Q,
            _COAX_STOCHASTIC_V,
            _COAX_STOCHASTIC_REWARD,
            _COAX_STOCHASTIC_TRANSITION,
        }
    )


# Pickles record where a class lives: make them record the public path, rlu_core.Policy, so
# that they do not depend on this private module's name. (rlu_core.vocabulary keeps the path
# that rlu-core 0.1.0's pickles recorded importable.)
for _cls in (Policy, QFunction, VFunction, RewardFunction, TransitionModel, StochasticFunction):
    _cls.__module__ = "rlu_core"
del _cls


def is_policy(obj: Any) -> bool:
    """Check whether ``obj`` is a policy; see [`Policy`][rlu_core.Policy] for what counts.

    Examples
    --------
    >>> from rlu_core import Policy, is_policy
    >>> class GreedyPolicy(Policy):
    ...     def __call__(self, s):
    ...         return 0
    >>> is_policy(GreedyPolicy()), is_policy(lambda s: 0)
    (True, False)
    """
    return isinstance(obj, Policy)


def is_qfunction(obj: Any) -> bool:
    """Check whether ``obj`` is a Q-function; see [`QFunction`][rlu_core.QFunction] for what counts.

    Examples
    --------
    >>> from rlu_core import QFunction, is_qfunction
    >>> class TableQ(QFunction):
    ...     def __call__(self, s, a=None):
    ...         return 0.0
    >>> is_qfunction(TableQ()), is_qfunction(object())
    (True, False)
    """
    return isinstance(obj, QFunction)


def is_vfunction(obj: Any) -> bool:
    """Check whether ``obj`` is a V-function; see [`VFunction`][rlu_core.VFunction] for what counts.

    Examples
    --------
    >>> from rlu_core import VFunction, is_vfunction
    >>> class ZeroV:
    ...     def __call__(self, s):
    ...         return 0.0
    >>> is_vfunction(ZeroV())
    False
    >>> _ = VFunction.register(ZeroV)
    >>> is_vfunction(ZeroV())
    True
    """
    return isinstance(obj, VFunction)


def is_reward_function(obj: Any) -> bool:
    """Check whether ``obj`` is a reward function.

    See [`RewardFunction`][rlu_core.RewardFunction] for what counts.

    Examples
    --------
    >>> from rlu_core import RewardFunction, is_reward_function
    >>> class ConstantReward(RewardFunction):
    ...     def __call__(self, s, a=None):
    ...         return 1.0
    >>> is_reward_function(ConstantReward()), is_reward_function(lambda s, a: 1.0)
    (True, False)
    """
    return isinstance(obj, RewardFunction)


def is_transition_model(obj: Any) -> bool:
    """Check whether ``obj`` is a transition model.

    See [`TransitionModel`][rlu_core.TransitionModel] for what counts.

    Examples
    --------
    >>> from rlu_core import TransitionModel, is_transition_model
    >>> class StandStill(TransitionModel):
    ...     def __call__(self, s, a=None):
    ...         return s
    >>> is_transition_model(StandStill()), is_transition_model(object())
    (True, False)
    """
    return isinstance(obj, TransitionModel)


def is_stochastic(obj: Any) -> bool:
    """Check whether ``obj`` is stochastic.

    See [`StochasticFunction`][rlu_core.StochasticFunction] for what counts.

    Examples
    --------
    >>> from rlu_core import Policy, StochasticFunction, is_stochastic
    >>> class CoinFlipPolicy(Policy, StochasticFunction):
    ...     def __call__(self, s):
    ...         return {"logits": [0.0, 0.0]}
    >>> class GreedyPolicy(Policy):
    ...     def __call__(self, s):
    ...         return 0
    >>> is_stochastic(CoinFlipPolicy()), is_stochastic(GreedyPolicy())
    (True, False)
    """
    return isinstance(obj, StochasticFunction)
