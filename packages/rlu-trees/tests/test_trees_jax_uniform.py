"""The draws of ``sample``: ``jax.random.uniform``'s numbers bit for bit, with Threefry's
rounds written out where a probe finds that they agree (``rlu_trees.jax._uniform``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_trees.jax import JaxSumTree, _uniform


def _program(f, *args) -> str:
    """The program of ``f`` as lowered for this machine's CPU."""
    return jax.jit(f).lower(*args).as_text()


def _same_bits(key, n: int, dtype) -> None:
    ours = jax.jit(lambda k: _uniform.uniform(k, n, dtype))(key)
    theirs = jax.random.uniform(key, (n,), dtype=dtype)
    assert ours.dtype == theirs.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 3000), typed=st.booleans())
def test_the_written_out_hash_draws_jaxs_numbers(seed: int, n: int, typed: bool) -> None:
    key = jax.random.key(seed) if typed else jax.random.PRNGKey(seed)
    _same_bits(key, n, np.float32)


def test_the_same_in_64_bit_mode(x64) -> None:
    with x64():
        for seed, n in ((0, 1), (123, 777), (2**32 - 1, 4096)):
            for key in (jax.random.key(seed), jax.random.PRNGKey(seed)):
                _same_bits(key, n, np.float64)
                _same_bits(key, n, np.float32)


def test_under_vmap_and_scan_too() -> None:
    keys = jax.random.split(jax.random.key(5), 6)
    ours = jax.jit(jax.vmap(lambda k: _uniform.uniform(k, 100, np.float32)))(keys)
    theirs = jax.vmap(lambda k: jax.random.uniform(k, (100,)))(keys)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))

    def body(carry, k):
        return carry, _uniform.uniform(k, 50, np.float32)

    scanned = jax.jit(lambda ks: jax.lax.scan(body, 0, ks)[1])(keys)
    # 50 numbers: under JAX's older counter layout they are not the first 50 of 100
    theirs = jax.vmap(lambda k: jax.random.uniform(k, (50,)))(keys)
    np.testing.assert_array_equal(np.asarray(scanned), np.asarray(theirs))


def _probe(dtype=np.float32) -> bool:
    """The probe's answer under this process's settings (64-bit mode off)."""
    partitionable = bool(jax.config.jax_threefry_partitionable)
    return _uniform._matches_jax(np.dtype(dtype), partitionable, False)


def test_the_written_out_hash_is_what_runs_where_the_probe_agrees() -> None:
    # JAX lowers its hash for the CPU as a loop; the written-out rounds are plain operations,
    # in the draws and in a tree's sample
    key = jax.random.key(0)
    if jax.config.jax_threefry_partitionable:  # JAX's default since 0.5: the probe must agree
        assert _probe()
    assert "while" in _program(lambda k: jax.random.uniform(k, (256,)), key)
    ours = _program(lambda k: _uniform.uniform(k, 256, np.float32), key)
    assert ("while" not in ours) == _probe()
    if _probe():
        tree = JaxSumTree(8).set_values(..., 1.0)
        assert "threefry" not in _program(lambda t, k: t.sample(k, 256), tree, key)


def _partitionable(value: bool):
    """JAX's counter layout for a block."""
    import contextlib

    @contextlib.contextmanager
    def block():
        before = jax.config.jax_threefry_partitionable
        jax.config.update("jax_threefry_partitionable", value)
        try:
            yield
        finally:
            jax.config.update("jax_threefry_partitionable", before)

    return block()


def test_other_keys_and_the_older_counter_layout_get_jaxs_own_call() -> None:
    for impl in ("rbg", "unsafe_rbg"):
        key = jax.random.key(3, impl=impl)
        _same_bits(key, 300, np.float32)
        program = _program(lambda k: _uniform.uniform(k, 8, np.float32), key)
        assert "rng_bit_generator" in program
    for partitionable in (False, True):
        with _partitionable(partitionable):
            _same_bits(jax.random.key(9), 500, np.float32)
            program = _program(lambda k: _uniform.uniform(k, 8, np.float32), jax.random.key(9))
            assert ("while" in program) == (not _probe())
            if not partitionable:  # the older layout: JAX's call, whatever it draws
                assert not _probe()


def test_a_probe_that_disagrees_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    # a JAX that one day draws otherwise: the probe sees it and the draws stay JAX's
    _uniform._matches_jax.cache_clear()
    monkeypatch.setattr(_uniform, "_ROTATIONS", ((13, 15, 26, 6), (17, 29, 16, 25)))
    try:
        assert not _probe()
        _same_bits(jax.random.key(1), 64, np.float32)
    finally:
        monkeypatch.undo()
        _uniform._matches_jax.cache_clear()


def test_sample_draws_as_before() -> None:
    # the indices a tree draws: the inverse CDF of jax.random.uniform's numbers
    tree = JaxSumTree(10).set_values(..., jnp.arange(1.0, 11.0))
    key = jax.random.key(42)
    u = jax.random.uniform(key, (500,), dtype=np.float32)
    expected = tree.inverse_cdf(u)
    np.testing.assert_array_equal(np.asarray(tree.sample(key, 500)), np.asarray(expected))
