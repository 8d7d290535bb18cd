import jax
import jax.numpy as jnp
import numpy as np
import pytest
from rlu_jaxtools import sync_shared_params


def _params(seed, head):
    rng = np.random.default_rng(seed)
    return {
        "torso/linear": {
            "w": rng.normal(size=(3, 2)).astype(np.float32),
            "b": rng.normal(size=2).astype(np.float32),
        },
        head: {"w": rng.normal(size=(2, 1)).astype(np.float32)},
    }


def test_weighted_average_over_the_dicts_that_share_each_entry():
    a, b, c = _params(0, "pi"), _params(1, "v"), _params(2, "pi")
    before = jax.tree.map(np.copy, (a, b, c))
    a2, b2, c2 = sync_shared_params(a, b, c, weights=[1.0, 2.0, 5.0])
    w = np.array([1.0, 2.0, 5.0]) / 8.0
    for name in ("w", "b"):
        expected = sum(wi * p["torso/linear"][name] for wi, p in zip(w, (a, b, c), strict=True))
        for synced in (a2, b2, c2):
            np.testing.assert_allclose(synced["torso/linear"][name], expected, rtol=1e-6)
            assert synced["torso/linear"][name].dtype == np.float32
    # "pi" is in a and c only: shared by those two, averaged with their weights renormalised
    # (1 and 5 of 6), as coax does; "v" is in b alone, so untouched
    expected_pi = (1.0 * a["pi"]["w"] + 5.0 * c["pi"]["w"]) / 6.0
    for synced in (a2, c2):
        np.testing.assert_allclose(synced["pi"]["w"], expected_pi, rtol=1e-6)
    assert "pi" not in b2 and b2["v"] is b["v"]
    # inputs unchanged
    jax.tree.map(np.testing.assert_array_equal, (a, b, c), before)


def test_weights_are_relative_and_default_equal():
    a, b = _params(3, "pi"), _params(4, "v")
    default = sync_shared_params(a, b)
    for weights in ([1, 1], [0.5, 0.5], np.array([7.0, 7.0])):
        other = sync_shared_params(a, b, weights=weights)
        jax.tree.map(np.testing.assert_allclose, other, default)
    mean = (a["torso/linear"]["b"] + b["torso/linear"]["b"]) / 2
    np.testing.assert_allclose(default[0]["torso/linear"]["b"], mean, rtol=1e-6)
    (single,) = sync_shared_params(a)
    np.testing.assert_allclose(single["torso/linear"]["w"], a["torso/linear"]["w"])


def test_keeps_low_precision_dtype_and_works_under_jit_and_vmap():
    a = {"s": {"w": jnp.array([1.0, 3.0], dtype=jnp.float16)}}
    b = {"s": {"w": jnp.array([3.0, 5.0], dtype=jnp.float16)}}
    a2, _ = sync_shared_params(a, b, weights=[1, 3])
    assert a2["s"]["w"].dtype == jnp.float16
    assert a2["s"]["w"].tolist() == [2.5, 4.5]
    a3, b3 = jax.jit(sync_shared_params)(a, b)
    assert a3["s"]["w"].tolist() == b3["s"]["w"].tolist() == [2.0, 4.0]
    stacked_a = {"s": {"w": np.array([[0.0], [2.0]])}}
    stacked_b = {"s": {"w": np.array([[2.0], [4.0]])}}
    rows, _ = jax.vmap(sync_shared_params)(stacked_a, stacked_b)
    np.testing.assert_allclose(rows["s"]["w"], [[1.0], [3.0]])


def test_errors():
    a = {"s": {"w": np.zeros(2)}}
    with pytest.raises(ValueError, match="shared entry 's' has structure"):
        sync_shared_params(a, {"s": {"w": np.zeros(2), "b": np.zeros(1)}})
    with pytest.raises(ValueError, match="shared entry 's' has leaves of different shapes"):
        sync_shared_params(a, {"s": {"w": np.zeros(3)}})
    with pytest.raises(ValueError, match="one number per params dict"):
        sync_shared_params(a, a, weights=[1.0])
    with pytest.raises(ValueError, match="positive finite"):
        sync_shared_params(a, a, weights=[1.0, 0.0])
    with pytest.raises(TypeError, match="params 1 must be a mapping"):
        sync_shared_params(a, [np.zeros(2)])
    with pytest.raises(TypeError, match="at least one params dict"):
        sync_shared_params()


hk = pytest.importorskip("haiku", reason="dm-haiku is a test-only dependency")


def test_haiku_actor_critic_sharing_a_torso():
    def actor(x):
        h = hk.Linear(4, name="torso")(x)
        return hk.Linear(2, name="pi_head")(h)

    def critic(x):
        h = hk.Linear(4, name="torso")(x)
        return hk.Linear(1, name="v_head")(h)

    x = jnp.ones((1, 3))
    pi = hk.without_apply_rng(hk.transform(actor))
    v = hk.without_apply_rng(hk.transform(critic))
    # haiku's default initialisers use random ops; building params with a fixed pattern
    # keeps this test free of extra compilations
    pi_params = jax.tree.map(
        lambda p: jnp.full_like(p, 1.0), jax.eval_shape(pi.init, jax.random.key(0), x)
    )
    v_params = jax.tree.map(
        lambda p: jnp.full_like(p, 5.0), jax.eval_shape(v.init, jax.random.key(1), x)
    )
    assert set(pi_params) == {"torso", "pi_head"} and set(v_params) == {"torso", "v_head"}
    pi_params2, v_params2 = sync_shared_params(pi_params, v_params, weights=[3, 1])
    expected = np.full((3, 4), 0.75 * 1.0 + 0.25 * 5.0)
    np.testing.assert_allclose(pi_params2["torso"]["w"], expected, rtol=1e-6)
    np.testing.assert_allclose(v_params2["torso"]["w"], expected, rtol=1e-6)
    assert pi_params2["pi_head"] is pi_params["pi_head"]
    assert pi.apply(pi_params2, x).shape == (1, 2)
    assert v.apply(v_params2, x).shape == (1, 1)
