"""numba's on-disk cache, made safe for processes that share it.

numba keeps one index per function (signature -> data file) beside numbered data files. A
save writes the index first and the data file after it, and picks the data file's number from
the index it has just read. Processes that share a cache folder therefore race:

- a process that loads between another's index and data writes reads whatever that data file
  held before: machine code of another signature, of an older source, or of another numba
  version (found in CI: Ray shards starting together died in ``CompileResult._rebuild``);
- two processes saving different signatures from the same index both pick the same number.

Here every load and every save of rlu's kernels holds an exclusive ``flock`` on one lock file
in the cache folder, so a load sees an index and the data it names as one save left them, and
each save reads the index the previous save wrote. Loads take milliseconds; compiling happens
outside the lock. Where ``fcntl`` is missing (Windows) or the lock file cannot be made, cache
access is as numba does it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pathlib
import threading
from collections.abc import Iterator
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".rlu-numba-cache.lock"

_mutex = threading.RLock()
_held: dict[str, tuple[int, int]] = {}  # lock file -> (descriptor or -1, depth in this process)


@contextlib.contextmanager
def locked(folder: str) -> Iterator[None]:
    """Hold the lock of the cache folder ``folder`` (re-entrant within a process)."""
    path = os.path.join(folder, LOCK_NAME)
    with _mutex:  # one thread of this process at a time: flock does not order them
        fd, depth = _held.get(path, (-1, 0))
        if depth == 0:
            fd = _acquire(folder, path)
        _held[path] = (fd, depth + 1)
        try:
            yield
        finally:
            fd, depth = _held.pop(path)
            if depth > 1:
                _held[path] = (fd, depth - 1)
            elif fd >= 0:
                os.close(fd)  # closing the descriptor releases the lock


def _acquire(folder: str, path: str) -> int:
    if fcntl is None:  # pragma: no cover - Windows
        return -1
    try:
        os.makedirs(folder, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        return -1  # numba could not write there either: it will compile without saving
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:  # a filesystem without locks
        os.close(fd)
        return -1
    return fd


class LockedCache:
    """A numba function cache whose loads and saves hold the folder's lock."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._folder = str(inner.cache_path)

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        with locked(self._folder):
            return self._inner.load_overload(sig, target_context)

    def save_overload(self, sig: Any, data: Any) -> None:
        with locked(self._folder):
            self._inner.save_overload(sig, data)

    def __getattr__(self, name: str) -> Any:  # flush, cache_path, ... as numba's cache has them
        return getattr(self._inner, name)


def lock_cache(compiled: Any) -> None:
    """Make the on-disk cache of a numba dispatcher (or ``CFunc``) take the folder's lock.

    Call it before the first compilation. A dispatcher without a cache is left alone.
    """
    cache = getattr(compiled, "_cache", None)
    if cache is not None and cache.cache_path is not None and not isinstance(cache, LockedCache):
        compiled._cache = LockedCache(cache)


def depend_on(compiled: Any, depends: tuple[str, ...]) -> None:
    """Make the on-disk cache of ``compiled`` stale when any file of ``depends`` changes.

    numba checks a cached kernel against its own source file only: a kernel that calls
    compiled functions of other files (rlu-replay's add calls rlu-trees' walks) would load old
    machine code after those files changed. Their contents' hash joins the source stamp that
    numba compares. Call it before the first compilation; raises ``RuntimeError`` where
    numba's cache has no such stamp (then compile without a cache).
    """
    if not depends:
        return
    cache = getattr(compiled, "_cache", None)
    inner = getattr(cache, "_inner", cache)
    cache_file = getattr(inner, "_cache_file", None)
    stamp = getattr(cache_file, "_source_stamp", None)
    if cache_file is None or stamp is None:
        raise RuntimeError("numba's cache keeps no source stamp to extend")
    cache_file._source_stamp = (stamp, _digest(depends))


@functools.cache
def _digest(depends: tuple[str, ...]) -> str:
    """The hash of the files' contents: read once per process, however many kernels use it."""
    digest = hashlib.sha256()
    for path in depends:
        digest.update(pathlib.Path(path).read_bytes())
    return digest.hexdigest()


def njit(func: Any, cache: bool = True, depends: tuple[str, ...] = ()) -> Any:
    """``numba.njit(cache=cache, nogil=True)(func)``, its cache locked (see the module) and
    stale when a file of ``depends`` changes (`depend_on`).

    Raises numba's ``RuntimeError`` when ``cache`` is true and no cache folder is writable.
    """
    import numba

    dispatcher = numba.njit(cache=cache, nogil=True)(func)
    if cache:
        depend_on(dispatcher, depends)
    lock_cache(dispatcher)
    return dispatcher


def cfunc(signature: Any, func: Any, depends: tuple[str, ...] = ()) -> Any:
    """``numba.cfunc(signature, cache=True)(func)``, its cache locked (see the module) and
    stale when a file of ``depends`` changes (`depend_on`).

    numba's decorator compiles at once; this makes the same ``CFunc`` and locks its cache
    before compiling. Raises numba's ``RuntimeError`` when no cache folder is writable.
    """
    from numba.core import sigutils
    from numba.core.ccallback import CFunc

    sig = sigutils.normalize_signature(signature)  # type: ignore[no-untyped-call]  # numba: unannotated
    compiled = CFunc(func, sig, locals={}, options={})
    compiled.enable_caching()
    depend_on(compiled, depends)
    lock_cache(compiled)
    compiled.compile()
    return compiled
