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
    # the documented rule: (B, *shape) float32, the bits as they are (in place, not permuted)
    space = MultiBinary((2, 3))
    f = default_preprocessor(space)
    y = f(None, np.array([[1, 0, 0], [1, 1, 0]], dtype=np.int8))
    assert y.shape == (1, 2, 3) and y.dtype == jnp.float32
    assert y.tolist() == [[[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]]
    x = safe_sample(space, 0)
    np.testing.assert_array_equal(f(None, x), x[None].astype(np.float32))
    items, X = _batch(space, 4)
    y = f(None, X)
    assert y.shape == (4, 2, 3) and y.dtype == jnp.float32
    np.testing.assert_array_equal(y, np.stack(items).astype(np.float32))
    assert np.asarray(y).any() and not np.asarray(y).all()  # the draws hold both bits


def _one_hot(k, n):
    return np.eye(n, dtype=np.float32)[k]


def test_tuple_and_dict_single_and_batched():
    space = Dict({"b": Tuple((Discrete(2), Box(-1, 1, (3,)))), "a": MultiBinary(4)})
    f = default_preprocessor(space)
    key = jax.random.PRNGKey(1)
    single = f(key, safe_sample(space, 0))
    assert list(single) == ["a", "b"]
    assert _shapes(single) == {"a": (1, 4), "b": ((1, 2), (1, 3))}
    batched = f(key, _batch(space, 7)[1])
    assert _shapes(batched) == {"a": (7, 4), "b": ((7, 2), (7, 3))}


def test_tuple_and_dict_values_by_hand():
    # each component goes through its own space's rule: MultiBinary as float32, Discrete
    # one-hot, Box clipped to its bounds; the keys in the space's (sorted) order
    space = Dict({"b": Tuple((Discrete(2), Box(-1, 1, (3,)))), "a": MultiBinary(4)})
    f = default_preprocessor(space)
    x = {"b": (1, np.array([0.5, -3.0, 2.0], np.float32)), "a": np.array([1, 0, 0, 1], np.int8)}
    y = f(jax.random.PRNGKey(1), x)
    assert list(y) == ["a", "b"] and isinstance(y["b"], tuple)
    assert y["a"].tolist() == [[1.0, 0.0, 0.0, 1.0]]
    assert y["b"][0].tolist() == [[0.0, 1.0]]
    assert y["b"][1].tolist() == [[0.5, -1.0, 1.0]]
    # the default preprocessors use no randomness: no key, the same values
    for a, b in zip(jax.tree.leaves(f(None, x)), jax.tree.leaves(y), strict=True):
        np.testing.assert_array_equal(a, b)


def test_tuple_and_dict_batched_values_against_numpy():
    # every component of a batch, brute force per item with numpy
    space = Dict({"b": Tuple((Discrete(2), Box(-1, 1, (3,)))), "a": MultiBinary(4)})
    items, X = _batch(space, 7)
    y = default_preprocessor(space)(jax.random.PRNGKey(1), X)
    np.testing.assert_array_equal(y["a"], np.stack([it["a"] for it in items]).astype(np.float32))
    np.testing.assert_array_equal(y["b"][0], np.stack([_one_hot(it["b"][0], 2) for it in items]))
    np.testing.assert_array_equal(y["b"][1], np.stack([it["b"][1] for it in items]))
    assert len({int(it["b"][0]) for it in items}) == 2  # both classes drawn


def test_components_of_the_same_kind_keep_their_own_rule_and_place():
    # components of one kind but different parameters (start offsets, bounds) must each use
    # their own: a value-only check, the shapes cannot tell them apart
    tup = default_preprocessor(Tuple((Discrete(3), Discrete(3, start=1))))
    first, second = tup(None, (1, 1))
    assert first.tolist() == [[0.0, 1.0, 0.0]]
    assert second.tolist() == [[1.0, 0.0, 0.0]]
    first, second = tup(None, (np.array([0, 2]), np.array([3, 2])))
    assert first.tolist() == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    assert second.tolist() == [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    # a dict element is read by key, whatever the order of its keys
    space = Dict({"x": Box(-1, 1, (2,)), "y": Box(-5, 5, (2,))})
    d = default_preprocessor(space)
    x = {"y": np.array([4.0, -9.0], np.float32), "x": np.array([0.25, 3.0], np.float32)}
    y = d(None, x)
    assert list(y) == ["x", "y"]
    assert y["x"].tolist() == [[0.25, 1.0]]
    assert y["y"].tolist() == [[4.0, -5.0]]


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
