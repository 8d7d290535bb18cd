"""The frame writer, and the verified content a load reads, on their own."""

from __future__ import annotations

import errno
import io
import mmap
import os
import types

import lz4.block
import lz4.frame
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rlu_serialize import _content
from rlu_serialize._content import SEGMENT, Content
from rlu_serialize._frame import BLOCK_SIZE, FrameWriter, frame_header, xxh32
from rlu_serialize._verify import decompress


def read_frame(frame: bytes, name: str = "test") -> Content:
    return decompress(
        io.BytesIO(frame), name, max_bytes=None, require_checksum=True, key=None, total=None
    )


def write_frame(chunks, workers=2):
    pieces: list[bytes] = []
    writer = FrameWriter(lambda p: pieces.append(bytes(p)), workers=workers)
    for chunk in chunks:
        assert writer.write(chunk) == len(memoryview(chunk).cast("B"))
    writer.close()
    return frame_header(writer.content_size) + b"".join(pieces), writer.content_size


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_written_frames_decode_to_the_written_bytes(workers):
    rng_bytes = os.urandom(BLOCK_SIZE // 3)  # incompressible: stored blocks
    chunks = [b"head", rng_bytes, bytes(BLOCK_SIZE + 17), b"x" * 100_000, memoryview(b"tail")]
    frame, size = write_frame(chunks, workers)
    expected = b"".join(bytes(c) for c in chunks)
    assert size == len(expected)
    assert lz4.frame.decompress(frame) == expected
    reader = read_frame(frame)
    assert reader.size == reader.remaining == len(expected)
    assert reader.read(4) == b"head"
    target = bytearray(len(rng_bytes))
    assert reader.readinto(target) == len(rng_bytes) and bytes(target) == rng_bytes
    assert reader.read() == expected[4 + len(rng_bytes) :]
    assert reader.remaining == 0 and reader.read(5) == b"" and reader.readinto(target) == 0


def test_empty_frame():
    frame, size = write_frame([])
    assert size == 0 and lz4.frame.decompress(frame) == b""
    reader = read_frame(frame, "empty")
    assert reader.read() == b"" and reader.readline() == b"" and reader.remaining == 0


def test_non_byte_buffers_are_written_as_their_bytes():
    import array

    data = array.array("d", [1.0, 2.0, 3.0])
    frame, size = write_frame([data])
    assert size == 24 and lz4.frame.decompress(frame) == data.tobytes()


def test_writer_argument_and_state_checks():
    with pytest.raises(ValueError, match="workers must be an int >= 1, got 0"):
        FrameWriter(lambda p: None, workers=0)
    writer = FrameWriter(lambda p: None)
    writer.close()
    writer.close()  # closing twice is harmless
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"more")
    aborted = FrameWriter(lambda p: None)
    aborted.abort()
    with pytest.raises(ValueError, match="abort"):
        aborted.close()


def test_xxh32_and_header_argument_checks():
    with pytest.raises(TypeError, match="data must be a bytes-like"):
        xxh32("text")
    with pytest.raises(ValueError, match="content_size"):
        frame_header(-1)


def test_readline_spans_decompressed_chunks():
    lines = [b"a" * 700_000 + b"\n", b"b" * 900_000 + b"\n", b"tail"]
    frame, _ = write_frame(lines)
    reader = read_frame(frame, "lines")
    assert [reader.readline() for _ in range(4)] == lines + [b""]


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 3 * SEGMENT // 2), min_size=1, max_size=4),
    reads=st.lists(
        st.tuples(st.sampled_from(["read", "readinto", "readline"]), st.integers(0, SEGMENT + 5)),
        max_size=12,
    ),
    expected=st.sampled_from([None, "exact"]),
    borrowed=st.lists(st.booleans(), min_size=4, max_size=4),
    newlines=st.lists(st.integers(0, 3 * SEGMENT // 2), max_size=3),
)
def test_content_reads_as_the_bytes_appended(sizes, reads, expected, borrowed, newlines):
    # brute force: the same reads on one bytes object, with the same semantics; each piece
    # is copied in (append) or borrowed (the memory of an uncompressed block, not copied)
    pieces = [bytes([i % 251]) * n if n > 64 else os.urandom(n) for i, n in enumerate(sizes)]
    for at in newlines:  # lines that end inside pieces, far from their start
        k = at % len(pieces)
        if at < len(pieces[k]):
            pieces[k] = pieces[k][:at] + b"\n" + pieces[k][at + 1 :]
    whole = b"".join(pieces)
    content = Content(len(whole) if expected else None)
    for piece, borrow in zip(pieces, borrowed[: len(pieces)], strict=True):
        if borrow:
            with memoryview(piece) as view:
                content.borrow(view)  # Content keeps a view of its own
        else:
            content.append(piece)
    content.done()
    position = 0
    for kind, n in reads:
        if kind == "read":
            want = whole[position : position + n]
            assert content.read(n) == want
        elif kind == "readinto":
            target = bytearray(n)
            want = whole[position : position + n]
            assert content.readinto(target) == len(want) and bytes(target[: len(want)]) == want
        else:
            end = whole.find(b"\n", position)
            want = whole[position : len(whole) if end < 0 else end + 1]
            assert content.readline() == want
        position += len(want)
        assert content.remaining == len(whole) - position
    assert content.read() == whole[position:]
    content.close()


def _blocks(frame: bytes) -> list[tuple[bool, int]]:
    """(compressed, stored size) of each block of a frame written by FrameWriter."""
    import struct

    position, out = 15, []  # rlu's header: magic, FLG, BD, content size, header checksum
    while True:
        (field,) = struct.unpack_from("<I", frame, position)
        if field == 0:
            return out
        size = field & 0x7FFF_FFFF
        out.append((not field & 0x8000_0000, size))
        position += 4 + size + 4  # size field, data, block checksum


def test_blocks_that_do_not_compress_are_stored_without_compressing_them():
    import numpy as np
    import rlu_serialize._frame as frame_module

    rng = np.random.default_rng(0)
    weights = rng.standard_normal(3 * BLOCK_SIZE // 4, dtype=np.float32)  # 3 blocks of noise
    frame, size = write_frame([weights])
    assert size == weights.nbytes
    assert lz4.frame.decompress(frame) == weights.tobytes()
    blocks = _blocks(frame)
    assert len(blocks) == 3 and not any(compressed for compressed, _ in blocks)
    assert all(stored == BLOCK_SIZE for _, stored in blocks)
    # and the probes were the only compression work: a block is never compressed whole
    calls: list[int] = []
    real = frame_module._worth_compressing

    def counting(block):
        calls.append(len(block))
        return real(block)

    whole: list[int] = []
    compress = lz4.block.compress

    def spy(data, **kwargs):
        whole.append(len(data))
        return compress(data, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(frame_module, "_worth_compressing", counting)
    mp.setattr(lz4.block, "compress", spy)
    try:
        write_frame([weights], workers=1)
    finally:
        mp.undo()
    assert calls == [BLOCK_SIZE] * 3
    assert max(whole) == frame_module._PROBE  # only probes


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.sampled_from(["zeros", "noise", "pixels", "text"]), min_size=1, max_size=8),
    st.integers(0, 2**32 - 1),
)
@example(["zeros", "zeros", "noise", "noise", "pixels", "noise", "noise"], 15947)  # short last
def test_probing_keeps_every_block_that_compresses_compressed(kinds, seed):
    """Against the truth of compressing every block: the same frame wherever a block shrinks
    by more than the probes' margin, and content that round-trips whatever the probes say."""
    import numpy as np
    import rlu_serialize._frame as frame_module

    rng = np.random.default_rng(seed)
    quarter = BLOCK_SIZE // 4
    parts = {
        "zeros": lambda: bytes(quarter),
        "noise": lambda: rng.bytes(quarter),
        "pixels": lambda: (rng.integers(0, 8, quarter) * 32).astype(np.uint8).tobytes(),
        "text": lambda: (
            (b"reward=%d " % rng.integers(10**6)) * (quarter // 14) + bytes(quarter % 14)
        ),
    }
    data = b"".join(parts[k]() for k in kinds)
    probed, _ = write_frame([data], workers=1)
    mp = pytest.MonkeyPatch()
    mp.setattr(frame_module, "_worth_compressing", lambda block: True)
    try:
        tried, _ = write_frame([data], workers=1)
    finally:
        mp.undo()
    assert lz4.frame.decompress(probed) == data == lz4.frame.decompress(tried)
    pairs = zip(_blocks(probed), _blocks(tried), strict=True)
    for index, ((mine, my_size), (truth, true_size)) in enumerate(pairs):
        size = min(BLOCK_SIZE, len(data) - index * BLOCK_SIZE)  # the last block may be short
        if truth and true_size <= 0.9 * size:  # worth it: the probes must see it
            assert mine and my_size == true_size
    assert len(probed) <= len(tried) + len(_blocks(tried)) * BLOCK_SIZE // 10


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_a_buffer_changed_before_its_blocks_are_written_is_never_saved_as_other_bytes(workers):
    # the blocks of a large write are queued when write returns; if the caller's buffer then
    # changes, the frame must not decode to bytes the buffer never held (the next block is
    # compressed against the old end of the previous one): it raises instead
    old, new = os.urandom(4096), os.urandom(4096)
    buffer = bytearray(old * (3 * BLOCK_SIZE // 4096))
    pieces: list[bytes] = []
    writer = FrameWriter(lambda p: pieces.append(bytes(p)), workers=workers)
    writer.write(buffer)
    buffer[:] = new * (len(buffer) // 4096)
    try:
        writer.close()
    except ValueError as error:
        assert workers > 1 and "changed while it was being written" in str(error)
        return
    frame = frame_header(writer.content_size, writer.largest_block) + b"".join(pieces)
    assert workers == 1  # written inline, before the change
    assert lz4.frame.decompress(frame) == old * (3 * BLOCK_SIZE // 4096)


# -- prefault: a large read target's pages are mapped in one call -------------------------


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * mmap.PAGESIZE


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads Linux's /proc")
def test_prefault_maps_the_pages_of_an_untouched_buffer_and_keeps_their_bytes():
    size = 64 << 20
    before = _resident_bytes()
    target = mmap.mmap(-1, size)  # anonymous and untouched: nothing resident yet
    try:
        target[:5], target[-5:] = b"first", b"last!"  # two pages touched on purpose
        untouched = _resident_bytes() - before
        with memoryview(target) as view:
            _content.prefault(view)
        if _content._populate is False:
            pytest.skip("this kernel has no MADV_POPULATE_WRITE (Linux < 5.14)")
        grown = _resident_bytes() - before
        assert untouched < size // 10 and grown >= 9 * size // 10
        assert target[:5] == b"first" and target[-5:] == b"last!"
        assert bytes(target).count(0) == size - 10  # nothing else was written
    finally:
        target.close()


def test_prefault_leaves_read_only_and_unaddressable_buffers_alone():
    data = bytes(range(256)) * 8192
    _content.prefault(memoryview(data))  # read-only: no advice, no error
    assert data == bytes(range(256)) * 8192
    array = memoryview(bytearray(4 << 20))[::2]  # not contiguous: ctypes cannot address it
    _content.prefault(array)


def test_a_kernel_without_the_advice_is_asked_once(monkeypatch):
    import ctypes

    calls = []

    def refuse(address, length, advice):
        calls.append((address % mmap.PAGESIZE, length % mmap.PAGESIZE, advice))
        return -1

    fake = types.SimpleNamespace(
        c_char=ctypes.c_char, addressof=ctypes.addressof, get_errno=lambda: errno.EINVAL
    )
    monkeypatch.setattr(_content, "_populate", (refuse, fake))
    buffer = bytearray(3 << 20)
    _content.prefault(memoryview(buffer))
    assert calls == [(0, 0, 23)]  # whole pages, MADV_POPULATE_WRITE
    assert _content._populate is False
    _content.prefault(memoryview(buffer))
    assert len(calls) == 1


@pytest.mark.parametrize(
    "sizes",
    [
        [_content.PREFAULT_FROM - 1],
        [_content.PREFAULT_FROM],
        [1000, 5 << 20],  # one segment
        [3 << 20, 3 << 20, 3 << 20],  # across segments
        [SEGMENT + (4 << 20)],  # more than a segment
    ],
)
@pytest.mark.parametrize("borrow", [False, True])
def test_content_prefaults_each_piece_of_a_large_read_as_it_copies_it(monkeypatch, sizes, borrow):
    # Piece by piece, never the whole target at once: the source's segments are let go as
    # they are read, so the target must grow no faster than they go (peak memory).
    seen = []
    monkeypatch.setattr(_content, "prefault", lambda view: seen.append(view.nbytes))
    pieces = [os.urandom(n) for n in sizes]
    data = b"".join(pieces)
    content = Content()
    for piece in pieces:
        if borrow:
            with memoryview(piece) as view:
                content.borrow(view)
        else:
            content.append(piece)
    content.done()
    target = bytearray(len(data) + 7)  # larger than what remains
    assert content.readinto(target) == len(data) and bytes(target[: len(data)]) == data
    content.close()
    assert sum(seen) <= len(data) and all(n <= max(SEGMENT, *sizes) for n in seen)
    assert all(n >= _content.PREFAULT_FROM for n in seen)
    if borrow:  # each borrowed block is one piece
        assert seen == [n for n in sizes if n >= _content.PREFAULT_FROM]
    else:
        assert bool(seen) == (len(data) >= _content.PREFAULT_FROM)
