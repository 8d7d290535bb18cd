import copy

import gymnasium
import numpy as np
import pytest
from gymnasium.spaces import Box, Dict, Discrete, MultiBinary, MultiDiscrete, Text, Tuple
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_envtools import safe_sample


def test_discrete_respects_start_and_dtype():
    space = Discrete(3, start=-5)
    xs = [safe_sample(space, seed=i) for i in range(60)]
    assert set(int(x) for x in xs) == {-5, -4, -3}
    assert all(isinstance(x, np.int64) and space.contains(x) for x in xs)


def test_multidiscrete_with_start_and_2d_nvec():
    space = MultiDiscrete(np.array([[2, 3], [4, 5]]), start=np.array([[1, 1], [0, 10]]))
    x = safe_sample(space, seed=0)
    assert x.shape == (2, 2) and x.dtype == space.dtype and space.contains(x)
    xs = np.stack([safe_sample(space, seed=i) for i in range(200)])
    assert xs.min(axis=0).tolist() == [[1, 1], [0, 10]]
    assert xs.max(axis=0).tolist() == [[2, 3], [3, 14]]


def test_multibinary_shape():
    space = MultiBinary((2, 3))
    x = safe_sample(space, seed=1)
    assert x.shape == (2, 3) and x.dtype == np.int8 and space.contains(x)


def test_unbounded_box_is_finite_and_log_transformed():
    space = Box(-np.inf, np.inf, shape=(1000,), dtype=np.float32)
    x = safe_sample(space, seed=0)
    assert x.dtype == np.float32 and np.all(np.isfinite(x))
    assert np.all(np.abs(x) <= np.log1p(1e9) + 1e-4)
    assert space.contains(x)
    # gymnasium's own sampler draws from a normal here; ours is squashed to |x| in [0, 20.8]
    assert np.abs(x).max() > 15


def test_half_bounded_box_stays_in_bounds():
    space = Box(low=np.array([5.0, -np.inf]), high=np.array([np.inf, -3.0]), dtype=np.float64)
    xs = np.stack([safe_sample(space, seed=i) for i in range(100)])
    assert xs.dtype == np.float64
    assert np.all(xs[:, 0] >= 5) and np.all(xs[:, 1] <= -3)
    assert all(space.contains(x) for x in xs)


def test_bounded_box_is_uniform_not_squashed():
    # coax log-transformed bounded entries too, which pushed samples of [5, 10] out of the box
    space = Box(5.0, 10.0, shape=(2000,), dtype=np.float32)
    x = safe_sample(space, seed=3)
    assert space.contains(x)
    assert x.min() < 5.1 and x.max() > 9.9
    assert abs(float(x.mean()) - 7.5) < 0.2


def test_integer_box():
    space = Box(low=0, high=255, shape=(4, 4, 3), dtype=np.uint8)
    x = safe_sample(space, seed=0)
    assert x.dtype == np.uint8 and x.shape == (4, 4, 3) and space.contains(x)


def test_dict_in_sorted_key_order_and_tuple():
    space = Dict(
        {
            "zeta": Discrete(2),
            "alpha": Box(-1, 1, (2,)),
            "mid": Tuple((Discrete(3), MultiBinary(2))),
        }
    )
    x = safe_sample(space, seed=7)
    assert list(x) == ["alpha", "mid", "zeta"]
    assert isinstance(x["mid"], tuple) and len(x["mid"]) == 2
    assert space.contains(x)


def test_fallback_uses_seeded_copy_of_space():
    space = Text(max_length=8)
    before = copy.deepcopy(space.np_random.bit_generator.state)
    a, b = safe_sample(space, seed=11), safe_sample(space, seed=11)
    assert a == b and space.contains(a)
    assert space.np_random.bit_generator.state == before  # the user's space was not touched


def test_seed_reproducible_and_generator_advances():
    space = gymnasium.make("Pendulum-v1").observation_space
    assert np.array_equal(safe_sample(space, seed=5), safe_sample(space, seed=5))
    assert not np.array_equal(safe_sample(space, seed=5), safe_sample(space, seed=6))
    rng = np.random.default_rng(0)
    assert not np.array_equal(safe_sample(space, rng), safe_sample(space, rng))


def test_real_env_spaces():
    env = gymnasium.make("CartPole-v1")
    s, a = safe_sample(env.observation_space, 0), safe_sample(env.action_space, 0)
    assert env.observation_space.contains(s) and env.action_space.contains(a)
    # and the env accepts the sampled action
    env.reset(seed=0)
    assert len(env.step(a)) == 5


def test_type_errors():
    with pytest.raises(TypeError, match="space must be a gymnasium.Space"):
        safe_sample([0, 1])
    with pytest.raises(TypeError, match="seed"):
        safe_sample(Discrete(2), seed="0")
    with pytest.raises(TypeError, match="seed"):
        safe_sample(Discrete(2), seed=True)
    with pytest.raises(ValueError, match="seed"):
        safe_sample(Discrete(2), seed=-1)


finite = st.floats(allow_nan=False, allow_infinity=False, width=32)


@settings(max_examples=80, deadline=None)
@given(
    bounds=st.tuples(st.one_of(finite, st.just(-np.inf)), st.one_of(finite, st.just(np.inf))),
    seed=st.integers(0, 2**32),
)
def test_box_samples_always_finite_and_in_space(bounds, seed):
    low, high = bounds
    if np.isfinite(low) and np.isfinite(high) and low > high:
        low, high = high, low
    space = Box(low=np.float32(low), high=np.float32(high), shape=(3,), dtype=np.float32)
    x = safe_sample(space, seed=seed)
    assert np.all(np.isfinite(x)) and space.contains(x)


def test_legacy_random_state_seeds_a_generator_as_coax_accepted():
    space = Box(-1.0, 1.0, shape=(3,))
    a = safe_sample(space, np.random.RandomState(7))
    b = safe_sample(space, np.random.RandomState(7))
    assert np.array_equal(a, b) and space.contains(a)
    rs = np.random.RandomState(7)
    assert not np.array_equal(safe_sample(space, rs), safe_sample(space, rs))  # it advances


def test_numpy_integer_seed():
    space = Discrete(100)
    assert safe_sample(space, np.int64(3)) == safe_sample(space, 3)
