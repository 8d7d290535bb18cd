"""The accelerators' lowering of the JAX trees' walks (GPU, TPU), checked on the CPU.

Programs lowered for an accelerator take ``_kernels``' walks with ``unroll=True``: the same
arithmetic as the CPU's level loops, each level its own operations. ``test_trees_jax.py`` runs
its whole suite through that lowering on the CPU too; here: what the accelerators' programs
hold, and that both lowerings give the same bits.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from rlu_trees.jax import JaxSumTree  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_programs():
    jax.clear_caches()  # programs traced with another module's switches must not be reused
    yield
    jax.clear_caches()


@pytest.mark.parametrize("platform", ["cuda", "rocm", "tpu"])
@pytest.mark.parametrize("cpu_calls", [True, False])
def test_accelerators_get_the_unrolled_walks_without_loops_or_custom_calls(
    cpu_calls, platform, monkeypatch
) -> None:
    # a program lowered for an accelerator holds every level as its own operations: no while
    # loop (each trip costs loop control on a GPU), no custom call (a CPU-only target); one
    # gather per level in the descent, one scatter per level climbed in the update
    from rlu_trees.jax import _cpu, _kernels

    monkeypatch.setattr(_cpu, "ENABLED", cpu_calls)  # whatever the CPU takes
    jax.clear_caches()
    capacity, batch = 1 << 12, 4
    tree = JaxSumTree(capacity).set_values(..., 1.0)
    lay = _kernels.layout(capacity, "add", True)
    descend = functools.partial(_kernels.descend, lay=lay, unroll=True)
    update = functools.partial(_kernels.set_values, lay=lay, clamp=True, unroll=True)

    def lowered(function, public, *args):
        if hasattr(jax.jit(abs), "trace"):  # JAX >= 0.4.30: the tree's program for `platform`
            jitted = jax.jit(public)
            return jitted.trace(tree, *args).lower(lowering_platforms=(platform,)).as_text()
        # older JAX lowers for its own platform only: the walk the accelerators' branch takes
        return jax.jit(function).lower(tree.nodes, *args).as_text()

    u = jnp.linspace(0, 1, batch)
    idx = jnp.arange(batch) * 1000
    programs = [
        lowered(descend, lambda t, u: t.inverse_cdf(u), u),
        lowered(update, lambda t, i, u: t.set_values(i, u), idx, u),
    ]
    for program in programs:
        assert "stablehlo.while" not in program and "custom_call" not in program
    climbed = sum(1 for depth in range(lay.height) if 1 << depth > batch)  # the rest is rebuilt
    barriers = hasattr(jax.lax, "optimization_barrier")  # not public in JAX 0.4.26
    assert programs[0].count("stablehlo.optimization_barrier") == lay.height * barriers
    assert programs[1].count("stablehlo.optimization_barrier") == climbed * barriers
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    jax.clear_caches()
    try:  # on a machine whose default backend is an accelerator: the same program
        again = lowered(descend, lambda t, u: t.inverse_cdf(u), u)
        assert "stablehlo.while" not in again and "custom_call" not in again
    finally:
        monkeypatch.undo()
        jax.clear_caches()


def test_both_lowerings_of_the_walks_give_the_same_bits(monkeypatch) -> None:
    # the accelerators' unrolled levels and the CPU's level loops (with the small head forced
    # shallow, so that both of its parts run) on the same random trees, updates and targets
    from rlu_trees.jax import _kernels

    monkeypatch.setattr(_kernels, "_small_levels", lambda dtype: 2)
    rng = np.random.default_rng(11)
    for reducer, nonneg in (("add", True), ("min", False), ("max", False)):
        for capacity in (1, 2, 5, 100, 4097):
            lay = _kernels.layout(capacity, reducer, nonneg, False)
            leaves = rng.uniform(0, 10, 1 << lay.height).astype(np.float32)
            leaves[capacity:] = {"add": 0.0, "min": np.inf, "max": -np.inf}[reducer]
            nodes = _kernels.build(jnp.asarray(leaves), lay)
            idx = jnp.asarray(rng.integers(-capacity - 2, capacity + 2, 64))
            idx = idx.at[:16].set(idx[16:32])  # repeats: the last write wins
            vals = jnp.asarray(rng.uniform(-1, 10, 64), jnp.float32)
            u = jnp.asarray(np.concatenate([[0.0, 1.0], rng.uniform(0, 1, 62)]), jnp.float32)
            results = []
            for unroll in (False, True):
                update = functools.partial(_kernels.set_values, lay=lay, clamp=True, unroll=unroll)
                new = jax.jit(update)(nodes, idx, vals)
                walk = functools.partial(_kernels.descend, lay=lay, unroll=unroll)
                leaf = jax.jit(walk)(new, u * new[0]) if nonneg else new
                results.append((np.asarray(new), np.asarray(leaf)))
            np.testing.assert_array_equal(results[0][0], results[1][0])
            np.testing.assert_array_equal(results[0][1], results[1][1])
            if nonneg:  # and the walk itself is right: every draw lands on a positive leaf
                assert (np.asarray(_kernels.leaves_of(results[0][0], lay))[results[0][1]] > 0).all()


def test_where_jax_keeps_every_branch_the_cpu_is_not_given_the_unrolled_walks(monkeypatch) -> None:
    # older JAX lowers every branch of platform_dependent into the program, which the CPU
    # then compiles: on a CPU machine its programs hold the level loops for accelerators too
    from rlu_trees.jax import _cpu

    tree = JaxSumTree(1 << 12).set_values(..., 1.0)
    u = jnp.linspace(0, 1, 4)

    def cpu_program():
        return jax.jit(lambda t, u: t.inverse_cdf(u)).lower(tree, u).as_text()

    # the probe says what the program shows: a walk unrolled for accelerators is 12 gathers
    if _cpu.available():
        unrolled_there = cpu_program().count("stablehlo.gather") >= 12
        assert _cpu._lowers_one_branch() == (not unrolled_there)
    monkeypatch.setattr(_cpu, "_lowers_one_branch", lambda: False)
    jax.clear_caches()
    try:
        assert cpu_program().count("stablehlo.gather") < 12

        def for_cuda() -> str:
            step = jax.jit(lambda t, u: t.inverse_cdf(u)).trace(tree, u)
            return step.lower(lowering_platforms=("cuda",)).as_text()

        if hasattr(jax.jit(abs), "trace"):
            assert "stablehlo.while" in for_cuda()
            # a machine whose default backend is an accelerator unrolls whatever JAX keeps
            monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
            jax.clear_caches()
            assert "stablehlo.while" not in for_cuda()
    finally:
        monkeypatch.undo()
        jax.clear_caches()
