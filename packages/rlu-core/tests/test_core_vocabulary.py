import sys
import types

import pytest
import rlu_core
from rlu_core import (
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

PREDICATES = {
    "policy": is_policy,
    "qfunction": is_qfunction,
    "vfunction": is_vfunction,
    "reward_function": is_reward_function,
    "transition_model": is_transition_model,
    "stochastic": is_stochastic,
}
ROLES = {
    "policy": Policy,
    "qfunction": QFunction,
    "vfunction": VFunction,
    "reward_function": RewardFunction,
    "transition_model": TransitionModel,
    "stochastic": StochasticFunction,
}


def holds(obj):
    """The names of the predicates that hold for obj."""
    results = {name: pred(obj) for name, pred in PREDICATES.items()}
    assert all(type(r) is bool for r in results.values())
    return {name for name, r in results.items() if r}


def test_vocabulary_is_exported():
    for cls in ROLES.values():
        assert getattr(rlu_core, cls.__name__) is cls
        assert cls.__name__ in rlu_core.__all__


@pytest.mark.parametrize("obj", [object(), 1, None, "q", [], {}, print, lambda s: 0, Policy])
def test_plain_objects_functions_and_classes_are_nothing(obj):
    assert holds(obj) == set()


@pytest.mark.parametrize(
    "role", ["policy", "qfunction", "vfunction", "reward_function", "transition_model"]
)
def test_subclassing_a_role(role):
    cls = type("Mine", (ROLES[role],), {"__call__": lambda self, *a, **k: 0})
    assert holds(cls()) == {role}


def test_roles_are_abstract():
    class Incomplete(QFunction):
        pass

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()


def test_stochastic_combines_with_a_role():
    class GaussianPolicy(Policy, StochasticFunction):
        def __call__(self, s):
            return 0.0

    assert holds(GaussianPolicy()) == {"policy", "stochastic"}


@pytest.mark.parametrize("role", sorted(ROLES))
def test_registering_a_class(role):
    class Foreign:
        def __call__(self, s):
            return 0

    assert holds(Foreign()) == set()
    ROLES[role].register(Foreign)
    assert holds(Foreign()) == {role}


# --- coax's classes, recognised without importing coax ------------------------------------
# The fake classes below live in modules named exactly like coax 0.1.13's (checked against the
# released wheel), so this tests the real detection rule: (module, qualname) in the MRO.

COAX_CLASSES = {
    ("coax._core.policy", "Policy"): {"policy", "stochastic"},
    ("coax._core.value_based_policy", "EpsilonGreedy"): {"policy"},
    ("coax._core.value_based_policy", "BoltzmannPolicy"): {"policy"},
    ("coax._core.q", "Q"): {"qfunction"},
    ("coax._core.stochastic_q", "StochasticQ"): {"qfunction", "stochastic"},
    ("coax._core.successor_state_q", "SuccessorStateQ"): {"qfunction"},
    ("coax._core.v", "V"): {"vfunction"},
    ("coax._core.stochastic_v", "StochasticV"): {"vfunction", "stochastic"},
    ("coax._core.reward_function", "RewardFunction"): {"reward_function"},
    ("coax._core.stochastic_reward_function", "StochasticRewardFunction"): {
        "reward_function",
        "stochastic",
    },
    ("coax._core.transition_model", "TransitionModel"): {"transition_model"},
    ("coax._core.stochastic_transition_model", "StochasticTransitionModel"): {
        "transition_model",
        "stochastic",
    },
}


@pytest.fixture
def fake_coax(monkeypatch):
    """Modules named like coax's with classes of the right names (and coax's inheritance)."""
    classes = {}

    def make(module_name, name, bases=()):
        module = sys.modules.get(module_name)
        if module is None:
            module = types.ModuleType(module_name)
            monkeypatch.setitem(sys.modules, module_name, module)
        cls = type(name, bases, {"__module__": module_name, "__call__": lambda self, *a: 0})
        setattr(module, name, cls)
        classes[name] = cls
        return cls

    for module_name, name in COAX_CLASSES:
        if name not in ("RewardFunction", "StochasticRewardFunction"):
            make(module_name, name)
    # as in coax: RewardFunction(Q) and StochasticRewardFunction(StochasticQ)
    make("coax._core.reward_function", "RewardFunction", (classes["Q"],))
    make(
        "coax._core.stochastic_reward_function",
        "StochasticRewardFunction",
        (classes["StochasticQ"],),
    )
    return classes


@pytest.mark.parametrize(
    ("key", "expected"),
    COAX_CLASSES.items(),
    ids=lambda x: str(sorted(x) if isinstance(x, (set, frozenset)) else x),  # same in every worker
)
def test_coax_classes_count(fake_coax, key, expected):
    obj = fake_coax[key[1]]()
    if key[1] in ("RewardFunction", "StochasticRewardFunction"):
        expected = expected | {"qfunction"}  # coax derives them from Q / StochasticQ
    assert holds(obj) == expected
    assert "coax" not in sys.modules  # nothing imported coax


def test_subclasses_of_coax_classes_count(fake_coax):
    class MyQ(fake_coax["Q"]):
        pass

    assert holds(MyQ()) == {"qfunction"}


def test_same_names_in_other_modules_do_not_count():
    for module_name, name in COAX_CLASSES:
        impostor = type(name, (), {"__module__": module_name.replace("coax", "koax")})
        assert holds(impostor()) == set()
        nested = type(name, (), {"__module__": module_name, "__qualname__": f"Outer.{name}"})
        assert holds(nested()) == set()


def test_user_subclass_of_a_role_does_not_absorb_coax_classes(fake_coax):
    class MyQ(QFunction):
        def __call__(self, s, a=None):
            return 0.0

    coax_q = fake_coax["Q"]()
    assert isinstance(coax_q, QFunction)
    assert not isinstance(coax_q, MyQ)
