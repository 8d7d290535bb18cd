"""Compatible both ways with coax's format: lz4.frame around a cloudpickle pickle."""

from __future__ import annotations

import shutil
import struct
import subprocess

import cloudpickle
import lz4.frame
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_serialize import dump, dumps, load, loads
from rlu_serialize._frame import BLOCK_SIZE, frame_header, xxh32


def reference_xxh32(data: bytes, seed: int = 0) -> int:
    """xxHash-32 written from its specification, as an independent truth."""
    p1, p2, p3, p4, p5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
    mask = 0xFFFFFFFF

    def rotl(x, r):
        return ((x << r) | (x >> (32 - r))) & mask

    def round_(acc, lane):
        return (rotl((acc + lane * p2) & mask, 13) * p1) & mask

    n, i = len(data), 0
    if n >= 16:
        v = [(seed + p1 + p2) & mask, (seed + p2) & mask, seed, (seed - p1) & mask]
        while i + 16 <= n:
            lanes = struct.unpack_from("<4I", data, i)
            v = [round_(a, lane) for a, lane in zip(v, lanes, strict=True)]
            i += 16
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & mask
    else:
        h = (seed + p5) & mask
    h = (h + n) & mask
    while i + 4 <= n:
        (lane,) = struct.unpack_from("<I", data, i)
        h = (rotl((h + lane * p3) & mask, 17) * p4) & mask
        i += 4
    while i < n:
        h = (rotl((h + data[i] * p5) & mask, 11) * p1) & mask
        i += 1
    h ^= h >> 15
    h = (h * p2) & mask
    h ^= h >> 13
    h = (h * p3) & mask
    h ^= h >> 16
    return h


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_xxh32_matches_specification(data):
    assert xxh32(data) == reference_xxh32(data)


def test_xxh32_known_value_and_large_input():
    assert xxh32(b"") == 0x02CC5D05
    data = bytes(range(256)) * 5000  # > 1 MiB: several slices
    assert xxh32(data) == reference_xxh32(data)


@pytest.mark.parametrize("size", [0, 1, 2**32 + 5])
def test_frame_header_checksum_matches_specification(size):
    header = frame_header(size)
    assert header[:4] == b"\x04\x22\x4d\x18"
    assert header[-1] == (reference_xxh32(header[4:-1]) >> 8) & 0xFF


def sample_objects():
    rng = np.random.default_rng(0)
    return [
        {"step": 3, "rewards": [1.0, -0.5], "name": "cartpole"},
        (np.arange(10.0), {"nested": [None, True]}),
        {"obs": rng.standard_normal((300, 7)).astype(np.float32), "prio": np.ones(300)},
    ]


@pytest.mark.parametrize("index", range(3))
def test_loads_reads_coax_bytes(index):
    obj = sample_objects()[index]
    coax_bytes = lz4.frame.compress(cloudpickle.dumps(obj))
    assert cloudpickle.dumps(loads(coax_bytes)) == cloudpickle.dumps(obj)


@pytest.mark.parametrize("index", range(3))
def test_load_reads_coax_files(tmp_path, index):
    obj = sample_objects()[index]
    with lz4.frame.open(tmp_path / "write.lz4", "wb") as f:  # coax's dump
        f.write(cloudpickle.dumps(obj))
    with lz4.frame.open(tmp_path / "stream.lz4", "wb") as f:  # pickling through the file
        cloudpickle.dump(obj, f)
    for name in ("write.lz4", "stream.lz4"):
        assert cloudpickle.dumps(load(tmp_path / name)) == cloudpickle.dumps(obj)


def test_loads_reads_coax_functions():
    coax_bytes = lz4.frame.compress(cloudpickle.dumps(lambda x: x * 3))
    assert loads(coax_bytes)(4) == 12


def test_rlu_bytes_are_one_standard_frame_with_block_checksums():
    obj = {"obs": np.arange(BLOCK_SIZE // 2, dtype=np.float32), "x": "y"}  # two blocks
    s = dumps(obj)
    info = lz4.frame.get_frame_info(s)
    # every block carries the checksum of its stored bytes; no content checksum (one pass)
    assert info["block_checksum"] is True and info["content_checksum"] is False
    assert info["block_linked"] is True
    content = lz4.frame.decompress(s)
    assert info["content_size"] == len(content)
    out = cloudpickle.loads(content)
    np.testing.assert_array_equal(out["obs"], obj["obs"])
    # the decompressor stops exactly at the end of the frame: nothing follows it
    _, consumed = lz4.frame.decompress(s, return_bytes_read=True)
    assert consumed == len(s)
    # each checksum is xxHash-32 of its block's stored bytes, by the specification's algorithm
    position, blocks = 15, 0
    while (field := int.from_bytes(s[position : position + 4], "little")) != 0:
        stored = s[position + 4 : position + 4 + (field & 0x7FFF_FFFF)]
        position += 4 + len(stored)
        assert int.from_bytes(s[position : position + 4], "little") == reference_xxh32(stored)
        position += 4
        blocks += 1
    assert blocks >= 2 and s[position:] == bytes(4)  # the end mark, then nothing


@pytest.mark.parametrize(
    "content, block_size",
    [(b"x" * 10, 64 << 10), (bytes(200_000), 256 << 10), (bytes(BLOCK_SIZE + 1), BLOCK_SIZE)],
)
def test_header_announces_the_smallest_block_size_that_fits(content, block_size):
    s = dumps(content)
    assert lz4.frame.get_frame_info(s)["block_size"] == block_size
    assert loads(s) == content
    assert cloudpickle.loads(lz4.frame.decompress(s)) == content


def test_rlu_files_read_by_lz4_frame_open(tmp_path):
    obj = sample_objects()[2]
    dump(obj, tmp_path / "c.lz4")
    with lz4.frame.open(tmp_path / "c.lz4", "rb") as f:
        out = cloudpickle.load(f)
    np.testing.assert_array_equal(out["obs"], obj["obs"])


@pytest.mark.skipif(
    shutil.which("lz4") is None, reason="the lz4 command-line tool is not installed"
)
def test_rlu_files_read_by_lz4_command_line_tool(tmp_path):
    obj = {"obs": np.arange(BLOCK_SIZE // 3, dtype=np.float32), "tag": "cli"}
    dump(obj, tmp_path / "c.pkl.lz4")
    subprocess.run(
        ["lz4", "-d", "-q", "-f", str(tmp_path / "c.pkl.lz4"), str(tmp_path / "c.pkl")], check=True
    )
    out = cloudpickle.loads((tmp_path / "c.pkl").read_bytes())
    np.testing.assert_array_equal(out["obs"], obj["obs"])
    assert out["tag"] == "cli"
    subprocess.run(["lz4", "-t", "-q", str(tmp_path / "c.pkl.lz4")], check=True)  # integrity test


def test_ratio_no_worse_than_coax():
    rng = np.random.default_rng(3)
    obs = (rng.integers(0, 32, size=3 * BLOCK_SIZE // 4, dtype=np.uint8) * 8).astype(np.float32)
    obj = {"obs": obs, "meta": list(range(100))}
    assert len(dumps(obj)) <= len(lz4.frame.compress(cloudpickle.dumps(obj)))
