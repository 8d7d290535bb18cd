"""The frame writer and reader on their own."""

from __future__ import annotations

import io
import os

import lz4.frame
import pytest
from rlu_serialize._frame import BLOCK_SIZE, FrameReader, FrameWriter, frame_header, xxh32


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
    reader = FrameReader(io.BytesIO(frame).read, "test")
    assert reader.read(4) == b"head"
    target = bytearray(len(rng_bytes))
    assert reader.readinto(target) == len(rng_bytes) and bytes(target) == rng_bytes
    assert reader.read() == expected[4 + len(rng_bytes) :]
    reader.finish()


def test_empty_frame():
    frame, size = write_frame([])
    assert size == 0 and lz4.frame.decompress(frame) == b""
    reader = FrameReader(io.BytesIO(frame).read, "empty")
    assert reader.read() == b"" and reader.readline() == b""
    reader.finish()


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
    reader = FrameReader(io.BytesIO(frame).read, "lines")
    assert [reader.readline() for _ in range(4)] == lines + [b""]
