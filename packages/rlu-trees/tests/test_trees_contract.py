"""The compiled kernels never touch ``tree[0]`` (``rlu_trees._kernel_contract``).

The JAX trees' CPU custom calls run these kernels on a view that starts one element before
XLA's buffer, so ``tree[0]`` there is memory that belongs to something else: a kernel that
read it would compute with garbage, one that wrote it would corrupt memory. Here ``tree[0]``
holds a NaN with a payload, which any arithmetic would spread and any write would replace.
"""

from __future__ import annotations

import numpy as np
import pytest
from rlu_trees import MaxTree, MinTree, SumTree
from rlu_trees._kernel_contract import UNUSED_SLOT

SENTINEL = np.array([0x7FF8DEADBEEF0001], dtype=np.int64).view(np.float64)[0]  # a marked NaN


def _bits(x: float) -> int:
    return int(np.array([x], dtype=np.float64).view(np.int64)[0])


@pytest.mark.parametrize("cls", [SumTree, MinTree, MaxTree])
@pytest.mark.parametrize("capacity", [1, 2, 3, 5, 64, 1000])
def test_no_kernel_reads_or_writes_the_unused_slot(cls, capacity) -> None:
    rng = np.random.default_rng(capacity)
    marked, plain = cls(capacity), cls(capacity)
    assert marked._use_numba, "the compiled kernels are what the JAX trees' CPU calls reuse"
    marked._tree[UNUSED_SLOT] = SENTINEL
    start = rng.random(capacity) + 0.1
    for tree in (marked, plain):
        tree.set_values(..., start)  # whole rebuild
    for _ in range(20):
        idx = rng.integers(0, capacity, 8)
        values = rng.random(8) + 0.1
        starts = rng.integers(0, capacity, 8)
        stops = np.minimum(starts + rng.integers(1, capacity + 1, 8), capacity)
        for tree in (marked, plain):
            tree.set_values(idx, values)  # path updates, duplicates included
        assert marked.root_value == plain.root_value
        np.testing.assert_array_equal(
            marked.partial_reduce(starts, stops), plain.partial_reduce(starts, stops)
        )
        if cls is SumTree:
            u = rng.random(16)
            np.testing.assert_array_equal(marked.inverse_cdf(u), plain.inverse_cdf(u))
            marked._rng_state[:] = plain._rng_state
            np.testing.assert_array_equal(marked.sample(16), plain.sample(16))
            np.testing.assert_array_equal(
                marked.sample(16, stratified=True), plain.sample(16, stratified=True)
            )
    np.testing.assert_array_equal(marked._tree[1:], plain._tree[1:])
    assert _bits(marked._tree[UNUSED_SLOT]) == _bits(SENTINEL)  # never written
