"""make_dmc on dm_control's cartpole, with real MuJoCo physics and real rendering."""

import sys

import gymnasium
import numpy as np
import pytest
from rlu_envtools import make_dmc
from rlu_envtools._dmc import DmcEnv, episode_end


@pytest.fixture(scope="module")
def short_env(dm_suite):
    # cartpole runs at 0.01 s per step: a 0.12 s time limit ends the episode after 12 steps
    env = make_dmc(
        "cartpole", "swingup", seed=1, max_episode_steps=None, time_limit=0.12, height=24, width=32
    )
    yield env
    env.close()


def test_natural_time_limit_is_truncation_not_termination(short_env):
    env = short_env
    assert env.spec.max_episode_steps is None  # no gymnasium TimeLimit: dm_control ends it
    s, info = env.reset(seed=0)
    env.action_space.seed(0)
    flags = []
    while True:
        s, r, terminated, truncated, info = env.step(env.action_space.sample())
        flags.append((terminated, truncated))
        assert isinstance(r, float) and 0.0 <= r <= 1.0
        if terminated or truncated:
            break
    # coax reported terminated=True here, which zeroes the bootstrap target of a cut episode
    assert flags == [(False, False)] * 11 + [(False, True)]
    assert info["discount"] == 1.0
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(1, np.float32))
    env.reset()
    assert env.step(np.zeros(1, np.float32))[3] is False  # a new episode runs again


def test_spaces_and_observations(short_env):
    env = short_env
    assert env.observation_space == gymnasium.spaces.Box(-np.inf, np.inf, (5,), np.float32)
    assert env.action_space == gymnasium.spaces.Box(-1.0, 1.0, (1,), np.float32)
    s, info = env.reset(seed=2)
    assert s.dtype == np.float32 and env.observation_space.contains(s)
    # cartpole's observation dict is position (cos/sin of the pole angle, cart x) + velocity
    pos = env.unwrapped.dmc_env.physics
    assert s[1] ** 2 + s[2] ** 2 == pytest.approx(1.0, abs=1e-5)
    assert s[0] == pytest.approx(float(pos.cart_position()), abs=1e-6)
    s2, *_ = env.step(np.array([1.0], np.float32))
    assert env.observation_space.contains(s2)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(2))


def test_reset_seed_reseeds_the_task(short_env):
    env = short_env
    a, _ = env.reset(seed=11)
    b, _ = env.reset(seed=12)
    c, _ = env.reset(seed=11)
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)
    fresh = make_dmc("cartpole", "swingup", seed=11, time_limit=0.12)
    np.testing.assert_array_equal(fresh.reset()[0], a)
    fresh.close()


def test_max_episode_steps_truncates(dm_suite):
    env = make_dmc("cartpole", "balance", seed=0, max_episode_steps=3)
    assert env.spec.max_episode_steps == 3
    env.reset(seed=0)
    out = [env.step(np.zeros(1, np.float32))[2:4] for _ in range(3)]
    assert out == [(False, False), (False, False), (False, True)]
    env.close()


def test_frame_skip_sums_rewards_and_respects_episode_end(dm_suite):
    skip = make_dmc(
        "cartpole", "swingup", seed=3, max_episode_steps=None, time_limit=0.05, frame_skip=2
    )
    single = make_dmc("cartpole", "swingup", seed=3, max_episode_steps=None, time_limit=0.05)
    s_skip, _ = skip.reset(seed=3)
    s_single, _ = single.reset(seed=3)
    np.testing.assert_array_equal(s_skip, s_single)
    actions = [
        np.array([0.7], np.float32),
        np.array([-0.4], np.float32),
        np.array([0.2], np.float32),
    ]
    results = []
    for a in actions:
        s_skip, r_skip, term, trunc, _ = skip.step(a)
        r_single = 0.0
        for _ in range(2):
            s_single, r, term1, trunc1, _ = single.step(a)
            r_single += r
            if term1 or trunc1:
                break
        np.testing.assert_allclose(s_skip, s_single)
        assert r_skip == pytest.approx(r_single)
        results.append((term, trunc))
    # 5 dm_control steps: 2 + 2 + 1, the last outer step is cut short by the time limit
    assert results == [(False, False), (False, False), (False, True)]
    assert skip.metadata["render_fps"] == 50
    skip.close()
    single.close()


def test_render_is_real_and_sized(short_env, mujoco_gl):
    env = short_env
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (24, 32, 3) and frame.dtype == np.uint8
    assert frame.std() > 5  # a real scene, not a blank image
    for _ in range(5):
        env.step(np.ones(1, np.float32))
    assert not np.array_equal(env.render(), frame)  # the cart moved


def test_each_call_gets_its_own_settings(dm_suite, mujoco_gl):
    # coax registered the id once and silently reused the first call's seed and sizes
    a = make_dmc("cartpole", "balance", seed=0, height=16, width=20)
    b = make_dmc("cartpole", "balance", seed=5, height=12, width=8, camera_id=1)
    a.reset()
    b.reset()
    assert a.render().shape == (16, 20, 3)
    assert b.render().shape == (12, 8, 3)
    assert a.spec.id == b.spec.id == "rlu_dmc/cartpole-balance-v0"
    a.close()
    b.close()


def test_from_pixels(dm_suite, mujoco_gl):
    env = make_dmc(
        "cartpole", "swingup", seed=0, height=20, width=28, from_pixels=True, max_episode_steps=2
    )
    assert env.observation_space == gymnasium.spaces.Box(0, 255, (20, 28, 3), np.uint8)
    o, _ = env.reset(seed=0)
    assert env.observation_space.contains(o)
    np.testing.assert_array_equal(o, env.render())
    o2, r, term, trunc, _ = env.step(np.ones(1, np.float32))
    assert o2.shape == (20, 28, 3) and (term, trunc) == (False, False)
    env.close()


def test_episode_end_on_stand_in_timesteps():
    from collections import namedtuple

    Step = namedtuple("Step", "last discount")
    assert episode_end(Step(lambda: True, 0.0)) == (True, False)
    assert episode_end(Step(lambda: True, 1.0)) == (False, True)
    assert episode_end(Step(lambda: True, None)) == (False, True)
    assert episode_end(Step(lambda: False, 1.0)) == (False, False)


def test_episode_end_on_real_dm_env_timesteps(dm_suite):
    import dm_env

    obs = {"x": np.zeros(1)}
    assert episode_end(dm_env.termination(reward=1.0, observation=obs)) == (True, False)
    assert episode_end(dm_env.truncation(reward=1.0, observation=obs)) == (False, True)
    assert episode_end(dm_env.truncation(reward=1.0, observation=obs, discount=0.5)) == (
        False,
        True,
    )
    assert episode_end(dm_env.transition(reward=1.0, observation=obs)) == (False, False)
    assert episode_end(dm_env.restart(observation=obs)) == (False, False)


def test_unknown_task(dm_suite):
    with pytest.raises(ValueError, match="tasks of 'cartpole'.*swingup"):
        make_dmc("cartpole", "fly")
    with pytest.raises(ValueError, match="domains"):
        make_dmc("spaceship", "fly")


# One table of bad arguments for every way of making the environment: make_dmc,
# gymnasium.make with the id make_dmc registered, and DmcEnv itself. The environment's
# constructor checks them all, before dm_control is imported.
BAD_ENV_ARGS = [
    ({"domain": 1}, TypeError, "domain"),
    ({"domain": 1}, ValueError, "domain"),  # coax: ValueError (from dm_control)
    ({"task": None}, TypeError, "task"),
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": 1.0}, TypeError, "seed"),
    ({"seed": True}, TypeError, "seed"),
    ({"height": 0}, ValueError, "height"),
    ({"height": np.int64(0)}, ValueError, "height"),
    ({"width": "84"}, TypeError, "width"),
    ({"camera_id": 1.0}, TypeError, "camera_id"),
    ({"frame_skip": 0}, ValueError, "frame_skip must be an int >= 1, got 0"),
    ({"frame_skip": 2.0}, TypeError, "frame_skip"),
    ({"time_limit": 0}, ValueError, "time_limit"),
    ({"time_limit": "1"}, TypeError, "time_limit"),
    ({"task_kwargs": [1]}, TypeError, "task_kwargs"),
    ({"environment_kwargs": 3}, TypeError, "environment_kwargs"),
]
# make_dmc's own argument (gymnasium's TimeLimit gets it)
BAD_MAKE_ARGS = [
    ({"max_episode_steps": 0}, ValueError, "max_episode_steps"),
    ({"max_episode_steps": 2.5}, TypeError, "max_episode_steps"),
]


def _registered_ids():
    return {k for k in gymnasium.registry if k.startswith("rlu_dmc/")}


@pytest.mark.parametrize("kwargs, exc, match", BAD_ENV_ARGS + BAD_MAKE_ARGS)
def test_bad_args_make_dmc(kwargs, exc, match):
    before = _registered_ids()
    args = {"domain": "cartpole", "task": "swingup", **kwargs}
    with pytest.raises(exc, match=match):
        make_dmc(**args)
    assert _registered_ids() == before  # a refused call registers nothing


@pytest.mark.parametrize("kwargs, exc, match", BAD_ENV_ARGS)
def test_bad_args_dmc_env(kwargs, exc, match):
    args = {"domain": "cartpole", "task": "swingup", **kwargs}
    with pytest.raises(exc, match=match):
        DmcEnv(**args)


@pytest.fixture(scope="module")
def registered_id(dm_suite):
    env = make_dmc("cartpole", "swingup", max_episode_steps=None, time_limit=0.05)
    env.close()
    return env.spec.id


@pytest.mark.parametrize("kwargs, exc, match", BAD_ENV_ARGS)
def test_bad_args_gymnasium_make(registered_id, kwargs, exc, match):
    # frame_skip=0 used to get past this path and fail with ZeroDivisionError
    with pytest.raises(exc, match=match):
        gymnasium.make(registered_id, **kwargs)


def test_gymnasium_make_with_the_registered_id_works(registered_id):
    env = gymnasium.make(registered_id, frame_skip=2, time_limit=0.04, seed=np.int64(3))
    env.reset(seed=0)
    assert env.unwrapped.frame_skip == 2 and env.metadata["render_fps"] == 50
    env.close()


def test_malformed_id_is_explained_by_the_environment():
    # gymnasium refuses this id; the environment's own check says what is wrong
    before = _registered_ids()
    with pytest.raises(TypeError, match="domain must be a str"):
        make_dmc(("cart", "pole"), "swingup")
    assert _registered_ids() == before


def test_refused_task_registers_nothing(dm_suite):
    before = _registered_ids()
    with pytest.raises(ValueError, match="tasks of 'cartpole'"):
        make_dmc("cartpole", "fly")
    assert _registered_ids() == before


@pytest.mark.parametrize(
    "version, note", [((3, 12, 7, "final", 0), False), ((3, 13, 0, "final", 0), True)]
)
def test_missing_dm_control_on_python_3_13_says_which_python(monkeypatch, version, note):
    # as if dm-control were not installed (even if an earlier test imported it) ...
    for name in ("dm_control", "dm_control.suite"):
        monkeypatch.setitem(sys.modules, name, None)
    with monkeypatch.context() as m:
        m.setattr(sys, "version_info", version)  # ... on this Python
        with pytest.raises(ImportError) as info:
            make_dmc("cartpole", "swingup")
    message = str(info.value)
    assert 'pip install "rlu-envtools[dmc]"' in message and "make_dmc" in message
    if note:
        assert "On Python 3.13" in message
        assert "labmaze has no wheel" in message and "use Python <= 3.12" in message
    else:
        assert "Python <=" not in message
