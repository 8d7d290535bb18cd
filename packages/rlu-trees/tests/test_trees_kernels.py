"""Compiled kernels agree bit for bit with the plain-numpy reference path; import stays cheap."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_trees import MaxTree, MinTree, SumTree

SETTINGS = settings(max_examples=30, deadline=None)


def pair(kind: str, capacity: int, dtype, seed: int):
    cls = {"sum": SumTree, "min": MinTree, "max": MaxTree}[kind]
    kw = {"random_seed": seed} if kind == "sum" else {}
    fast, slow = cls(capacity, dtype=dtype, **kw), cls(capacity, dtype=dtype, **kw)
    assert fast._use_numba
    slow._use_numba = False  # route through rlu_trees._numpy_kernels
    return fast, slow


def storage(tree) -> np.ndarray:
    return np.concatenate([np.array(tree[level]) for level in range(tree.height)])


@st.composite
def cases(draw):
    kind = draw(st.sampled_from(["sum", "min", "max"]))
    capacity = draw(
        st.sampled_from([1, 2, 3, 5, 8, 9, 13, 33, 100, 2049, 5000]) | st.integers(1, 300)
    )
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    seed = draw(st.integers(0, 2**31))
    return kind, capacity, dtype, seed


@SETTINGS
@given(cases())
def test_compiled_and_numpy_paths_agree(case):
    kind, capacity, dtype, seed = case
    rng = np.random.default_rng(seed)
    fast, slow = pair(kind, capacity, dtype, seed)
    scale = rng.choice([1e-3, 1.0, 1e6])
    for step in range(6):
        if step == 0 or rng.random() < 0.2:
            idx = ...
            vals = rng.random(capacity) * scale
            vals[rng.random(capacity) < 0.3] = 0.0
        else:
            n = int(rng.integers(0, 2 * capacity + 3))
            idx = rng.integers(-capacity, capacity, n)
            vals = rng.random(n) * scale
            vals[rng.random(n) < 0.3] = 0.0
        if kind != "sum":
            vals = vals - 0.5 * scale
        fast.set_values(idx, vals)
        slow.set_values(idx, vals)
        np.testing.assert_array_equal(storage(fast), storage(slow))
        starts = rng.integers(0, capacity + 1, 20)
        stops = np.array([rng.integers(s, capacity + 1) for s in starts])
        np.testing.assert_array_equal(
            fast.partial_reduce(starts, stops), slow.partial_reduce(starts, stops)
        )
        if kind == "sum" and fast.root_value > 0:
            u = np.concatenate([[0.0, -0.0, 1.0, np.nextafter(1.0, 0.0)], rng.random(50)])
            np.testing.assert_array_equal(fast.inverse_cdf(u), slow.inverse_cdf(u))
            np.testing.assert_array_equal(fast.sample(33), slow.sample(33))
            np.testing.assert_array_equal(
                fast.sample(9, stratified=True), slow.sample(9, stratified=True)
            )


def test_numpy_path_rejects_like_the_compiled_path():
    fast, slow = pair("sum", 7, np.float64, 0)
    for tree in (fast, slow):
        tree.set_values(..., np.arange(7.0))
        for idx, vals in (([0, 7], [1.0, 1.0]), ([1, 2], [1.0, -1.0]), (..., [np.nan] * 7)):
            try:
                tree.set_values(idx, vals)
            except (IndexError, ValueError) as exc:
                kind = type(exc)
            else:  # pragma: no cover - a missing rejection fails the test
                raise AssertionError("not rejected")
            assert kind is (IndexError if idx == [0, 7] else ValueError)
        np.testing.assert_array_equal(tree.values, np.arange(7.0))


def test_import_does_not_load_numba():
    code = (
        "import sys, rlu_trees\n"
        "assert 'numba' not in sys.modules, 'numba imported eagerly'\n"
        "t = rlu_trees.SumTree(4)\n"
        "assert 'numba' not in sys.modules\n"
        "t.set_values(..., [1.0, 2.0, 3.0, 4.0])\n"
        "assert 'numba' in sys.modules\n"
        "print(t.root_value)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "10.0"
