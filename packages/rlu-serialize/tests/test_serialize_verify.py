"""rlu's frame reader against lz4's own decoder: the same content, and damage refused alike.

The reader (``_verify``) reads blocks itself: uncompressed blocks straight into the content's
memory, compressed ones through ``lz4.block``, the content checksum on a helper thread. The
independent truth is ``lz4.frame.decompress``: for every frame lz4 writes, under every option,
and for the same frames cut short or with a byte changed, the reader returns what lz4 returns
or refuses what lz4 refuses.
"""

from __future__ import annotations

import io

import lz4.block
import lz4.frame
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_serialize import CorruptedDataError, LoadRefusedError, dumps, loads
from rlu_serialize._verify import ViewStream, decompress

BLOCK_SIZES = [
    lz4.frame.BLOCKSIZE_MAX64KB,
    lz4.frame.BLOCKSIZE_MAX256KB,
    lz4.frame.BLOCKSIZE_MAX1MB,
    lz4.frame.BLOCKSIZE_MAX4MB,
]


def content_of(frame: bytes, *, readinto: bool = True, max_bytes: int | None = None) -> bytes:
    stream = io.BytesIO(frame) if readinto else ViewStream(memoryview(frame))
    content = decompress(
        stream, "test", max_bytes=max_bytes, require_checksum=False, key=None, total=None
    )
    try:
        return content.read()
    finally:
        content.close()


def data_of(kind: str, size: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    if kind == "random":  # stored as uncompressed blocks by lz4 too
        return rng.bytes(size)
    if kind == "runs":
        return np.repeat(rng.integers(0, 4, size // 50 + 1, dtype=np.uint8), 50)[:size].tobytes()
    return (b"the quick brown fox " * (size // 20 + 1))[:size]


frames = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["random", "runs", "text"]),
        "size": st.one_of(st.integers(0, 3000), st.integers(60_000, 1_200_000)),
        "seed": st.integers(0, 2**16),
        "block_size": st.sampled_from(BLOCK_SIZES),
        "block_linked": st.booleans(),
        "block_checksum": st.booleans(),
        "content_checksum": st.booleans(),
        "store_size": st.booleans(),
        "compression_level": st.sampled_from([0, 3, 16]),
    }
)


def make(spec: dict) -> tuple[bytes, bytes]:
    data = data_of(spec["kind"], spec["size"], spec["seed"])
    options = {k: v for k, v in spec.items() if k not in ("kind", "size", "seed")}
    return data, lz4.frame.compress(data, **options)


@settings(max_examples=60, deadline=None)
@given(spec=frames, readinto=st.booleans())
def test_every_frame_lz4_writes_reads_back_as_lz4_reads_it(spec, readinto):
    data, frame = make(spec)
    assert content_of(frame, readinto=readinto) == lz4.frame.decompress(frame) == data


def lz4_verdict(frame: bytes) -> bytes | None:
    """What lz4 makes of a frame: its content, or None if it refuses it or wants more."""
    decompressor = lz4.frame.LZ4FrameDecompressor()
    try:
        out = decompressor.decompress(frame)
    except RuntimeError:
        return None
    if not decompressor.eof or decompressor.unused_data:
        return None  # cut short, or bytes after the frame: neither is an intact frame
    return out


@settings(max_examples=150, deadline=None)
@given(spec=frames, data=st.data())
def test_damage_is_refused_where_lz4_refuses_it(spec, data):
    _, frame = make(spec)
    damaged = bytearray(frame)
    if data.draw(st.booleans(), label="cut") or not frame:
        damaged = damaged[: data.draw(st.integers(0, max(0, len(frame) - 1)), label="length")]
    else:
        where = data.draw(st.integers(0, len(frame) - 1), label="where")
        damaged[where] ^= data.draw(st.integers(1, 255), label="xor")
    expected = lz4_verdict(bytes(damaged))
    try:
        got = content_of(bytes(damaged))
    except CorruptedDataError:
        got = None
    assert got == expected


def test_uncompressed_blocks_of_rlu_files_arrive_intact_on_both_inputs(tmp_path):
    weights = {
        f"w{i}": np.random.default_rng(i).standard_normal(700_000, np.float32) for i in range(3)
    }
    frame = dumps(weights)
    assert loads(frame).keys() == weights.keys()
    path = tmp_path / "w.lz4"
    path.write_bytes(frame)
    for stream_content in (content_of(frame), content_of(frame, readinto=False)):
        assert stream_content == lz4.frame.decompress(frame)


def test_max_bytes_refuses_before_a_block_beyond_it_is_read():
    data = np.random.default_rng(0).bytes(3 << 20)  # incompressible: uncompressed blocks
    frame = lz4.frame.compress(data, block_size=lz4.frame.BLOCKSIZE_MAX1MB)
    with pytest.raises(LoadRefusedError, match="max_bytes=2000000"):
        content_of(frame, max_bytes=2_000_000)
    assert content_of(frame, max_bytes=3 << 20) == data


@pytest.mark.parametrize(
    "offset, value, reason",
    [
        (4, 0x42, "reserved bits"),  # FLG with the reserved bit 1 set (header checksum redone)
        (5, 0x30, "no valid block size"),  # BD announcing block size code 3
    ],
)
def test_headers_lz4_refuses_are_refused_with_a_reason(offset, value, reason):
    from rlu_serialize._frame import xxh32

    frame = bytearray(lz4.frame.compress(b"data" * 100, content_checksum=True, store_size=False))
    frame[offset] = value
    frame[6] = (xxh32(bytes(frame[4:6])) >> 8) & 0xFF
    assert lz4_verdict(bytes(frame)) is None
    with pytest.raises(CorruptedDataError, match=reason):
        content_of(bytes(frame))


# -- regressions found by review ------------------------------------------------------------


class FailingStream:
    """A file whose second readinto fails, as a disk error (or an interrupt) does."""

    def __init__(self, data: bytes, error: BaseException) -> None:
        self._file = io.BytesIO(data)
        self._calls = 0
        self._error = error

    def read(self, size: int) -> bytes:
        return self._file.read(size)

    def readinto(self, buffer) -> int:
        self._calls += 1
        if self._calls == 2:
            raise self._error
        with memoryview(buffer) as view, view[:100_000] as part:
            return self._file.readinto(part)


@pytest.mark.parametrize("error", [OSError(5, "Input/output error"), KeyboardInterrupt()])
def test_an_error_while_reading_is_raised_as_itself(error):
    frame = dumps(np.random.default_rng(0).bytes(3 << 20))
    with pytest.raises(type(error)):
        decompress(
            FailingStream(frame, error),
            "f",
            max_bytes=None,
            require_checksum=True,
            key=None,
            total=None,
        )


def test_a_failing_check_on_the_helper_thread_is_raised_not_skipped(monkeypatch):
    import threading

    import rlu_serialize._verify as verify

    real = verify.xxh32

    def failing(view):
        if threading.current_thread().name == "rlu-verify":
            raise MemoryError
        return real(view)

    monkeypatch.setattr(verify, "xxh32", failing)
    data = np.random.default_rng(0).bytes(3 << 20)
    frame = bytearray(
        lz4.frame.compress(data, block_size=lz4.frame.BLOCKSIZE_MAX1MB, block_checksum=True)
    )
    frame[-1000] ^= 1  # a damaged raw block that only the helper thread would see
    with pytest.raises(MemoryError):
        content_of(bytes(frame))


def test_content_past_its_declared_size_is_refused_before_it_is_held(monkeypatch):
    import struct

    import rlu_serialize._content as content_module
    from rlu_serialize._frame import MAGIC, xxh32

    descriptor = bytes([0x6C, 0x40]) + struct.pack("<Q", 1)  # independent blocks, size 1
    frame = MAGIC + descriptor + bytes([(xxh32(descriptor) >> 8) & 0xFF])
    block = lz4.block.compress(b"x", store_size=False)
    frame += (struct.pack("<I", len(block)) + block) * 5000 + b"\0\0\0\0"
    frame += struct.pack("<I", xxh32(b"x" * 5000))
    maps = []
    real = content_module.anonymous_map
    monkeypatch.setattr(content_module, "anonymous_map", lambda n: maps.append(n) or real(n))
    assert lz4_verdict(bytes(frame)) is None
    with pytest.raises(CorruptedDataError, match="runs past the 1 bytes its header declares"):
        content_of(bytes(frame))
    assert len(maps) <= 1


def test_a_declared_size_of_zero_means_unknown_as_in_lz4():
    import struct

    from rlu_serialize._frame import MAGIC, xxh32

    payload = b"hello, frame"
    descriptor = bytes([0x4C, 0x40]) + struct.pack("<Q", 0)  # content size flag, size 0
    frame = MAGIC + descriptor + bytes([(xxh32(descriptor) >> 8) & 0xFF])
    frame += struct.pack("<I", len(payload) | 0x8000_0000) + payload + b"\0\0\0\0"
    frame += struct.pack("<I", xxh32(payload))
    assert lz4_verdict(frame) == payload
    assert content_of(frame) == payload
