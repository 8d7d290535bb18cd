"""TransitionBatch and chunks_pow2 with numpy alone (the tests on gymnasium environments, and the
pickles of rlu-envtools' releases, are rlu-envtools')."""

import copy
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from rlu_core import TransitionBatch, chunks_pow2


def _batch(n, seed=0, **fields):
    """A batch of ``n`` CartPole-like transitions with random values (no gymnasium needed)."""
    rng = np.random.default_rng(seed)
    args = dict(
        S=rng.standard_normal((n, 4)).astype(np.float32),
        A=rng.integers(0, 2, n),
        logP=np.log(rng.uniform(0.01, 0.99, n)),
        Rn=rng.standard_normal(n),
        In=rng.choice([0.0, 0.9], n),
        S_next=rng.standard_normal((n, 4)).astype(np.float32),
        A_next=rng.integers(0, 2, n),
        logP_next=np.log(rng.uniform(0.01, 0.99, n)),
        W=rng.uniform(0.01, 100.0, n),
    )
    return TransitionBatch(**{**args, **fields})


def test_from_single_pytree_observations_and_extra_info():
    s = {"pos": np.zeros(3), "flags": (np.int8(1), np.ones(2))}
    tb = TransitionBatch.from_single(
        s, np.array([0.5, -0.5]), [-0.1, -0.2], 1.0, False, 1.0, extra_info={"t": 7}
    )
    assert tb.S["pos"].shape == (1, 3)
    assert tb.S["flags"][0].shape == (1,) and tb.S["flags"][1].shape == (1, 2)
    assert tb.A.shape == (1, 2) and tb.logP.shape == (1, 2)
    assert tb.extra_info == {"t": np.array([7])}
    assert tb.S_next is None and tb.A_next is None and tb.logP_next is None


@pytest.mark.parametrize(("terminated", "factor"), [(False, 0.9), (True, 0.0)])
def test_from_single_bootstrap_factor_is_gamma_unless_terminated(terminated, factor):
    flag = np.bool_(terminated)  # gymnasium's environments return numpy bools
    tb = TransitionBatch.from_single(np.ones(2), 1, -0.5, 2.0, flag, 0.9, s_next=np.zeros(2))
    assert tb.In.tolist() == [factor]
    assert tb.Rn.tolist() == [2.0] and tb.logP.tolist() == [-0.5] and tb.W.tolist() == [1.0]
    assert tb.S.tolist() == [[1.0, 1.0]] and tb.S_next.tolist() == [[0.0, 0.0]]
    assert tb.idx.tolist() == [0]  # not given: the constructor's default


def test_batch_defaults_to_singles_in_order():
    tb = TransitionBatch(
        S={"x": np.arange(8).reshape(4, 2)},
        A=np.arange(4),
        logP=np.zeros(4),
        Rn=np.array([1.0, 2.0, 3.0, 4.0]),
        In=np.full(4, 0.9),
        S_next={"x": np.arange(8).reshape(4, 2)},
    )
    assert tb.batch_size == 4
    assert tb.W.tolist() == [1.0] * 4
    assert tb.idx.dtype == np.int32 and tb.idx.tolist() == [0, 1, 2, 3]
    singles = list(tb.to_singles())
    assert [s.Rn.tolist() for s in singles] == [[1.0], [2.0], [3.0], [4.0]]  # first first
    assert singles[2].S["x"].tolist() == [[4, 5]] and singles[2].idx.tolist() == [2]
    assert all(s.A_next is None for s in singles)


def test_equality_and_repr():
    a, b, c = _batch(3, seed=1), _batch(3, seed=1), _batch(3, seed=2)
    assert a == b and not (a != b)
    assert a != c
    assert a != tuple(a)
    text = repr(a)
    assert text.startswith("TransitionBatch(")
    assert "S=array(shape=(3, 4), dtype=float32" in text
    assert "extra_info=None" in text
    assert list(dict(a.items())) == list(TransitionBatch._fields)
    with pytest.raises(TypeError):
        hash(a)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"logp": 0.1}, ValueError, "logp"),
        ({"logp_next": 0.5}, ValueError, "logp_next"),
        ({"terminated": 0}, TypeError, "terminated must be a bool, got int"),
        ({"gamma": -0.1}, ValueError, r"gamma must be a float in \[0, 1\], got -0.1"),
        ({"gamma": None}, TypeError, "gamma"),
        ({"r": "one"}, TypeError, "r must be a number or a numeric array"),
        ({"w": 0.0}, ValueError, "w must be a positive number, got 0.0"),
        ({"w": "1"}, TypeError, "w must"),
    ],
)
def test_from_single_bad_args(kwargs, exc, match):
    args = dict(s=np.zeros(2), a=0, logp=-1.0, r=0.0, terminated=False, gamma=0.9)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        TransitionBatch.from_single(**args)


@pytest.mark.parametrize("kwargs", [{"logp": 0.5}, {"logp_next": 0.5}, {"gamma": -0.1}, {"w": 0.0}])
def test_from_single_value_errors_are_type_errors_as_in_coax(kwargs):
    args = {"s": np.zeros(2), "a": 0, "logp": -1.0, "r": 0.0, "terminated": False, "gamma": 0.9}
    with pytest.raises(ValueError) as info:
        TransitionBatch.from_single(**{**args, **kwargs})
    assert isinstance(info.value, TypeError)


def test_copy_is_shallow_by_default_and_deep_on_request():
    tb = _batch(3)
    shallow, deep = tb.copy(), tb.copy(deep=True)
    assert shallow == tb and deep == tb
    assert type(shallow) is type(deep) is TransitionBatch
    assert shallow is not tb and deep is not tb
    assert shallow.S is tb.S  # coax's copy(): copy.copy
    assert deep.S is not tb.S and not np.shares_memory(deep.S, tb.S)
    deep.W[:] = 0.0
    assert tb.W.min() > 0  # the original is untouched
    assert copy.deepcopy(tb) == tb
    with pytest.raises(TypeError, match="deep must be a bool"):
        tb.copy(deep="yes")


def test_chunks_pow2_cover_the_batch_in_order():
    s = {"x": np.arange(26).reshape(13, 2)}
    tb = TransitionBatch(
        S=s, A=np.arange(13), logP=np.zeros(13), Rn=np.arange(13.0), In=np.ones(13), S_next=s
    )
    chunks = list(chunks_pow2(tb))
    assert [c.batch_size for c in chunks] == [8, 4, 1]
    assert all(isinstance(c, TransitionBatch) for c in chunks)
    assert np.concatenate([c.Rn for c in chunks]).tolist() == list(range(13))
    assert np.concatenate([c.S["x"] for c in chunks]).tolist() == s["x"].tolist()
    assert np.concatenate([c.idx for c in chunks]).tolist() == list(range(13))
    assert all(c.A_next is None and c.extra_info is None for c in chunks)
    # a power of two is a single chunk; a batch of one is itself
    assert [c.batch_size for c in chunks_pow2(chunks[0])] == [8]
    assert list(chunks_pow2(chunks[2])) == [chunks[2]]


@pytest.mark.parametrize("size", [1, 2, 3, 13, 64, 100, 3681])
def test_chunks_pow2_sizes_are_the_binary_expansion(size):
    sizes = [chunk.batch_size for chunk in chunks_pow2(_batch(size))]
    assert sizes == [1 << bit for bit in reversed(range(size.bit_length())) if size >> bit & 1]


def test_chunks_pow2_needs_a_transition_batch():
    with pytest.raises(TypeError, match="transition_batch must be a TransitionBatch"):
        chunks_pow2([1, 2, 3])
    with pytest.raises(AttributeError):  # what coax raised
        chunks_pow2(None)


def test_new_pickles_record_the_public_path():
    tb = _batch(3)
    assert TransitionBatch.__module__ == "rlu_core"
    data = pickle.dumps(tb)
    assert b"rlu_core" in data and b"rlu_envtools" not in data and b"_transition" not in data
    assert pickle.loads(data) == tb


def test_pickles_load_in_a_process_with_only_rlu_core():
    code = textwrap.dedent(
        """
        import pickle, sys
        sys.modules["gymnasium"] = sys.modules["rlu_envtools"] = None  # as if not installed
        tb = pickle.loads(sys.stdin.buffer.read())
        print(type(tb).__module__, type(tb).__name__, tb.Rn.tolist(), tb.S["x"].tolist())
        """
    )
    tb = TransitionBatch(
        S={"x": np.array([[1, 2]])}, A=[0], logP=[0.0], Rn=np.array([2.5]), In=[0.9], S_next=None
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=pickle.dumps(tb), capture_output=True, check=True
    )
    assert out.stdout.decode().split() == ["rlu_core", "TransitionBatch", "[2.5]", "[[1,", "2]]"]


def test_is_a_jax_pytree():
    jax = pytest.importorskip("jax", reason="needs jax: pip install jax")
    jnp = jax.numpy
    tb = _batch(4)
    leaves = jax.tree.leaves(tb)
    assert len(leaves) == 10  # extra_info is None: no leaf
    doubled = jax.tree.map(lambda x: x * 2, tb)
    assert isinstance(doubled, TransitionBatch)
    np.testing.assert_allclose(doubled.Rn, tb.Rn * 2)
    assert doubled.extra_info is None

    @jax.jit
    def target(t):
        return t.Rn + t.In * jnp.sum(t.S_next, axis=1)

    np.testing.assert_allclose(target(tb), tb.Rn + tb.In * tb.S_next.sum(axis=1), rtol=1e-5)
    per_item = jax.vmap(lambda t: t.W * t.Rn)(tb)
    np.testing.assert_allclose(per_item, tb.W * tb.Rn, rtol=1e-6)


def test_from_single_takes_coax_done_keyword():
    """The repro: coax scripts call ``from_single(..., done=..., gamma=...)`` by keyword."""
    s = np.arange(3.0)
    for flag, factor in ((True, 0.0), (False, 0.9)):
        coax_call = TransitionBatch.from_single(
            s=s, a=1, logp=-0.5, r=2.0, done=flag, gamma=0.9, s_next=s + 1
        )
        rlu_call = TransitionBatch.from_single(
            s=s, a=1, logp=-0.5, r=2.0, terminated=flag, gamma=0.9, s_next=s + 1
        )
        positional = TransitionBatch.from_single(s, 1, -0.5, 2.0, flag, 0.9, s + 1)  # coax's order
        assert coax_call == rlu_call == positional
        np.testing.assert_array_equal(coax_call.In, [factor])
    with pytest.raises(TypeError, match="done must be a bool"):
        TransitionBatch.from_single(s, 1, 0.0, 1.0, done="yes", gamma=0.9)
    with pytest.raises(TypeError, match="either terminated or done"):
        TransitionBatch.from_single(s, 1, 0.0, 1.0, True, 0.9, done=True)
    with pytest.raises(TypeError, match="needs terminated"):
        TransitionBatch.from_single(s, 1, 0.0, 1.0, gamma=0.9)
    with pytest.raises(TypeError, match="needs gamma"):
        TransitionBatch.from_single(s, 1, 0.0, 1.0, done=False)
