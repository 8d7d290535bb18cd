"""rlu-core's pytree walker follows JAX's rules: checked against jax.tree_util itself."""

from __future__ import annotations

from collections import OrderedDict, namedtuple

import jax
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_core import TransitionBatch
from rlu_core._pytree import leaves_with_paths, structure_difference, tree_equal, tree_map

Point = namedtuple("Point", "y x")


def _trees() -> st.SearchStrategy:
    leaf = st.integers(0, 9).map(lambda k: np.full((1, 2), k, np.float32))
    keys = st.sampled_from(["b", "a", "zeta", "A", "_x"])

    def nest(children: st.SearchStrategy) -> st.SearchStrategy:
        return st.one_of(
            st.dictionaries(keys, children, min_size=1, max_size=4),  # insertion order random
            st.lists(children, min_size=1, max_size=3),
            st.tuples(children, st.none()),
            st.builds(Point, children, children),
            st.dictionaries(keys, children, min_size=1, max_size=3).map(OrderedDict),
        )

    return st.recursive(leaf, nest, max_leaves=8)


@settings(max_examples=80, deadline=None)
@given(_trees(), _trees())
def test_the_walker_sees_the_structures_and_leaf_order_jax_sees(a: object, b: object) -> None:
    numbered = iter(range(10**6))
    a = jax.tree.map(lambda x: x + next(numbered), a)
    # leaves in JAX's order (sorted dict keys, OrderedDict keys as inserted, None empty)
    mine = [leaf for _, leaf in leaves_with_paths(a)]
    theirs = jax.tree.leaves(a)
    assert len(mine) == len(theirs)
    assert all(x is y for x, y in zip(mine, theirs, strict=True))
    # a mapped tree has JAX's structure and keeps each dict's own key order
    doubled = tree_map(lambda x: 2 * x, a)
    assert jax.tree.structure(doubled) == jax.tree.structure(a)
    assert tree_equal(doubled, jax.tree.map(lambda x: 2 * x, a))
    # two trees agree exactly when JAX says their structures are equal
    same = jax.tree.structure(a) == jax.tree.structure(b)
    assert (structure_difference(a, b) is None) == same
    assert tree_equal(a, b) == (
        same and all(map(np.allclose, jax.tree.leaves(a), jax.tree.leaves(b)))
    )


def test_paths_name_dict_keys_fields_and_positions() -> None:
    tree = {"s": Point(y=np.zeros(1), x=[np.ones(1), None]), "a": np.zeros(1)}
    assert [path for path, _ in leaves_with_paths(tree)] == ["['a']", "['s'].y", "['s'].x[0]"]
    assert structure_difference(tree, {**tree, "s": (1, 2)}) == ("['s']", "a Point", "a tuple of 2")
    assert structure_difference([1], (1,)) == ("", "a list of 1", "a tuple of 1")


def test_transition_batches_with_dict_states_in_other_key_orders_concatenate() -> None:
    one = TransitionBatch.from_single(
        s={"b": np.zeros(2), "a": np.ones(3)}, a=0, logp=0.0, r=1.0, terminated=False, gamma=0.9
    )
    two = TransitionBatch.from_single(
        s={"a": np.full(3, 2.0), "b": np.full(2, 3.0)},
        a=1,
        logp=0.0,
        r=2.0,
        terminated=True,
        gamma=0.9,
    )
    both = TransitionBatch.concatenate([one, two])
    assert list(both.S) == ["b", "a"]  # the first batch's key order
    np.testing.assert_array_equal(both.S["a"], [np.ones(3), np.full(3, 2.0)])
    np.testing.assert_array_equal(both.S["b"], [np.zeros(2), np.full(2, 3.0)])
