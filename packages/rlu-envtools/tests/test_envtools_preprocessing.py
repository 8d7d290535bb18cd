import gymnasium
import numpy as np
import pytest
from gymnasium.spaces import Box, Dict, Discrete, MultiBinary, MultiDiscrete, Text, Tuple
from gymnasium.vector.utils import concatenate, create_empty_array
from rlu_envtools import check_preprocessors, default_preprocessor, safe_sample

jax = pytest.importorskip("jax", reason='needs the jax extra: pip install "rlu-envtools[jax]"')
jnp = jax.numpy


def _batch(space, n, seed=0):
    rng = np.random.default_rng(seed)
    items = [safe_sample(space, rng) for _ in range(n)]
    return items, concatenate(space, items, create_empty_array(space, n))


def _shapes(tree):
    return jax.tree.map(lambda x: x.shape, tree)


def test_box_single_and_batched_on_real_env():
    env = gymnasium.make("Pendulum-v1")
    space = env.observation_space
    f = default_preprocessor(space)
    s, _ = env.reset(seed=0)
    y = f(jax.random.PRNGKey(0), s)
    assert y.shape == (1, 3) and y.dtype == jnp.float32
    np.testing.assert_allclose(y[0], s)
    items, X = _batch(space, 5)
    assert f(None, X).shape == (5, 3)


def test_box_is_clipped_to_bounds():
    f = default_preprocessor(
        Box(low=np.array([-1.0, 0.0], np.float32), high=np.array([1.0, np.inf], np.float32))
    )
    assert f(None, [[-3.0, 1e6], [0.5, -2.0]]).tolist() == [[-1.0, 1e6], [0.5, 0.0]]


def test_discrete_one_hot_with_start():
    f = default_preprocessor(Discrete(3, start=10))
    assert f(None, 12).tolist() == [[0.0, 0.0, 1.0]]
    assert f(None, np.array([10, 11])).tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]


def test_cartpole_actions():
    env = gymnasium.make("CartPole-v1")
    f = default_preprocessor(env.action_space)
    assert f(None, env.action_space.sample()).shape == (1, 2)


def test_multidiscrete_single_and_batched():
    space = MultiDiscrete([2, 4, 3], start=[0, 1, -1])
    f = default_preprocessor(space)
    y = f(None, np.array([1, 4, -1]))
    assert [a.tolist() for a in y] == [[[0.0, 1.0]], [[0.0, 0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]]]
    items, X = _batch(space, 6)
    assert [a.shape for a in f(None, X)] == [(6, 2), (6, 4), (6, 3)]
    with pytest.raises(ValueError, match="shape"):
        f(None, np.zeros((2, 2, 3), dtype=int))


def test_multibinary_single_and_batched():
    space = MultiBinary((2, 3))
    f = default_preprocessor(space)
    y = f(None, safe_sample(space, 0))
    assert y.shape == (1, 2, 3) and y.dtype == jnp.float32
    assert f(None, _batch(space, 4)[1]).shape == (4, 2, 3)


def test_tuple_and_dict_single_and_batched():
    space = Dict({"b": Tuple((Discrete(2), Box(-1, 1, (3,)))), "a": MultiBinary(4)})
    f = default_preprocessor(space)
    key = jax.random.PRNGKey(1)
    single = f(key, safe_sample(space, 0))
    assert list(single) == ["a", "b"]
    assert _shapes(single) == {"a": (1, 4), "b": ((1, 2), (1, 3))}
    batched = f(key, _batch(space, 7)[1])
    assert _shapes(batched) == {"a": (7, 4), "b": ((7, 2), (7, 3))}


def test_unsupported_and_bad_spaces():
    with pytest.raises(TypeError, match="Text"):
        default_preprocessor(Text(5))
    with pytest.raises(TypeError, match="gymnasium.Space"):
        default_preprocessor("Discrete(3)")


def test_check_preprocessors_match_and_mismatch():
    space = Dict({"pos": Box(-2, 2, (3,)), "id": Discrete(4)})
    p0 = default_preprocessor(space)

    def p_same(rng, x):
        return {
            "id": jnp.eye(4)[jnp.reshape(x["id"], (-1,))],
            "pos": jnp.clip(jnp.reshape(x["pos"], (-1, 3)), -2, 2),
        }

    def p_scaled(rng, x):
        return {**p0(rng, x), "pos": p0(rng, x)["pos"] * 1.5}

    def p_structure(rng, x):
        return (p0(rng, x)["id"], p0(rng, x)["pos"])

    def p_shape(rng, x):
        return {"id": p0(rng, x)["id"][0], "pos": p0(rng, x)["pos"]}

    assert check_preprocessors(space, p0, p_same, num_samples=10, random_seed=0)
    assert not check_preprocessors(space, p0, p_scaled, num_samples=10, random_seed=0)
    assert not check_preprocessors(space, p0, p_structure, random_seed=0)
    assert not check_preprocessors(space, p0, p_same, p_shape, random_seed=0)


def test_check_preprocessors_passes_the_same_key_to_each():
    space = Box(-1, 1, (2,))

    def noisy(rng, x):
        return jnp.reshape(jnp.asarray(x), (-1, 2)) + jax.random.normal(rng, (1, 2))

    assert check_preprocessors(space, noisy, noisy, random_seed=3)


def test_check_preprocessors_leaves_space_alone_and_is_reproducible():
    space = Discrete(1000)
    state = space.np_random.bit_generator.state
    seen = []

    def recorder(rng, x):
        seen.append(int(x))
        return jnp.zeros(1)

    check_preprocessors(space, recorder, lambda rng, x: jnp.zeros(1), num_samples=5, random_seed=4)
    first = list(seen)
    seen.clear()
    check_preprocessors(space, recorder, lambda rng, x: jnp.zeros(1), num_samples=5, random_seed=4)
    assert seen == first and len(first) == 5 and len(set(first)) > 1
    assert space.np_random.bit_generator.state == state


def test_check_preprocessors_bad_args():
    p = default_preprocessor(Discrete(2))
    with pytest.raises(ValueError, match="at least two"):
        check_preprocessors(Discrete(2), p)
    with pytest.raises(TypeError, match=r"preprocessors\[1\]"):
        check_preprocessors(Discrete(2), p, "p")
    with pytest.raises(ValueError, match="num_samples"):
        check_preprocessors(Discrete(2), p, p, num_samples=0)
    with pytest.raises(TypeError, match="num_samples"):
        check_preprocessors(Discrete(2), p, p, num_samples=2.0)
    with pytest.raises(TypeError, match="gymnasium.Space"):
        check_preprocessors(None, p, p)
