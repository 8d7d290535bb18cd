"""dump(..., background=True): a snapshot at the call, the same file, in order, never torn."""

from __future__ import annotations

import os
import pickle
import signal
import sys
import textwrap
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_serialize import _background, dump, load
from rlu_serialize._frame import BLOCK_SIZE

KEY = b"k" * 32


def listing(directory):
    return sorted(os.listdir(directory))


# Array sizes around every threshold the snapshot and the frame writer cut at.
_EDGES = [
    0,
    1,
    _background._LARGE - 1,
    _background._LARGE,
    _background._GATHER,
    BLOCK_SIZE - 1,
    BLOCK_SIZE,
    BLOCK_SIZE + 1,
]
sizes = st.one_of(st.sampled_from(_EDGES), st.integers(0, 3 * BLOCK_SIZE))
payloads = st.lists(
    st.tuples(sizes, st.sampled_from(["u1", "<f4", "<i8"]), st.booleans()), max_size=4
)


def make_payload(spec, seed=0):
    rng = np.random.default_rng(seed)
    out = {
        "step": seed,
        "note": "x" * (seed % 7),
        "fortran": np.asfortranarray(rng.random((300, 40 + seed))),  # F-contiguous data
        "strided": rng.random(20_000 + seed)[::3],  # not contiguous: pickled as bytes
    }
    for i, (size, dtype, random) in enumerate(spec):
        count = size // np.dtype(dtype).itemsize
        array = rng.integers(0, 255, count).astype(dtype) if random else np.zeros(count, dtype)
        out[f"a{i}"] = array
        out[f"b{i}"] = bytes(size % 100_000) if i % 2 else bytearray(size % 100_000)
    return out


@settings(max_examples=15, deadline=None)
@given(spec=payloads, signed=st.booleans())
def test_background_file_is_byte_for_byte_the_synchronous_one(tmp_path_factory, spec, signed):
    folder = tmp_path_factory.mktemp("bg")
    obj = make_payload(spec, seed=len(spec))
    key = KEY if signed else None
    dump(obj, folder / "sync.lz4", key=key)
    future = dump(obj, folder / "background.lz4", key=key, background=True)
    assert future.result(timeout=60) is None
    assert (folder / "background.lz4").read_bytes() == (folder / "sync.lz4").read_bytes()
    out = load(folder / "background.lz4", key=key)
    assert out.keys() == obj.keys()
    for name, value in obj.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(out[name], value)
        else:
            assert out[name] == value


def test_changes_after_the_call_do_not_reach_the_checkpoint(tmp_path):
    gate = threading.Event()
    _background.submit(str(tmp_path / "elsewhere"), gate.wait)  # hold the writer back
    weights = np.arange(2 * BLOCK_SIZE // 8, dtype=np.float64)
    moments = bytearray(b"\x01" * 200_000)
    jax = pytest.importorskip("jax")
    params = jax.numpy.ones(70_000)
    state = {"weights": weights, "moments": moments, "steps": [1, 2], "params": params}
    future = dump(state, tmp_path / "ckpt.lz4", background=True)
    weights += 1.0  # in place, as an optimizer does
    moments[:] = bytes(len(moments))
    state["steps"].append(3)
    del params, state["params"]  # a JAX array may be deleted at once
    assert not future.done()
    gate.set()
    future.result(timeout=60)
    out = load(tmp_path / "ckpt.lz4")
    np.testing.assert_array_equal(out["weights"], np.arange(2 * BLOCK_SIZE // 8))
    assert out["moments"] == bytearray(b"\x01" * 200_000)
    assert out["steps"] == [1, 2]
    np.testing.assert_array_equal(np.asarray(out["params"]), np.ones(70_000))


class ExplodesWhilePickled:
    def __reduce__(self):
        raise RuntimeError("boom while pickling")


def test_an_object_that_cannot_be_pickled_fails_the_call_itself(tmp_path):
    path = tmp_path / "ckpt.lz4"
    dump({"v": 1}, path)
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="boom"):
        dump([np.zeros(BLOCK_SIZE), ExplodesWhilePickled()], path, background=True)
    with pytest.raises((TypeError, pickle.PicklingError)):
        dump({"lock": threading.Lock()}, path, background=True)
    assert path.read_bytes() == before
    assert listing(tmp_path) == ["ckpt.lz4"]


def test_a_write_error_is_raised_by_the_future_and_leaves_nothing(tmp_path):
    (tmp_path / "dir").mkdir()
    future = dump({"v": np.zeros(100_000)}, tmp_path / "dir", background=True)
    with pytest.raises(OSError):
        future.result(timeout=60)
    assert isinstance(future.exception(), OSError)
    assert listing(tmp_path) == ["dir"]
    assert listing(tmp_path / "dir") == []


def test_the_newest_call_wins_and_load_waits_for_it(tmp_path):
    path = tmp_path / "ckpt.lz4"
    gate = threading.Event()
    _background.submit(str(tmp_path / "elsewhere"), gate.wait)  # hold the writer back
    futures = [dump({"v": v, "pad": np.full(50_000, v)}, path, background=True) for v in range(3)]
    results: dict[str, object] = {}

    def synchronous_dump():
        dump({"v": "sync"}, path)
        results["dumped"] = True

    def reader():
        results["loaded"] = load(path)["v"]

    writer_thread = threading.Thread(target=synchronous_dump)
    writer_thread.start()
    writer_thread.join(0.3)
    assert writer_thread.is_alive() and not path.exists()  # it waits for the queued dumps
    gate.set()
    writer_thread.join(60)
    assert all(f.done() for f in futures)
    assert load(path) == {"v": "sync"}  # queued earlier, landed earlier: the newest wins

    gate = threading.Event()
    _background.submit(str(tmp_path / "elsewhere"), gate.wait)
    dump({"v": "newest"}, path, background=True)
    reading = threading.Thread(target=reader)
    reading.start()
    reading.join(0.3)
    assert reading.is_alive()  # the load waits for the dump queued before it
    gate.set()
    reading.join(60)
    assert results == {"dumped": True, "loaded": "newest"}


def test_a_done_callback_may_load_and_dump_without_deadlock(tmp_path):
    path = tmp_path / "ckpt.lz4"
    seen: list[object] = []
    finished = threading.Event()

    def callback(future):
        seen.append(load(path)["v"])
        dump({"v": 2}, path)  # on the writer thread: must not wait for itself
        finished.set()

    dump({"v": 1}, path, background=True).add_done_callback(callback)
    assert finished.wait(60)
    assert seen == [1]
    assert load(path) == {"v": 2}


def test_background_must_be_a_bool(tmp_path):
    with pytest.raises(TypeError, match="background must be a bool, got int"):
        dump(1, tmp_path / "x.lz4", background=1)
    assert listing(tmp_path) == []


def test_the_interpreter_waits_for_queued_dumps_at_exit(tmp_path, python_runner):
    path = tmp_path / "ckpt.lz4"
    proc = python_runner(
        textwrap.dedent(f"""
        import numpy as np, rlu_serialize
        data = np.random.default_rng(0).random(1 << 22)  # 32 MiB: takes a while to write
        rlu_serialize.dump({{"data": data, "v": 7}}, {str(path)!r}, background=True)
        """)
    )
    assert proc.returncode == 0, proc.stderr
    out = load(path)
    assert out["v"] == 7
    np.testing.assert_array_equal(out["data"], np.random.default_rng(0).random(1 << 22))


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
def test_killed_while_writing_keeps_previous_checkpoint(tmp_path, python_runner):
    path = tmp_path / "ckpt.lz4"
    dump({"v": "previous"}, path)
    before = path.read_bytes()
    proc = python_runner(
        textwrap.dedent(f"""
        import os, signal, numpy as np, rlu_serialize
        data = np.random.default_rng(0).random(1 << 23)  # 64 MiB, incompressible
        rlu_serialize.dump({{"data": data}}, {str(path)!r}, background=True)
        os.kill(os.getpid(), signal.SIGKILL)  # while the writer thread writes
        """)
    )
    assert proc.returncode == -signal.SIGKILL
    assert path.read_bytes() == before
    from rlu_serialize._atomic import _unnamed_supported

    if _unnamed_supported(str(tmp_path)):
        # killed while writing, the unnamed file leaves nothing; only a kill in the instant
        # between naming the finished file and renaming it (the writer outran a main thread
        # stalled by a loaded machine) leaves that name, holding the whole new checkpoint
        left = [name for name in listing(tmp_path) if name != "ckpt.lz4"]
        assert left == [] or (
            len(left) == 1
            and left[0].startswith(".rlu-")
            and load(tmp_path / left[0])["data"].shape == (1 << 23,)
        ), left
    else:
        assert all(name == "ckpt.lz4" or name.startswith(".rlu-") for name in listing(tmp_path))


# -- regressions found by review: each scenario that once failed ----------------------------


def test_a_copy_thread_that_cannot_start_is_copied_inline(tmp_path, monkeypatch):
    # Once, a failed thread start left the others writing into a map that was then freed.
    monkeypatch.setattr(_background, "default_workers", lambda: 4)
    real_start = threading.Thread.start
    starts = []

    def start(self):
        starts.append(self)
        if len(starts) == 2:
            raise RuntimeError("can't start new thread")
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    data = np.random.default_rng(0).random(3 << 20)  # 24 MiB: split over the copy threads
    snapshot = _background.Snapshot()
    pickle.Pickler(snapshot, protocol=5).dump(data)
    monkeypatch.setattr(threading.Thread, "start", real_start)
    pieces: list[bytes] = []
    snapshot.replay(lambda piece: pieces.append(bytes(piece)))
    snapshot.release()
    assert len(starts) == 3
    np.testing.assert_array_equal(pickle.loads(b"".join(pieces)), data)


def test_a_done_callback_cannot_wait_for_a_dump_queued_behind_it(tmp_path):
    # Once, this hung forever (and the interpreter with it at exit).
    gate = threading.Event()
    _background.submit(str(tmp_path / "elsewhere"), gate.wait)
    first = dump({"v": 1}, tmp_path / "a.lz4", background=True)
    second = dump({"v": 2}, tmp_path / "b.lz4", background=True)
    errors: list[BaseException] = []

    def callback(future):
        try:
            dump({"v": 3}, tmp_path / "b.lz4")
        except RuntimeError as error:
            errors.append(error)

    first.add_done_callback(callback)
    gate.set()
    second.result(timeout=60)
    assert len(errors) == 1 and "done-callback" in str(errors[0])
    assert load(tmp_path / "b.lz4") == {"v": 2}


def test_background_dumps_work_in_a_forked_child(tmp_path, python_runner):
    proc = python_runner(
        textwrap.dedent(f"""
        import os, rlu_serialize
        folder = {str(tmp_path)!r}
        rlu_serialize.dump(1, os.path.join(folder, "parent.lz4"), background=True).result()
        pid = os.fork()
        if pid == 0:
            try:
                f = rlu_serialize.dump(2, os.path.join(folder, "child.lz4"), background=True)
                f.result(timeout=20)
                ok = rlu_serialize.load(os.path.join(folder, "child.lz4")) == 2
            finally:
                os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
        """),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0"


def test_a_relative_path_is_where_the_program_was_at_the_call(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    gate = threading.Event()
    _background.submit(str(tmp_path / "elsewhere"), gate.wait)
    future = dump({"v": 1}, "ckpt.lz4", background=True)
    monkeypatch.chdir(tmp_path / "b")
    gate.set()
    future.result(timeout=60)
    assert listing(tmp_path / "a") == ["ckpt.lz4"] and listing(tmp_path / "b") == []


def test_after_the_writer_is_shut_down_a_background_dump_runs_at_once(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    closed = ThreadPoolExecutor(1)
    closed.shutdown()
    monkeypatch.setattr(_background, "_executor", closed)
    future = dump({"v": 1}, tmp_path / "ckpt.lz4", background=True)
    assert future.done() and future.result() is None
    assert load(tmp_path / "ckpt.lz4") == {"v": 1}
