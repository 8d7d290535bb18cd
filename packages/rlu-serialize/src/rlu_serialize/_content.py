"""The decompressed content of a checkpoint, held until it is unpickled.

``Content`` keeps the content of one frame in anonymous memory maps of at most ``SEGMENT``
bytes, filled by the verifying reader (``_verify``) and read once, front to back, by an
unpickler. Each segment goes back to the operating system as soon as it has been read, so
while the unpickler turns content into objects the two together stay about the size of the
content. Anonymous maps, unlike ``malloc``, always return their pages when closed.

Content that is already in memory as it is (an uncompressed block of a frame read from a
memory map of its file, or from a byte string) is borrowed instead of copied: the unpickler
then copies it once, straight from there into the arrays it builds.
"""

from __future__ import annotations

import errno
import mmap
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

#: Largest piece of content kept in one memory map (a block larger than this gets its own).
SEGMENT = 8 << 20
_LINE = 4096  # borrowed content searched for a newline at a time


class Content:
    """The decompressed content of one frame, read once from front to back.

    File-like enough for ``pickle.Unpickler`` (``read``, ``readinto``, ``readline``).
    Segments that have been read are unmapped at once.

    Examples
    --------
    >>> content = Content()
    >>> content.append(b"first line\\nsecond")
    >>> content.done()
    >>> content.readline(), content.read(3), content.remaining
    (b'first line\\n', b'sec', 3)
    """

    def __init__(
        self, expected: int | None = None, release: Callable[[int, int], None] | None = None
    ) -> None:
        # (the map to close once read, or where borrowed memory was borrowed; its view; bytes used)
        self._segments: deque[tuple[mmap.mmap | int, memoryview, int]] = deque()
        self._release = release  # told (where, length) of borrowed memory once read
        self._fill: mmap.mmap | None = None  # the segment being filled
        self._expected = expected  # content bytes still to come, where known
        self._offset = 0  # read position in the first segment
        #: Number of content bytes appended and not yet read.
        self.remaining = 0
        #: Number of content bytes appended in all.
        self.size = 0

    # -- filling -------------------------------------------------------------
    def append(self, data: Any) -> None:
        """Append ``data`` (bytes-like) to the content."""
        view = memoryview(data).cast("B")
        while view.nbytes:
            target = self._fill
            if target is None or target.tell() == len(target):
                target = self._new_segment(view.nbytes)
            count = min(view.nbytes, len(target) - target.tell())
            target.write(view[:count])
            view = view[count:]
            self.size += count
            self.remaining += count

    def reserve(self, count: int) -> memoryview:
        """Room for the next ``count`` bytes, in one piece; ``commit`` says how many were put."""
        target = self._fill
        if target is None or len(target) - target.tell() < count:
            target = self._new_segment(count)
        start = target.tell()
        with memoryview(target) as whole:
            return whole[start : start + count]

    def borrow(self, view: memoryview, at: int = 0) -> None:
        """Append the bytes of ``view`` without copying them; they must not change until read.

        ``Content`` keeps a view of its own (released once read, or on ``close``), so the
        caller may release ``view``. Once the bytes are read, ``release(at, len(view))`` is
        called, where ``Content`` was given a ``release``.
        """
        self._seal()
        own = view[:]
        if self._expected is not None:
            self._expected = max(0, self._expected - own.nbytes)
        self._segments.append((at, own, own.nbytes))
        self.size += own.nbytes
        self.remaining += own.nbytes

    def commit(self, count: int) -> None:
        """Count the first ``count`` bytes of the last ``reserve`` as content."""
        assert self._fill is not None
        self._fill.seek(count, 1)
        self.size += count
        self.remaining += count

    def _new_segment(self, wanted: int) -> mmap.mmap:
        self._seal()
        room = SEGMENT if not self._expected else min(SEGMENT, self._expected)
        size = max(room, wanted, 1)
        segment = anonymous_map(size)
        self._fill = segment
        return segment

    def _seal(self) -> None:
        """Hand the segment being filled over to the reading side."""
        if self._fill is not None:
            used = self._fill.tell()
            if self._expected is not None:
                self._expected = max(0, self._expected - used)
            self._segments.append((self._fill, memoryview(self._fill), used))
            self._fill = None

    def done(self) -> None:
        """Mark the end of the content; reading may begin."""
        self._seal()

    # -- reading -------------------------------------------------------------
    def _drop(self) -> None:
        segment, view, used = self._segments.popleft()
        view.release()
        if isinstance(segment, mmap.mmap):
            close_map(segment)
        elif self._release is not None:
            self._release(segment, used)
        self._offset = 0

    def _next(self) -> tuple[mmap.mmap | int, memoryview, int] | None:
        """The segment reading continues in (dropping any read to its end), or None."""
        while self._segments:
            if self._offset < self._segments[0][2]:
                return self._segments[0]
            self._drop()
        return None

    def read(self, size: int = -1) -> bytes:
        """Return the next ``size`` bytes (all that remain if negative; fewer at the end)."""
        count = self.remaining if size is None or size < 0 else min(size, self.remaining)
        parts = []
        while count > 0 and (current := self._next()) is not None:
            _, view, used = current
            end = min(used, self._offset + count)
            parts.append(bytes(view[self._offset : end]))  # a copy: the map may close
            count -= end - self._offset
            self.remaining -= end - self._offset
            self._offset = end
        self._next()
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readinto(self, target: Any) -> int:
        """Fill ``target`` with the next bytes; return how many were written."""
        with memoryview(target) as raw, raw.cast("B") as out:
            want = min(out.nbytes, self.remaining)
            filled = 0
            while filled < want and (current := self._next()) is not None:
                _, view, used = current
                count = min(used - self._offset, want - filled)
                if count >= PREFAULT_FROM:  # piece by piece: the target grows as we read
                    prefault(out[filled : filled + count])
                out[filled : filled + count] = view[self._offset : self._offset + count]
                filled += count
                self.remaining -= count
                self._offset += count
        self._next()
        return filled

    def readline(self) -> bytes:
        """Return the bytes up to and including the next newline."""
        parts = []
        while self._segments:
            segment, view, used = self._segments[0]
            if self._offset >= used:
                self._drop()
                continue
            if isinstance(segment, mmap.mmap):
                newline = segment.find(b"\n", self._offset, used)
            else:  # borrowed memory has no find: look a piece at a time
                newline, start = -1, self._offset
                while newline < 0 and start < used:
                    found = bytes(view[start : min(used, start + _LINE)]).find(b"\n")
                    newline = found + start if found >= 0 else -1
                    start += _LINE
            end = used if newline < 0 else newline + 1
            parts.append(bytes(view[self._offset : end]))
            self.remaining -= end - self._offset
            self._offset = end
            if newline >= 0:
                break
        self._next()
        return b"".join(parts)

    def close(self) -> None:
        """Unmap every segment (what has not been read is dropped)."""
        if self._fill is not None:
            close_map(self._fill)
            self._fill = None
        while self._segments:
            self._drop()
        self.remaining = 0


def close_map(segment: mmap.mmap) -> None:
    """Unmap ``segment`` now, or, while a view of it is still alive (a traceback that holds
    one), when the last view goes: an error being raised must not turn into a BufferError."""
    try:
        segment.close()
    except BufferError:
        pass


def anonymous_map(size: int) -> mmap.mmap:
    """Private anonymous memory of ``size`` bytes, in huge pages where the system allows.

    Faulting in 4 KiB pages costs more than decompressing into them (measured: 256 MiB
    written into fresh 4 KiB pages took 0.11 s, into huge pages 0.013 s). Unlike memory from
    ``malloc``, the pages go back to the system as soon as the map is closed.

    Examples
    --------
    >>> segment = anonymous_map(1 << 20)
    >>> segment.write(b"data")
    4
    >>> segment[:4], len(segment)
    (b'data', 1048576)
    >>> segment.close()
    """
    private = getattr(mmap, "MAP_PRIVATE", None)
    anonymous = getattr(mmap, "MAP_ANONYMOUS", None)
    if private is None or anonymous is None:  # Windows: anonymous memory is all there is
        return mmap.mmap(-1, size)
    segment = mmap.mmap(-1, size, flags=private | anonymous)
    huge = getattr(mmap, "MADV_HUGEPAGE", None)
    if huge is not None:
        try:
            segment.madvise(huge)
        except OSError:  # no transparent huge pages here
            pass
    return segment


#: A piece of a read at least this large faults its part of the target in first (``prefault``).
PREFAULT_FROM = 1 << 20
_MADV_POPULATE_WRITE = 23  # Linux 5.14; Python names it only from 3.14 on
_populate: Any = None  # (libc's madvise, ctypes) once looked up; False where it cannot work


def prefault(target: memoryview) -> None:
    """Fault in the pages behind a writable buffer about to be filled, in one system call.

    The unpickler of a trusted load reads each array's bytes into a new ``bytearray``: fresh
    memory whose pages would fault in one by one as the copy first writes them, each fault a
    trap into the kernel (on a virtual machine, an expensive one). ``madvise`` with
    ``MADV_POPULATE_WRITE`` makes the kernel map the whole-page part of the buffer in one
    go, with ordinary pages: no huge pages are asked for (see ``anonymous_map``); the weights
    rows of ``bench:serialize`` show what that does to a load. Advice only: on other systems,
    on a kernel older than 5.14, or for a read-only buffer, nothing happens.

    Examples
    --------
    >>> buffer = bytearray(1 << 20)
    >>> prefault(memoryview(buffer))  # the contents are untouched
    >>> buffer.count(0) == len(buffer)
    True
    """
    global _populate
    if _populate is None:
        _populate = False
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                libc = ctypes.CDLL(None, use_errno=True)
                libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
                libc.madvise.restype = ctypes.c_int
                _populate = (libc.madvise, ctypes)
            except (OSError, AttributeError):
                pass
    if not _populate or target.readonly:
        return
    madvise, ctypes = _populate
    try:
        anchor = ctypes.c_char.from_buffer(target)
    except (TypeError, ValueError):  # not a contiguous writable buffer ctypes can address
        return
    start = ctypes.addressof(anchor)
    del anchor  # the caller may release its view at once
    page = mmap.PAGESIZE
    first = -(-start // page) * page
    length = (start + target.nbytes - first) // page * page
    if length > 0 and madvise(first, length, _MADV_POPULATE_WRITE) != 0:
        if ctypes.get_errno() == errno.EINVAL:  # a kernel without the advice: stop asking
            _populate = False


def map_file(fileno: int, size: int) -> mmap.mmap | None:
    """The file read-only in memory, or None where it cannot be mapped (an empty file, a file
    system without maps)."""
    if size <= 0:
        return None
    try:
        return mmap.mmap(fileno, size, access=mmap.ACCESS_READ)
    except (OSError, ValueError, OverflowError):
        return None


def unmapper(mapped: mmap.mmap) -> Callable[[int, int], None] | None:
    """``release(offset, length)``: unmap the whole pages of that part of ``mapped`` from this
    process (the file's pages stay cached; a later read maps them again), so that a load keeps
    only the blocks it is working on mapped. None where the system has no ``madvise``."""
    dontneed = getattr(mmap, "MADV_DONTNEED", None)
    if dontneed is None or not hasattr(mapped, "madvise"):
        return None
    page = mmap.PAGESIZE

    def release(offset: int, length: int) -> None:
        start = -(-offset // page) * page
        end = (offset + length) // page * page
        if end > start:
            try:
                mapped.madvise(dontneed, start, end - start)
            except (OSError, ValueError):  # the map is closed, or the call refused: keep it
                pass

    return release
