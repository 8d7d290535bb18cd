"""One behaviour for argument checks across every distribution (CONTRIBUTING.md, house rules).

The same bad inputs go through every public entry point that takes a count or a real-valued
parameter: a wrong type raises TypeError, a wrong value ValueError, the message names the
argument, and numpy integers count as integers everywhere.
"""

from __future__ import annotations

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
    import rlu

    tree = rlu.SumTree(capacity=4)
    tree.set_values(..., np.ones(4))
    return tree.sample(**{name: value})


def _check_preprocessors(name: str, value: Any) -> Any:
    import rlu

    def identity(rng: Any, x: Any) -> Any:
        return x

    return rlu.check_preprocessors(_env().observation_space, identity, identity, **{name: value})


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
    ("get_transition_batch", _call("get_transition_batch", env=_env), "batch_size", 2, 0),
    ("check_preprocessors", _check_preprocessors, "num_samples", 2, 0),
]

REALS = [
    ("OrnsteinUhlenbeckNoise", _call("OrnsteinUhlenbeckNoise"), "sigma", 0.5, -1.0),
    ("OrnsteinUhlenbeckNoise", _call("OrnsteinUhlenbeckNoise"), "theta", 0.15, float("nan")),
]

IDS = [f"{row[0]}-{row[2]}" for row in COUNTS]


@pytest.mark.parametrize(("entry", "call", "arg", "valid", "bad_value"), COUNTS, ids=IDS)
@pytest.mark.parametrize("bad_type", [True, "4", 4.0, None], ids=["bool", "str", "float", "None"])
def test_a_count_of_the_wrong_type_is_a_type_error(entry, call, arg, valid, bad_value, bad_type):
    with pytest.raises(TypeError, match=arg):
        call(arg, bad_type)


@pytest.mark.parametrize(("entry", "call", "arg", "valid", "bad_value"), COUNTS, ids=IDS)
def test_a_count_out_of_range_is_a_value_error(entry, call, arg, valid, bad_value):
    with pytest.raises(ValueError, match=arg):
        call(arg, bad_value)


@pytest.mark.parametrize(("entry", "call", "arg", "valid", "bad_value"), COUNTS, ids=IDS)
@pytest.mark.parametrize("to", [int, np.int64, np.int32, np.uint8], ids=lambda t: t.__name__)
def test_numpy_integers_are_integers(entry, call, arg, valid, bad_value, to):
    call(arg, to(valid))


@pytest.mark.parametrize(
    ("entry", "call", "arg", "valid", "bad_value"), REALS, ids=lambda v: str(v)
)
def test_reals_refuse_bools_and_strings_and_bad_values(entry, call, arg, valid, bad_value):
    call(arg, valid)
    call(arg, np.float32(valid))
    for bad_type in (True, "0.5"):
        with pytest.raises(TypeError, match=arg):
            call(arg, bad_type)
    with pytest.raises(ValueError, match=arg):
        call(arg, bad_value)
