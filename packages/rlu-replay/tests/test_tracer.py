"""NStepTracer against a brute-force n-step computation over random episodes."""

from __future__ import annotations

import numpy as np
import pytest
from rlu_envtools import TransitionBatch
from rlu_replay import NStepTracer


def brute_force(episodes, n, gamma):
    """Every n-step transition of every episode: (s, a, Rn, In, s_next), written out directly."""
    out = []
    for steps, end in episodes:  # steps: list of (s, a, r); end: ("terminated"|"truncated", s_T)
        kind, final = end
        states = [s for s, _, _ in steps] + [final]
        T = len(steps)
        for t in range(T):
            m = min(n, T - t)
            rn = sum(gamma**k * steps[t + k][2] for k in range(m))
            terminal = kind == "terminated" and t + m == T
            i_n = 0.0 if terminal else gamma**m
            out.append((steps[t][0], steps[t][1], rn, i_n, states[t + m]))
    return out


@pytest.mark.parametrize("n", [1, 2, 3, 5])
@pytest.mark.parametrize("gamma", [0.0, 0.9, 1.0])
def test_matches_brute_force(n, gamma):
    rng = np.random.default_rng(n)
    episodes = []
    s = 0
    for _ in range(12):
        length = int(rng.integers(1, 9))
        steps = []
        for _ in range(length):
            steps.append((s, int(rng.integers(3)), float(rng.normal())))
            s += 1
        kind = "terminated" if rng.random() < 0.5 else "truncated"
        episodes.append((steps, (kind, s)))
        s += 1
    tracer = NStepTracer(n, gamma)
    got = []
    for steps, (kind, final) in episodes:
        for t, (st, a, r) in enumerate(steps):
            last = t == len(steps) - 1
            s_next = final if last else steps[t + 1][0]
            tb = tracer.add(
                st, a, r, last and kind == "terminated", last and kind == "truncated", s_next
            )
            if tb is not None:
                assert isinstance(tb, TransitionBatch)
                for i in range(tb.batch_size):
                    got.append((tb.S[i], tb.A[i], tb.Rn[i], tb.In[i], tb.S_next[i]))
        assert len(tracer) == 0
    expected = brute_force(episodes, n, gamma)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g[0] == e[0] and g[1] == e[1] and g[4] == e[4]
        np.testing.assert_allclose(g[2], e[2], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(g[3], e[3], rtol=1e-6)


def test_pytree_states_and_logp():
    tracer = NStepTracer(2, 0.5)
    obs = [{"pos": np.full(3, float(t)), "id": np.int32(t)} for t in range(4)]
    assert tracer.add(obs[0], 1, 1.0, False, False, obs[1], logp=-0.5) is None
    tb = tracer.add(obs[1], 0, 1.0, False, False, obs[2], logp=-0.1)
    assert tb.S["pos"].shape == (1, 3) and tb.S["id"].dtype == np.int32
    assert tb.S_next["pos"][0, 0] == 2.0 and tb.logP.tolist() == [-0.5]
    assert tb.W.tolist() == [1.0]


def test_flush_bootstraps_from_the_last_state():
    tracer = NStepTracer(3, 0.5)
    tracer.add(0, 0, 1.0, False, False, 1)
    tracer.add(1, 0, 1.0, False, False, 2)
    tb = tracer.flush()
    assert tb.S.tolist() == [0, 1] and tb.S_next.tolist() == [2, 2]
    np.testing.assert_allclose(tb.In, [0.25, 0.5])
    assert tracer.flush() is None


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n": 0, "gamma": 0.9}, ValueError, "n must be an int >= 1"),
        ({"n": 1.0, "gamma": 0.9}, TypeError, "n must be an int"),
        ({"n": 1, "gamma": 1.5}, ValueError, "gamma must be"),
        ({"n": 1, "gamma": True}, TypeError, "gamma must be"),
    ],
)
def test_constructor_checks(kwargs, error, match):
    with pytest.raises(error, match=match):
        NStepTracer(**kwargs)


def test_bad_step_is_not_recorded():
    tracer = NStepTracer(2, 0.9)
    with pytest.raises(TypeError, match="terminated must be a bool"):
        tracer.add(0, 0, 1.0, 1, False, 1)
    with pytest.raises(TypeError, match="r must be a real number"):
        tracer.add(0, 0, "1", False, False, 1)
    assert len(tracer) == 0
