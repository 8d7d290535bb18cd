"""The vocabulary of rlu: abstract base classes for the kinds of functions an RL agent is made of.

rlu cannot import coax (or any other RL library), so instead of checking for concrete classes it
names the roles. A class plays a role when it subclasses the ABC or is registered with it::

    class MyQ(QFunction):           # subclass ...
        def __call__(self, s, a=None): ...

    QFunction.register(SomeQClass)  # ... or register an existing class

and the predicates (:func:`is_qfunction`, ...) then hold for its instances. coax's own classes
(``coax.Q``, ``coax.Policy``, ...) play their roles too, without rlu importing coax: each ABC
recognises them by the module and qualified name of a class in the instance's MRO, so a coax
object counts exactly when coax is imported and its class derives from one of those classes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

__all__ = [
    "Policy",
    "QFunction",
    "RewardFunction",
    "StochasticFunction",
    "TransitionModel",
    "VFunction",
    "is_policy",
    "is_qfunction",
    "is_reward_function",
    "is_stochastic",
    "is_transition_model",
    "is_vfunction",
]

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

    Subclasses implement ``__call__(s)``; ``coax.Policy``, ``coax.EpsilonGreedy`` and
    ``coax.BoltzmannPolicy`` count as policies too.

    Examples
    --------
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
    """A state-action value function :math:`q(s, a)`.

    Subclasses implement ``__call__(s, a=None)`` (all actions' values when ``a`` is None, for
    discrete actions). ``coax.Q``, ``coax.StochasticQ`` and ``coax.SuccessorStateQ`` count as
    Q-functions, and so do coax's reward functions, which coax derives from its Q-functions.

    Examples
    --------
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
    """A state value function :math:`v(s)`.

    Subclasses implement ``__call__(s)``; ``coax.V`` and ``coax.StochasticV`` count as well.

    Examples
    --------
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
    """A model of the immediate reward :math:`r(s, a)`.

    Subclasses implement ``__call__(s, a=None)``; ``coax.RewardFunction`` and
    ``coax.StochasticRewardFunction`` count as well.

    Examples
    --------
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
    """A dynamics model: predicts the next state :math:`s'` from :math:`(s, a)`.

    Subclasses implement ``__call__(s, a=None)``; ``coax.TransitionModel`` and
    ``coax.StochasticTransitionModel`` count as well.

    Examples
    --------
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
    StochasticFunction)``, or register a class with it. The coax classes that count are those
    coax itself calls stochastic: ``coax.Policy``, ``coax.StochasticQ``, ``coax.StochasticV``,
    ``coax.StochasticRewardFunction`` and ``coax.StochasticTransitionModel``.

    Examples
    --------
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


def is_policy(obj: Any) -> bool:
    """Check whether an object is a policy.

    Parameters
    ----------
    obj : object
        Object to check.

    Returns
    -------
    bool
        Whether ``obj`` is an instance of a :class:`Policy` (subclass or registered), or of a
        coax policy class (``coax.Policy``, ``coax.EpsilonGreedy``, ``coax.BoltzmannPolicy``).

    Examples
    --------
    >>> class GreedyPolicy(Policy):
    ...     def __call__(self, s):
    ...         return 0
    >>> is_policy(GreedyPolicy()), is_policy(lambda s: 0)
    (True, False)
    """
    return isinstance(obj, Policy)


def is_qfunction(obj: Any) -> bool:
    """Check whether an object is a state-action value function, or Q-function.

    Parameters
    ----------
    obj : object
        Object to check.

    Returns
    -------
    bool
        Whether ``obj`` is an instance of a :class:`QFunction` (subclass or registered), or of
        ``coax.Q``, ``coax.StochasticQ`` or ``coax.SuccessorStateQ`` (including coax's reward
        functions, which derive from these).

    Examples
    --------
    >>> class TableQ(QFunction):
    ...     def __call__(self, s, a=None):
    ...         return 0.0
    >>> is_qfunction(TableQ()), is_qfunction(object())
    (True, False)
    """
    return isinstance(obj, QFunction)


def is_vfunction(obj: Any) -> bool:
    """Check whether an object is a state value function, or V-function.

    Parameters
    ----------
    obj : object
        Object to check.

    Returns
    -------
    bool
        Whether ``obj`` is an instance of a :class:`VFunction` (subclass or registered), or of
        ``coax.V`` or ``coax.StochasticV``.

    Examples
    --------
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
    """Check whether an object is a reward function (a model of the immediate reward).

    Parameters
    ----------
    obj : object
        Object to check.

    Returns
    -------
    bool
        Whether ``obj`` is an instance of a :class:`RewardFunction` (subclass or registered), or
        of ``coax.RewardFunction`` or ``coax.StochasticRewardFunction``.

    Examples
    --------
    >>> class ConstantReward(RewardFunction):
    ...     def __call__(self, s, a=None):
    ...         return 1.0
    >>> is_reward_function(ConstantReward()), is_reward_function(lambda s, a: 1.0)
    (True, False)
    """
    return isinstance(obj, RewardFunction)


def is_transition_model(obj: Any) -> bool:
    """Check whether an object is a transition model (a model of the dynamics).

    Parameters
    ----------
    obj : object
        Object to check.

    Returns
    -------
    bool
        Whether ``obj`` is an instance of a :class:`TransitionModel` (subclass or registered),
        or of ``coax.TransitionModel`` or ``coax.StochasticTransitionModel``.

    Examples
    --------
    >>> class StandStill(TransitionModel):
    ...     def __call__(self, s, a=None):
    ...         return s
    >>> is_transition_model(StandStill()), is_transition_model(object())
    (True, False)
    """
    return isinstance(obj, TransitionModel)


def is_stochastic(obj: Any) -> bool:
    """Check whether an object is a stochastic function approximator.

    Parameters
    ----------
    obj : object
        Object to check.

    Returns
    -------
    bool
        Whether ``obj`` is an instance of a :class:`StochasticFunction` (subclass or registered),
        or of ``coax.Policy``, ``coax.StochasticQ``, ``coax.StochasticV``,
        ``coax.StochasticRewardFunction`` or ``coax.StochasticTransitionModel``.

    Examples
    --------
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
