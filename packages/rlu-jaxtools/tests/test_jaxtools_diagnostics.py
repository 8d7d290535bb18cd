import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_jaxtools import get_grads_diagnostics, get_magnitude_quantiles

NAMES = ["min", "p25", "p50", "p75", "max"]
LEVELS = [0.0, 0.25, 0.5, 0.75, 1.0]


def _tree(seed):
    rng = np.random.default_rng(seed)
    return {
        "linear": {
            "w": rng.normal(size=(3, 2)).astype(np.float32),
            "b": rng.normal(size=2).astype(np.float32),
        },
        "out": [rng.normal(size=4).astype(np.float32)],
    }


def _flat(tree):
    return np.concatenate([np.ravel(leaf) for leaf in jax.tree.leaves(tree)])


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), prefix=st.sampled_from(["", "params/"]))
def test_magnitude_quantiles_match_numpy(seed, prefix):
    tree = _tree(seed)
    result = get_magnitude_quantiles(tree, key_prefix=prefix)
    assert list(result) == [prefix + n for n in NAMES]
    expected = np.quantile(np.abs(_flat(tree)), LEVELS)
    np.testing.assert_allclose([float(v) for v in result.values()], expected, rtol=1e-6)


def test_grads_diagnostics_global_and_per_leaf():
    grads = _tree(1)
    flat = _flat(grads)
    d = get_grads_diagnostics(grads, key_prefix="g/")
    assert sorted(d) == sorted("g/" + n for n in NAMES + ["norm"])
    np.testing.assert_allclose(float(d["g/norm"]), np.linalg.norm(flat), rtol=1e-6)
    np.testing.assert_allclose(
        [float(d["g/" + n]) for n in NAMES], np.quantile(np.abs(flat), LEVELS), rtol=1e-6
    )
    per_leaf = get_grads_diagnostics(grads, keep_tree_structure=True)
    assert jax.tree.structure(per_leaf, is_leaf=lambda x: isinstance(x, dict) and "norm" in x) == (
        jax.tree.structure(grads)
    )
    w = grads["linear"]["w"]
    np.testing.assert_allclose(float(per_leaf["linear"]["w"]["norm"]), np.linalg.norm(w), rtol=1e-6)
    np.testing.assert_allclose(float(per_leaf["out"][0]["max"]), np.abs(grads["out"][0]).max())


def test_under_jit_and_vmap():
    tree = _tree(2)
    jitted = jax.jit(get_grads_diagnostics)(tree)
    eager = get_grads_diagnostics(tree)
    assert sorted(jitted) == sorted(eager) == sorted(NAMES + ["norm"])
    for k in eager:
        np.testing.assert_allclose(jitted[k], eager[k], rtol=1e-6)
    # and both against numpy
    flat = _flat(tree)
    expected = dict(zip(NAMES, np.quantile(np.abs(flat), LEVELS), strict=True))
    expected["norm"] = np.linalg.norm(flat)
    for k, v in expected.items():
        np.testing.assert_allclose(float(jitted[k]), v, rtol=1e-6)
    batch = {"a": np.array([[1.0, -2.0], [3.0, 0.0]]), "b": np.array([[4.0], [-1.0]])}
    rows = jax.vmap(get_magnitude_quantiles)(batch)
    np.testing.assert_allclose(rows["max"], [4.0, 3.0])
    np.testing.assert_allclose(rows["min"], [1.0, 0.0])
    for i in range(2):  # each row against numpy: |[1, -2, 4]| and |[3, 0, -1]|
        mags = np.abs(np.concatenate([batch["a"][i], batch["b"][i]]))
        got = [float(rows[n][i]) for n in NAMES]
        np.testing.assert_allclose(got, np.quantile(mags, LEVELS), rtol=1e-6)


def test_integer_leaves_and_errors():
    q = get_magnitude_quantiles({"n": np.array([-3, 1, 2], dtype=np.int32)})
    assert jnp.issubdtype(q["p50"].dtype, jnp.floating) and float(q["p50"]) == 2.0
    with pytest.raises(ValueError, match="no entries"):
        get_magnitude_quantiles({})
    with pytest.raises(ValueError, match=r"leaf at \['e'\] has no entries"):
        get_grads_diagnostics({"e": np.zeros(0), "f": np.ones(1)}, keep_tree_structure=True)
    with pytest.raises(TypeError, match="key_prefix must be a str"):
        get_grads_diagnostics({"f": np.ones(1)}, key_prefix=1)
