"""How make_dmc reports the end of an episode, as the dm_control guide states it.

docs/guides/environments.md: dm_control's time limit and ``max_episode_steps`` give
``truncated=True, terminated=False``; a last step with discount 0 (a real suite task, LQR, put
at its terminal state) gives ``terminated=True, truncated=False``.
"""

import numpy as np
import pytest
from rlu_envtools import make_dmc


def _run_to_the_end(env, action):
    """Step with ``action`` until the episode ends; the (terminated, truncated) of every step."""
    flags = []
    while True:
        *_, terminated, truncated, info = env.step(action)
        flags.append((terminated, truncated))
        if terminated or truncated:
            return flags, info


def _put_lqr_at_the_origin(env):
    """LQR's task ends (discount 0) once the state norm is below 1e-6: set the state to zero."""
    physics = env.unwrapped.dmc_env.physics
    with physics.reset_context():
        physics.data.qpos[:] = 0.0
        physics.data.qvel[:] = 0.0


@pytest.mark.parametrize(
    "limit",
    [
        # cartpole steps 0.01 s: dm_control's own 0.05 s time limit ends the episode on step 5
        {"max_episode_steps": None, "time_limit": 0.05},
        {"max_episode_steps": 5},  # gymnasium's step limit
    ],
    ids=["dm_control time limit", "max_episode_steps"],
)
def test_a_time_limit_is_truncation(dm_suite, limit):
    env = make_dmc("cartpole", "balance", seed=0, **limit)
    env.reset(seed=0)
    flags, info = _run_to_the_end(env, np.zeros(1, np.float32))
    assert flags == [(False, False)] * 4 + [(False, True)]
    assert info["discount"] == 1.0
    env.close()


def test_a_task_that_ends_itself_with_discount_0_terminates(dm_suite):
    env = make_dmc("lqr", "lqr_2_1", seed=0, max_episode_steps=None)
    zero = np.zeros(env.action_space.shape, np.float32)
    env.reset(seed=0)
    *_, terminated, truncated, info = env.step(zero)  # away from the origin: runs on
    assert (terminated, truncated, info["discount"]) == (False, False, 1.0)
    _put_lqr_at_the_origin(env)
    *_, terminated, truncated, info = env.step(zero)
    assert (terminated, truncated, info["discount"]) == (True, False, 0.0)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(zero)
    env.close()


def test_termination_inside_a_frame_skip_ends_the_step(dm_suite):
    env = make_dmc("lqr", "lqr_2_1", seed=0, max_episode_steps=None, frame_skip=3)
    env.reset(seed=0)
    _put_lqr_at_the_origin(env)  # this also sets the simulated time to 0
    inner = env.unwrapped.dmc_env
    assert inner.physics.data.time == 0.0
    *_, terminated, truncated, info = env.step(np.zeros(env.action_space.shape, np.float32))
    assert (terminated, truncated, info["discount"]) == (True, False, 0.0)
    # one dm_control step, not three: the repeats stop at the terminal step
    assert inner.physics.data.time == pytest.approx(inner.control_timestep())
    env.close()


def test_termination_on_the_last_allowed_step_is_both(dm_suite):
    # gymnasium's TimeLimit sets truncated on the max_episode_steps-th step whatever terminated is
    env = make_dmc("lqr", "lqr_2_1", seed=0, max_episode_steps=2)
    zero = np.zeros(env.action_space.shape, np.float32)
    env.reset(seed=0)
    assert env.step(zero)[2:4] == (False, False)
    _put_lqr_at_the_origin(env)
    *_, terminated, truncated, info = env.step(zero)
    assert (terminated, truncated, info["discount"]) == (True, True, 0.0)
    env.close()
