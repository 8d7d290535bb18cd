"""Verify first: a frame's whole content is decompressed and checked before it is unpickled.

``decompress`` runs ``lz4.frame.LZ4FrameDecompressor`` over the input, which checks the
header checksum, block checksums, content size and content checksum whenever the frame
carries them, and keeps the content in ``Content``: anonymous memory maps of at most
``SEGMENT`` bytes. Only once the whole frame has passed (and, with a key, its signature)
does an unpickler see a byte of it. ``Content`` is read once, front to back, and hands
each segment back to the operating system as soon as it has been read, so while the
unpickler turns content into objects the two together stay about the size of the
content. Anonymous maps, unlike ``malloc``, always return their pages when closed.
"""

from __future__ import annotations

import hashlib
import mmap
import struct
from collections import deque
from collections.abc import Callable
from typing import Any

from rlu_serialize._checks import TruncatedDataError
from rlu_serialize._errors import CorruptedDataError, LoadRefusedError, SignatureError
from rlu_serialize._frame import MAGIC, xxh32
from rlu_serialize._signature import SIGNATURE_SIZE, is_signature_frame, signature_matches

#: Largest piece of content kept in one memory map.
SEGMENT = 8 << 20
_READ_CHUNK = 256 << 10  # compressed bytes handed to the decompressor at a time
_OUT_CHUNK = 1 << 20  # most decompressed bytes produced per decompressor call
_FLG_CONTENT_SIZE = 0x08
_FLG_CONTENT_CHECKSUM = 0x04
_FLG_DICT_ID = 0x01


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

    def __init__(self, expected: int | None = None) -> None:
        self._segments: deque[tuple[mmap.mmap, memoryview, int]] = deque()
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

    def _new_segment(self, wanted: int) -> mmap.mmap:
        self._seal()
        size = SEGMENT if self._expected is None else max(min(SEGMENT, self._expected), wanted)
        segment = _anonymous_map(size)
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
        segment, view, _ = self._segments.popleft()
        view.release()
        segment.close()
        self._offset = 0

    def _next(self) -> tuple[mmap.mmap, memoryview, int] | None:
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
            segment, _, used = current
            end = min(used, self._offset + count)
            parts.append(segment[self._offset : end])  # a copy: the map may close
            count -= end - self._offset
            self.remaining -= end - self._offset
            self._offset = end
        self._next()
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readinto(self, target: Any) -> int:
        """Fill ``target`` with the next bytes; return how many were written."""
        with memoryview(target) as raw, raw.cast("B") as out:
            want = min(out.nbytes, self.remaining)
            if want >= _HUGE_TARGET:
                _advise_huge_pages(out)
            filled = 0
            while filled < want and (current := self._next()) is not None:
                _, view, used = current
                count = min(used - self._offset, want - filled)
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
            segment, _, used = self._segments[0]
            if self._offset >= used:
                self._drop()
                continue
            newline = segment.find(b"\n", self._offset, used)
            end = used if newline < 0 else newline + 1
            parts.append(segment[self._offset : end])
            self.remaining -= end - self._offset
            self._offset = end
            if newline >= 0:
                break
        self._next()
        return b"".join(parts)

    def close(self) -> None:
        """Unmap every segment (what has not been read is dropped)."""
        if self._fill is not None:
            self._fill.close()
            self._fill = None
        while self._segments:
            self._drop()
        self.remaining = 0


_HUGE_TARGET = 8 << 20  # a read at least this large asks for huge pages first
_HUGE_PAGE = 2 << 20
_madvise: Any = None  # libc's madvise, once looked up; False where there is none


def _advise_huge_pages(out: memoryview) -> None:
    """Ask the kernel for huge pages behind a large, still untouched target buffer.

    The unpickler of a trusted load reads each array's bytes into a new ``bytearray``: fresh
    memory whose 4 KiB pages fault in one by one as they are first written, which costs more
    than copying into them (on a virtual machine, several times more). Advised before the
    copy, the whole-2-MiB part of the buffer is faulted in huge pages instead, as numpy asks
    for its own large arrays. Linux only; elsewhere, or if the call fails, nothing changes.
    """
    global _madvise
    if _madvise is None:
        _madvise = False
        advice = getattr(mmap, "MADV_HUGEPAGE", None)
        if advice is not None:
            try:
                import ctypes

                libc = ctypes.CDLL(None, use_errno=True)
                libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
                _madvise = (libc.madvise, ctypes, advice)
            except (OSError, AttributeError):
                pass
    if not _madvise or out.readonly:
        return
    function, ctypes, advice = _madvise
    start = ctypes.addressof(ctypes.c_char.from_buffer(out))
    first = -(-start // _HUGE_PAGE) * _HUGE_PAGE
    length = (start + out.nbytes - first) // _HUGE_PAGE * _HUGE_PAGE
    if length > 0:
        function(first, length, advice)  # advice only: a refusal changes nothing


def _anonymous_map(size: int) -> mmap.mmap:
    """Private anonymous memory of ``size`` bytes, in huge pages where the system allows.

    Faulting in 4 KiB pages costs more than decompressing into them (measured: 256 MiB
    written into fresh 4 KiB pages took 0.11 s, into huge pages 0.013 s).
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


class _Input:
    """Compressed input, read in pieces, optionally up to a limit and through a hash."""

    def __init__(self, read: Callable[[int], Any], limit: int | None) -> None:
        self._read = read
        self._limit = limit  # bytes of input that belong to the frame, where known
        self.consumed = 0
        self.hash: Any = None  # a hashlib object fed everything read after the header
        self.hash_from = 0  # input offset where hashing starts

    def read(self, size: int) -> Any:
        if self._limit is not None:
            size = min(size, self._limit - self.consumed)
            if size <= 0:
                return b""
        data = self._read(size)
        start = self.consumed
        self.consumed += len(data)
        if self.hash is not None and self.consumed > self.hash_from:
            self.hash.update(data[max(0, self.hash_from - start) :])
        return data

    def read_all(self) -> None:
        """Read (and hash) what is left of the input up to the limit."""
        while self.read(_READ_CHUNK):
            pass


def _describe_header(
    data: Any, fail: Callable[..., CorruptedDataError]
) -> tuple[int, int | None, bool]:
    """(header length, declared content size or None, content checksum present)."""
    if len(data) < 7:
        raise fail("the LZ4 frame is truncated (its header is incomplete)", TruncatedDataError)
    flg = data[4]
    if flg >> 6 != 1:
        raise fail(f"the LZ4 frame is damaged (unknown frame version {flg >> 6})")
    length = 7 + (8 if flg & _FLG_CONTENT_SIZE else 0) + (4 if flg & _FLG_DICT_ID else 0)
    if len(data) < length:
        raise fail("the LZ4 frame is truncated (its header is incomplete)", TruncatedDataError)
    if (xxh32(bytes(data[4 : length - 1])) >> 8) & 0xFF != data[length - 1]:
        raise fail("the LZ4 frame is damaged (its header checksum does not match)")
    size = struct.unpack_from("<Q", data, 6)[0] if flg & _FLG_CONTENT_SIZE else None
    return length, size, bool(flg & _FLG_CONTENT_CHECKSUM)


def verify_signature(read: Callable[[int], Any], name: str, key: bytes, total: int) -> None:
    """Check the signature over the compressed input, before anything is decompressed.

    ``decompress`` checks it again over what it decompresses, so input that changes between
    the two reads (a file rewritten meanwhile) is refused too.

    Raises
    ------
    SignatureError
        If the input does not end with a signature of its frame under ``key``.
    """
    if total < SIGNATURE_SIZE + 7:
        raise SignatureError(f"{name} is not signed: it is too short to hold a signature")
    source = _Input(read, total - SIGNATURE_SIZE)
    first = b""
    while len(first) < 19 and (more := source.read(19 - len(first))):
        first += bytes(more)
    flg = first[4] if len(first) > 4 else 0
    length = 7 + (8 if flg & _FLG_CONTENT_SIZE else 0) + (4 if flg & _FLG_DICT_ID else 0)
    source.hash = hashlib.sha256(first[length:])
    source.hash_from = source.consumed
    source.read_all()
    signature = bytes(read(SIGNATURE_SIZE))
    if not is_signature_frame(signature):
        raise SignatureError(f"{name} is not signed (no rlu signature at its end)")
    if not signature_matches(key, first[:length], source.hash.digest(), signature):
        raise SignatureError(_MISMATCH.format(name))


def decompress(
    read: Callable[[int], Any],
    name: str,
    *,
    max_bytes: int | None,
    require_checksum: bool,
    key: bytes | None,
    total: int | None,
) -> Content:
    """Decompress and verify a whole frame; return its content.

    Parameters
    ----------
    read : callable
        ``read(n)`` returns up to ``n`` further input bytes, and an empty result at the end.
    name : str
        What the input is called in error messages.
    max_bytes : int or None
        Refuse a frame whose content is (or is declared to be) larger.
    require_checksum : bool
        Refuse a frame without a content checksum.
    key : bytes or None
        Require a signature by this key after the frame.
    total : int or None
        Length of the whole input, where known; needed when ``key`` is given.

    Raises
    ------
    CorruptedDataError
        If the input is not one intact LZ4 frame (optionally followed by a signature).
    LoadRefusedError
        If the content exceeds ``max_bytes`` or a required checksum is missing.
    SignatureError
        If ``key`` is given and the input is not signed with it.
    """

    def fail(
        reason: str, error: type[CorruptedDataError] = CorruptedDataError
    ) -> CorruptedDataError:
        return error(f"{name} is not an intact checkpoint: {reason}")

    limit = None
    if key is not None:
        if total is None or total < SIGNATURE_SIZE:
            raise SignatureError(f"{name} is not signed: it is too short to hold a signature")
        limit = total - SIGNATURE_SIZE
    source = _Input(read, limit)
    first = bytes(source.read(_READ_CHUNK))
    while 0 < len(first) < 19:  # the longest header; reads almost always give far more
        more = source.read(_READ_CHUNK)
        if not len(more):
            break
        first += bytes(more)
    header = b""
    try:
        if not first:
            raise fail("it is empty", TruncatedDataError)
        if first[:4] != MAGIC:
            raise fail("it does not start with an LZ4 frame (wrong magic number)")
        length, declared, has_checksum = _describe_header(first, fail)
        header = first[:length]
        if key is not None:
            source.hash = hashlib.sha256(first[length:])
            source.hash_from = source.consumed
        _check_header(declared, has_checksum, max_bytes, require_checksum)
        content, trailing = _decompress_frame(first, source, fail, declared, max_bytes)
    except CorruptedDataError as problem:
        if key is None:
            raise
        # A changed file should be reported as changed, not only as damaged.
        source.read_all()
        signature = bytes(read(SIGNATURE_SIZE))
        digest = source.hash.digest() if source.hash is not None else b""
        if not is_signature_frame(signature):
            raise SignatureError(f"{name} is not signed (no rlu signature at its end)") from problem
        if not signature_matches(key, header, digest, signature):
            raise SignatureError(_MISMATCH.format(name)) from problem
        raise
    if key is None:
        if trailing and not is_signature_frame(trailing):
            content.close()
            raise fail("there are bytes after the end of the LZ4 frame")
        return content
    signature = bytes(read(SIGNATURE_SIZE))
    problem_text = None
    if trailing or len(read(1)):
        problem_text = f"{name} is not signed (bytes other than a signature follow its frame)"
    elif not is_signature_frame(signature):
        problem_text = f"{name} is not signed (no rlu signature at its end)"
    elif not signature_matches(key, header, source.hash.digest(), signature):
        problem_text = _MISMATCH.format(name)
    if problem_text is not None:
        content.close()
        raise SignatureError(problem_text)
    return content


_MISMATCH = (
    "{} does not match its signature: it was changed after it was signed, or signed with "
    "another key"
)


def _check_header(
    declared: int | None, has_checksum: bool, max_bytes: int | None, require_checksum: bool
) -> None:
    if max_bytes is not None and declared is not None and declared > max_bytes:
        raise LoadRefusedError(
            f"the checkpoint declares {declared} bytes of content, more than "
            f"max_bytes={max_bytes}; pass a larger max_bytes (or None) if you expect that"
        )
    if require_checksum and not has_checksum:
        raise LoadRefusedError(
            "a restricted load (trusted=False) accepts only frames with a content checksum, "
            "as rlu writes them; this one has none (coax's files have none): load it with "
            "trusted=True only if you trust it"
        )


def _decompress_frame(
    first: bytes,
    source: _Input,
    fail: Callable[..., CorruptedDataError],
    declared: int | None,
    max_bytes: int | None,
) -> tuple[Content, bytes]:
    """Decompress the frame that starts with ``first``; return (content, bytes after it)."""
    import lz4.frame

    content = Content(declared)
    decompressor = lz4.frame.LZ4FrameDecompressor()
    data: Any = first
    try:
        while not decompressor.eof:
            if decompressor.needs_input and not len(data):
                data = source.read(_READ_CHUNK)
                if not len(data):
                    raise fail(
                        "the LZ4 frame is truncated (input ended before its end mark)",
                        TruncatedDataError,
                    )
            try:
                out = decompressor.decompress(data, max_length=_OUT_CHUNK)
            except RuntimeError as err:  # lz4 reports every frame error this way
                raise fail(f"the LZ4 frame is damaged ({err})") from None
            data = b""
            if out:
                content.append(out)
                if max_bytes is not None and content.size > max_bytes:
                    raise LoadRefusedError(
                        f"the checkpoint holds more than max_bytes={max_bytes} bytes of "
                        "content; pass a larger max_bytes (or None) if you expect that"
                    )
        trailing = bytes(decompressor.unused_data or b"")
        while len(trailing) <= SIGNATURE_SIZE:  # one signature frame may follow
            more = source.read(SIGNATURE_SIZE + 1 - len(trailing))
            if not len(more):
                break
            trailing += bytes(more)
    except BaseException:
        content.close()
        raise
    content.done()
    return content, trailing
