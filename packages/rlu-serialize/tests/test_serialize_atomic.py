"""dump is atomic: a failed dump leaves the previous checkpoint and no temporary file."""

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
from rlu_serialize import dump, load
from rlu_serialize._frame import BLOCK_SIZE

PREVIOUS = {"step": 100, "weights": np.arange(1000.0)}


def listing(directory):
    return sorted(os.listdir(directory))


def assert_previous_intact(path):
    out = load(path)
    assert out["step"] == 100
    np.testing.assert_array_equal(out["weights"], PREVIOUS["weights"])


class ExplodesWhilePickled:
    def __reduce__(self):
        raise RuntimeError("boom while pickling")


@pytest.fixture
def checkpoint(tmp_path):
    """The file tmp_path/ckpt.lz4 holding PREVIOUS: the checkpoint a failed dump must keep."""
    path = tmp_path / "ckpt.lz4"
    dump(PREVIOUS, path)
    return path


@pytest.mark.parametrize("big_prefix", [False, True], ids=["small", "after-several-blocks"])
def test_unpicklable_object_keeps_previous_checkpoint(tmp_path, checkpoint, big_prefix):
    before = checkpoint.read_bytes()
    prefix = np.zeros(3 * BLOCK_SIZE // 4) if big_prefix else None  # blocks already written
    with pytest.raises(RuntimeError, match="boom"):
        dump({"prefix": prefix, "bad": ExplodesWhilePickled()}, checkpoint)
    with pytest.raises((TypeError, pickle.PicklingError)):
        dump({"lock": threading.Lock()}, checkpoint)
    assert checkpoint.read_bytes() == before
    assert listing(tmp_path) == ["ckpt.lz4"]
    assert_previous_intact(checkpoint)


def test_target_that_is_a_directory_leaves_nothing_behind(tmp_path):
    (tmp_path / "dir").mkdir()
    with pytest.raises(OSError):
        dump(PREVIOUS, tmp_path / "dir")
    assert listing(tmp_path) == ["dir"]
    assert listing(tmp_path / "dir") == []


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE (POSIX)")
def test_full_disk_keeps_previous_checkpoint(tmp_path, checkpoint, python_runner):
    # The child may write at most 1 MiB per file: the 8 MiB dump fails the way a
    # full disk does (an OSError from write), after some data has been written.
    before = checkpoint.read_bytes()
    proc = python_runner(
        textwrap.dedent(f"""
        import errno, resource, signal, numpy as np, rlu_serialize
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        data = np.random.default_rng(0).random(1 << 20)  # 8 MiB, barely compressible
        try:
            rlu_serialize.dump({{"big": data}}, {str(checkpoint)!r})
        except OSError as err:
            print("failed", errno.errorcode[err.errno])
        else:
            print("no error")
    """)
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "failed EFBIG"
    assert checkpoint.read_bytes() == before
    assert listing(tmp_path) == ["ckpt.lz4"]


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
@pytest.mark.parametrize("durable", [True, False])
def test_killed_process_keeps_previous_checkpoint(tmp_path, checkpoint, python_runner, durable):
    before = checkpoint.read_bytes()
    proc = python_runner(
        textwrap.dedent(f"""
        import os, signal, numpy as np, rlu_serialize

        class DieHalfway:
            def __reduce__(self):
                os.kill(os.getpid(), signal.SIGKILL)

        big = np.zeros(3 * (1 << 20))  # 24 MiB: several blocks reach the file first
        rlu_serialize.dump([big, DieHalfway()], {str(checkpoint)!r}, durable={durable})
    """)
    )
    assert proc.returncode == -signal.SIGKILL
    assert checkpoint.read_bytes() == before
    assert_previous_intact(checkpoint)
    from rlu_serialize._atomic import _unnamed_supported

    if _unnamed_supported(str(tmp_path)):  # O_TMPFILE: a killed writer leaves no file at all
        assert listing(tmp_path) == ["ckpt.lz4"]
    else:  # elsewhere a hidden temporary file may remain, never the target half-written
        assert all(name == "ckpt.lz4" or name.startswith(".rlu-") for name in listing(tmp_path))


@pytest.mark.parametrize("background", [False, True])
def test_durable_false_writes_the_same_file_without_any_fsync(tmp_path, monkeypatch, background):
    obj = {"w": np.random.default_rng(0).standard_normal(3 * BLOCK_SIZE // 8), "step": 7}
    synced: list[str] = []
    real_fsync, real_fdatasync = os.fsync, getattr(os, "fdatasync", os.fsync)
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(
        os, "fdatasync", lambda fd: (synced.append("fdatasync"), real_fdatasync(fd))[1]
    )

    def write(path, **durable):
        pending = dump(obj, path, background=background, **durable)
        if pending is not None:
            pending.result()

    write(tmp_path / "durable.lz4")
    assert synced.count("fsync") >= 2  # the file, then its directory after the rename
    synced.clear()
    write(tmp_path / "fast.lz4", durable=False)
    assert synced == []
    assert (tmp_path / "fast.lz4").read_bytes() == (tmp_path / "durable.lz4").read_bytes()
    assert listing(tmp_path) == ["durable.lz4", "fast.lz4"]
    with pytest.raises(TypeError, match="durable"):
        dump(obj, tmp_path / "x.lz4", durable="yes")  # type: ignore[arg-type]


def test_named_temporary_fallback_is_also_atomic(tmp_path, monkeypatch):
    from rlu_serialize import _atomic as atomic

    monkeypatch.setattr(atomic, "_unnamed_supported", lambda directory: False)
    path = tmp_path / "ckpt.lz4"
    dump(PREVIOUS, path)
    with pytest.raises(RuntimeError):
        dump(ExplodesWhilePickled(), path)
    assert listing(tmp_path) == ["ckpt.lz4"]
    assert_previous_intact(path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444, 0o755])
@pytest.mark.parametrize("unnamed", [True, False], ids=["O_TMPFILE", "named-temporary"])
def test_overwrite_keeps_the_mode_of_the_replaced_file(tmp_path, monkeypatch, mode, unnamed):
    import rlu_serialize._atomic as atomic

    if not unnamed:
        monkeypatch.setattr(atomic, "_unnamed_supported", lambda directory: False)
    path = tmp_path / "ckpt.lz4"
    dump({"v": 1}, path)
    os.chmod(path, mode)
    dump({"v": 2}, path)
    assert os.stat(path).st_mode & 0o7777 == mode
    assert load(path) == {"v": 2}


def test_new_file_follows_the_umask_and_owner_is_kept(tmp_path):
    old_umask = os.umask(0o027)
    try:
        import rlu_serialize._atomic as atomic

        atomic._umask = None  # the cached umask is read again
        dump(1, tmp_path / "new.lz4")
    finally:
        os.umask(old_umask)
        atomic._umask = None
    assert os.stat(tmp_path / "new.lz4").st_mode & 0o777 == 0o640
    if os.geteuid() == 0:  # root may give files away: the replaced file's owner is kept
        path = tmp_path / "owned.lz4"
        dump(1, path)
        os.chown(path, 12345, 23456)
        dump(2, path)
        info = os.stat(path)
        assert (info.st_uid, info.st_gid) == (12345, 23456)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 200_000), max_size=12),
    most=st.none() | st.integers(1, 70_000),
)
def test_gathered_writes_write_every_piece_in_order(tmp_path_factory, sizes, most):
    # brute force: the file holds the pieces joined, whatever the system call writes at a time
    from rlu_serialize import _atomic

    pieces = [os.urandom(n) if n < 1000 else bytes([n % 251]) * n for n in sizes]
    path = tmp_path_factory.mktemp("gathered") / "out.bin"
    real = os.writev
    calls: list[int] = []

    def partial(fd, buffers):  # a system call that writes at most `most` bytes
        calls.append(len(buffers))
        if most is None:
            return real(fd, buffers)
        first = memoryview(buffers[0])[:most]
        return real(fd, [first])

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(os, "writev", partial)
            out = _atomic.GatheredWrites(fd)
            written = sum(out.write(piece) for piece in pieces) + out.flush()
    finally:
        os.close(fd)
    assert path.read_bytes() == b"".join(pieces)
    assert written == sum(sizes)
    if most is None:  # one system call per large piece, and one for what is left
        large = sum(n >= 64 << 10 for n in sizes)
        assert len(calls) <= large + 1 + sum(sizes) // (64 << 10)


def _linked_sizes(monkeypatch) -> list[int]:
    """The size of every file ``atomic_write`` gives a name by a link, as it links it."""
    import rlu_serialize._atomic as atomic

    sizes: list[int] = []
    real_link = os.link

    def link(src, dst, **kwargs):
        sizes.append(os.fstat(int(src)).st_size)  # src: the fd's entry under /proc/self/fd
        return real_link(src, dst, **kwargs)

    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr(atomic, "_unnamed_works", {})  # as in a fresh process
    return sizes


def test_issue_repro_a_first_write_names_no_empty_file(tmp_path, monkeypatch):
    """CI, 2026-12-07: a process killed just after its first background dump began left an
    empty ``.rlu-*.tmp`` beside the checkpoint. Checking that unnamed files could be linked,
    the first write of a process gave an empty probe a name and removed it: a kill between the
    two left it. Every name a write gives must now be the finished file's."""
    import rlu_serialize._atomic as atomic

    if not atomic._unnamed_supported(str(tmp_path)):
        pytest.skip("no O_TMPFILE here: a named temporary file is the documented fallback")
    sizes = _linked_sizes(monkeypatch)
    dump({"v": 1}, tmp_path / "ckpt.lz4")
    assert sizes == [(tmp_path / "ckpt.lz4").stat().st_size]
    assert listing(tmp_path) == ["ckpt.lz4"]


@pytest.mark.parametrize("durable", [True, False])
def test_a_filesystem_that_cannot_link_unnamed_files_gets_a_named_copy(
    tmp_path, monkeypatch, durable
):
    """Where an unnamed file cannot be given a name, its content goes to a hidden named file
    that replaces the target (with the replaced file's mode), and later writes on that
    filesystem use named files from the start."""
    import rlu_serialize._atomic as atomic

    if not atomic._unnamed_supported(str(tmp_path)):
        pytest.skip("no O_TMPFILE here: nothing to fall back from")
    sizes = _linked_sizes(monkeypatch)

    def refuse(fd, directory):
        raise OSError(95, "Operation not supported")

    monkeypatch.setattr(atomic, "_link_unnamed", refuse)
    path = tmp_path / "ckpt.lz4"
    dump({"v": 1}, path, durable=durable)
    os.chmod(path, 0o640)
    obj = {"w": np.random.default_rng(0).standard_normal(3 * BLOCK_SIZE // 8)}
    dump(obj, path, durable=durable)
    assert np.array_equal(load(path)["w"], obj["w"])
    assert os.stat(path).st_mode & 0o7777 == 0o640
    assert listing(tmp_path) == ["ckpt.lz4"]
    assert sizes == []
    assert atomic._unnamed_works == {os.stat(tmp_path).st_dev: False}
    with pytest.raises(RuntimeError):  # and the named path is atomic too
        dump(ExplodesWhilePickled(), path, durable=durable)
    assert listing(tmp_path) == ["ckpt.lz4"]
    assert np.array_equal(load(path)["w"], obj["w"])
