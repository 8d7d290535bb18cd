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

    traces = hasattr(jax.jit(abs), "trace")  # JAX >= 0.4.30 lowers for other platforms

    def lowered(function, public, *args):
        if traces:  # the tree's program for `platform`
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
    if traces and not _cpu.unrolls_for_accelerators():
        # a JAX whose barriers lack a rule, or that keeps every branch (then the CPU would
        # compile the unrolled walks too): accelerators keep the level loops, as in 0.4
        assert all("stablehlo.while" in program for program in programs)
        return
    for program in programs:
        assert "stablehlo.while" not in program and "custom_call" not in program
    climbed = sum(1 for depth in range(lay.height) if 1 << depth > batch)  # the rest is rebuilt
    barriers = _kernels.barriers_work()  # JAX 0.4.26 has none: the same walk without
    assert programs[0].count("stablehlo.optimization_barrier") == lay.height * barriers
    assert programs[1].count("stablehlo.optimization_barrier") == climbed * barriers
    if traces:  # a machine whose default backend is an accelerator unrolls if barriers work
        monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
        jax.clear_caches()
        try:
            again = lowered(descend, lambda t, u: t.inverse_cdf(u), u)
            assert "stablehlo.while" not in again and "custom_call" not in again
        finally:
            monkeypatch.undo()
            jax.clear_caches()


def _both(function, lay, *args, batched=False):
    """``function`` of ``args`` with the level loops and with the unrolled levels."""
    out = []
    for unroll in (False, True):
        walk = functools.partial(function, lay=lay, unroll=unroll)
        out.append(np.asarray(jax.jit(jax.vmap(walk) if batched else walk)(*args)))
    return out


def test_both_lowerings_of_the_walks_give_the_same_bits(monkeypatch) -> None:
    # the accelerators' unrolled levels and the CPU's level loops (with the small head forced
    # shallow, so that both of its parts run, down and up) on the same random trees, updates
    # and targets, for batches of 1 (which climbs into the head), 2 and 64
    from rlu_trees.jax import _kernels

    monkeypatch.setattr(_kernels, "_small_levels", lambda dtype: 2)
    rng = np.random.default_rng(11)
    for reducer, nonneg in (("add", True), ("min", False), ("max", False)):
        for capacity in (1, 5, 100, 4097):
            lay = _kernels.layout(capacity, reducer, nonneg, False)
            leaves = rng.uniform(0, 10, 1 << lay.height).astype(np.float32)
            leaves[capacity:] = {"add": 0.0, "min": np.inf, "max": -np.inf}[reducer]
            nodes = _kernels.build(jnp.asarray(leaves), lay)
            for batch in (1, 2, 64):
                idx = jnp.asarray(rng.integers(-capacity - 2, capacity + 2, batch))
                idx = idx.at[: batch // 4].set(idx[batch // 4 : batch // 2])  # repeats
                vals = jnp.asarray(rng.uniform(-1, 10, batch), jnp.float32)
                update = functools.partial(_kernels.set_values, clamp=True)
                loops, unrolled = _both(update, lay, nodes, idx, vals)
                np.testing.assert_array_equal(loops, unrolled)
                if nonneg:
                    u = np.concatenate([[0.0, 1.0], rng.uniform(0, 1, batch)])[:batch]
                    x = jnp.asarray(u, jnp.float32) * loops[0]
                    down = _both(_kernels.descend, lay, jnp.asarray(loops), x)
                    np.testing.assert_array_equal(*down)
                    # and the walk itself is right: every draw lands on a positive leaf
                    assert (np.asarray(_kernels.leaves_of(loops, lay))[down[0]] > 0).all()
    # a batch of three trees under vmap
    lay = _kernels.layout(100, "add", True, False)
    nodes = jax.vmap(lambda v: _kernels.build(v, lay))(
        jnp.asarray(rng.uniform(0, 10, (3, 1 << lay.height)), jnp.float32)
    )
    idx = jnp.asarray(rng.integers(0, 100, (3, 8)))
    vals = jnp.asarray(rng.uniform(0, 10, (3, 8)), jnp.float32)
    update = functools.partial(_kernels.set_values, clamp=True)
    loops, unrolled = _both(update, lay, nodes, idx, vals, batched=True)
    np.testing.assert_array_equal(loops, unrolled)
    x = jnp.asarray(rng.uniform(0, 1, (3, 8)), jnp.float32) * loops[:, :1]
    np.testing.assert_array_equal(
        *_both(_kernels.descend, lay, jnp.asarray(loops), x, batched=True)
    )


def test_where_jax_keeps_every_branch_the_cpu_is_not_given_the_unrolled_walks(monkeypatch) -> None:
    # older JAX lowers every branch of platform_dependent into the program, which the CPU
    # then compiles: on a CPU machine its programs hold the level loops for accelerators too
    from rlu_trees.jax import _cpu, _kernels

    tree = JaxSumTree(1 << 12).set_values(..., 1.0)
    u = jnp.linspace(0, 1, 4)

    def cpu_program():
        jax.clear_caches()
        return jax.jit(lambda t, u: t.inverse_cdf(u)).lower(tree, u).as_text()

    def for_cuda() -> str:
        jax.clear_caches()
        step = jax.jit(lambda t, u: t.inverse_cdf(u)).trace(tree, u)
        return step.lower(lowering_platforms=("cuda",)).as_text()

    try:
        if hasattr(jax.lax, "platform_dependent") and _kernels.barriers_work():
            # the probe says what a program shows: told that JAX lowers one branch, the CPU's
            # program holds the unrolled walk (12 gathers) exactly where JAX keeps both
            probe = _cpu._lowers_one_branch()
            monkeypatch.setattr(_cpu, "_lowers_one_branch", lambda: True)
            both_kept = cpu_program().count("stablehlo.gather") >= 12
            assert probe == (not both_kept)
        monkeypatch.setattr(_cpu, "_lowers_one_branch", lambda: False)
        assert cpu_program().count("stablehlo.gather") < 12
        if hasattr(jax.jit(abs), "trace"):
            assert "stablehlo.while" in for_cuda()
            # a machine whose default backend is an accelerator unrolls whatever JAX keeps
            monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
            assert ("stablehlo.while" not in for_cuda()) == _kernels.barriers_work()
    finally:
        monkeypatch.undo()
        jax.clear_caches()


# what does not depend on the lowering: once, not once per lowering (test_trees_jax.py)


def test_the_probe_works_when_first_run_in_64_bit_mode(x64) -> None:
    from rlu_trees.jax import _cpu

    with x64():
        assert _cpu._probe.__wrapped__().active == (_cpu._ffi() is not None)


def test_the_environment_variable_turns_the_custom_calls_off() -> None:
    import os
    import subprocess
    import sys

    code = "from rlu_trees.jax import _cpu; print(_cpu.ENABLED)"
    for value, expected in (("0", "False"), ("1", "True")):
        env = {**os.environ, "RLU_TREES_JAX_CPU_CALLS": value}
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        )
        assert out.stdout.strip() == expected
