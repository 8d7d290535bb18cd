"""rlu-replay walks pytrees by JAX's rules (through optree), and still reads 0.3.0's pickles."""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_replay import ReplayBuffer

Point = namedtuple("Point", "y x")
FIXTURE = Path(__file__).parent / "fixtures" / "pytrees_replay0.3.0.pkl"


def _trees() -> st.SearchStrategy:
    leaf = st.integers(0, 9).map(lambda k: np.full((2, 1), k, np.float32))
    keys = st.sampled_from(["b", "a", "zeta", "mid", "A", "_x"])

    def nest(children: st.SearchStrategy) -> st.SearchStrategy:
        return st.one_of(
            st.dictionaries(keys, children, min_size=1, max_size=4),
            st.lists(children, min_size=1, max_size=3),
            st.tuples(children, children),
            st.builds(Point, children, children),
            st.dictionaries(keys, children, min_size=1, max_size=3).map(
                lambda d: OrderedDict(reversed(list(d.items())))
            ),
            st.tuples(children, st.none()),
        )

    return st.recursive(leaf, nest, max_leaves=8)


def _number_leaves(tree: object) -> object:
    count = iter(range(10**6))
    return jax.tree.map(lambda x: np.full_like(x, next(count)), tree)


@settings(max_examples=60, deadline=None)
@given(_trees())
def test_a_buffer_orders_leaves_and_rebuilds_trees_as_jax_does(tree: object) -> None:
    tree = _number_leaves(tree)
    buffer = ReplayBuffer(4)
    buffer.add(tree)
    got = buffer.sample(3, rng=0).batch
    # same structure as JAX sees it: dict keys sorted, OrderedDict in its own order, None empty
    assert jax.tree.structure(got) == jax.tree.structure(tree)
    for mine, theirs in zip(jax.tree.leaves(got), jax.tree.leaves(tree), strict=True):
        np.testing.assert_array_equal(mine, np.repeat(theirs[:1], 3, axis=0))


def test_a_dict_in_another_insertion_order_is_the_same_structure() -> None:
    buffer = ReplayBuffer(4)
    buffer.add({"b": np.zeros(1), "a": np.ones(1)})
    buffer.add({"a": np.full(1, 2.0), "b": np.full(1, 3.0)})
    batch = buffer.sample(16, rng=0).batch
    # each item keeps its own pairing of a and b, whatever order its dict was written in
    np.testing.assert_array_equal(batch["b"], np.where(batch["a"] == 1.0, 0.0, 3.0))
    assert set(batch["a"].tolist()) == {1.0, 2.0}


def test_a_different_structure_is_refused_naming_the_leaves() -> None:
    buffer = ReplayBuffer(4)
    buffer.add({"s": Point(y=np.zeros(1), x=np.zeros(1)), "a": np.zeros(1)})
    with pytest.raises(ValueError) as caught:
        buffer.add({"s": {"y": np.zeros(1), "z": np.zeros(1)}, "a": np.zeros(1)})
    message = str(caught.value)
    assert "unexpected leaves [\"['s']['y']\", \"['s']['z']\"]" in message
    assert "missing leaves [\"['s'].x\", \"['s'].y\"]" in message
    listed = ReplayBuffer(4)
    listed.add({"s": [np.zeros(1), np.zeros(1)]})
    with pytest.raises(ValueError, match="the containers differ"):  # a tuple is not a list
        listed.add({"s": (np.zeros(1), np.zeros(1))})


def test_a_pickle_of_rlu_replay_0_3_0_loads_with_every_leaf_in_place(
    compat_loads: Callable[[bytes], Any],
) -> None:
    saved, expected = compat_loads(FIXTURE.read_bytes())
    buffer = compat_loads(saved)
    sample = buffer.sample(5, rng=3)
    batch = sample.batch
    np.testing.assert_array_equal(sample.idx, expected["idx"])
    np.testing.assert_array_equal(batch["zeta"], expected["zeta"])
    np.testing.assert_array_equal(batch["alpha"].a, expected["alpha.a"])
    np.testing.assert_array_equal(batch["alpha"].b[0], expected["alpha.b[0]"])
    np.testing.assert_array_equal(batch["mid"]["b"], expected["mid.b"])
    np.testing.assert_array_equal(batch["mid"]["a"], expected["mid.a"])
    assert batch["alpha"].b[1] is None and batch["alpha"].size is None
    assert list(batch["mid"]) == ["a", "b"]  # 0.3.0 stored an OrderedDict's keys sorted
    # and the loaded buffer keeps taking batches of that structure
    more = compat_loads(saved)
    more.add(buffer.sample(2, rng=0).batch)
    assert len(more) == 6
