"""Verify first: a frame is read block by block and checked whole before it is unpickled.

``decompress`` reads one LZ4 frame (the format of ``lz4.frame`` and of the ``lz4`` tool) and
checks everything the frame carries: the header checksum, each block's checksum, the content
size and the content checksum. Blocks stored uncompressed (what ``FrameWriter`` does with
data that does not compress: model weights) are borrowed where the input is already in memory
(a byte string, or a file mapped by ``load``) and otherwise read straight into ``Content``'s
memory, one copy from the file; compressed blocks are decoded by ``lz4.block`` with the 64 KiB
of content before them as dictionary, as linked blocks require. The checksums of uncompressed
blocks run on one helper thread per CPU, and a content checksum (one pass that cannot be
split) on another, while the main thread reads and checks blocks. Only once the whole frame
has passed (and, with a key, its signature) does an unpickler see a byte of it.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from typing import Any

from rlu_serialize._checks import TruncatedDataError
from rlu_serialize._content import Content
from rlu_serialize._errors import CorruptedDataError, LoadRefusedError, SignatureError
from rlu_serialize._frame import MAGIC, default_workers, xxh32
from rlu_serialize._lane import Lane
from rlu_serialize._signature import SIGNATURE_SIZE, is_signature_frame, signature_matches

#: Told (offset, length) of input that was borrowed and is no longer needed (see ``decompress``).
Release = Callable[[int, int], None]
_READ_CHUNK = 256 << 10  # input read at a time where the reader does not choose the size
_FLG_BLOCK_INDEPENDENT = 0x20
_FLG_BLOCK_CHECKSUM = 0x10
_FLG_CONTENT_SIZE = 0x08
_FLG_CONTENT_CHECKSUM = 0x04
_FLG_RESERVED = 0x02
_FLG_DICT_ID = 0x01
_UNCOMPRESSED = 0x8000_0000
_WINDOW = 64 << 10  # LZ4's match window: the history a linked block may refer to
_BLOCK_MAX = {4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20}  # BD code -> block maximum


class ViewStream:
    """A byte string read as a stream, without copying it (``read`` gives views).

    Examples
    --------
    >>> stream = ViewStream(memoryview(b"abcdef"))
    >>> bytes(stream.read(2)), stream.readinto(target := bytearray(3)), bytes(target)
    (b'ab', 3, b'cde')
    """

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._position = 0

    def read(self, size: int) -> memoryview:
        chunk = self._view[self._position : self._position + size]
        self._position += len(chunk)
        return chunk

    def readinto(self, target: Any) -> int:
        with memoryview(target) as out:
            chunk = self._view[self._position : self._position + out.nbytes]
            out[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)


class _Input:
    """Compressed input, read in pieces, optionally up to a limit and through a hash.

    ``stream`` has ``read(n)`` and, optionally, ``readinto(buffer)``.
    """

    def __init__(self, stream: Any, limit: int | None) -> None:
        self._read = stream.read
        self._readinto = getattr(stream, "readinto", None)
        #: Whether ``read`` gives views of memory that holds the whole input (no copies).
        self.in_memory = isinstance(stream, ViewStream)
        self._limit = limit  # bytes of input that belong to the frame, where known
        self.consumed = 0
        self.hash: Any = None  # a hashlib object fed everything read after the header
        self.hash_from = 0  # input offset where hashing starts

    def _room(self, size: int) -> int:
        return size if self._limit is None else max(0, min(size, self._limit - self.consumed))

    def _hash(self, data: Any, start: int) -> None:
        if self.hash is not None and self.consumed > self.hash_from:
            self.hash.update(data[max(0, self.hash_from - start) :])

    def read(self, size: int) -> Any:
        size = self._room(size)
        if size <= 0:
            return b""
        data = self._read(size)
        start = self.consumed
        self.consumed += len(data)
        self._hash(data, start)
        return data

    def readinto(self, target: memoryview) -> int:
        """Fill ``target`` as far as the input goes; return how many bytes were put."""
        want = self._room(target.nbytes)
        filled = 0
        while filled < want:
            if self._readinto is None:
                data = self.read(want - filled)
                target[filled : filled + len(data)] = data
                count = len(data)
            else:
                start = self.consumed
                with target[filled:want] as part:
                    count = self._readinto(part) or 0
                self.consumed += count
                with target[filled : filled + count] as done:
                    self._hash(done, start)
            if not count:
                break
            filled += count
        return filled

    def read_all(self) -> None:
        """Read (and hash) what is left of the input up to the limit."""
        while self.read(_READ_CHUNK):
            pass


def _header_length(flg: int) -> int:
    """Bytes of a frame header with the flags ``flg``: magic, FLG, BD, the optional content
    size and dictionary ID, and the header checksum."""
    return 7 + (8 if flg & _FLG_CONTENT_SIZE else 0) + (4 if flg & _FLG_DICT_ID else 0)


def _describe_header(
    data: Any, fail: Callable[..., CorruptedDataError]
) -> tuple[int, int | None, bool]:
    """(header length, declared content size or None, content or block checksums present)."""
    if len(data) < 7:
        raise fail("the LZ4 frame is truncated (its header is incomplete)", TruncatedDataError)
    flg = data[4]
    if flg >> 6 != 1:
        raise fail(f"the LZ4 frame is damaged (unknown frame version {flg >> 6})")
    length = _header_length(flg)
    if len(data) < length:
        raise fail("the LZ4 frame is truncated (its header is incomplete)", TruncatedDataError)
    if (xxh32(bytes(data[4 : length - 1])) >> 8) & 0xFF != data[length - 1]:
        raise fail("the LZ4 frame is damaged (its header checksum does not match)")
    size = struct.unpack_from("<Q", data, 6)[0] if flg & _FLG_CONTENT_SIZE else None
    return length, size, bool(flg & (_FLG_CONTENT_CHECKSUM | _FLG_BLOCK_CHECKSUM))


def verify_signature(stream: Any, name: str, key: bytes, total: int) -> None:
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
    source = _Input(stream, total - SIGNATURE_SIZE)
    first = b""
    while len(first) < 19 and (more := source.read(19 - len(first))):
        first += bytes(more)
    flg = first[4] if len(first) > 4 else 0
    length = _header_length(flg)
    source.hash = hashlib.sha256(first[length:])
    source.hash_from = source.consumed
    source.read_all()
    signature = bytes(stream.read(SIGNATURE_SIZE))
    if not is_signature_frame(signature):
        raise SignatureError(f"{name} is not signed (no rlu signature at its end)")
    if not signature_matches(key, first[:length], source.hash.digest(), signature):
        raise SignatureError(_MISMATCH.format(name))


def decompress(
    stream: Any,
    name: str,
    *,
    max_bytes: int | None,
    require_checksum: bool,
    key: bytes | None,
    total: int | None,
    release: Release | None = None,
) -> Content:
    """Decompress and verify a whole frame; return its content.

    Parameters
    ----------
    stream : object
        The input: ``stream.read(n)`` returns up to ``n`` further bytes, and an empty result
        at the end; ``stream.readinto(buffer)``, where there is one, fills a buffer likewise.
    name : str
        What the input is called in error messages.
    max_bytes : int or None
        Refuse a frame whose content is (or is declared to be) larger.
    require_checksum : bool
        Refuse a frame without checksums (neither block checksums nor a content checksum).
    key : bytes or None
        Require a signature by this key after the frame.
    total : int or None
        Length of the whole input, where known; needed when ``key`` is given.
    release : callable, optional
        Where ``stream`` is a ``ViewStream`` over a memory map, uncompressed blocks are
        borrowed from it; ``release(offset, length)`` is called for each once its checksum
        is checked and again once it has been read, and for each compressed block once it is
        decoded, so the caller may drop those pages.

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
    source = _Input(stream, limit)
    first = bytes(source.read(19))  # the longest header; blocks are read where they belong
    while 0 < len(first) < 19:
        more = source.read(19 - len(first))
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
        content, trailing = _read_frame(first, length, source, fail, declared, max_bytes, release)
    except CorruptedDataError as problem:
        if key is None:
            raise
        # A changed file should be reported as changed, not only as damaged.
        source.read_all()
        signature = bytes(stream.read(SIGNATURE_SIZE))
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
    signature = bytes(stream.read(SIGNATURE_SIZE))
    problem_text = None
    if trailing or len(stream.read(1)):
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
            "a restricted load (trusted=False) accepts only frames with checksums (block "
            "checksums, as rlu writes them, or a content checksum); this one has none (coax's "
            "files have none): load it with trusted=True only if you trust it"
        )


class _Ahead:
    """Exact reads: the bytes already read past the header first, then the input itself."""

    def __init__(self, ahead: bytes, source: _Input) -> None:
        self._ahead = ahead
        self._source = source

    def exact(self, count: int) -> bytes:
        """The next ``count`` bytes (fewer only where the input ends)."""
        if len(self._ahead) >= count:
            out, self._ahead = self._ahead[:count], self._ahead[count:]
            return out
        parts, have = [self._ahead], len(self._ahead)
        self._ahead = b""
        while have < count and len(more := self._source.read(count - have)):
            parts.append(bytes(more))
            have += len(more)
        return b"".join(parts)

    def into(self, target: memoryview) -> int:
        """Fill ``target`` with the next bytes; return how many were put."""
        first = min(len(self._ahead), target.nbytes)
        target[:first] = self._ahead[:first]
        self._ahead = self._ahead[first:]
        if first == target.nbytes:
            return first
        with target[first:] as rest:
            return first + self._source.readinto(rest)

    @property
    def position(self) -> int:
        """Offset in the input of the next byte ``exact``, ``into`` or ``view`` gives."""
        return self._source.consumed - len(self._ahead)

    def view(self, count: int) -> memoryview | None:
        """The next ``count`` bytes as a view of the input itself, where the input is in
        memory and nothing read ahead is pending; otherwise None, and nothing is read.
        The view is shorter where the input ends."""
        if self._ahead or not self._source.in_memory:
            return None
        return memoryview(self._source.read(count))

    def leftover(self) -> bytes:
        out, self._ahead = self._ahead, b""
        return out


class _BlockChecks:
    """Checksums of uncompressed blocks, checked on one lane per CPU (blocks dealt out in
    turn: a block checksum is one pass of its own); the first mismatch is kept."""

    def __init__(self, release: Release | None) -> None:
        self._failed: list[int] = []  # indices of blocks whose checksum failed
        self._lanes = [Lane(self._check) for _ in range(default_workers())]
        self._next = 0
        self._release = release

    def put(self, view: memoryview, expected: int, index: int, at: int | None) -> None:
        """Check ``view`` against ``expected`` (block ``index``, borrowed from ``at``)."""
        self._lanes[self._next].put(view, expected, index, at)
        self._next = (self._next + 1) % len(self._lanes)

    def _check(self, view: memoryview, expected: int, index: int, at: int | None) -> None:
        if xxh32(view) != expected:
            self._failed.append(index)
        if at is not None and self._release is not None:
            self._release(at, view.nbytes)

    def finish(self) -> int | None:
        """Wait for every check; return the index of the first block that failed, or None."""
        try:
            for lane in self._lanes:
                lane.finish()
        except BaseException:
            self.abandon()  # no lane may still hold a view when this raises
            raise
        return min(self._failed, default=None)

    def abandon(self) -> None:
        for lane in self._lanes:
            lane.abandon()


class _ContentHash:
    """The running content checksum of a frame (xxHash-32 of all content, as rlu 0.4 and the
    ``lz4`` tool write it), fed on a lane."""

    def __init__(self, release: Release | None) -> None:
        import xxhash

        self._state = xxhash.xxh32()
        self.lane = Lane(self._update)
        self._release = release

    def digest(self) -> int:
        """The digest of the content fed so far, an integer in ``[0, 2**32)``."""
        return int(self._state.intdigest())

    def _update(self, view: memoryview, at: int | None) -> None:
        self._state.update(view)
        if at is not None and self._release is not None:
            self._release(at, view.nbytes)


_BLOCK_MISMATCH = "the LZ4 frame is damaged (block {}'s checksum does not match)"


def _truncated(fail: Callable[..., CorruptedDataError]) -> CorruptedDataError:
    return fail("the LZ4 frame is truncated (input ended before its end mark)", TruncatedDataError)


def _read_frame(
    first: bytes,
    length: int,
    source: _Input,
    fail: Callable[..., CorruptedDataError],
    declared: int | None,
    max_bytes: int | None,
    release: Release | None,
) -> tuple[Content, bytes]:
    """Read and verify the blocks of the frame whose header is ``first[:length]``.

    Returns the content and whatever follows the frame (at most ``SIGNATURE_SIZE + 1``
    bytes of it).
    """
    import lz4.block

    flg, bd = first[4], first[5]
    if flg & _FLG_RESERVED or bd & 0x8F:
        raise fail("the LZ4 frame is damaged (reserved bits of its header are set)")
    block_max = _BLOCK_MAX.get((bd >> 4) & 0x7)
    if block_max is None:
        raise fail("the LZ4 frame is damaged (its header names no valid block size)")
    linked = not flg & _FLG_BLOCK_INDEPENDENT
    if declared == 0:  # lz4 reads a declared size of 0 as "unknown"
        declared = None
    content = Content(declared, release)
    hasher = _ContentHash(release) if flg & _FLG_CONTENT_CHECKSUM else None
    checks = _BlockChecks(release)
    reader = _Ahead(first[length:], source)
    history = b""
    index = 0
    view: memoryview | None = None  # content memory of the current block, until handed on
    try:
        while True:
            field = reader.exact(4)
            if len(field) < 4:
                raise _truncated(fail)
            size = struct.unpack("<I", field)[0]
            if size == 0:
                break
            stored = size & ~_UNCOMPRESSED
            if stored > block_max:
                raise fail(
                    f"the LZ4 frame is damaged (block {index} holds {stored} bytes, more "
                    f"than its header's {block_max}-byte blocks)"
                )
            raw = bool(size & _UNCOMPRESSED)
            at: int | None = None  # where a borrowed block lies in the input
            if raw:  # borrowed where the input is in memory, else read into the content's
                _check_size(content.size + stored, declared, max_bytes, fail)
                at = reader.position
                view = reader.view(stored)
                if view is None:
                    at = None
                    view = content.reserve(stored)
                    if reader.into(view) < stored:
                        raise _truncated(fail)
                elif view.nbytes < stored:
                    raise _truncated(fail)
                data: Any = view
            else:
                start = reader.position
                data = reader.exact(stored)
                if len(data) < stored:
                    raise _truncated(fail)
                if release is not None and source.in_memory:  # a copy was taken: drop the pages
                    release(start, stored)
            if flg & _FLG_BLOCK_CHECKSUM:
                expected = reader.exact(4)
                if len(expected) < 4:
                    raise _truncated(fail)
                if raw:  # checked beside the reading; every check is done before returning
                    checks.put(data[:], struct.unpack("<I", expected)[0], index, at)
                elif xxh32(data) != struct.unpack("<I", expected)[0]:  # before decoding
                    raise fail(_BLOCK_MISMATCH.format(index))
            if not raw:
                try:
                    out = lz4.block.decompress(
                        data, uncompressed_size=block_max, dict=history if linked else b""
                    )
                except lz4.block.LZ4BlockError:
                    reason = f"the LZ4 frame is damaged (block {index} does not decode)"
                    raise fail(reason) from None
                _check_size(content.size + len(out), declared, max_bytes, fail)
                view = content.reserve(len(out))
                view[:] = out
            assert view is not None
            if at is not None:
                content.borrow(view, at)
            else:
                content.commit(view.nbytes)
            if linked:
                history = (
                    bytes(view[-_WINDOW:])
                    if view.nbytes >= _WINDOW
                    else (history + bytes(view))[-_WINDOW:]
                )
            if hasher is not None:
                hasher.lane.put(view, at)  # the lane releases it
            else:
                view.release()
            view = None
            index += 1
        failed = checks.finish()
        if failed is not None:
            raise fail(_BLOCK_MISMATCH.format(failed))
        if declared is not None and content.size != declared:
            raise fail(
                f"the LZ4 frame is damaged (its content is {content.size} bytes, its header "
                f"declares {declared})"
            )
        if hasher is not None:
            expected = reader.exact(4)
            if len(expected) < 4:
                raise _truncated(fail)
            hasher.lane.finish()
            if hasher.digest() != struct.unpack("<I", expected)[0]:
                raise fail("the LZ4 frame is damaged (its content checksum does not match)")
        trailing = reader.leftover()
        while len(trailing) <= SIGNATURE_SIZE:  # one signature frame may follow
            more = source.read(SIGNATURE_SIZE + 1 - len(trailing))
            if not len(more):
                break
            trailing += bytes(more)
    except BaseException:
        if view is not None:
            view.release()
        checks.abandon()
        if hasher is not None:
            hasher.lane.abandon()
        content.close()
        raise
    content.done()
    return content, trailing


def _check_size(
    size: int,
    declared: int | None,
    max_bytes: int | None,
    fail: Callable[..., CorruptedDataError],
) -> None:
    """Refuse content of ``size`` bytes before it is held in memory: past ``max_bytes``, or
    past the size the header declares."""
    if max_bytes is not None and size > max_bytes:
        raise LoadRefusedError(
            f"the checkpoint holds more than max_bytes={max_bytes} bytes of content; pass a "
            "larger max_bytes (or None) if you expect that"
        )
    if declared is not None and size > declared:
        raise fail(
            f"the LZ4 frame is damaged (its content runs past the {declared} bytes its "
            "header declares)"
        )
