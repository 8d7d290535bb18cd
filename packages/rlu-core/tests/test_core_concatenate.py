"""TransitionBatch.concatenate: joins batches along the leading axis of every leaf, or refuses
batches that disagree, saying where."""

from collections import OrderedDict, namedtuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_core import TransitionBatch, chunks_pow2

Pair = namedtuple("Pair", ["left", "right"])


# --- an independent model: batches built from numpy arrays, sliced and joined by hand ---------


def _state(rng, n, shape):
    """A state pytree of ``n`` transitions: an array, a dict, a named tuple or a list."""
    if shape == "array":
        return rng.standard_normal((n, 3)).astype(np.float32)
    if shape == "dict":
        return {"pos": rng.standard_normal((n, 2)), "flags": (rng.integers(0, 2, n) == 1,)}
    if shape == "namedtuple":
        return Pair(rng.integers(-5, 5, (n, 2, 2)).astype(np.int8), rng.standard_normal(n))
    return [rng.standard_normal((n, 1)), {"t": rng.integers(0, 100, n)}]


def _fields(n, seed, shape, with_next, with_extra):
    """The fields of a batch as plain numpy arrays in pytrees (the truth the tests compare to)."""
    rng = np.random.default_rng(seed)
    fields = {
        "S": _state(rng, n, shape),
        "A": rng.integers(0, 4, n),
        "logP": np.log(rng.uniform(0.01, 1.0, n)),
        "Rn": rng.standard_normal(n),
        "In": rng.choice([0.0, 0.99], n).astype(np.float32),
        "S_next": _state(rng, n, shape),
        "A_next": rng.integers(0, 4, n) if with_next else None,
        "logP_next": np.log(rng.uniform(0.01, 1.0, n)) if with_next else None,
        "W": rng.uniform(0.1, 10.0, n),
        "idx": rng.permutation(1000)[:n].astype(np.int64),
        "extra_info": {"episode": rng.integers(0, 9, (n, 1))} if with_extra else None,
    }
    return fields


def _slice(tree, start, stop):
    """``tree`` with every leaf cut to ``start:stop`` along its first axis, by plain recursion."""
    if tree is None:
        return None
    if isinstance(tree, dict):
        return {k: _slice(v, start, stop) for k, v in tree.items()}
    if isinstance(tree, Pair):
        return Pair(*(_slice(v, start, stop) for v in tree))
    if isinstance(tree, (list, tuple)):
        return type(tree)(_slice(v, start, stop) for v in tree)
    return tree[start:stop]


def _assert_identical(tree, truth, where="tb"):
    """Same node types, same keys, and leaves with equal values, shapes and dtypes."""
    if truth is None:
        assert tree is None, where
    elif isinstance(truth, dict):
        assert type(tree) is type(truth) and list(tree) == list(truth), where
        for k in truth:
            _assert_identical(tree[k], truth[k], f"{where}[{k!r}]")
    elif isinstance(truth, (list, tuple)):
        assert type(tree) is type(truth) and len(tree) == len(truth), where
        for i, (a, b) in enumerate(zip(tree, truth, strict=True)):
            _assert_identical(a, b, f"{where}[{i}]")
    else:
        assert isinstance(tree, np.ndarray), where
        assert tree.dtype == truth.dtype and tree.shape == truth.shape, where
        assert np.array_equal(tree, truth), where


batch_specs = st.fixed_dictionaries(
    {
        "n": st.integers(1, 12),
        "seed": st.integers(0, 2**32 - 1),
        "shape": st.sampled_from(["array", "dict", "namedtuple", "list"]),
        "with_next": st.booleans(),
        "with_extra": st.booleans(),
    }
)


@settings(max_examples=60, deadline=None)
@given(spec=batch_specs)
def test_concatenating_the_singles_gives_the_batch_back(spec):
    truth = _fields(**spec)
    tb = TransitionBatch(**truth)
    joined = TransitionBatch.concatenate(list(tb.to_singles()))
    assert type(joined) is TransitionBatch and joined == tb
    for name, value in joined.items():
        _assert_identical(value, truth[name], name)


@settings(max_examples=60, deadline=None)
@given(spec=batch_specs, data=st.data())
def test_concatenating_at_any_split_points_gives_the_batch_back(spec, data):
    truth = _fields(**spec)
    n = spec["n"]
    cuts = data.draw(st.lists(st.integers(1, n - 1), max_size=4), label="cuts") if n > 1 else []
    bounds = [0, *sorted(cuts), n]  # a repeated cut makes an empty piece: joined like the others
    pieces = [
        TransitionBatch(**{name: _slice(value, a, b) for name, value in truth.items()})
        for a, b in zip(bounds, bounds[1:], strict=False)
    ]
    joined = TransitionBatch.concatenate(pieces)
    assert joined.batch_size == n
    for name, value in joined.items():
        _assert_identical(value, truth[name], name)


def test_w_and_idx_are_joined_not_renumbered():
    def batch(rewards, **fields):
        n = len(rewards)
        return TransitionBatch(
            S=np.zeros((n, 2)), A=np.zeros(n), logP=np.zeros(n), Rn=np.array(rewards),
            In=np.ones(n), S_next=np.zeros((n, 2)), **fields,
        )  # fmt: skip

    joined = TransitionBatch.concatenate(
        [
            batch([1.0, 2.0]),
            batch([3.0], W=np.array([0.5]), idx=np.array([7], np.int64)),
            batch([4.0]),
        ]
    )
    assert joined.Rn.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert joined.W.tolist() == [1.0, 1.0, 0.5, 1.0]
    assert joined.idx.tolist() == [0, 1, 7, 0]  # each batch's own identifiers
    assert joined.idx.dtype == np.int64  # int32 defaults joined with int64: numpy's promotion


def test_result_is_new_arrays_and_the_inputs_are_untouched():
    tb = TransitionBatch(
        S={"b": np.arange(4.0).reshape(2, 2), "a": np.zeros(2)}, A=np.arange(2),
        logP=np.zeros(2), Rn=np.ones(2), In=np.ones(2), S_next=None,
    )  # fmt: skip
    other = tb._replace(S={"a": np.ones(1), "b": np.full((1, 2), 9.0)}, A=np.array([5]),
                        logP=np.zeros(1), Rn=np.zeros(1), In=np.zeros(1), W=np.ones(1),
                        idx=np.array([2], np.int32))  # fmt: skip
    joined = TransitionBatch.concatenate((tb, other))
    assert list(joined.S) == ["b", "a"]  # the first batch's key order; keys matched by name
    assert joined.S["b"].tolist() == [[0.0, 1.0], [2.0, 3.0], [9.0, 9.0]]
    assert joined.S["a"].tolist() == [0.0, 0.0, 1.0]
    assert joined.S_next is None
    assert not np.shares_memory(joined.S["b"], tb.S["b"])
    assert tb.S["b"].tolist() == [[0.0, 1.0], [2.0, 3.0]] and tb.batch_size == 2


def test_one_batch_and_any_iterable():
    tb = TransitionBatch(np.zeros((3, 1)), np.zeros(3), np.zeros(3), np.ones(3), np.ones(3), None)
    assert TransitionBatch.concatenate([tb]) == tb
    assert TransitionBatch.concatenate(c for c in chunks_pow2(tb)) == tb
    assert TransitionBatch.concatenate(iter(tb.to_singles())) == tb


def test_ordered_dicts_and_jax_arrays_are_leaves_like_any_other():
    jnp = pytest.importorskip("jax.numpy", reason="needs jax: pip install jax")
    tb = TransitionBatch(
        S=OrderedDict(x=jnp.arange(2.0)), A=jnp.zeros(2), logP=np.zeros(2), Rn=np.ones(2),
        In=np.ones(2), S_next=None,
    )  # fmt: skip
    joined = TransitionBatch.concatenate([tb, tb])
    assert type(joined.S) is OrderedDict and isinstance(joined.S["x"], np.ndarray)
    assert joined.S["x"].tolist() == [0.0, 1.0, 0.0, 1.0]


# --- refusals: name the argument, the batch, the field and the position ------------------------


def _tb(n=2, **fields):
    args = dict(
        S={"pos": np.zeros((n, 3)), "flags": (np.zeros(n, bool), np.zeros((n, 2)))},
        A=np.zeros(n, np.int64), logP=np.zeros(n), Rn=np.ones(n), In=np.ones(n),
        S_next=np.zeros((n, 3)),
    )  # fmt: skip
    return TransitionBatch(**{**args, **fields})


@pytest.mark.parametrize(
    ("batches", "exc", "match"),
    [
        ([], ValueError, "batches must be a sequence of TransitionBatches, got an empty list"),
        ((), ValueError, "got an empty tuple"),
        (_tb(), TypeError, "got a single TransitionBatch: put it in a list"),
        (5, TypeError, "batches must be a sequence of TransitionBatches, got int"),
        (None, TypeError, "batches must be a sequence of TransitionBatches, got NoneType"),
        ("tb", TypeError, "batches must be a sequence of TransitionBatches, got str"),
        ({"a": _tb()}, TypeError, "got dict"),
        ([_tb(), {"S": 1}], TypeError, r"batches\[1\] must be a TransitionBatch, got dict"),
        ([_tb(), tuple(_tb())], TypeError, r"batches\[1\] must be a TransitionBatch, got tuple"),
    ],
)
def test_refuses_what_is_not_a_nonempty_sequence_of_batches(batches, exc, match):
    with pytest.raises(exc, match=match):
        TransitionBatch.concatenate(batches)


@pytest.mark.parametrize(
    ("other", "match"),
    [
        (
            _tb(A_next=np.zeros(2)),
            r"batches\[0\]\.A_next is None but batches\[1\]\.A_next is not: a field must be None "
            "in every batch or in none",
        ),
        (
            _tb(S_next=None),
            r"batches\[1\]\.S_next is None but batches\[0\]\.S_next is not",
        ),
        (
            _tb(S={"pos": np.zeros((2, 3))}),
            r"batches\[1\]\.S is a dict with keys 'pos' but batches\[0\]\.S is a dict with keys "
            r"'flags', 'pos': the batches' fields must have one structure",
        ),
        (
            _tb(S={"pos": np.zeros((2, 3)), "flags": (np.zeros(2, bool),)}),
            r"batches\[1\]\.S\['flags'\] is a tuple of 1 but batches\[0\]\.S\['flags'\] is a "
            "tuple of 2",
        ),
        (
            _tb(S={"pos": np.zeros((2, 3)), "flags": [np.zeros(2, bool), np.zeros((2, 2))]}),
            r"batches\[1\]\.S\['flags'\] is a list of 2 but batches\[0\]\.S\['flags'\] is a "
            "tuple of 2",
        ),
        (
            _tb(S={"pos": {"x": np.zeros(2)}, "flags": (np.zeros(2, bool), np.zeros((2, 2)))}),
            r"batches\[1\]\.S\['pos'\] is a dict with keys 'x' but batches\[0\]\.S\['pos'\] is a "
            r"leaf \(ndarray\)",
        ),
        (
            _tb(S={"pos": np.zeros((2, 3)), "flags": (np.zeros(2, bool), np.zeros((2, 5)))}),
            r"batches\[1\]\.S\['flags'\]\[1\] has shape \(2, 5\) but batches\[0\]\.S\['flags'\]"
            r"\[1\] has \(2, 2\): only the leading \(batch\) axis may differ",
        ),
        (
            _tb(S_next=np.zeros(2)),
            r"batches\[1\]\.S_next has shape \(2,\) but batches\[0\]\.S_next has \(2, 3\)",
        ),
    ],
)
def test_refuses_batches_that_disagree_and_says_where(other, match):
    with pytest.raises(ValueError, match=match):
        TransitionBatch.concatenate([_tb(), other])


def test_names_the_batch_that_differs_among_many():
    batches = [_tb(), _tb(3), _tb(1), _tb(2, A=np.zeros((2, 1))), _tb()]
    with pytest.raises(ValueError, match=r"^batches\[3\]\.A has shape \(2, 1\) but batches\[0\]"):
        TransitionBatch.concatenate(batches)


def test_refuses_leaves_without_a_leading_axis():
    scalar = _tb(extra_info={"episode": 3})
    with pytest.raises(ValueError, match=r"batches\[0\]\.extra_info\['episode'\] has no leading"):
        TransitionBatch.concatenate([scalar, scalar])


def test_refuses_dtypes_that_do_not_combine():
    dates = _tb(A=np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[D]"))
    with pytest.raises(TypeError, match=r"batches\[1\]\.A has dtype datetime64\[D\], which does"):
        TransitionBatch.concatenate([_tb(), dates])
