"""NStepTracer over vector environments (``num_envs``), in the three autoreset modes.

A simulated vector environment emits what gymnasium 1.x's SyncVectorEnv emits in each mode; the
tracer's output must equal a brute-force n-step model of each environment's episodes and the
output of one single-environment tracer per environment fed that environment's real steps.
Real gymnasium vector environments (CartPole) check that no transition crosses a reset.
"""

from __future__ import annotations

import enum
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_replay import NStepTracer

MODES = ("next_step", "same_step", "disabled")


# ----------------------------------------------------------------------------------------------
# a simulated vector environment


class Env:
    """One environment of a scripted stream: each observation is unique (env, counter)."""

    def __init__(self, index, rng):
        self.index, self.rng, self.counter = index, rng, 0
        self.episodes = []  # [(steps [(s, a, r)], end (kind, final obs))], the last one open
        self.obs = self.fresh()
        self.left = self.new_episode()

    def fresh(self):
        self.counter += 1
        return {"x": np.array([self.index, self.counter], np.float32), "id": self.counter}

    def new_episode(self):
        self.episodes.append(([], None))
        return int(self.rng.integers(1, 6))

    def step(self, action):
        """One real step: (s_next, r, terminated, truncated)."""
        s_next = self.fresh()
        r = float(self.rng.normal())
        self.episodes[-1][0].append((self.obs, action, r))
        self.left -= 1
        terminated = truncated = False
        if self.left == 0:
            kind = self.rng.choice(["terminated", "truncated", "both"], p=[0.45, 0.45, 0.1])
            terminated, truncated = kind in ("terminated", "both"), kind in ("truncated", "both")
            self.episodes[-1] = (
                self.episodes[-1][0],
                ("terminated" if terminated else "truncated", s_next),
            )
        return s_next, r, terminated, truncated

    def reset(self):
        self.obs = self.fresh()
        self.left = self.new_episode()
        return self.obs


def stack(observations):
    return {
        "x": np.stack([o["x"] for o in observations]),
        "id": np.array([o["id"] for o in observations], np.int64),
    }


def run_vector(num_envs, mode, steps, seed, tracer, singles, forms):
    """Step ``num_envs`` scripted environments as gymnasium's vector env would in ``mode``.

    Feeds every vector step to ``tracer`` and every real step of environment i to
    ``singles[i]``; returns the vector tracer's batches and the singles' batches per step.
    """
    rng = np.random.default_rng(seed)
    envs = [Env(i, np.random.default_rng([seed, i])) for i in range(num_envs)]
    autoreset = [False] * num_envs
    got, want = [], []
    for _ in range(steps):
        s = stack([e.obs for e in envs])
        actions = rng.integers(0, 100, num_envs)
        r = np.zeros(num_envs)
        term = np.zeros(num_envs, bool)
        trunc = np.zeros(num_envs, bool)
        s_next, finals = [], np.full(num_envs, None, dtype=object)
        single_out = []
        for i, env in enumerate(envs):
            if mode == "next_step" and autoreset[i]:
                s_next.append(env.reset())  # the reset step: reward 0, flags False
                autoreset[i] = False
                continue
            before = env.obs
            obs, r[i], term[i], trunc[i] = env.step(int(actions[i]))
            out = singles[i].add(
                before, int(actions[i]), r[i], term[i], trunc[i], obs, logp=-float(actions[i])
            )
            if out is not None:
                single_out.append(out)
            ended = term[i] or trunc[i]
            if ended and mode == "same_step":
                finals[i] = obs
                s_next.append(env.reset())
            elif ended and mode == "next_step":
                env.obs = obs
                s_next.append(obs)
                autoreset[i] = True
            elif ended:  # disabled: the caller resets it before the next step
                s_next.append(obs)
                env.reset()
            else:
                env.obs = obs
                s_next.append(obs)
        info = {}
        if mode == "same_step" and (term | trunc).any():
            if forms["batched_final_obs"]:
                batched = stack(
                    [f if f is not None else o for f, o in zip(finals, s_next, strict=True)]
                )
                info = {"final_obs": batched}
            else:
                info = {"final_obs": finals, "_final_obs": term | trunc}
        got.append(
            tracer.add(
                s,
                actions.astype(forms["action_dtype"]),
                r.tolist() if forms["lists"] else r,
                term.astype(np.int64) if forms["int_flags"] else term,
                trunc.tolist() if forms["lists"] else trunc,
                stack(s_next),
                logp=-actions.astype(np.float32),
                info=info,
            )
        )
        want.append(concat(single_out))
    got.append(tracer.flush())
    want.append(concat([out for t in singles if (out := t.flush()) is not None]))
    for env in envs:  # what flush does to the open episodes
        steps_, end = env.episodes[-1]
        if end is None and steps_:
            env.episodes[-1] = (steps_, ("truncated", env.obs))
        elif end is None:
            env.episodes.pop()
    return got, want, envs


def concat(batches):
    """The single tracers' batches of one step, environment by environment, as one batch."""
    if not batches:
        return None
    fields = {}
    for name in ("S", "A", "logP", "Rn", "In", "S_next"):
        values = [getattr(tb, name) for tb in batches]
        if isinstance(values[0], dict):
            fields[name] = {k: np.concatenate([v[k] for v in values]) for k in values[0]}
        else:
            fields[name] = np.concatenate(values)
    return fields


def brute_force(episodes, n, gamma):
    """Every n-step transition of an environment: (s id, a, Rn, In, s_next id), by definition."""
    out = []
    for steps, (kind, final) in episodes:
        states = [s for s, _, _ in steps] + [final]
        length = len(steps)
        for t in range(length):
            m = min(n, length - t)
            rn = sum(gamma**k * steps[t + k][2] for k in range(m))
            i_n = 0.0 if kind == "terminated" and t + m == length else gamma**m
            out.append((states[t]["id"], steps[t][1], rn, i_n, states[t + m]["id"]))
    return out


def assert_same(tb, fields):
    assert (tb is None) == (fields is None)
    if tb is None:
        return
    for name, value in fields.items():
        got = getattr(tb, name)
        if isinstance(value, dict):
            for k in value:
                np.testing.assert_array_equal(got[k], value[k], err_msg=f"{name}[{k!r}]")
                assert got[k].dtype == value[k].dtype
        else:
            np.testing.assert_array_equal(got, value, err_msg=name)
            assert got.dtype == value.dtype


@settings(max_examples=150, deadline=None)
@given(
    num_envs=st.integers(1, 4),
    n=st.integers(1, 4),
    gamma=st.sampled_from([0.0, 0.5, 0.9, 1.0]),
    mode=st.sampled_from(MODES),
    steps=st.integers(0, 40),
    seed=st.integers(0, 2**32 - 1),
    forms=st.fixed_dictionaries(
        {
            "batched_final_obs": st.booleans(),
            "lists": st.booleans(),
            "int_flags": st.booleans(),
            "action_dtype": st.sampled_from([np.int64, np.int32]),
        }
    ),
)
def test_vector_steps_match_brute_force_and_single_tracers(
    num_envs, n, gamma, mode, steps, seed, forms
):
    tracer = NStepTracer(n, gamma, num_envs=num_envs, autoreset_mode=mode)
    singles = [NStepTracer(n, gamma) for _ in range(num_envs)]
    got, want, envs = run_vector(num_envs, mode, steps, seed, tracer, singles, forms)
    assert len(tracer) == 0

    # (b) step by step, exactly what one tracer per environment emits, environment by environment
    for tb, fields in zip(got, want, strict=True):
        if fields is not None:
            fields["A"] = fields["A"].astype(forms["action_dtype"])  # the singles got Python ints
            fields["logP"] = fields["logP"].astype(np.float32)
        assert_same(tb, fields)

    # (a) per environment, in order, the n-step transitions of its episodes written out directly
    emitted = [[] for _ in range(num_envs)]
    for tb in got:
        if tb is None:
            continue
        env_of = tb.S["x"][:, 0].astype(int)
        assert (np.diff(env_of) >= 0).all()  # environment 0 first
        assert (tb.S_next["x"][:, 0] == env_of).all()
        for j, i in enumerate(env_of):
            emitted[i].append(
                (tb.S["id"][j], tb.A[j], tb.Rn[j], tb.In[j], tb.S_next["id"][j], tb.logP[j])
            )
    for i, env in enumerate(envs):
        expected = brute_force(env.episodes, n, gamma)
        assert len(emitted[i]) == len(expected)
        for g, e in zip(emitted[i], expected, strict=True):
            assert (g[0], g[1], g[4]) == (e[0], e[1], e[4])
            np.testing.assert_allclose(g[2], e[2], rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(g[3], e[3], rtol=1e-6)
            assert g[5] == -g[1]


# ----------------------------------------------------------------------------------------------
# the vector API


def vector_step(k, t=0, *, ended=()):
    """A vector step of ``k`` environments: states t*10 + i, actions i, rewards 1."""
    s = np.arange(k) + 10.0 * t
    term = np.isin(np.arange(k), ended)
    return s, np.arange(k), np.ones(k), term, np.zeros(k, bool), s + 10


def test_next_step_skips_the_reset_step_of_each_ended_environment():
    tracer = NStepTracer(1, 0.5, num_envs=3)
    tb = tracer.add(*vector_step(3, 0, ended=[1]))
    assert tb.S.tolist() == [0, 1, 2] and tb.In.tolist() == [0.5, 0.0, 0.5]
    tb = tracer.add(*vector_step(3, 1))  # environment 1's reset step
    assert tb.S.tolist() == [10, 12] and len(tracer) == 0
    tb = tracer.add(*vector_step(3, 2))
    assert tb.S.tolist() == [20, 21, 22]


def test_next_step_ignores_the_flags_of_a_reset_step():
    tracer = NStepTracer(1, 0.5, num_envs=2)
    tracer.add(*vector_step(2, 0, ended=[0]))
    tb = tracer.add(*vector_step(2, 1, ended=[0]))  # the reset step's flags: not an end
    assert tb.S.tolist() == [11]
    assert tracer.add(*vector_step(2, 2)).S.tolist() == [20, 21]  # so nothing more is skipped


def test_same_step_bootstraps_from_the_final_observation():
    tracer = NStepTracer(2, 0.5, num_envs=2, autoreset_mode="same_step")
    s = np.array([[0.0], [10.0]])
    tracer.add(s, np.zeros(2), np.ones(2), [False, False], [False, False], s + 1)
    final = np.array([None, np.array([12.0])], dtype=object)
    reset = np.array([[2.0], [-7.0]])  # environment 1 was reset to -7 within the step
    tb = tracer.add(
        s + 1,
        np.zeros(2),
        np.ones(2),
        [False, True],
        [False, False],
        reset,
        info={"final_obs": final, "_final_obs": np.array([False, True])},
    )
    assert tb.S[:, 0].tolist() == [0.0, 10.0, 11.0]
    assert tb.S_next[:, 0].tolist() == [2.0, 12.0, 12.0]
    assert tb.In.tolist() == [0.25, 0.0, 0.0]
    assert reset.tolist() == [[2.0], [-7.0]]  # the caller's array is left as it was
    tb = tracer.add(
        np.array([[2.0], [-7.0]]),
        np.zeros(2),
        np.ones(2),
        [False, False],
        [False, False],
        np.array([[3.0], [-6.0]]),
    )
    assert tb.S[:, 0].tolist() == [1.0] and tracer.flush().S[:, 0].tolist() == [2.0, -7.0]


def test_same_step_accepts_batched_final_observations():
    tracer = NStepTracer(1, 0.5, num_envs=2, autoreset_mode="same_step")
    s = {"pos": np.zeros((2, 3)), "id": np.array([0, 1])}
    final = {"pos": np.full((2, 3), 5.0), "id": np.array([50, 51])}
    tb = tracer.add(
        s, np.zeros(2), np.ones(2), [True, False], [False, False], s, info={"final_obs": final}
    )
    assert tb.S_next["id"].tolist() == [50, 1] and tb.S_next["pos"][0].tolist() == [5.0] * 3


def test_disabled_replaces_and_skips_nothing():
    tracer = NStepTracer(1, 0.5, num_envs=2, autoreset_mode="disabled")
    tracer.add(*vector_step(2, 0, ended=[0]))
    tb = tracer.add(*vector_step(2, 1))
    assert tb.S.tolist() == [10, 11]


class AutoresetMode(enum.Enum):  # as gymnasium.vector.AutoresetMode, matched by value
    NEXT_STEP = "NextStep"
    SAME_STEP = "SameStep"
    DISABLED = "Disabled"


@pytest.mark.parametrize(
    "mode, expected",
    [
        (AutoresetMode.NEXT_STEP, "next_step"),
        (AutoresetMode.SAME_STEP, "same_step"),
        (AutoresetMode.DISABLED, "disabled"),
        ("SameStep", "same_step"),
        ("disabled", "disabled"),
    ],
)
def test_autoreset_modes_are_matched_by_value(mode, expected):
    assert NStepTracer(2, 0.9, num_envs=2, autoreset_mode=mode).autoreset_mode == expected


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"num_envs": 0}, ValueError, "num_envs must be an int >= 1"),
        ({"num_envs": 2.0}, TypeError, "num_envs must be an int"),
        ({"num_envs": True}, TypeError, "num_envs must be an int"),
        (
            {"autoreset_mode": "reset"},
            ValueError,
            "autoreset_mode must be 'next_step', 'same_step'",
        ),
        ({"autoreset_mode": None}, ValueError, "autoreset_mode must be"),
    ],
)
def test_constructor_checks(kwargs, error, match):
    with pytest.raises(error, match=match):
        NStepTracer(2, 0.9, **{"num_envs": 2, **kwargs})


def test_properties_len_and_repr():
    tracer = NStepTracer(3, 0.9, num_envs=2, autoreset_mode="same_step")
    assert (tracer.num_envs, tracer.autoreset_mode) == (2, "same_step")
    tracer.add(*vector_step(2))
    tracer.add(*vector_step(2, 1))
    assert len(tracer) == 4
    assert repr(tracer) == (
        "NStepTracer(n=3, gamma=0.9, num_envs=2, autoreset_mode='same_step', pending=4)"
    )
    assert tracer.flush().batch_size == 4 and len(tracer) == 0


def test_reset_forgets_the_ended_environments():
    tracer = NStepTracer(1, 0.5, num_envs=2)
    tracer.add(*vector_step(2, 0, ended=[0]))
    tracer.reset()  # with envs.reset(): the next step is a real one for every environment
    assert tracer.add(*vector_step(2, 1)).S.tolist() == [10, 11]


def test_flush_keeps_the_ended_environments():
    tracer = NStepTracer(3, 0.5, num_envs=2)
    tracer.add(*vector_step(2, 0, ended=[0]))
    assert tracer.flush().S.tolist() == [1]
    tracer.add(*vector_step(2, 1))  # environment 0's reset step: skipped
    assert tracer.flush().S.tolist() == [11]


def test_jax_arrays_are_stored_as_numpy():
    jnp = pytest.importorskip("jax.numpy")
    tracer = NStepTracer(1, 0.5, num_envs=2)
    tb = tracer.add(
        {"pos": jnp.zeros((2, 3))},
        jnp.array([1, 0]),
        jnp.ones(2),
        jnp.array([True, False]),
        jnp.zeros(2, bool),
        {"pos": jnp.ones((2, 3))},
        logp=jnp.float32(-1.0),
    )
    assert type(tb.S["pos"]) is np.ndarray and tb.S["pos"].dtype == np.float32
    assert type(tb.A) is np.ndarray and tb.A.dtype == np.int32
    assert tb.In.tolist() == [0.0, 0.5] and tb.logP.tolist() == [-1.0, -1.0]


def test_a_pickled_vector_tracer_continues_exactly():
    tracer = NStepTracer(3, 0.9, num_envs=3)
    tracer.add(*vector_step(3, 0))
    tracer.add(*vector_step(3, 1, ended=[2]))  # environment 2 is reset in the next step
    loaded = pickle.loads(pickle.dumps(tracer))
    emitted = 0
    for t in range(2, 8):
        step = vector_step(3, t, ended=[t % 3])
        a, b = tracer.add(*step), loaded.add(*step)
        assert (a is None) == (b is None)
        if a is not None:
            assert a == b and a.S.tolist() == b.S.tolist()
            emitted += a.batch_size
    assert emitted > 0 and len(tracer) == len(loaded) > 0
    assert tracer.flush().S.tolist() == loaded.flush().S.tolist()


def dict_step(k=2, t=0):
    s = {"pos": np.full((k, 3), float(t)), "id": np.arange(k) + 10 * t}
    return s, np.zeros(k, np.int64), np.ones(k), np.zeros(k, bool), np.zeros(k, bool), s


def replace(step, **changes):
    names = ("s", "a", "r", "terminated", "truncated", "s_next")
    args = dict(zip(names, step, strict=True))
    args.update(changes)
    return args


@pytest.mark.parametrize(
    "changes, error, match",
    [
        ({"r": np.ones(3)}, ValueError, r"^r must have shape \(2,\)"),
        ({"r": 1.0}, ValueError, r"^r must have shape \(2,\)"),
        ({"r": ["a", "b"]}, TypeError, "^r must be an array of real numbers"),
        ({"r": np.array([1.0, np.inf])}, ValueError, "^r must be finite, got inf at position 1"),
        ({"r": np.array([True, False])}, TypeError, "^r must be"),
        ({"terminated": [0.0, 1.0]}, TypeError, "^terminated must be an array of bools"),
        ({"terminated": [0, 2]}, ValueError, "^terminated must hold bools .* at position 1"),
        ({"truncated": [False]}, ValueError, r"^truncated must have shape \(2,\)"),
        ({"logp": np.zeros(3)}, ValueError, r"^logp must have shape \(2,\)"),
        ({"logp": "x"}, TypeError, "^logp must be"),
        (
            {"s": {"pos": np.zeros((3, 3)), "id": np.arange(2)}},
            ValueError,
            r"^s\['pos'\] must have a leading axis of length num_envs=2",
        ),
        (
            {"s": {"pos": np.zeros((2, 4)), "id": np.arange(2)}},
            ValueError,
            r"^s\['pos'\] must have shape \(2, 3\), fixed by the first step",
        ),
        (
            {"s": {"pos": np.zeros((2, 3)), "id": np.zeros(2)}},
            TypeError,
            r"^s\['id'\] has dtype float64, which numpy's same_kind rule does not cast to int64",
        ),
        ({"s_next": {"pos": np.zeros((2, 3))}}, ValueError, "^s_next must have the structure"),
        ({"a": np.zeros(2)}, TypeError, "^a has dtype float64"),
        ({"a": np.int64(0)}, ValueError, "^a must have a leading axis"),
    ],
)
def test_a_refused_vector_step_changes_nothing(changes, error, match):
    tracer = NStepTracer(2, 0.9, num_envs=2)
    tracer.add(*dict_step(2, 0))
    before = pickle.dumps(tracer)
    with pytest.raises(error, match=match):
        tracer.add(**replace(dict_step(2, 1), **changes))
    assert pickle.dumps(tracer) == before
    tb = tracer.add(*dict_step(2, 1))
    assert tb.S["id"].tolist() == [0, 1] and tb.S_next["id"].tolist() == [10, 11]


@pytest.mark.parametrize(
    "info, error, match",
    [
        (None, ValueError, r"^info must be the info dict of the vector step, .*\[1\] ended"),
        ({"episode": 1}, ValueError, "^info must be the info dict"),
        (
            {"final_obs": np.array([None, None], dtype=object)},
            ValueError,
            r"^info\['final_obs'\]\[1\] must be the final observation of environment 1",
        ),
        (
            {"final_obs": np.array([None, 5.5], dtype=object)},
            TypeError,
            r"^info\['final_obs'\]\[1\] has dtype float64",
        ),
        (
            {"final_obs": np.zeros(3, np.int64)},
            ValueError,
            r"^info\['final_obs'\] must have a leading axis",
        ),
    ],
)
def test_same_step_without_the_final_observation_is_refused(info, error, match):
    tracer = NStepTracer(2, 0.9, num_envs=2, autoreset_mode="same_step")
    s = np.array([10, 11])  # int states
    tracer.add(s - 10, np.zeros(2, int), np.ones(2), [False, False], [False, False], s)
    before = pickle.dumps(tracer)
    with pytest.raises(error, match=match):
        tracer.add(s, np.zeros(2, int), np.ones(2), [False, True], [False, False], s, info=info)
    assert pickle.dumps(tracer) == before


def test_a_refused_step_does_not_forget_the_ended_environments():
    tracer = NStepTracer(1, 0.9, num_envs=2)
    tracer.add(*vector_step(2, 0, ended=[0]))
    with pytest.raises(ValueError, match="^r must"):
        tracer.add(**replace(vector_step(2, 1), r=np.ones(5)))
    assert tracer.add(*vector_step(2, 1)).S.tolist() == [11]  # the reset step is still skipped


# ----------------------------------------------------------------------------------------------
# real gymnasium vector environments


def cartpole_links(s, s_next):
    """Whether each (s, s_next) is one step of CartPole's Euler integration (not a reset)."""
    tau = 0.02
    return np.isclose(s_next[:, 0], s[:, 0] + tau * s[:, 1], atol=1e-5) & np.isclose(
        s_next[:, 2], s[:, 2] + tau * s[:, 3], atol=1e-5
    )


def gymnasium_modes():
    """The autoreset modes of the installed gymnasium: 1.0 has next-step autoreset only."""
    import gymnasium

    return (
        ["next_step", "same_step"] if hasattr(gymnasium.vector, "AutoresetMode") else ["next_step"]
    )


def run_cartpole(envs, steps, rng):
    """Step ``envs`` with random actions into a 1-step tracer; also list the real steps."""
    k = envs.num_envs
    # gymnasium 1.0's vector environments have no autoreset_mode: they reset on the next step
    mode = envs.metadata.get("autoreset_mode", "next_step")
    tracer = NStepTracer(1, 0.99, num_envs=k, autoreset_mode=mode)
    mode = getattr(mode, "value", "NextStep")
    obs, _ = envs.reset(seed=int(rng.integers(2**31)))
    batches, real = [], []  # real: (s, a, terminated, s_next) of every real step, in order
    resetting = np.zeros(k, bool)
    for _ in range(steps):
        actions = rng.integers(0, 2, k)
        obs_next, r, term, trunc, info = envs.step(actions)
        for i in range(k):
            if mode == "NextStep" and resetting[i]:
                continue
            ended = term[i] or trunc[i]
            final = info["final_obs"][i] if mode == "SameStep" and ended else obs_next[i]
            real.append((obs[i], actions[i], term[i], final))
        tb = tracer.add(obs, actions, r, term, trunc, obs_next, info=info)
        if tb is not None:
            batches.append(tb)
        resetting = term | trunc
        obs = obs_next
    if (tb := tracer.flush()) is not None:
        batches.append(tb)
    return batches, real


@pytest.mark.parametrize("mode", gymnasium_modes())
def test_sync_vector_cartpole_stores_no_transition_across_a_reset(mode):
    gym = pytest.importorskip("gymnasium")
    make = [lambda: gym.make("CartPole-v1") for _ in range(3)]
    if hasattr(gym.vector, "AutoresetMode"):  # gymnasium >= 1.1
        mode_name = {"next_step": "NextStep", "same_step": "SameStep"}[mode]
        envs = gym.vector.SyncVectorEnv(make, autoreset_mode=mode_name)
    else:
        envs = gym.vector.SyncVectorEnv(make)
    try:
        batches, real = run_cartpole(envs, 300, np.random.default_rng(0))
    finally:
        envs.close()
    s = np.concatenate([tb.S for tb in batches])
    s_next = np.concatenate([tb.S_next for tb in batches])
    a = np.concatenate([tb.A for tb in batches])
    i_n = np.concatenate([tb.In for tb in batches])
    assert sum(int(term) for *_, term, _ in real) >= 10  # episodes did end, in every env
    assert len(s) == len(real)  # a transition for every real step, none for a reset step
    assert cartpole_links(s, s_next).all()  # the physics links every S to its S_next
    np.testing.assert_array_equal(s, [x[0] for x in real])
    np.testing.assert_array_equal(a, [x[1] for x in real])
    np.testing.assert_array_equal(s_next, [x[3] for x in real])
    np.testing.assert_allclose(i_n, [0.0 if x[2] else 0.99 for x in real], rtol=1e-6)
    if mode == "next_step":
        assert len(real) < 3 * 300  # reset steps were skipped


def test_async_vector_env_smoke():
    gym = pytest.importorskip("gymnasium")
    envs = gym.vector.AsyncVectorEnv(
        [lambda: gym.make("CartPole-v1") for _ in range(2)], context="spawn"
    )
    try:
        batches, real = run_cartpole(envs, 40, np.random.default_rng(1))
    finally:
        envs.close()
    s = np.concatenate([tb.S for tb in batches])
    s_next = np.concatenate([tb.S_next for tb in batches])
    assert len(s) == len(real) and cartpole_links(s, s_next).all()
