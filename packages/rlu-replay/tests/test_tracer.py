"""NStepTracer of one environment: a brute-force n-step model, inputs, refusals, pickles.

The vector tracer (``num_envs``) is tested in test_tracer_vector.py.
"""

from __future__ import annotations

import copy
import copyreg
import pickle
import subprocess
import sys
from collections import deque
from pathlib import Path

import numpy as np
import pytest
from rlu_core import TransitionBatch
from rlu_replay import NStepTracer

FIXTURES = Path(__file__).parent / "fixtures"


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


def test_int_flags_numpy_and_jax_scalars_are_accepted():
    jnp = pytest.importorskip("jax.numpy")
    tracer = NStepTracer(1, 0.5)
    tb = tracer.add(np.zeros(4), jnp.int32(1), jnp.float32(1.0), np.array(True), 0, np.zeros(4))
    assert tb.In.tolist() == [0.0] and tb.Rn.tolist() == [1.0]
    assert type(tb.A) is np.ndarray and tb.A.dtype == np.int32 and tb.A.tolist() == [1]
    tb = tracer.add(
        jnp.ones(4),
        np.int64(0),
        np.float64(2.0),
        np.False_,
        jnp.array(1),
        jnp.full(4, 2.0),
        logp=jnp.array(-0.5),
    )
    assert type(tb.S) is np.ndarray and type(tb.S_next) is np.ndarray
    assert tb.S.dtype == np.float64  # fixed by the first step; JAX's float32 is cast to it
    assert tb.S_next.tolist() == [[2.0] * 4] and tb.In.tolist() == [0.5]
    assert tb.logP.tolist() == [-0.5] and tb.A.dtype == np.int32


def test_outputs_have_the_dtypes_passed():
    tracer = NStepTracer(1, 0.9)
    tb = tracer.add(0, 0, 1, False, False, 1)  # Python ints: int64, as numpy makes them
    assert tb.S.dtype == tb.A.dtype == tb.S_next.dtype == np.int64
    assert tb.Rn.dtype == tb.In.dtype == tb.logP.dtype == np.float32
    obs = {"pos": np.zeros(2, np.float32), "id": np.uint8(3)}
    tb = NStepTracer(1, 0.9).add(obs, np.array([0.5], np.float16), 1.0, True, False, obs)
    assert tb.S["pos"].dtype == np.float32 and tb.S["id"].dtype == np.uint8
    assert tb.A.dtype == np.float16 and tb.S_next["id"].tolist() == [3]


def test_later_steps_are_cast_to_the_first_steps_dtypes():
    tracer = NStepTracer(2, 0.9)
    tracer.add(np.zeros(2, np.float32), np.int32(0), 1.0, False, False, np.ones(2, np.float32))
    tb = tracer.add(np.ones(2), 1, 1.0, False, False, np.full(2, 2.0))  # float64, int64
    assert tb.S.dtype == tb.S_next.dtype == np.float32 and tb.A.dtype == np.int32


def snapshot(tracer):
    """Everything a tracer holds, as bytes (a refused step must leave them as they were)."""
    return pickle.dumps(tracer)


@pytest.mark.parametrize(
    "step, error, match",
    [
        ((0, 0, 1.0, 2, False, 1), ValueError, "terminated must be a bool"),
        ((0, 0, 1.0, 1.0, False, 1), TypeError, "terminated must be a bool"),
        ((0, 0, 1.0, False, "no", 1), TypeError, "truncated must be a bool"),
        ((0, 0, "1", False, False, 1), TypeError, "r must be a real number"),
        ((0, 0, True, False, False, 1), TypeError, "r must be a real number"),
        ((0, 0, float("nan"), False, False, 1), ValueError, "r must be a real number"),
        ((0, 0, np.ones(2), False, False, 1), TypeError, "r must be a real number"),
        ((0.5, 0, 1.0, False, False, 1), TypeError, "^s has dtype float64"),
        ((0, 0.5, 1.0, False, False, 1), TypeError, "^a has dtype float64"),
        ((0, 0, 1.0, False, False, 1.5), TypeError, "^s_next has dtype float64"),
        ((np.zeros(2, int), 0, 1.0, False, False, 1), ValueError, r"^s must have shape \(\)"),
        ((0, 0, 1.0, False, False, {"x": 1}), ValueError, "s_next must have the structure"),
        ((0, [0, 1], 1.0, False, False, 1), ValueError, "a must have the structure"),
        ((0, object(), 1.0, False, False, 1), TypeError, "a must be an array"),
    ],
)
def test_a_refused_step_changes_nothing(step, error, match):
    tracer = NStepTracer(2, 0.9)
    tracer.add(0, 0, 1.0, False, False, 1)  # fixes the layout: int states and actions
    before = snapshot(tracer)
    with pytest.raises(error, match=match):
        tracer.add(*step)
    assert snapshot(tracer) == before and len(tracer) == 1
    tb = tracer.add(1, 1, 1.0, False, False, 2)
    assert tb.S.tolist() == [0] and tb.S_next.tolist() == [2]


def test_a_refused_first_step_fixes_no_layout():
    tracer = NStepTracer(1, 0.9)
    before = snapshot(tracer)
    with pytest.raises(ValueError, match=r"s_next\['pos'\] must have shape \(3,\)"):
        tracer.add({"pos": np.zeros(3)}, 0, 1.0, False, False, {"pos": np.zeros(4)})
    with pytest.raises(TypeError, match="logp must be a real number"):
        tracer.add(0, 0, 1.0, False, False, 1, logp="x")
    assert snapshot(tracer) == before
    tb = tracer.add(np.zeros(2), 0.5, 1.0, False, False, np.ones(2))  # a float action now
    assert tb.S.shape == (1, 2) and tb.A.dtype == np.float64


def test_leaves_are_named_in_errors():
    tracer = NStepTracer(1, 0.9)
    tracer.add(
        {"pos": np.zeros(3), "id": 0}, (0, 1), 1.0, False, False, {"pos": np.zeros(3), "id": 1}
    )
    with pytest.raises(ValueError, match=r"^s\['pos'\] must have shape \(3,\)"):
        tracer.add(
            {"pos": np.zeros(2), "id": 0}, (0, 1), 1.0, False, False, {"pos": np.zeros(3), "id": 1}
        )
    with pytest.raises(TypeError, match=r"^a\[1\] has dtype float64"):
        tracer.add(
            {"pos": np.zeros(3), "id": 0},
            (0, 1.5),
            1.0,
            False,
            False,
            {"pos": np.zeros(3), "id": 1},
        )
    with pytest.raises(ValueError, match=r"missing leaves \[\"\['id'\]\"\]"):
        tracer.add({"pos": np.zeros(3)}, (0, 1), 1.0, False, False, {"pos": np.zeros(3), "id": 1})


def test_the_callers_arrays_are_copied():
    tracer = NStepTracer(2, 1.0)
    s, s_next = np.zeros(2), np.ones(2)
    tracer.add(s, 0, 1.0, False, False, s_next)
    s += 10
    s_next += 10  # changed in place after the step: the tracer keeps what it was given
    tb = tracer.flush()
    assert tb.S.tolist() == [[0.0, 0.0]] and tb.S_next.tolist() == [[1.0, 1.0]]


def test_reset_drops_the_pending_steps_and_the_layout():
    tracer = NStepTracer(3, 0.9)
    tracer.add(0, 0, 1.0, False, False, 1)
    tracer.reset()
    assert len(tracer) == 0 and tracer.flush() is None
    tb = tracer.add(np.zeros(2), 0.5, 1.0, True, False, np.ones(2))  # another layout now
    assert tb.S.shape == (1, 2) and tb.A.tolist() == [0.5]


def test_properties_and_repr():
    tracer = NStepTracer(3, 0.9)
    assert (tracer.n, tracer.gamma, tracer.num_envs, tracer.autoreset_mode) == (
        3,
        0.9,
        None,
        "next_step",
    )
    tracer.add(0, 0, 1.0, False, False, 1)
    assert repr(tracer) == "NStepTracer(n=3, gamma=0.9, pending=1)"


def test_a_pickled_tracer_continues_exactly():
    tracer = NStepTracer(3, 0.9)
    obs = [{"pos": np.full(2, t, np.float32), "id": np.int32(t)} for t in range(10)]
    for t in range(2):
        tracer.add(obs[t], t, float(t), False, False, obs[t + 1], logp=-t)
    copies = [pickle.loads(pickle.dumps(tracer)), copy.deepcopy(tracer)]
    for t in range(2, 9):
        term = t == 6
        expected = tracer.add(obs[t], t, float(t), term, False, obs[t + 1], logp=-t)
        for c in copies:
            got = c.add(obs[t], t, float(t), term, False, obs[t + 1], logp=-t)
            assert (got is None) == (expected is None)
            if got is not None:
                assert got == expected and got.S["id"].dtype == np.int32
    assert all(len(c) == len(tracer) == 2 for c in copies)


class _Pickled:
    """Pickles as rlu-replay 0.1.1 pickled a tracer: the class and its instance dict."""

    def __init__(self, state):
        self.state = state

    def __reduce__(self):
        return copyreg._reconstructor, (NStepTracer, object, None), self.state


def test_a_tracer_pickled_by_rlu_replay_0_1_1_continues_exactly():
    n, gamma = 3, 0.9
    obs = [np.array([t, -t], np.float32) for t in range(8)]
    # the released tracer after steps 0..4 (two steps into an episode that began at 3): it held
    # the steps 3 and 4 as (s, a, logp, r), and S_5
    state = {
        "_n": n,
        "_gamma": gamma,
        "_powers": gamma ** np.arange(n + 1, dtype=np.float64),
        "_batch_type": TransitionBatch,
        "_pending": deque([(obs[3], np.int64(1), -0.3, 3.0), (obs[4], np.int64(0), -0.4, 4.0)]),
        "_last_s_next": obs[5],
    }
    loaded = pickle.loads(pickle.dumps(_Pickled(state)))
    assert isinstance(loaded, NStepTracer) and len(loaded) == 2
    fresh = NStepTracer(n, gamma)
    for t in (3, 4):
        fresh.add(obs[t], np.int64(t % 2), float(t), False, False, obs[t + 1], logp=-t / 10)
    for tracer in (loaded, fresh):
        tb = tracer.add(obs[5], np.int64(1), 5.0, False, True, obs[6])
        assert tb.S[:, 0].tolist() == [3.0, 4.0, 5.0] and tb.A.tolist() == [1, 0, 1]
        np.testing.assert_allclose(tb.Rn, [3 + 0.9 * 4 + 0.81 * 5, 4 + 0.9 * 5, 5], rtol=1e-6)
        np.testing.assert_allclose(tb.In, [0.729, 0.81, 0.9], rtol=1e-6)
        np.testing.assert_allclose(tb.logP, [-0.3, -0.4, 0.0], rtol=1e-6)
        assert tb.S_next.tolist() == [[6.0, -6.0]] * 3


def test_the_fixture_tracer_of_rlu_replay_0_1_1_continues_as_it_did(released):
    class TracerOnly(released.Unpickler):
        """Loads the pickle with its buffers replaced by stand-ins: this tests the tracer only."""

        class StandIn:
            def __init__(self, *args, **kwargs):
                pass

            def __setstate__(self, state):
                pass

        def find_class(self, module, name):
            if module.startswith(("rlu_replay._buffer", "rlu_trees")):
                return self.StandIn
            return super().find_class(module, name)

    expected = released.expected
    tracer, _, _ = released.loads(released.saved, TracerOnly)
    assert isinstance(tracer, NStepTracer) and (tracer.n, tracer.gamma) == (3, 0.9)

    def step(t):  # as fixtures/write_fixtures.py steps its tracer
        s = np.array([t, t + 0.5], np.float32)
        return s, np.int64(t % 2), float(t) - 1.5, t % 7 == 6, t % 11 == 10, s + 1

    later = [tracer.add(*step(t)) for t in range(14, 18)]
    first = next(tb for tb in later if tb is not None)
    for field in ("S", "Rn", "In", "S_next"):
        got, want = getattr(first, field), expected[f"tracer_{field}"]
        assert got.dtype == want.dtype, field
        np.testing.assert_array_equal(got, want, err_msg=field)


def test_making_and_using_a_tracer_loads_no_gymnasium():
    code = (
        "import sys; from rlu_replay import NStepTracer; "
        "t = NStepTracer(2, 0.9); t.add(0, 0, 1.0, True, False, 1); "
        "import numpy as np; t = NStepTracer(2, 0.9, num_envs=2); "
        "t.add(np.zeros(2), np.ones(2), [1.0, 1.0], [1, 0], [0, 0], np.ones(2)); "
        "print(sorted({'gymnasium', 'rlu_envtools', 'jax'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
