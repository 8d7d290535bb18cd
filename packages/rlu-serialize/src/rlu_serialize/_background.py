"""Checkpoints written in the background: the snapshot, the writer thread and its queue.

``dump(obj, path, background=True)`` pickles ``obj`` at once, on the calling thread, into a
``Snapshot``: the pickle stream as it would go to the file, with every large buffer the
pickler hands over (array data) copied into memory the snapshot owns. Whatever the program
does to its objects afterwards (an optimizer updating its arrays in place, a replay buffer
overwriting slots) cannot reach the checkpoint. One writer thread then feeds the snapshot
through the same frame writer and atomic file as a synchronous dump, so the file is byte for
byte what ``dump`` would have written at the moment of the call.

Dumps run one at a time, in the order they were asked for. Before a dump or a load touches a
path, it waits for the background dumps queued for that path, so the newest call always
wins and a load sees the file the program last asked for. The interpreter waits for queued
dumps at exit (the writer is a ``concurrent.futures`` worker).
"""

from __future__ import annotations

import mmap
import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rlu_serialize._content import anonymous_map
from rlu_serialize._frame import default_workers

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

# Writes of at least this size are buffers the pickler passes straight through (array data,
# large bytes): copied, or kept where they cannot change. Smaller writes are the pickler's
# own frames, gathered into pieces below the frame writer's block size so that replaying
# them cuts the content into the same blocks as the pickler's own writes did.
_LARGE = 64 << 10
_GATHER = 1 << 20


class Snapshot:
    """A pickle stream held in memory, every large mutable buffer copied.

    File-like enough for ``pickle.Pickler`` (``write``). ``bytes`` objects are immutable and
    are kept by reference; every other large buffer (a ``PickleBuffer`` over an array, a
    ``bytearray``) is copied into an anonymous memory map, in huge pages where the system
    allows.

    Examples
    --------
    >>> import pickle
    >>> snapshot = Snapshot()
    >>> data = bytearray(100_000)
    >>> pickle.Pickler(snapshot, protocol=5).dump(data)
    >>> data[0] = 1  # changes after the snapshot do not reach it
    >>> pieces = []
    >>> snapshot.replay(lambda piece: pieces.append(bytes(piece)))
    >>> pickle.loads(b"".join(pieces))[0]
    0
    """

    def __init__(self) -> None:
        self._pieces: list[Any] = []
        self._gathered = bytearray()
        #: Number of bytes of pickle stream held.
        self.nbytes = 0

    def write(self, data: Any) -> int:
        """Append ``data`` to the stream; return its length."""
        if type(data) is bytes and len(data) >= _LARGE:
            self._flush()
            self._pieces.append(data)  # immutable: no copy needed
            self.nbytes += len(data)
            return len(data)
        with memoryview(data) as raw:
            view = raw if raw.ndim == 1 and raw.itemsize == 1 else raw.cast("B")
            size = view.nbytes
            if size >= _LARGE:
                self._flush()
                copy = anonymous_map(size)
                _copy(view, copy)
                self._pieces.append(copy)
            else:
                if len(self._gathered) + size > _GATHER:
                    self._flush()
                self._gathered += view
        self.nbytes += size
        return size

    def _flush(self) -> None:
        if self._gathered:
            self._pieces.append(bytes(self._gathered))
            self._gathered = bytearray()

    def replay(self, write: Callable[[Any], Any]) -> None:
        """Call ``write`` with each piece of the stream, in order."""
        self._flush()
        for piece in self._pieces:
            write(piece if isinstance(piece, bytes) else memoryview(piece))

    def release(self) -> None:
        """Drop the copies (the memory goes back to the system)."""
        pieces, self._pieces = self._pieces, []
        for piece in pieces:
            if not isinstance(piece, bytes):
                try:
                    piece.close()
                except BufferError:  # a view is still alive: the map closes with it
                    pass


_PARALLEL = 8 << 20  # a copy at least this large is split over the CPUs


def _address(buffer: Any) -> int | None:
    """The address of a contiguous buffer's first byte, or None where it cannot be had."""
    import ctypes

    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(buffer))
    except TypeError:  # read-only (a JAX array's host data): ask numpy, if it is there
        numpy = sys.modules.get("numpy")
        if numpy is None:
            return None
        return int(numpy.frombuffer(buffer, dtype=numpy.uint8).ctypes.data)


def _copy(view: memoryview, target: mmap.mmap) -> None:
    """Copy ``view`` into the start of ``target``: large copies on several threads at once.

    One thread copies at about the speed the kernel hands out fresh pages; ``ctypes.memmove``
    releases the GIL, so slices of a large buffer go to the CPUs in parallel (measured on two
    cores: 256 MiB in 22 ms instead of 41 ms). Every thread started is joined before this
    returns or raises, even on an interrupt: none may write into memory that is then freed.
    """
    size = view.nbytes
    workers = default_workers()
    source = _address(view) if size >= _PARALLEL and workers > 1 else None
    if source is None:
        target.write(view)
        return
    import ctypes

    anchor = ctypes.c_char.from_buffer(target)
    destination = ctypes.addressof(anchor)
    step = -(-size // workers)
    started: list[threading.Thread] = []
    try:
        for start in range(step, size, step):
            args = (destination + start, source + start, min(step, size - start))
            thread = threading.Thread(target=ctypes.memmove, args=args)
            try:
                thread.start()
            except RuntimeError:  # no new thread: copy this slice here
                ctypes.memmove(*args)
                continue
            started.append(thread)
        ctypes.memmove(destination, source, min(step, size))
    finally:
        while started:  # wait out the copies, whatever interrupted this thread
            try:
                started[-1].join()
            except BaseException:  # an interrupt during the join: join again, raise after
                continue
            started.pop()
        del anchor  # the map may be closed again
    target.seek(size)


_lock = threading.Lock()
_writer = threading.local()  # .active is True on the writer thread, for its whole life
_executor: ThreadPoolExecutor | None = None
_queued: dict[str, Future[None]] = {}  # path -> the newest background dump to it


def _key(path: str) -> str:
    return os.path.abspath(path)


def _mark_writer() -> None:
    _writer.active = True


def _after_fork() -> None:
    """In a forked child: the writer thread did not survive the fork, so start afresh."""
    global _executor, _lock
    _executor = None
    _queued.clear()
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def submit(path: str, job: Callable[[], None]) -> Future[None]:
    """Queue ``job`` (which writes ``path``) on the writer thread; return its future.

    Where no thread can be started any more (the interpreter is exiting), the job runs here
    and the future returned is already done.
    """
    global _executor
    key = _key(path)
    future: Future[None] | None
    with _lock:
        try:
            if _executor is None:
                from concurrent.futures import ThreadPoolExecutor

                _executor = ThreadPoolExecutor(
                    1, thread_name_prefix="rlu-dump", initializer=_mark_writer
                )
            future = _executor.submit(_run, path, job)
        except RuntimeError:  # "cannot schedule new futures after (interpreter) shutdown"
            future = None
        else:
            _queued[key] = future
    if future is None:
        from concurrent.futures import Future

        done: Future[None] = Future()
        try:
            _run(path, job)
        except BaseException as error:
            done.set_exception(error)
        else:
            done.set_result(None)
        return done

    def forget(done: Future[None]) -> None:
        with _lock:
            if _queued.get(key) is done:
                del _queued[key]

    future.add_done_callback(forget)
    return future


def _run(path: str, job: Callable[[], None]) -> None:
    try:
        job()
    except BaseException as error:
        # The future raises it; say it too, in case nobody asks the future.
        import logging

        logging.getLogger("rlu_serialize").warning(
            "the background dump to %r failed (its future's result() raises this): %s: %s",
            path,
            type(error).__name__,
            error,
        )
        raise


def wait_for(path: str) -> None:
    """Wait until no background dump to ``path`` is queued or running (errors stay theirs).

    Raises
    ------
    RuntimeError
        On the writer thread itself (a future's done-callback that dumps or loads) while a
        dump to ``path`` is still queued: it is queued behind the running one and cannot
        start before it, so waiting would never end.
    """
    with _lock:
        future = _queued.get(_key(path))
    if future is None or future.done():
        return
    if getattr(_writer, "active", False):
        raise RuntimeError(
            f"a background dump to {path!r} is queued behind the one whose done-callback is "
            "running, so this call cannot wait for it: dump or load that path after result() "
            "returns, not in a done-callback"
        )
    from concurrent.futures import wait

    wait([future])
