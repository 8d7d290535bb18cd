"""get_transition_batch, TransitionBatch on real gymnasium environments, and the import paths and
pickles of rlu-envtools' releases. (TransitionBatch lives in rlu-core: its tests that need numpy
alone are in packages/rlu-core/tests.)"""

import base64
import hashlib
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import rlu_core
import rlu_envtools
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


# transition_batch_envtools0.2.0.pkl (packages/rlu-replay/tests/fixtures/write_fixtures.py),
# pickle.dumps(tb, protocol=4) made with rlu-envtools 0.2.0, where TransitionBatch recorded
# rlu_envtools.TransitionBatch, of
# TransitionBatch(S=[[0.0, 1.0]], A=[1], logP=[-0.5], Rn=[2.0], In=[0.0], S_next=[[1.0, 2.0]],
#                 W=[1.5], idx=[4])
# (copied here so that rlu-envtools' tests stand alone; checked against the file where it exists)
TRANSITION_BATCH_0_2_0 = base64.b64decode(
    "gASVmAAAAAAAAACMDHJsdV9lbnZ0b29sc5SMD1RyYW5zaXRpb25CYXRjaJSTlChdlF2UKEcAAAAAAAAAAEc/8AAA"
    "AAAAAGVhXZRLAWFdlEe/4AAAAAAAAGFdlEdAAAAAAAAAAGFdlEcAAAAAAAAAAGFdlF2UKEc/8AAAAAAAAEdAAAAA"
    "AAAAAGVhTk5dlEc/+AAAAAAAAGFdlEsEYU50lIGULg=="
)
FIXTURE_0_2_0 = (
    Path(__file__).resolve().parents[2]
    / "rlu-replay"
    / "tests"
    / "fixtures"
    / "transition_batch_envtools0.2.0.pkl"
)


def test_the_0_2_0_pickle_is_the_fixture_file():
    assert hashlib.sha256(TRANSITION_BATCH_0_2_0).hexdigest() == (
        "248c33e9673402f644a050764a90315483fa30322bef18769f0a62b418dcd844"
    )
    if not FIXTURE_0_2_0.exists():
        pytest.skip("outside the repository: packages/rlu-replay/tests/fixtures is not here")
    assert FIXTURE_0_2_0.read_bytes() == TRANSITION_BATCH_0_2_0


@pytest.mark.parametrize("source", ["bytes", "file"])
def test_pickles_of_rlu_envtools_0_2_0_still_load(source):
    if source == "file" and not FIXTURE_0_2_0.exists():
        pytest.skip("outside the repository: packages/rlu-replay/tests/fixtures is not here")
    data = FIXTURE_0_2_0.read_bytes() if source == "file" else TRANSITION_BATCH_0_2_0
    assert b"\x0crlu_envtools\x94\x8c\x0fTransitionBatch" in data  # the 0.2.0 path
    tb = pickle.loads(data)
    assert type(tb) is TransitionBatch is rlu_core.TransitionBatch
    assert tb == TransitionBatch(
        S=[[0.0, 1.0]], A=[1], logP=[-0.5], Rn=[2.0], In=[0.0], S_next=[[1.0, 2.0]],
        W=[1.5], idx=[4],
    )  # fmt: skip
    assert tb.S == [[0.0, 1.0]] and tb.W == [1.5] and tb.idx == [4]  # as it was pickled
    assert tb.A_next is None and tb.logP_next is None and tb.extra_info is None


def test_transition_batch_is_rlu_cores():
    assert rlu_envtools.TransitionBatch is TransitionBatch is rlu_core.TransitionBatch
    assert rlu_envtools.chunks_pow2 is chunks_pow2 is rlu_core.chunks_pow2


def test_old_pickles_load_in_a_fresh_process():
    code = textwrap.dedent(
        """
        import pickle, sys
        for data in pickle.loads(sys.stdin.buffer.read()):
            tb = pickle.loads(data)
            print(type(tb).__module__, type(tb).__name__, tb.batch_size)
        """
    )
    data = pickle.dumps([TRANSITION_BATCH_0_1_0, TRANSITION_BATCH_0_2_0])
    out = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, check=True)
    assert out.stdout.decode().splitlines() == [
        "rlu_core TransitionBatch 2",
        "rlu_core TransitionBatch 1",
    ]


def test_new_pickles_record_rlu_cores_path():
    tb = get_transition_batch(gymnasium.make("CartPole-v1"), batch_size=3, random_seed=0)
    assert TransitionBatch.__module__ == "rlu_core"
    data = pickle.dumps(tb)
    assert b"rlu_core" in data and b"rlu_envtools" not in data
    assert b"_transition" not in data
    assert pickle.loads(data) == tb


def test_compatibility_module_keeps_the_old_import_path():
    from rlu_envtools import transition
    from rlu_envtools.transition import TransitionBatch as OldTransitionBatch

    assert OldTransitionBatch is transition.TransitionBatch is TransitionBatch
    assert transition.get_transition_batch is get_transition_batch
    assert "only so that pickles" in transition.__doc__


# --- chunks_pow2 on real environments ------------------------------------------------------


def test_chunks_pow2_as_in_coax():
    # coax/utils/_array_test.py::test_chunks_pow2, with the import changed
    chunk_sizes = (2048, 1024, 512, 64, 32, 1)
    env = gymnasium.make("CartPole-v1")
    tn = get_transition_batch(env, batch_size=sum(chunk_sizes))
    chunks = list(chunks_pow2(tn))
    assert len(chunks) == len(chunk_sizes)
    for chunk, chunk_size in zip(chunks, chunk_sizes, strict=True):
        assert chunk.batch_size == chunk_size


def test_chunks_pow2_works_without_jax():
    code = textwrap.dedent(
        """
        import sys
        sys.modules["jax"] = None  # as if jax were not installed
        import gymnasium
        from rlu_envtools import chunks_pow2, get_transition_batch
        tb = get_transition_batch(gymnasium.make("CartPole-v1"), batch_size=6, random_seed=0)
        print(
            [c.batch_size for c in chunks_pow2(tb)],
            [c.batch_size for c in tb.copy(True).to_singles()],
        )
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[4, 2] [1, 1, 1, 1, 1, 1]"
