"""Streaming LZ4 frames: a parallel writer (loads read and verify through ``_verify``).

The writer produces one standard LZ4 frame (format version 1, linked blocks of
up to 4 MiB, content size, block checksums), so any LZ4 frame
decoder reads it: ``lz4.frame.decompress``, ``lz4.frame.open`` and the ``lz4``
command-line tool. Each block is compressed by ``lz4.block.compress`` with the
64 KiB of content before it as dictionary, which is exactly the history a
linked-block decoder keeps; since that dictionary is known in advance, blocks
are compressed on several threads at once (``lz4.block.compress`` releases the
GIL) and the ratio equals that of one sequential stream. A block whose probes do not
compress (model weights: random-looking floats) is stored as it is, an uncompressed block of
the same frame, without being compressed in vain.

Every block carries its own checksum (xxHash-32 of the bytes stored for it), computed by the
thread that compressed it, so checksums cost no more wall time than compression: all cores
hash at once, while the calling thread writes finished blocks out. The frame format also
offers one content checksum over all content instead; it is a single pass that cannot be
split, and on model weights it took longer than writing the file (rlu 0.4 wrote it; such files
are verified as before).

The writer is file-like enough for ``pickle.Pickler``, so a pickle streams
through it without ever existing in memory as one byte string.
"""

from __future__ import annotations

import os
import struct
from collections import deque
from collections.abc import Callable
from typing import Any

from rlu_serialize._checks import (
    check_content_size,
    check_data_view,
    check_largest_block,
    check_workers,
)

#: The four bytes every LZ4 frame starts with (magic number 0x184D2204, little-endian).
MAGIC = b"\x04\x22\x4d\x18"
#: Largest block the writer emits; the frame descriptor announces 4 MiB blocks.
BLOCK_SIZE = 4 << 20
#: Length of the header ``frame_header`` writes (magic, FLG, BD, content size, HC).
HEADER_SIZE = 15
_FLG = 0b0101_1000  # version 01, linked blocks, block checksums, content size
# Block maximum sizes the format knows, with their BD codes. The header announces
# the smallest that holds every block, so decoders of small frames allocate little.
_BLOCK_CLASSES = ((64 << 10, 4), (256 << 10, 5), (1 << 20, 6), (4 << 20, 7))
_END_MARK = b"\x00\x00\x00\x00"
_UNCOMPRESSED = 0x8000_0000
_WINDOW = 64 << 10  # LZ4's match window: the dictionary each block gets
# Probes that decide whether a block is worth compressing (see _worth_compressing).
_PROBE = 32 << 10
_PROBES = 4
_PAYS = 0.97  # compress a block whose probes shrink to this fraction of their size or less


def xxh32(data: bytes | bytearray | memoryview) -> int:
    """Return the xxHash-32 digest (seed 0) of ``data``.

    This is the checksum the LZ4 frame format uses for its header, block and
    content checksums.

    Parameters
    ----------
    data : bytes-like object
        The bytes to hash.

    Returns
    -------
    int
        The digest, an integer in ``[0, 2**32)``.

    Raises
    ------
    TypeError
        If ``data`` does not support the buffer protocol.

    Examples
    --------
    >>> hex(xxh32(b""))
    '0x2cc5d05'
    """
    import xxhash

    return int(xxhash.xxh32_intdigest(check_data_view("data", data)))


def frame_header(content_size: int, largest_block: int = BLOCK_SIZE) -> bytes:
    """Return the 15-byte header of the frames ``FrameWriter`` writes.

    Parameters
    ----------
    content_size : int
        Number of uncompressed bytes in the frame, ``0 <= content_size < 2**64``.
    largest_block : int, optional
        Size of the largest block in the frame (``FrameWriter.largest_block``);
        the header announces the smallest block maximum size that holds it.

    Returns
    -------
    bytes
        Magic number, frame descriptor (linked 4 MiB blocks, block checksums,
        content size) and header checksum.

    Raises
    ------
    ValueError
        If ``content_size`` is negative or does not fit in 64 bits, or
        ``largest_block`` exceeds ``BLOCK_SIZE``.

    Examples
    --------
    >>> header = frame_header(0)
    >>> len(header), header[:4] == MAGIC
    (15, True)
    """
    check_content_size("content_size", content_size)
    check_largest_block("largest_block", largest_block, block_size=BLOCK_SIZE)
    code = next(code for size, code in _BLOCK_CLASSES if largest_block <= size)
    descriptor = struct.pack("<BBQ", _FLG, code << 4, content_size)
    return MAGIC + descriptor + bytes([(xxh32(descriptor) >> 8) & 0xFF])


def default_workers() -> int:
    """Number of compression threads: the CPUs this process may use, at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def _worth_compressing(block: Any) -> bool:
    """Whether probes spread over ``block`` shrink enough under LZ4 to compress it whole.

    ``_PROBES`` slices of ``_PROBE`` bytes, one from the middle of each equal part of the
    block, are compressed on their own (about 3% of a full block's work). Data that does not
    compress (model weights, optimizer moments: random-looking floats) is then stored as it
    is, as the frame format allows, instead of being compressed in vain; a block with any
    compressible part among its probes is compressed as before. A short block is always tried.
    """
    import lz4.block

    size = len(block)
    if size < 4 * _PROBES * _PROBE:
        return True
    part = size // _PROBES
    stored = 0
    for k in range(_PROBES):
        start = k * part + (part - _PROBE) // 2
        stored += len(lz4.block.compress(block[start : start + _PROBE], store_size=False))
    return stored <= _PAYS * _PROBES * _PROBE


def _compress_block(block: Any, history: bytes) -> tuple[bytes, Any, bytes]:
    """Return (block size field, block data, block checksum) for one block.

    ``history`` is the content just before the block (at most 64 KiB); the block
    may refer back into it, as a linked-block decoder allows. A block that would not
    shrink is stored uncompressed (the size field's high bit says so). The checksum is
    xxHash-32 of the stored data, as the frame format defines it.
    """
    import lz4.block
    import xxhash

    size = len(block)
    compressed = (
        lz4.block.compress(block, store_size=False, dict=history)
        if _worth_compressing(block)
        else block
    )
    if len(compressed) < size:
        field, stored = struct.pack("<I", len(compressed)), compressed
    else:
        field, stored = struct.pack("<I", size | _UNCOMPRESSED), block
    return field, stored, struct.pack("<I", xxhash.xxh32_intdigest(stored))


class FrameWriter:
    """Pickler sink that writes the body of one LZ4 frame.

    Everything passed to ``write`` becomes frame content. Content is cut
    into blocks of at most ``BLOCK_SIZE`` bytes; blocks are compressed on a
    pool of ``workers`` threads and handed to ``emit`` in order. Large buffers
    (the pickler passes array data of 64 KiB or more straight through) are split
    into blocks without being copied: the blocks hold views of the caller's
    buffer (which keep it alive) until they are written, at the latest in
    ``close``, so its contents must not change until then. A pickler does not
    change them; ``dump(background=True)`` hands over memory it owns. A change
    to the end of such a block, which the next block is compressed against,
    raises ``ValueError`` when the block is written.

    The header is not written: call ``frame_header`` with
    ``content_size`` and ``largest_block`` once ``close`` has
    returned.

    Parameters
    ----------
    emit : callable
        Called with each piece of frame body, in order: ``bytes`` or a
        ``memoryview`` that is only valid during the call.
    workers : int, optional
        Number of compression threads; defaults to ``default_workers``. With
        one worker, or content smaller than one block, no thread is started.

    Examples
    --------
    >>> import lz4.frame
    >>> pieces = []
    >>> writer = FrameWriter(lambda piece: pieces.append(bytes(piece)))
    >>> writer.write(b"hello, frame")
    12
    >>> writer.close()
    >>> frame = frame_header(writer.content_size, writer.largest_block) + b"".join(pieces)
    >>> lz4.frame.decompress(frame)
    b'hello, frame'
    """

    def __init__(self, emit: Callable[[Any], Any], workers: int | None = None) -> None:
        self._emit = emit
        self._workers = check_workers("workers", workers)
        self._pending = bytearray()
        self._history = b""  # the last 64 KiB of content handed to a block
        self._jobs: deque[Any] = deque()
        self._pool: Any = None
        self._closed = False
        self._finished = False
        #: Number of content bytes written so far.
        self.content_size = 0
        #: Size of the largest block so far.
        self.largest_block = 0

    # -- pickler interface -------------------------------------------------
    def write(self, data: Any) -> int:
        """Append ``data`` to the frame content and return its length."""
        if self._closed:
            raise ValueError("write to a closed FrameWriter")
        view = memoryview(data)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        size = view.nbytes
        if len(self._pending) + size < BLOCK_SIZE:
            self._pending += view
            return size
        if size < BLOCK_SIZE:  # top up the pending block and hand it over
            room = BLOCK_SIZE - len(self._pending)
            self._pending += view[:room]
            self._push_pending()
            self._pending += view[room:]
            return size
        # A large buffer (array data): flush what is pending as a short block,
        # then compress the buffer in place, block by block.
        if self._pending:
            self._push_pending()
        start = 0
        while size - start >= BLOCK_SIZE:
            self._push(view[start : start + BLOCK_SIZE])
            start += BLOCK_SIZE
        self._pending += view[start:]
        return size  # the next array's blocks join the queue: no wait between arrays

    # -- internals -----------------------------------------------------------
    def _push_pending(self) -> None:
        block, self._pending = self._pending, bytearray()
        self._push(block)

    def _push(self, block: Any) -> None:
        history = self._history
        self._history = (
            bytes(block[-_WINDOW:])
            if len(block) >= _WINDOW
            else (history + bytes(block))[-_WINDOW:]
        )
        # A block borrowed from the caller must still end as the next block's dictionary
        # says once it is written (see _write_block); our own pending blocks never change.
        tail = None if isinstance(block, bytearray) else self._history
        self.content_size += len(block)
        self.largest_block = max(self.largest_block, len(block))
        if self._workers is None and not self._closed:
            self._workers = default_workers()
        workers = self._workers or 1
        if workers == 1 or (self._pool is None and self._closed):
            # one worker, or the only block of a small frame: no thread needed
            self._write_block(_compress_block(block, history), block, tail)
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(workers, thread_name_prefix="rlu-lz4")
        try:
            job = self._pool.submit(_compress_block, block, history)
        except RuntimeError:  # the interpreter is exiting (a background dump finishing): inline
            self._workers = 1
            self._drain(0)
            self._write_block(_compress_block(block, history), block, tail)
            return
        self._jobs.append((job, block, tail))
        self._drain(2 * workers)

    def _drain(self, keep: int) -> None:
        while len(self._jobs) > keep:
            job, block, tail = self._jobs.popleft()
            self._write_block(job.result(), block, tail)

    def _write_block(self, parts: tuple[bytes, Any, bytes], block: Any, tail: Any) -> None:
        for part in parts:
            self._emit(part)
        # (bytes against bytes: a memoryview compares item by item, 20 times slower)
        if tail is not None and block[-len(tail) :].tobytes() != tail:
            # The next block was compressed against the old bytes: it would decode to bytes
            # that were never there, and its checksum (of what was stored) would not notice.
            raise ValueError(
                "a buffer changed while it was being written (another thread writing to an "
                "array during dump?); nothing was saved: dump(..., background=True) takes a "
                "snapshot first"
            )

    def close(self) -> None:
        """Write the last block and the end mark."""
        if self._closed:
            if self._finished:
                return
            raise ValueError("close after abort: the frame is incomplete")
        self._closed = True  # no more writes; lets _push compress a lone last block inline
        try:
            if self._pending:
                self._push_pending()
            self._drain(0)
            self._emit(_END_MARK)
            self._finished = True
        finally:
            self.abort()

    def abort(self) -> None:
        """Stop the compression threads and drop whatever is not written yet."""
        self._closed = True
        self._pending = bytearray()
        for job, _, _ in self._jobs:
            job.cancel()
        self._jobs.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
