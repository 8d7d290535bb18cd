import os

import gymnasium
import numpy as np
import pytest
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from PIL import Image
from rlu_envtools import generate_gif, render_episode

pytest.importorskip(
    "pygame", reason="classic-control rendering needs pip install 'gymnasium[classic-control]'"
)


class Recorder(gymnasium.Wrapper):
    """A real wrapper that records what render_episode / generate_gif do with the env."""

    def __init__(self, env):
        super().__init__(env)
        self.calls = []
        self.frames = []
        self.observations = []

    def reset(self, **kwargs):
        self.calls.append(("reset", kwargs.get("seed")))
        obs, info = self.env.reset(**kwargs)
        self.observations.append(obs)
        return obs, info

    def step(self, action):
        out = self.env.step(action)
        self.calls.append(("step", out[2], out[3]))
        self.observations.append(out[0])
        return out

    def render(self):
        frame = self.env.render()
        self.calls.append(("render",))
        self.frames.append(frame)
        return frame


def _kinds(calls):
    return [c[0] for c in calls]


# ------------------------------------------------------------------------------ render_episode


def test_render_episode_rgb_array_until_truncated():
    env = Recorder(gymnasium.make("CartPole-v1", render_mode="rgb_array", max_episode_steps=4))
    seen = []

    def policy(s):
        seen.append(np.array(s))
        return 0 if len(seen) % 2 else 1  # wiggle: stays up for 4 steps

    render_episode(env, policy, step_delay_ms=1, seed=3)
    assert _kinds(env.calls) == ["reset", "render"] + ["step", "render"] * 4
    assert env.calls[0] == ("reset", 3)
    assert env.calls[-2] == ("step", False, True)  # stopped on truncated
    # the policy saw the observations the env returned, on the current API (no info tuple)
    assert len(seen) == 4
    for s, obs in zip(seen, env.observations[:4], strict=True):
        np.testing.assert_array_equal(s, obs)
    assert all(f.shape == (400, 600, 3) and f.dtype == np.uint8 for f in env.frames)
    env.close()


def test_render_episode_stops_on_terminated():
    env = Recorder(gymnasium.make("CartPole-v1", render_mode="rgb_array", max_episode_steps=500))
    render_episode(env, policy=lambda s: 1, seed=0)  # always push right: the pole falls
    steps = [c for c in env.calls if c[0] == "step"]
    assert steps[-1] == ("step", True, False)
    assert all(c[1:] == (False, False) for c in steps[:-1])
    assert 5 < len(steps) < 100
    env.close()


def test_render_episode_human_mode_random_actions():
    pygame = pytest.importorskip("pygame")
    env = Recorder(gymnasium.make("CartPole-v1", render_mode="human", max_episode_steps=3))
    env.action_space.seed(0)
    render_episode(env)
    # a human-mode env draws inside reset() and step(); render_episode does not draw twice
    assert _kinds(env.calls) == ["reset"] + ["step"] * 3
    assert pygame.display.get_init() and pygame.display.get_surface() is not None
    assert pygame.display.get_surface().get_size() == (600, 400)
    env.close()


def test_render_episode_bad_args():
    env = gymnasium.make("CartPole-v1", render_mode="rgb_array", max_episode_steps=2)
    with pytest.raises(ValueError, match="step_delay_ms"):
        render_episode(env, step_delay_ms=-1)
    with pytest.raises(TypeError, match="step_delay_ms"):
        render_episode(env, step_delay_ms="10")
    with pytest.raises(TypeError, match="policy"):
        render_episode(env, policy="left")
    with pytest.raises(TypeError, match="seed"):
        render_episode(env, seed=1.5)
    with pytest.raises(ValueError, match="render_mode"):
        render_episode(gymnasium.make("CartPole-v1", max_episode_steps=2))


# -------------------------------------------------------------------------------- generate_gif


def _read_gif(path):
    with Image.open(path) as gif:
        durations = []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
        return gif.size, gif.n_frames, durations, gif.info.get("loop")


def test_gif_frames_size_duration_and_missing_dirs(tmp_path):
    env = Recorder(gymnasium.make("Pendulum-v1", render_mode="rgb_array", max_episode_steps=6))
    path = tmp_path / "does" / "not" / "exist" / "pendulum.gif"
    generate_gif(
        env,
        path,
        policy=lambda s: np.array([1.5], np.float32),
        resize_to=(40, 30),
        duration=70,
        loop=2,
        seed=0,
    )
    size, n_frames, durations, loop = _read_gif(path)
    # the reset frame plus one frame per step; Pendulum moves every step, so none are merged
    assert _kinds(env.calls).count("step") == 6
    assert (size, n_frames) == ((40, 30), 7)
    assert durations == [70] * 7
    assert loop == 2
    # the first GIF frame shows the reset state: it matches the first rendered frame
    first = np.asarray(
        Image.fromarray(env.frames[0]).resize((40, 30), Image.Resampling.LANCZOS), float
    )
    with Image.open(path) as gif:
        gif.seek(0)
        got = np.asarray(gif.convert("RGB"), float)
    assert np.abs(got - first).mean() < 8


def test_gif_full_size_uses_render_size(tmp_path):
    env = gymnasium.make("CartPole-v1", render_mode="rgb_array", max_episode_steps=2)
    path = os.fspath(tmp_path / "cp.gif")
    generate_gif(env, path, seed=1)
    size, n_frames, durations, _ = _read_gif(path)
    assert size == (600, 400)
    # CartPole's first step can move less than a pixel, and Pillow merges identical frames, so
    # count the time instead: 3 frames of 50 ms
    assert sum(durations) == 3 * 50 and 1 <= n_frames <= 3


def test_gif_gets_the_permissions_of_an_ordinary_new_file(tmp_path):
    (tmp_path / "plain").write_bytes(b"")  # what open() gives under the current umask
    env = gymnasium.make("Pendulum-v1", render_mode="rgb_array", max_episode_steps=2)
    generate_gif(env, tmp_path / "p.gif", resize_to=(8, 8), seed=0)
    assert (tmp_path / "p.gif").stat().st_mode == (tmp_path / "plain").stat().st_mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.gif", "plain"]  # no temporary left


def test_gif_max_episode_steps_argument_wins(tmp_path):
    env = Recorder(gymnasium.make("Pendulum-v1", render_mode="rgb_array", max_episode_steps=200))
    generate_gif(env, tmp_path / "p.gif", max_episode_steps=3, resize_to=(16, 16), seed=0)
    assert _kinds(env.calls).count("step") == 3


def test_gif_without_spec_falls_back(tmp_path):
    # coax crashed here: a bare env has spec None. rlu falls back to 10000 steps; CartPole
    # pushed to one side terminates long before that.
    env = Recorder(CartPoleEnv(render_mode="rgb_array"))
    assert env.spec is None
    generate_gif(env, tmp_path / "bare.gif", policy=lambda s: 0, resize_to=(30, 20), seed=0)
    steps = [c for c in env.calls if c[0] == "step"]
    assert steps[-1] == ("step", True, False)
    size, n_frames, durations, _ = _read_gif(tmp_path / "bare.gif")
    assert size == (30, 20) and sum(durations) == 50 * (len(steps) + 1)


def test_gif_spec_without_limit_falls_back(tmp_path):
    env_id = "rlu_envtools_test/CartPoleNoLimit-v0"
    if env_id not in gymnasium.registry:
        gymnasium.register(
            env_id, entry_point="gymnasium.envs.classic_control.cartpole:CartPoleEnv"
        )
    env = Recorder(gymnasium.make(env_id, render_mode="rgb_array"))
    assert env.spec.max_episode_steps is None
    generate_gif(env, tmp_path / "nolimit.gif", policy=lambda s: 1, resize_to=(30, 20), seed=0)
    assert [c for c in env.calls if c[0] == "step"][-1] == ("step", True, False)


def test_gif_needs_rgb_array(tmp_path):
    path = tmp_path / "keep.gif"
    path.write_bytes(b"previous content")
    for env in (
        gymnasium.make("CartPole-v1", max_episode_steps=2),
        gymnasium.make("CartPole-v1", render_mode="human", max_episode_steps=2),
    ):
        with pytest.raises(RuntimeError, match="rgb_array"):
            generate_gif(env, path)
        env.close()
    assert path.read_bytes() == b"previous content"


def test_gif_policy_failure_midway_keeps_existing_file(tmp_path):
    path = tmp_path / "keep.gif"
    path.write_bytes(b"previous content")
    calls = []

    def policy(s):
        calls.append(s)
        if len(calls) == 3:
            raise ValueError("policy broke")
        return np.zeros(1, np.float32)

    env = gymnasium.make("Pendulum-v1", render_mode="rgb_array", max_episode_steps=10)
    with pytest.raises(ValueError, match="policy broke"):
        generate_gif(env, path, policy=policy)
    assert path.read_bytes() == b"previous content"
    assert os.listdir(tmp_path) == ["keep.gif"]


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"resize_to": (10,)}, TypeError, "resize_to"),
        ({"resize_to": (10.0, 5)}, TypeError, "resize_to"),
        ({"resize_to": (0, 5)}, ValueError, "resize_to"),
        ({"duration": 0}, ValueError, "duration"),
        ({"duration": "50"}, TypeError, "duration"),
        ({"loop": -1}, ValueError, "loop"),
        ({"max_episode_steps": 0}, ValueError, "max_episode_steps"),
        ({"max_episode_steps": 2.5}, TypeError, "max_episode_steps"),
        ({"policy": 3}, TypeError, "policy"),
    ],
)
def test_gif_bad_args(tmp_path, kwargs, exc, match):
    env = gymnasium.make("CartPole-v1", render_mode="rgb_array", max_episode_steps=2)
    with pytest.raises(exc, match=match):
        generate_gif(env, tmp_path / "x.gif", **kwargs)
    assert not (tmp_path / "x.gif").exists()
