"""Mistakes for which coax raised another exception class than rlu: the error is both.

Each row: the call, the class rlu documents, and the class coax 0.1.13 raised for the same
mistake (checked against coax's source), so that ``except`` clauses written for coax still
catch rlu's error.
"""

import gymnasium
import numpy as np
import pytest
from gymnasium.spaces import Discrete
from rlu_envtools import (
    TransitionBatch,
    check_preprocessors,
    chunks_pow2,
    get_env_attr,
    get_transition_batch,
    has_env_attr,
    make_dmc,
)


def _env():
    return gymnasium.make("CartPole-v1")


def _single(**kwargs):
    args = {"s": np.zeros(2), "a": 0, "logp": -1.0, "r": 0.0, "terminated": False, "gamma": 0.9}
    return TransitionBatch.from_single(**{**args, **kwargs})


CASES = [
    # (call, rlu's class, coax's class)
    (lambda: get_transition_batch(_env(), batch_size=0), ValueError, TypeError),
    (lambda: get_transition_batch(_env(), gamma=1.5), ValueError, TypeError),
    (lambda: get_transition_batch(object()), TypeError, AttributeError),
    (lambda: _single(logp=0.5), ValueError, TypeError),
    (lambda: _single(logp_next=0.5), ValueError, TypeError),
    (lambda: _single(gamma=-0.1), ValueError, TypeError),
    (lambda: _single(w=0.0), ValueError, TypeError),
    (lambda: get_env_attr(_env(), "gravity", max_depth=1.5), ValueError, TypeError),
    (lambda: get_env_attr(_env(), "gravity", max_depth=None), ValueError, TypeError),
    (lambda: has_env_attr(_env(), "gravity", max_depth="3"), ValueError, TypeError),
    (lambda: check_preprocessors(None, print, print), TypeError, AttributeError),
    (lambda: chunks_pow2(None), TypeError, AttributeError),
    (lambda: make_dmc(1, "swingup"), TypeError, ValueError),
    (lambda: make_dmc("cartpole", 2), TypeError, ValueError),
]


@pytest.mark.parametrize("call, rlu_class, coax_class", CASES)
def test_the_error_is_rlus_class_and_coaxs(call, rlu_class, coax_class):
    with pytest.raises(rlu_class) as info:
        call()
    assert isinstance(info.value, coax_class)


def test_count_of_preprocessors_is_checked_first_as_in_coax():
    # coax checked the count before anything else: ValueError even for a bad space
    with pytest.raises(ValueError, match="at least two"):
        check_preprocessors(None, print)
    with pytest.raises(ValueError, match="at least two"):
        check_preprocessors(Discrete(2))
