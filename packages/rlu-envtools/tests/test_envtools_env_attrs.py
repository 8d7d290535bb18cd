import inspect

import gymnasium
import pytest
from rlu_envtools import get_env_attr, has_env_attr


class Tagged(gymnasium.Wrapper):
    """A real wrapper that carries its own attribute, to test which level wins."""

    def __init__(self, env, tag):
        super().__init__(env)
        self.tag = tag


@pytest.fixture
def env():
    # Tagged("outer") -> Tagged("inner") -> TimeLimit -> OrderEnforcing -> PassiveEnvChecker
    #   -> CartPoleEnv
    e = Tagged(Tagged(gymnasium.make("CartPole-v1", max_episode_steps=5), "inner"), "outer")
    yield e
    e.close()


def test_outermost_wins(env):
    assert get_env_attr(env, "tag") == "outer"
    assert get_env_attr(env.env, "tag") == "inner"


def test_finds_innermost_attribute(env):
    assert get_env_attr(env, "gravity") == pytest.approx(9.8)
    assert get_env_attr(env, "_max_episode_steps") == 5  # lives on TimeLimit
    assert has_env_attr(env, "gravity")
    assert has_env_attr(env, "x_threshold")


def test_max_depth_limits_the_search(env):
    depth = 0
    e = env
    while hasattr(e, "env"):
        e, depth = e.env, depth + 1
    # CartPoleEnv is at depth `depth`, so it is reached with max_depth = depth + 1, not depth.
    assert has_env_attr(env, "gravity", max_depth=depth + 1)
    assert not has_env_attr(env, "gravity", max_depth=depth)
    assert get_env_attr(env, "gravity", default="nope", max_depth=depth) == "nope"
    with pytest.raises(AttributeError, match="'gravity'"):
        get_env_attr(env, "gravity", max_depth=depth)


def test_missing_attribute(env):
    assert not has_env_attr(env, "does_not_exist")
    assert get_env_attr(env, "does_not_exist", default=None) is None
    assert get_env_attr(env, "does_not_exist", default=0) == 0
    with pytest.raises(AttributeError, match="does_not_exist"):
        get_env_attr(env, "does_not_exist")
    # the reference's signature: default='__ERROR__' is the "raise" sentinel, passed or not
    with pytest.raises(AttributeError, match="does_not_exist"):
        get_env_attr(env, "does_not_exist", default="__ERROR__")
    assert inspect.signature(get_env_attr).parameters["default"].default == "__ERROR__"


def test_unwrapped_env_and_non_env():
    base = gymnasium.make("CartPole-v1").unwrapped
    assert get_env_attr(base, "gravity") == pytest.approx(9.8)
    assert not has_env_attr(object(), "env")


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, None])
def test_bad_max_depth(env, bad):
    with pytest.raises(ValueError, match="max_depth"):
        get_env_attr(env, "tag", max_depth=bad)
    with pytest.raises(ValueError, match="max_depth"):
        has_env_attr(env, "tag", max_depth=bad)


def test_bad_attr(env):
    with pytest.raises(TypeError, match="attr"):
        get_env_attr(env, 3)
    with pytest.raises(TypeError, match="attr"):
        has_env_attr(env, None)
