"""One behaviour for argument checks across every distribution (CONTRIBUTING.md, house rules).

The same bad inputs go through every public entry point that takes a count or a real-valued
parameter: a wrong type raises TypeError, a wrong value ValueError, the message names the
argument, says what was expected and what it got, a rejected call leaves the object it was
called on as it was, and numpy integers count as integers everywhere (with the same result).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest


def _env() -> Any:
    import gymnasium

    return gymnasium.make("CartPole-v1")


def _key() -> Any:
    import jax

    return jax.random.PRNGKey(0)


def _call(target: str, **fixed: Any) -> Callable[[str, Any], Any]:
    """Call ``rlu.<target>`` with ``fixed`` arguments plus one argument under test; a callable
    among ``fixed`` is called for a fresh value each time."""

    def call(name: str, value: Any) -> Any:
        import rlu

        kwargs = {k: (v() if callable(v) else v) for k, v in fixed.items()}
        return getattr(rlu, target)(**kwargs, **{name: value})

    return call


def _sample(name: str, value: Any) -> Any:
    """``SumTree.sample``; a rejected call must leave the tree, its random stream included, as
    it was: its next draws are those of a twin that never saw the bad call."""
    import rlu

    def tree() -> Any:
        t = rlu.SumTree(capacity=4, random_seed=7)
        t.set_values(..., [1.0, 2.0, 0.0, 4.0])
        return t

    subject = tree()
    try:
        return subject.sample(**{name: value})
    except Exception:
        np.testing.assert_array_equal(subject.values, [1.0, 2.0, 0.0, 4.0])
        assert subject.root_value == 7.0
        np.testing.assert_array_equal(subject.sample(16), tree().sample(16))
        raise


def _check_preprocessors(name: str, value: Any) -> Any:
    """``check_preprocessors``; a rejected call draws nothing from the space it was given."""
    import rlu

    def identity(rng: Any, x: Any) -> Any:
        return x

    space = _env().observation_space
    state = space.np_random.bit_generator.state
    try:
        return rlu.check_preprocessors(space, identity, identity, **{name: value})
    except Exception:
        assert space.np_random.bit_generator.state == state
        raise


def _transition_batch(name: str, value: Any) -> Any:
    """``get_transition_batch``; a rejected call neither resets nor samples the environment."""
    import rlu

    env = _env()
    spaces = (env.observation_space, env.action_space)
    states = [space.np_random.bit_generator.state for space in spaces]
    try:
        return rlu.get_transition_batch(env, random_seed=0, **{name: value})
    except Exception:
        assert env.unwrapped.state is None  # CartPole's state before its first reset
        assert [space.np_random.bit_generator.state for space in spaces] == states
        raise


# (entry point, argument, a valid value, an invalid value of the right type)
COUNTS = [
    ("SumTree", _call("SumTree"), "capacity", 4, 0),
    ("MinTree", _call("MinTree"), "capacity", 4, 0),
    ("MaxTree", _call("MaxTree"), "capacity", 4, 0),
    ("SumTree.sample", _sample, "n", 2, -1),
    ("quantiles", _call("quantiles", batch_size=2), "num_quantiles", 4, 0),
    (
        "quantiles_uniform",
        _call("quantiles_uniform", rng=_key, batch_size=2),
        "num_quantiles",
        4,
        0,
    ),
    (
        "quantile_cos_embedding",
        _call("quantile_cos_embedding", quantile_fractions=np.full((2, 3), 0.5)),
        "n",
        4,
        0,
    ),
    ("diff_transform_matrix", _call("diff_transform_matrix"), "num_frames", 3, 0),
    ("get_transition_batch", _transition_batch, "batch_size", 2, 0),
    ("check_preprocessors", _check_preprocessors, "num_samples", 2, 0),
]

# (entry point, argument, a valid value, an invalid value of the right type, what the message
# says a valid value is)
REALS = [
    ("OrnsteinUhlenbeckNoise", _call("OrnsteinUhlenbeckNoise"), "sigma", 0.5, -1.0, "positive"),
    (
        "OrnsteinUhlenbeckNoise",
        _call("OrnsteinUhlenbeckNoise"),
        "theta",
        0.15,
        float("nan"),
        "finite",
    ),
]

IDS = [f"{row[0]}-{row[2]}" for row in COUNTS]
# ids without object addresses: pytest-xdist's workers must collect the same names
REAL_IDS = [f"{row[0]}-{row[2]}-{row[4]}" for row in REALS]

# what every count's message says, after the argument's name
EXPECTED_COUNT = "must be an int >= 1, got "


def _names(message: str, arg: str) -> bool:
    """Whether ``message`` names ``arg`` as a word (quoted or not), not just contains it."""
    return re.search(rf"(?<![\w.]){re.escape(arg)}(?![\w(])", message) is not None


def _got(message: str) -> str:
    """What the message says it got: the text after ", got " (up to a "; " that may follow)."""
    assert ", got " in message, message
    return message.rsplit(", got ", 1)[-1].split("; ")[0]


def _says_what_it_got(message: str, bad: Any) -> bool:
    """The refused value as written in the message: its repr or its type's name."""
    got = _got(message)
    return repr(bad) in got or type(bad).__name__ in got


@pytest.mark.parametrize(("entry", "call", "arg", "valid", "bad_value"), COUNTS, ids=IDS)
@pytest.mark.parametrize("bad_type", [True, "4", 4.0, None], ids=["bool", "str", "float", "None"])
def test_a_count_of_the_wrong_type_is_a_type_error(entry, call, arg, valid, bad_value, bad_type):
    with pytest.raises(TypeError, match=re.escape(f"{arg} {EXPECTED_COUNT}")) as info:
        call(arg, bad_type)
    message = str(info.value)
    assert _names(message, arg), message
    assert _says_what_it_got(message, bad_type), message


@pytest.mark.parametrize(("entry", "call", "arg", "valid", "bad_value"), COUNTS, ids=IDS)
def test_a_count_out_of_range_is_a_value_error(entry, call, arg, valid, bad_value):
    # the message ends with the refused number itself
    with pytest.raises(ValueError, match=re.escape(f"{arg} {EXPECTED_COUNT}{bad_value}") + "$"):
        call(arg, bad_value)


def _result(value: Any) -> Any:
    """What a call gave, in a form that compares by value (trees by their contents)."""
    if hasattr(value, "capacity") and hasattr(value, "values"):
        return (type(value).__name__, value.capacity, np.asarray(value.values).tolist())
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a TransitionBatch
        return {f: _result(getattr(value, f)) for f in value._fields}
    if isinstance(value, (bool, int, float, type(None))):
        return value
    return np.asarray(value).tolist()


@pytest.mark.parametrize(("entry", "call", "arg", "valid", "bad_value"), COUNTS, ids=IDS)
@pytest.mark.parametrize("to", [int, np.int64, np.int32, np.uint8], ids=lambda t: t.__name__)
def test_numpy_integers_are_integers(entry, call, arg, valid, bad_value, to):
    # the same result as the plain int (every call here is deterministic)
    assert _result(call(arg, to(valid))) == _result(call(arg, valid))


@pytest.mark.parametrize(
    ("entry", "call", "arg", "valid", "bad_value", "expected"), REALS, ids=REAL_IDS
)
def test_reals_refuse_bools_and_strings_and_bad_values(
    entry, call, arg, valid, bad_value, expected
):
    call(arg, valid)
    call(arg, np.float32(valid))
    for bad_type in (True, "0.5"):
        with pytest.raises(TypeError, match=arg) as info:
            call(arg, bad_type)
        message = str(info.value)
        assert _names(message, arg), message
        assert "must be a number" in message, message
        assert _says_what_it_got(message, bad_type), message
    with pytest.raises(ValueError, match=arg) as info:
        call(arg, bad_value)
    message = str(info.value)
    assert _names(message, arg), message
    assert f"must be {expected}" in message, message
    got = float(_got(message))
    assert got == bad_value or (math.isnan(bad_value) and math.isnan(got)), message
