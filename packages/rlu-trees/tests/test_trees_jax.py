"""rlu_trees.jax against independent truths: the host numba trees and brute force."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from rlu_trees import MaxTree, MinTree, SegmentTree, SumTree  # noqa: E402
from rlu_trees.jax import JaxMaxTree, JaxMinTree, JaxSegmentTree, JaxSumTree  # noqa: E402

CAPACITIES = [1, 2, 3, 5, 8, 13, 100, 4097]
BATCH = 16  # one batch shape for every test: JAX compiles once per shape


@pytest.fixture(autouse=True, scope="module", params=["cpu-calls", "unrolled"])
def lowering(request):
    """Every test runs twice on the CPU: through the compiled custom calls that CPU programs
    use, and through the XLA kernels with every level unrolled, as GPUs and TPUs run them
    (forced onto the CPU here by giving the CPU branch the accelerators' arguments).

    The XLA kernels' level loops, the CPU's lowering where the custom calls are not used, give
    the same bits as the unrolled levels (``test_trees_jax_lowerings.py``), serve the first
    run at the JAX floor (which cannot make the custom calls), and take the small-head test.
    """
    from rlu_trees.jax import _cpu, _kernels

    enabled, descend, set_values = _cpu.ENABLED, _kernels.descend, _kernels.set_values
    _cpu.ENABLED = request.param == "cpu-calls"
    if request.param == "unrolled":
        _kernels.descend = functools.partial(descend, unroll=True)  # type: ignore[assignment]
        _kernels.set_values = functools.partial(set_values, unroll=True)  # type: ignore[assignment]
    jax.clear_caches()  # programs traced with the other lowering must not be reused
    yield request.param
    _cpu.ENABLED, _kernels.descend, _kernels.set_values = enabled, descend, set_values
    jax.clear_caches()


def _updates(rng: np.random.Generator, capacity: int, steps: int, scale: str = "uniform"):
    for _ in range(steps):
        idx = rng.integers(0, capacity, BATCH)
        idx[: BATCH // 4] = idx[BATCH // 4 : BATCH // 2]  # duplicates in every batch
        if scale == "wide":
            vals = 10.0 ** rng.uniform(-30, 30, BATCH)
        else:
            vals = rng.uniform(0, 10, BATCH)
        vals[rng.random(BATCH) < 0.2] = 0.0
        yield idx, vals


def _assert_inverse_cdf(values: Any, u: Any, got: Any) -> None:
    """Brute force in float64: leaf ``i`` answers the target mass ``u * total`` iff its value
    is positive, the mass before it is at most the target and the mass up to it at least the
    target (up to a float32 rounding slack)."""
    v = np.asarray(values, np.float64)
    got = np.asarray(got)
    cum = np.cumsum(v)
    target = np.asarray(u, np.float64) * cum[-1]
    slack = 1e-5 * cum[-1]
    assert ((got >= 0) & (got < v.size)).all(), got
    assert (v[got] > 0).all(), got
    assert (cum[got] - v[got] <= target + slack).all(), (got, target)
    assert (cum[got] >= target - slack).all(), (got, target)


# ---------------------------------------------------------------------- exact against the host


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("capacity", CAPACITIES)
def test_64_bit_mode_equals_host_bit_for_bit(capacity: int, dtype: Any, x64: Any) -> None:
    # in 64-bit mode the descent's arithmetic is float64 as on the host, for both storages
    with x64():
        rng = np.random.default_rng(capacity)
        host = SumTree(capacity, dtype=dtype)
        tree = JaxSumTree(capacity, dtype=dtype)
        for idx, vals in _updates(rng, capacity, 6, "wide"):
            host.set_values(idx, vals)
            tree = tree.set_values(idx, vals)
        np.testing.assert_array_equal(np.asarray(tree.values), host.values)
        assert float(tree.root_value) == host.root_value
        u = np.concatenate([[0.0, 1.0, 0.5], rng.uniform(size=BATCH - 3)])
        np.testing.assert_array_equal(np.asarray(tree.inverse_cdf(u)), host.inverse_cdf(u))
        starts = rng.integers(0, capacity + 1, BATCH)
        stops = np.maximum(starts, rng.integers(0, capacity + 1, BATCH))
        np.testing.assert_array_equal(
            np.asarray(tree.partial_reduce(starts, stops)), host.partial_reduce(starts, stops)
        )


@pytest.mark.parametrize(("jax_cls", "host_cls"), [(JaxMinTree, MinTree), (JaxMaxTree, MaxTree)])
def test_min_max_match_host(jax_cls, host_cls) -> None:
    rng = np.random.default_rng(0)
    for capacity in (1, 5, 100):
        host = host_cls(capacity, dtype=np.float32)
        tree = jax_cls(capacity, dtype=np.float32)
        for idx, vals in _updates(rng, capacity, 4):
            vals = vals - 5.0  # negative values are fine here
            host.set_values(idx, vals)
            tree = tree.set_values(idx, vals)
        np.testing.assert_array_equal(np.asarray(tree.values), host.values)
        assert float(tree.root_value) == host.root_value
        starts = rng.integers(0, capacity + 1, BATCH)
        stops = np.maximum(starts, rng.integers(0, capacity + 1, BATCH))
        np.testing.assert_array_equal(
            np.asarray(tree.partial_reduce(starts, stops)), host.partial_reduce(starts, stops)
        )


# ---------------------------------------------------------------------- properties (hypothesis)


@st.composite
def _batches(draw):
    capacity = draw(st.sampled_from(CAPACITIES))
    steps = draw(st.integers(1, 4))
    batches = []
    for _ in range(steps):
        idx = draw(st.lists(st.integers(0, capacity - 1), min_size=BATCH, max_size=BATCH))
        vals = draw(
            st.lists(
                st.one_of(st.just(0.0), st.floats(1e-30, 1e30, allow_nan=False)),
                min_size=BATCH,
                max_size=BATCH,
            )
        )
        batches.append((np.array(idx), np.array(vals, dtype=np.float32)))
    return capacity, batches


@settings(max_examples=25, deadline=None)
@given(_batches(), st.lists(st.floats(0, 1), min_size=BATCH, max_size=BATCH))
def test_float32_jit_matches_brute_force_and_never_samples_zero(case, us) -> None:
    capacity, batches = case
    tree = JaxSumTree(capacity, dtype=np.float32)
    truth = np.zeros(capacity, np.float32)
    update = jax.jit(lambda t, i, v: t.set_values(i, v))
    for idx, vals in batches:
        tree = update(tree, idx, vals)
        truth[idx] = vals  # numpy: the last write wins
    np.testing.assert_array_equal(np.asarray(tree.values), truth)
    if truth.sum() > 0:
        u = np.array(us, dtype=np.float32)
        got = np.asarray(jax.jit(lambda t, u: t.inverse_cdf(u))(tree, u))
        assert ((got >= 0) & (got < capacity)).all()
        assert (truth[got] > 0).all()


def test_descent_is_safe_at_the_edges_in_float32() -> None:
    # float32 totals round: u = 1 and u * total above the true sum must still land on a
    # positive index, also when the last positive value is tiny beside the others
    tree = JaxSumTree(13, dtype=np.float32)
    vals = np.zeros(13, np.float32)
    vals[[0, 4, 7]] = [1e30, 3.0, 1e-30]
    tree = tree.set_values(..., vals)
    u = jnp.array([0.0, 1.0, np.nextafter(np.float32(1), np.float32(0)), 0.5], jnp.float32)
    got = np.asarray(jax.jit(lambda t, u: t.inverse_cdf(u))(tree, u))
    assert (vals[got] > 0).all()
    assert got[1] in (0, 4, 7)


def test_stratified_sampling_lands_one_index_per_slice() -> None:
    rng = np.random.default_rng(1)
    vals = rng.uniform(0, 1, 100) * (rng.random(100) < 0.7)
    host = SumTree(100)
    host.set_values(..., vals)
    tree = JaxSumTree.from_host(host)
    n = BATCH
    idx = np.asarray(tree.sample(jax.random.key(3), n, stratified=True))
    lo = host.inverse_cdf(np.arange(n) / n)
    hi = host.inverse_cdf(np.minimum((np.arange(n) + 1) / n, 1.0))
    assert ((lo <= idx) & (idx <= hi)).all()
    assert (vals[idx] > 0).all()


def test_sample_frequencies_follow_the_values() -> None:
    tree = JaxSumTree(4).set_values(..., [1.0, 0.0, 3.0, 4.0])
    idx = np.asarray(tree.sample(jax.random.key(0), 8000))
    freq = np.bincount(idx, minlength=4) / idx.size
    np.testing.assert_allclose(freq, [0.125, 0.0, 0.375, 0.5], atol=0.03)


# ---------------------------------------------------------------------- transformations


def test_vmap_over_eight_different_trees() -> None:
    rng = np.random.default_rng(2)
    capacity = 13
    idx = rng.integers(0, capacity, (8, BATCH))
    vals = rng.uniform(0, 1, (8, BATCH)).astype(np.float32)
    u = rng.uniform(size=(8, BATCH)).astype(np.float32)

    def one(i, v, u):
        tree = JaxSumTree(capacity, dtype=np.float32).set_values(i, v)
        return tree, tree.inverse_cdf(u)

    trees, got = jax.jit(jax.vmap(one))(idx, vals, u)
    assert trees.nodes.shape[0] == 8
    for k in range(8):
        host = SumTree(capacity, dtype=np.float32)
        host.set_values(idx[k], vals[k])
        tree_k = jax.tree_util.tree_map(lambda x, k=k: x[k], trees)
        np.testing.assert_array_equal(np.asarray(tree_k.values), host.values)
        assert float(tree_k.root_value) == host.root_value
        _assert_inverse_cdf(host.values, u[k], got[k])


def test_vmap_nested_and_with_unbatched_arguments() -> None:
    # a 2 x 3 grid of trees under two vmaps, then one tree for a batch of u (and a batch of
    # trees for one u): the unbatched side is shared, the results match the host trees
    rng = np.random.default_rng(7)
    capacity = 100
    idx = rng.integers(0, capacity, (2, 3, BATCH))
    vals = rng.uniform(0, 1, (2, 3, BATCH)).astype(np.float32)
    u = rng.uniform(size=BATCH).astype(np.float32)

    def one(i, v):
        tree = JaxSumTree(capacity, dtype=np.float32).set_values(i, v)
        return tree, tree.inverse_cdf(u)

    trees, got = jax.jit(jax.vmap(jax.vmap(one)))(idx, vals)
    assert trees.nodes.shape[:2] == (2, 3)
    for a in range(2):
        for b in range(3):
            host = SumTree(capacity, dtype=np.float32)
            host.set_values(idx[a, b], vals[a, b])
            tree_ab = jax.tree_util.tree_map(lambda x, a=a, b=b: x[a, b], trees)
            np.testing.assert_array_equal(np.asarray(tree_ab.values), host.values)
            np.testing.assert_array_equal(np.asarray(got[a, b]), tree_ab.inverse_cdf(u))
            _assert_inverse_cdf(host.values, u, got[a, b])
    tree = jax.tree_util.tree_map(lambda x: x[1, 2], trees)
    us = rng.uniform(size=(4, BATCH)).astype(np.float32)
    per_u = jax.jit(jax.vmap(lambda u: tree.inverse_cdf(u)))(us)
    for k in range(4):
        np.testing.assert_array_equal(np.asarray(per_u[k]), tree.inverse_cdf(us[k]))
        _assert_inverse_cdf(tree.values, us[k], per_u[k])
    # one batch of writes for every tree of a vmapped batch
    flat = jax.tree_util.tree_map(lambda x: x[0], trees)
    same = jax.jit(jax.vmap(lambda t: t.set_values(idx[0, 0], vals[1, 1])))(flat)
    for b in range(3):
        host = SumTree(capacity, dtype=np.float32)
        host.set_values(idx[0, b], vals[0, b])
        host.set_values(idx[0, 0], vals[1, 1])
        same_b = jax.tree_util.tree_map(lambda x, b=b: x[b], same)
        np.testing.assert_array_equal(np.asarray(same_b.values), host.values)


def test_scan_carry_and_donation() -> None:
    rng = np.random.default_rng(3)
    capacity = 100
    steps = 5
    idx = rng.integers(0, capacity, (steps, BATCH))
    vals = rng.uniform(0.1, 1, (steps, BATCH)).astype(np.float32)

    def body(tree, x):
        return tree.set_values(*x), tree.root_value

    tree0 = JaxSumTree(capacity, dtype=np.float32)
    tree, roots = jax.jit(lambda t: jax.lax.scan(body, t, (idx, vals)))(tree0)
    truth = np.zeros(capacity, np.float32)
    roots_before = []  # brute force: the sum of the values before each step
    for i, v in zip(idx, vals, strict=True):
        roots_before.append(truth.astype(np.float64).sum())
        truth[i] = v
    np.testing.assert_array_equal(np.asarray(tree.values), truth)
    np.testing.assert_allclose(np.asarray(roots), roots_before, rtol=1e-6)
    np.testing.assert_allclose(float(tree.root_value), truth.astype(np.float64).sum(), rtol=1e-6)


def test_a_donated_tree_is_updated_like_the_host_tree() -> None:
    # donating lets XLA write the update into the input's buffer: the result must still be
    # the tree the host builds from the same writes (values, sums, partial sums, descent)
    rng = np.random.default_rng(11)
    capacity = 100
    donated = jax.jit(lambda t, i, v: t.set_values(i, v), donate_argnums=0)
    host = SumTree(capacity, dtype=np.float32)
    truth = np.zeros(capacity, np.float64)
    tree = JaxSumTree(capacity, dtype=np.float32)
    for idx, vals in _updates(rng, capacity, 3):
        vals = vals.astype(np.float32)
        old, tree = tree, donated(tree, idx, vals)
        assert old.nodes.is_deleted()  # the buffer was donated (CPU donation: jaxlib 0.3.24)
        host.set_values(idx, vals)
        truth[idx] = vals  # numpy: the last write wins
    assert tree.capacity == capacity
    np.testing.assert_array_equal(np.asarray(tree.values), host.values)
    np.testing.assert_array_equal(np.asarray(tree.values), truth.astype(np.float32))
    assert float(tree.root_value) == host.root_value
    np.testing.assert_allclose(float(tree.root_value), truth.sum(), rtol=1e-6)
    starts = rng.integers(0, capacity + 1, BATCH)
    stops = np.maximum(starts, rng.integers(0, capacity + 1, BATCH))
    brute = [truth[a:b].sum() for a, b in zip(starts, stops, strict=True)]
    np.testing.assert_allclose(np.asarray(tree.partial_reduce(starts, stops)), brute, rtol=1e-5)
    u = np.concatenate([[0.0, 1.0, 0.5], rng.uniform(size=BATCH - 3)]).astype(np.float32)
    _assert_inverse_cdf(truth, u, tree.inverse_cdf(u))


def test_duplicates_last_write_wins() -> None:
    tree = JaxSumTree(4).set_values([1, 1, 2, 1], [5.0, 6.0, 1.0, 7.0])
    assert np.asarray(tree.values).tolist() == [0.0, 7.0, 1.0, 0.0]
    traced = jax.jit(lambda t: t.set_values(jnp.array([3, 3, 3]), jnp.array([1.0, 2.0, 3.0])))
    assert float(traced(JaxSumTree(4)).values[3]) == 3.0


def test_last_write_wins_with_many_repeats_and_the_sort_fallback(monkeypatch) -> None:
    rng = np.random.default_rng(5)
    update = jax.jit(lambda t, i, v: t.set_values(i, v))
    cases = [(rng.integers(-13, 13, 512), rng.uniform(0, 1, 512)) for _ in range(3)]
    cases.append((np.array([7]), np.array([0.5])))  # a batch of one skips the repeat rule

    def check() -> None:
        for idx, vals in cases:
            tree = update(JaxSumTree(13, dtype=np.float32), idx, vals.astype(np.float32))
            truth = np.zeros(13, np.float32)
            truth[idx] = vals  # numpy: the last write wins
            np.testing.assert_array_equal(np.asarray(tree.values), truth)
            host = SumTree(13, dtype=np.float32)
            host.set_values(..., truth)
            assert float(tree.root_value) == host.root_value

    check()
    # Batches too long for exact positions in the node dtype sort instead. That rule lives in
    # the XLA kernels, so they must run (the custom calls apply the host's own rule), and
    # programs compiled above must not be reused: the caches are cleared both ways.
    from rlu_trees.jax import _cpu, _kernels

    sorted_batches = []
    real_sort = _kernels.lax.sort

    def counting_sort(*args, **kwargs):
        sorted_batches.append(1)
        return real_sort(*args, **kwargs)

    enabled = _cpu.ENABLED
    monkeypatch.setattr(_kernels, "exact_positions", lambda dtype: 1)
    monkeypatch.setattr(_kernels.lax, "sort", counting_sort)
    _cpu.ENABLED = False
    jax.clear_caches()
    try:
        update = jax.jit(lambda t, i, v: t.set_values(i, v))
        check()
    finally:
        _cpu.ENABLED = enabled
        monkeypatch.undo()
        jax.clear_caches()
    assert sorted_batches  # the fallback was traced, not a program compiled before


def test_walks_that_switch_to_the_small_head_match_the_host(monkeypatch, x64) -> None:
    # large trees read their top levels from a small head of the node array: force the
    # switch at depth 2 so that these small trees take both paths, in both walks
    from rlu_trees.jax import _cpu, _kernels

    # the level loops, whatever lowering the module runs (ENABLED is read when a tree is made)
    monkeypatch.setattr(_cpu, "ENABLED", False)
    monkeypatch.setattr(_kernels, "descend", functools.partial(_kernels.descend, unroll=False))
    loops = functools.partial(_kernels.set_values, unroll=False)
    monkeypatch.setattr(_kernels, "set_values", loops)
    monkeypatch.setattr(_kernels, "_small_levels", lambda dtype: 2)
    jax.clear_caches()
    try:
        with x64():
            rng = np.random.default_rng(6)
            for capacity in (5, 100, 4097):
                host = SumTree(capacity)
                tree = JaxSumTree(capacity, dtype=np.float64)
                for idx, vals in _updates(rng, capacity, 4, "wide"):
                    host.set_values(idx, vals)
                    tree = tree.set_values(idx, vals)
                np.testing.assert_array_equal(np.asarray(tree.values), host.values)
                assert float(tree.root_value) == host.root_value
                u = np.concatenate([[0.0, 1.0, 0.5], rng.uniform(size=BATCH - 3)])
                got = np.asarray(tree.inverse_cdf(u))
                np.testing.assert_array_equal(got, host.inverse_cdf(u))
    finally:
        jax.clear_caches()


def test_updates_write_in_place_inside_scan(lowering) -> None:
    # the optimized HLO of a scan over sample-and-update steps holds no copy of the node
    # array inside the loop (one copy of the input, outside the loop, is allowed)
    capacity = 1 << 12
    tree = JaxSumTree(capacity, dtype=np.float32).set_values(..., 1.0)

    def body(tree, x):
        u, v = x
        return tree.set_values(tree.inverse_cdf(u), v), None

    xs = (jnp.linspace(0, 1, 4 * BATCH).reshape(4, BATCH), jnp.ones((4, BATCH)))
    scan = jax.jit(lambda t, xs: jax.lax.scan(body, t, xs)[0])
    if lowering == "unrolled":
        # the accelerators' levels are kept apart by optimization barriers, which XLA's CPU
        # pipeline removes before fusion: compiled for the CPU, a level's reads of the node
        # array may be fused past the next scatter and copied. GPUs and TPUs keep the
        # barriers (bench_jaxtrees counts the copies in the program it runs there); here
        # the program handed to XLA must hold them, one per level of each walk
        height = (capacity - 1).bit_length()
        climbed = sum(1 for depth in range(height) if 1 << depth > BATCH)  # the rest is rebuilt
        hlo = scan.lower(tree, xs).as_text()
        from rlu_trees.jax import _kernels

        barriers = _kernels.barriers_work()  # JAX 0.4.26 has none: the same walk without
        assert hlo.count("stablehlo.optimization_barrier") == (height + climbed) * barriers
        return
    hlo = scan.lower(tree, xs).compile().as_text()
    from rlu_trees.jax import _cpu

    # the compiled kernels run exactly when they should
    calls = _cpu.ENABLED and not _cpu.cache_loads_wrongly() and _cpu.available()
    assert ("rlu_trees_set_float32" in hlo) == calls
    assert ("rlu_trees_descend_float32" in hlo) == calls
    size = tree.nodes.shape[0]
    loops = [c for c in hlo.split("\n\n") if not c.startswith("ENTRY")]
    copies = [line for c in loops for line in c.splitlines() if f"f32[{size}]{{0}} copy(" in line]
    assert not copies, copies
    assert f"f32[{size}]" in hlo


def test_the_compiled_kernels_serve_the_cpu_where_jax_can_call_them(lowering, monkeypatch) -> None:
    # wherever jax.ffi calls legacy custom calls, the probe succeeds and CPU programs use
    # them; a program lowered for another platform gets the XLA kernels, and on a machine
    # whose default backend is an accelerator no program holds the custom calls
    from rlu_trees.jax import _cpu

    assert _cpu.available() == (_cpu._ffi() is not None)
    tree = JaxSumTree(64).set_values(..., 1.0)

    def lowered(platforms=None):
        step = jax.jit(lambda t, u: t.set_values(t.inverse_cdf(u), u))
        if platforms is None:
            return step.lower(tree, jnp.ones(BATCH)).as_text()
        return step.trace(tree, jnp.ones(BATCH)).lower(lowering_platforms=platforms).as_text()

    expected = lowering == "cpu-calls" and _cpu.available()
    assert ("custom_call @rlu_trees_descend" in lowered()) == expected
    if hasattr(jax.jit(abs), "trace"):  # JAX >= 0.4.30
        assert "gather" in lowered(("cuda",))  # the XLA kernels' walk
        # the CPU's own lowering without the custom calls keeps the level loops, and so does
        # a program of a JAX that keeps every branch, where accelerators get the loops
        calls_alone = _cpu.available() and _cpu._lowers_one_branch()
        loops = lowering == "cpu-calls" and not calls_alone
        assert ("stablehlo.while" in lowered()) == loops
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    jax.clear_caches()  # the inner jitted walks were traced with the CPU's choice
    try:
        assert "rlu_trees_" not in lowered()
    finally:
        monkeypatch.undo()
        jax.clear_caches()


def test_gradients_flow_through_set_values_and_sampling() -> None:
    # d root / d values = 1 for every written value (the XLA kernels' derivative, both ways)
    def root(v):
        tree = JaxSumTree(4).set_values(jnp.array([0, 1, 1]), v)
        idx = tree.inverse_cdf(v[:1] / 10.0)  # integer output: no tangent, no error
        return tree.root_value + 0.0 * idx.sum()

    grad = jax.jit(jax.grad(root))(jnp.array([1.0, 2.0, 3.0]))
    assert np.asarray(grad).tolist() == [1.0, 0.0, 1.0]  # the overwritten 2.0 does not count


def test_a_node_array_of_another_capacity_is_refused() -> None:
    # e.g. a checkpoint restored into the structure of a tree of another capacity: the
    # compiled kernels would read and write past the array, so every path refuses it
    small = JaxSumTree(1 << 10).set_values(..., 1.0)
    treedef = jax.tree_util.tree_structure(JaxSumTree(1 << 12))
    bad = jax.tree_util.tree_unflatten(treedef, [small.nodes])
    for call in (
        lambda t: t.set_values(jnp.arange(BATCH), jnp.ones(BATCH)),
        lambda t: t.inverse_cdf(jnp.linspace(0, 1, BATCH)),
        lambda t: t.sample(jax.random.key(0), BATCH),
        lambda t: t.partial_reduce(0, 5),
        lambda t: t.set_values(..., jnp.ones(1 << 12)),
    ):
        with pytest.raises(ValueError, match="nodes"):
            jax.jit(call)(bad)


def test_wide_indices_inside_jit_are_skipped_not_wrapped(x64) -> None:
    with x64():
        tree = JaxSumTree(4, dtype=np.float32).set_values(..., 1.0)
        update = jax.jit(lambda t, i: t.set_values(i, jnp.full(i.shape, 5.0)))
        new = update(tree, jnp.array([2**32 + 1, -(2**32) + 2, 2], jnp.int64))
        assert np.asarray(new.values).tolist() == [1.0, 1.0, 5.0, 1.0]
        new = update(tree, jnp.array([2**32 + 1, 3], jnp.uint64))
        assert np.asarray(new.values).tolist() == [1.0, 1.0, 1.0, 5.0]
    small = jax.jit(lambda t, i: t.set_values(i, jnp.full(i.shape, 5.0)))(
        JaxSumTree(300), jnp.array([255, 7], jnp.uint8)
    )
    assert float(small.values[255]) == 5.0 and float(small.values[7]) == 5.0


def test_subnormals_are_stored_as_zeros_in_every_tree() -> None:
    sub = np.float32(2.9e-39)
    mins = jax.jit(lambda t, v: t.set_values(jnp.array([0, 1]), v))(
        JaxMinTree(2, dtype=np.float32), jnp.array([sub, -sub], jnp.float32)
    )
    assert np.asarray(mins.values).tolist() == [0.0, 0.0]
    assert np.signbit(np.asarray(mins.values)).tolist() == [False, True]
    assert float(mins.root_value) == 0.0


# ---------------------------------------------------------------------- bad input


def test_bad_input_raises_outside_jit_and_leaves_the_tree() -> None:
    tree = JaxSumTree(4).set_values(..., [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(IndexError, match="idx"):
        tree.set_values([4], [1.0])
    for bad in (-1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="values"):
            tree.set_values([0], [bad])
    with pytest.raises(ValueError, match="u"):
        tree.inverse_cdf([1.5])
    with pytest.raises(RuntimeError):
        JaxSumTree(4).sample(jax.random.key(0), 2)
    with pytest.raises(ValueError, match="NaN"):
        JaxMinTree(3).set_values([0], [np.nan])
    with pytest.raises(IndexError):
        tree.partial_reduce(3, 1)
    np.testing.assert_array_equal(np.asarray(tree.values), [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(TypeError, match="capacity"):
        JaxSumTree(2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="capacity"):
        JaxSumTree(0)
    with pytest.raises(ValueError, match="reducer"):
        JaxSegmentTree(4, "mul")
    with pytest.raises(TypeError, match="n"):
        tree.sample(jax.random.key(0), 2.0)  # type: ignore[arg-type]
    big = np.finfo(np.float32).max
    with pytest.raises(ValueError, match="overflow"):
        JaxSumTree(2, dtype=np.float32).set_values(..., [big, big])


def test_bad_input_inside_jit_is_skipped_or_clamped() -> None:
    tree = JaxSumTree(4, dtype=np.float32).set_values(..., [1.0, 2.0, 3.0, 4.0])
    update = jax.jit(lambda t, i, v: t.set_values(i, v))
    idx = np.array([0, 1, 2, 9, -1, 3], np.int32)
    vals = np.array([-1.0, np.nan, np.inf, 5.0, 6.0, 7.0], np.float32)
    new = update(tree, idx, vals)
    # negative, NaN, inf and out-of-range entries are skipped; -1 is the last index
    assert np.asarray(new.values).tolist() == [1.0, 2.0, 3.0, 7.0]
    big = np.finfo(np.float32).max
    huge = update(tree, np.array([0, 1, 2, 3, 0, 0], np.int32), np.full(6, big, np.float32))
    assert np.isfinite(float(huge.root_value))
    got = jax.jit(lambda t, u: t.inverse_cdf(u))(tree, jnp.array([-3.0, np.nan, 7.0]))
    assert np.asarray(got).tolist() == [0, 0, 3]
    empty = jax.jit(lambda t, k: t.sample(k, 3))(JaxSumTree(5), jax.random.key(0))
    assert np.asarray(empty).tolist() == [4, 4, 4]
    mins = jax.jit(lambda t, v: t.set_values(jnp.array([0, 1]), v))(
        JaxMinTree(2), jnp.array([np.nan, 2.0])
    )
    assert np.asarray(mins.values).tolist() == [np.inf, 2.0]


# ------------------------------------------------------------------- conversion, pytree, checkpoint


@pytest.mark.parametrize(
    ("jax_cls", "host_cls"), [(JaxSumTree, SumTree), (JaxMinTree, MinTree), (JaxMaxTree, MaxTree)]
)
def test_conversion_both_ways(jax_cls, host_cls) -> None:
    rng = np.random.default_rng(4)
    host = host_cls(4097, dtype=np.float32)
    host.set_values(..., rng.uniform(0, 1, 4097))
    tree = JaxSegmentTree.from_host(host)
    assert type(tree) is jax_cls and tree.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(tree.values), host.values)
    assert float(tree.root_value) == host.root_value
    back = tree.to_host()
    assert type(back) is host_cls
    np.testing.assert_array_equal(back.values, host.values)
    assert back.root_value == host.root_value
    generic = SegmentTree(5, np.add, 0.0, dtype=np.float32)
    generic.set_values(..., [-1.0, 2.0, 3.0, 4.0, 5.0])
    g = JaxSegmentTree.from_host(generic)
    assert type(g) is JaxSegmentTree and float(g.root_value) == 13.0
    assert g.to_host().root_value == 13.0
    with pytest.raises(TypeError):
        JaxSegmentTree.from_host(np.zeros(3))


def test_pytree_and_checkpoint_round_trip(tmp_path) -> None:
    rlu_serialize = pytest.importorskip("rlu_serialize")
    tree = JaxSumTree(13).set_values(..., np.arange(13.0))
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    assert len(leaves) == 1
    assert jax.tree_util.tree_unflatten(treedef, leaves).capacity == 13
    path = tmp_path / "tree.pkl.lz4"
    rlu_serialize.dump({"tree": tree, "min": JaxMinTree(3)}, path)
    loaded = rlu_serialize.load(path)
    assert type(loaded["tree"]) is JaxSumTree
    np.testing.assert_array_equal(np.asarray(loaded["tree"].nodes), np.asarray(tree.nodes))
    assert float(loaded["min"].root_value) == np.inf
    assert int(loaded["tree"].inverse_cdf(1.0)) == 12


def test_import_rlu_trees_does_not_load_jax() -> None:
    import subprocess
    import sys

    code = "import sys, rlu_trees; print('jax' in sys.modules, 'numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_the_switch_is_part_of_every_trees_static_data(monkeypatch) -> None:
    # a tree keeps the switch as it was when it was made, in its treedef: a jitted function
    # traced with one tree is traced again for a tree made after the switch changed
    from rlu_trees.jax import _cpu

    step = jax.jit(lambda t, u: t.set_values(t.inverse_cdf(u), u))
    monkeypatch.setattr(_cpu, "ENABLED", True)
    with_calls = JaxSumTree(64).set_values(..., 1.0)
    monkeypatch.setattr(_cpu, "ENABLED", False)
    without = JaxSumTree(64).set_values(..., 1.0)
    u = jnp.ones(BATCH)
    # (at a JAX too old for the custom calls, neither has them)
    calls = _cpu.available() and not _cpu.cache_loads_wrongly()
    assert ("rlu_trees_descend" in step.lower(with_calls, u).as_text()) == calls
    assert "rlu_trees_" not in step.lower(without, u).as_text()  # no stale program
    assert jax.tree_util.tree_structure(with_calls) != jax.tree_util.tree_structure(without)
    np.testing.assert_array_equal(step(with_calls, u).values, step(without, u).values)


def test_cpu_calls_says_what_is_in_use_and_why(monkeypatch) -> None:
    from rlu_trees.jax import CpuCalls, _cpu, cpu_calls

    monkeypatch.setattr(_cpu, "ENABLED", True)
    status = cpu_calls()
    calls = _cpu.available() and not _cpu.cache_loads_wrongly()
    assert isinstance(status, CpuCalls) and status.active == calls
    if status.active:
        assert "passed the probe" in status.reason
    monkeypatch.setattr(_cpu, "ENABLED", False)
    assert cpu_calls() == (
        False,
        "switched off by the environment variable RLU_TREES_JAX_CPU_CALLS=0",
    )
    monkeypatch.setattr(_cpu, "ENABLED", True)
    monkeypatch.setattr(_cpu, "cache_loads_wrongly", lambda: True)
    status = cpu_calls()
    assert not status.active and "persistent compilation cache is on" in status.reason
    monkeypatch.setattr(_cpu, "cache_loads_wrongly", lambda: False)
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert cpu_calls() == (False, "the default backend is gpu: the XLA kernels serve it")


def test_a_tree_made_before_the_cache_is_on_leaves_the_calls_once_it_is(monkeypatch) -> None:
    # JAX 0.5.1 to 0.10.1 load programs holding the calls from their persistent cache wrongly;
    # a tree made before that cache is turned on must not keep taking them through the traces
    # JAX already holds: its layout (the jitted operations' static key) leaves them out
    from rlu_trees.jax import _cpu

    cache_on = [False]
    monkeypatch.setattr(_cpu, "ENABLED", True)
    monkeypatch.setattr(_cpu, "cache_loads_wrongly", lambda: cache_on[0])
    tree = JaxSumTree(64).set_values(jnp.arange(64), jnp.arange(64.0, dtype=jnp.float32))
    u = jnp.linspace(0.0, 0.99, 8, dtype=jnp.float32)
    before = jax.jit(lambda t, u: t.inverse_cdf(u))
    # (at a JAX too old for the custom calls, neither program has them)
    assert ("rlu_trees_descend" in before.lower(tree, u).as_text()) == _cpu.available()
    cache_on[0] = True
    after = jax.jit(lambda t, u: t.inverse_cdf(u))  # a new program: traced now
    assert "rlu_trees_" not in after.lower(tree, u).as_text()
    np.testing.assert_array_equal(after(tree, u), before(tree, u))
    assert jax.tree_util.tree_structure(tree) == jax.tree_util.tree_structure(JaxSumTree(64))


def test_a_failing_probe_warns_once_and_says_why(monkeypatch) -> None:
    import warnings

    from rlu_trees.jax import _cpu

    def broken(lay, clamp):
        raise RuntimeError("no such custom-call ABI\nsecond line")

    if _cpu._ffi() is not None:  # a JAX that can make the custom calls, which then fail
        monkeypatch.setattr(_cpu, "_set_op", broken)
        with pytest.warns(RuntimeWarning, match="no such custom-call ABI; the JAX trees use"):
            status = _cpu._probe.__wrapped__()
        reason = "the probe's custom calls failed: RuntimeError: no such custom-call ABI"
        assert status == (False, reason)
    # an old JAX is no surprise: no warning
    monkeypatch.setattr(_cpu, "_ffi", lambda: None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        status = _cpu._probe.__wrapped__()
    assert not status.active and "cannot make legacy custom calls" in status.reason


@pytest.mark.parametrize("walks", ["module's lowering", "level loops"])
@pytest.mark.parametrize("tree", [JaxSumTree, JaxMinTree])
def test_trees_run_in_shard_map_as_under_vmap(tree, walks, monkeypatch) -> None:
    """A write and a draw inside ``jax.shard_map`` (one device is enough: JAX types the values
    with the mesh axes they vary over either way) give what vmap gives. They raised a TypeError
    there: the compiled calls' results, and the level loops' starting carry, varied over none."""
    from jax.sharding import Mesh, PartitionSpec

    try:
        from jax import shard_map
    except ImportError:  # JAX before 0.7 keeps it in experimental
        from jax.experimental.shard_map import shard_map
    from rlu_trees.jax import _cpu, _kernels

    if walks == "level loops":  # as in RLU_TREES_JAX_CPU_CALLS=0, whatever the module runs
        monkeypatch.setattr(_cpu, "ENABLED", False)
        monkeypatch.setattr(_kernels, "descend", functools.partial(_kernels.descend, unroll=False))
        loops = functools.partial(_kernels.set_values, unroll=False)
        monkeypatch.setattr(_kernels, "set_values", loops)
        jax.clear_caches()
    rng = np.random.default_rng(1)
    values = jnp.asarray(rng.random((3, 6)), jnp.float32)
    keys = jax.random.split(jax.random.key(1), 3)

    def use(v: jax.Array, key: jax.Array) -> Any:
        t = tree(6).set_values(jnp.arange(6), v).set_values(jnp.array([4, 1]), v[:2] * 2)
        drawn = t.sample(key, 8) if tree is JaxSumTree else jnp.zeros(8, jnp.int32)
        return t.nodes, drawn, t.root_value

    spec = PartitionSpec("d")
    mesh = Mesh(np.array(jax.devices()[:1]), ("d",))
    split = shard_map(jax.vmap(use), mesh=mesh, in_specs=(spec, spec), out_specs=spec)
    try:
        got, want = jax.jit(split)(values, keys), jax.jit(jax.vmap(use))(values, keys)
    finally:
        monkeypatch.undo()
        jax.clear_caches()
    for x, y in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        assert np.asarray(x).tobytes() == np.asarray(y).tobytes()
