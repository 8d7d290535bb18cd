import base64
import pickle
import subprocess
import sys
import textwrap

import gymnasium
import numpy as np
import pytest
from gymnasium.spaces import Box, Dict, Discrete, MultiDiscrete, Tuple
from rlu_envtools import TransitionBatch, chunks_pow2, get_transition_batch


def _episode_batches(gamma=0.9, max_episode_steps=3):
    """One real CartPole episode cut by its time limit, as single transition batches."""
    env = gymnasium.make("CartPole-v1", max_episode_steps=max_episode_steps)
    s, _ = env.reset(seed=0)
    out = []
    while True:
        a = 0
        s_next, r, terminated, truncated, _ = env.step(a)
        out.append(
            TransitionBatch.from_single(
                s=s,
                a=a,
                logp=np.log(0.5),
                r=r,
                terminated=terminated,
                gamma=gamma,
                s_next=s_next,
                a_next=1,
                logp_next=np.log(0.5),
                idx=len(out),
            )
        )
        if terminated or truncated:
            return out, terminated, truncated
        s = s_next


def test_from_single_shapes_and_bootstrap_factor():
    singles, terminated, truncated = _episode_batches()
    assert (terminated, truncated) == (False, True)
    for tb in singles:
        assert tb.batch_size == 1
        assert tb.S.shape == (1, 4) and tb.S.dtype == np.float32
        assert tb.A.shape == (1,) and tb.Rn.shape == (1,)
        assert tb.W.tolist() == [1.0]
    # the last transition was truncated, not terminated: it is still bootstrapped
    assert singles[-1].In.tolist() == [0.9]
    assert [tb.idx.tolist() for tb in singles] == [[0], [1], [2]]


def test_from_single_terminated_gets_zero_bootstrap_factor():
    env = gymnasium.make("CartPole-v1", max_episode_steps=500)
    s, _ = env.reset(seed=0)
    terminated = truncated = False
    while not (terminated or truncated):
        s_next, r, terminated, truncated, _ = env.step(1)  # always push right: the pole falls
        last = TransitionBatch.from_single(s, 1, 0.0, r, terminated, 0.99, s_next=s_next)
        s = s_next
    assert terminated and not truncated
    assert last.In.tolist() == [0.0]


def test_pytree_observations_and_extra_info():
    s = {"pos": np.zeros(3), "flags": (np.int8(1), np.ones(2))}
    tb = TransitionBatch.from_single(
        s, np.array([0.5, -0.5]), [-0.1, -0.2], 1.0, False, 1.0, extra_info={"t": 7}
    )
    assert tb.S["pos"].shape == (1, 3)
    assert tb.S["flags"][0].shape == (1,) and tb.S["flags"][1].shape == (1, 2)
    assert tb.A.shape == (1, 2) and tb.logP.shape == (1, 2)
    assert tb.extra_info == {"t": np.array([7])}
    assert tb.S_next is None and tb.A_next is None and tb.logP_next is None


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
    assert (
        tb.W.tolist() == [1.0] * 4 and tb.idx.dtype == np.int32 and tb.idx.tolist() == [0, 1, 2, 3]
    )
    singles = list(tb.to_singles())
    assert [s.Rn.tolist() for s in singles] == [[1.0], [2.0], [3.0], [4.0]]  # first first
    assert singles[2].S["x"].tolist() == [[4, 5]] and singles[2].idx.tolist() == [2]
    assert all(s.A_next is None for s in singles)


def test_equality_and_repr():
    a = get_transition_batch(gymnasium.make("CartPole-v1"), batch_size=3, random_seed=1)
    b = get_transition_batch(gymnasium.make("CartPole-v1"), batch_size=3, random_seed=1)
    c = get_transition_batch(gymnasium.make("CartPole-v1"), batch_size=3, random_seed=2)
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


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_get_transition_batch_on_real_envs(env_id):
    env = gymnasium.make(env_id)
    tb = get_transition_batch(env, batch_size=5, gamma=0.8, random_seed=3)
    assert tb.batch_size == 5
    for X, space in [
        (tb.S, env.observation_space),
        (tb.S_next, env.observation_space),
        (tb.A, env.action_space),
        (tb.A_next, env.action_space),
    ]:
        assert X.shape[0] == 5
        assert all(space.contains(X[i]) for i in range(5))
    assert np.all(tb.logP <= 0) and np.all(tb.logP_next <= 0)
    assert np.all(np.abs(tb.Rn) <= 5)
    assert set(tb.In.tolist()) <= {0.0, 0.8}
    assert np.all((tb.W >= 0.01) & (tb.W <= 100))
    assert tb.idx.tolist() == [0, 1, 2, 3, 4]


def test_get_transition_batch_composite_spaces():
    class Composite(gymnasium.Env):
        observation_space = Dict({"img": Box(0, 255, (2, 2), np.uint8), "id": Discrete(3)})
        action_space = Tuple((MultiDiscrete([2, 3]), Box(-1, 1, (1,))))

    tb = get_transition_batch(Composite(), batch_size=4, random_seed=0)
    assert tb.S["img"].shape == (4, 2, 2) and tb.S["img"].dtype == np.uint8
    assert tb.S["id"].shape == (4,)
    assert tb.A[0].shape == (4, 2) and tb.A[1].shape == (4, 1)


def test_get_transition_batch_is_reproducible():
    env = gymnasium.make("Pendulum-v1")
    assert get_transition_batch(env, 2, random_seed=9) == get_transition_batch(
        env, 2, random_seed=9
    )


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 2.0}, TypeError, "batch_size"),
        ({"gamma": 1.5}, ValueError, "gamma"),
        ({"gamma": "0.9"}, TypeError, "gamma"),
        ({"random_seed": -1}, ValueError, "random_seed"),
        ({"random_seed": 1.0}, TypeError, "random_seed"),
    ],
)
def test_get_transition_batch_bad_args(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        get_transition_batch(gymnasium.make("CartPole-v1"), **kwargs)


def test_get_transition_batch_needs_spaces():
    with pytest.raises(TypeError, match="observation_space"):
        get_transition_batch(object())


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"logp": 0.1}, ValueError, "logp"),
        ({"logp_next": 0.5}, ValueError, "logp_next"),
        ({"terminated": 0}, TypeError, "terminated"),
        ({"gamma": -0.1}, ValueError, "gamma"),
        ({"gamma": None}, TypeError, "gamma"),
        ({"r": "one"}, TypeError, "r must"),
        ({"w": 0.0}, ValueError, "w must"),
        ({"w": "1"}, TypeError, "w must"),
    ],
)
def test_from_single_bad_args(kwargs, exc, match):
    args = dict(s=np.zeros(2), a=0, logp=-1.0, r=0.0, terminated=False, gamma=0.9)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        TransitionBatch.from_single(**args)


def test_is_a_jax_pytree():
    jax = pytest.importorskip("jax", reason='needs the jax extra: pip install "rlu-envtools[jax]"')
    jnp = jax.numpy
    tb = get_transition_batch(gymnasium.make("CartPole-v1"), batch_size=4, random_seed=0)
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


# --- pickles ---------------------------------------------------------------------------------

# pickle.dumps(tb, protocol=4) made with rlu-envtools 0.1.0 (TransitionBatch then lived in
# rlu_envtools.transition, the path this pickle records), of
# TransitionBatch(S=[[0.0, 1.0], [2.0, 3.0]], A=[0, 1], logP=[-0.5, -0.25], Rn=[1.0, -1.0],
#                 In=[0.9, 0.0], S_next=[[1.0, 2.0], [3.0, 4.0]], W=[1.0, 2.0], idx=[10, 11],
#                 extra_info={"t": [7, 8]})
# (lists, not arrays, so that the bytes do not depend on numpy's version)
TRANSITION_BATCH_0_1_0 = base64.b64decode(
    "gASVDQEAAAAAAACMF3JsdV9lbnZ0b29scy50cmFuc2l0aW9ulIwPVHJhbnNpdGlvbkJhdGNolJOUKF2UKF2UKEcA"
    "AAAAAAAAAEc/8AAAAAAAAGVdlChHQAAAAAAAAABHQAgAAAAAAABlZV2UKEsASwFlXZQoR7/gAAAAAAAAR7/QAAAA"
    "AAAAZV2UKEc/8AAAAAAAAEe/8AAAAAAAAGVdlChHP+zMzMzMzM1HAAAAAAAAAABlXZQoXZQoRz/wAAAAAAAAR0AA"
    "AAAAAAAAZV2UKEdACAAAAAAAAEdAEAAAAAAAAGVlTk5dlChHP/AAAAAAAABHQAAAAAAAAABlXZQoSwpLC2V9lIwB"
    "dJRdlChLB0sIZXN0lIGULg=="
)


def test_pickles_of_rlu_envtools_0_1_0_still_load():
    assert b"rlu_envtools.transition" in TRANSITION_BATCH_0_1_0
    tb = pickle.loads(TRANSITION_BATCH_0_1_0)
    assert type(tb) is TransitionBatch
    assert tb == TransitionBatch(
        S=[[0.0, 1.0], [2.0, 3.0]],
        A=[0, 1],
        logP=[-0.5, -0.25],
        Rn=[1.0, -1.0],
        In=[0.9, 0.0],
        S_next=[[1.0, 2.0], [3.0, 4.0]],
        W=[1.0, 2.0],
        idx=[10, 11],
        extra_info={"t": [7, 8]},
    )
    assert tb.A_next is None and tb.batch_size == 2


def test_new_pickles_record_the_public_path():
    tb = get_transition_batch(gymnasium.make("CartPole-v1"), batch_size=3, random_seed=0)
    assert TransitionBatch.__module__ == "rlu_envtools"
    data = pickle.dumps(tb)
    assert b"rlu_envtools" in data and b"rlu_envtools.transition" not in data
    assert b"_transition" not in data
    assert pickle.loads(data) == tb


def test_compatibility_module_keeps_the_old_import_path():
    from rlu_envtools import transition

    assert transition.TransitionBatch is TransitionBatch
    assert "only so that pickles" in transition.__doc__


# --- copy and chunks_pow2 (coax's, which rlu-envtools 0.1.0 lacked) ------------------------


def test_copy_is_shallow_by_default_and_deep_on_request():
    tb = get_transition_batch(gymnasium.make("CartPole-v1"), batch_size=3, random_seed=0)
    shallow, deep = tb.copy(), tb.copy(deep=True)
    assert shallow == tb and deep == tb
    assert type(shallow) is type(deep) is TransitionBatch
    assert shallow is not tb and deep is not tb
    assert shallow.S is tb.S  # coax's copy(): copy.copy
    assert deep.S is not tb.S and not np.shares_memory(deep.S, tb.S)
    deep.W[:] = 0.0
    assert tb.W.min() > 0  # the original is untouched
    with pytest.raises(TypeError, match="deep must be a bool"):
        tb.copy(deep="yes")


def test_chunks_pow2_as_in_coax():
    # coax/utils/_array_test.py::test_chunks_pow2, with the import changed
    chunk_sizes = (2048, 1024, 512, 64, 32, 1)
    env = gymnasium.make("CartPole-v1")
    tn = get_transition_batch(env, batch_size=sum(chunk_sizes))
    chunks = list(chunks_pow2(tn))
    assert len(chunks) == len(chunk_sizes)
    for chunk, chunk_size in zip(chunks, chunk_sizes, strict=True):
        assert chunk.batch_size == chunk_size


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


def test_chunks_pow2_needs_a_transition_batch():
    with pytest.raises(TypeError, match="transition_batch must be a TransitionBatch"):
        chunks_pow2([1, 2, 3])
    with pytest.raises(AttributeError):  # what coax raised
        chunks_pow2(None)


def test_chunks_pow2_works_without_jax():
    code = textwrap.dedent(
        """
        import sys
        sys.modules["jax"] = None  # as if jax were not installed
        import gymnasium
        from rlu_envtools import chunks_pow2, get_transition_batch
        tb = get_transition_batch(gymnasium.make("CartPole-v1"), batch_size=6, random_seed=0)
        print([c.batch_size for c in chunks_pow2(tb)], [c.batch_size for c in tb.copy(True).to_singles()])
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[4, 2] [1, 1, 1, 1, 1, 1]"
