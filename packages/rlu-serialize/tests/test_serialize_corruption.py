"""Damaged or truncated data raises CorruptedDataError,
LoadRefusedError, never a wrong object."""

from __future__ import annotations

import re

import cloudpickle
import lz4.frame
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rlu_serialize import CorruptedDataError, LoadRefusedError, dump, dumps, load, loads

PAYLOAD = {
    "obs": np.arange(2000, dtype=np.float32).reshape(200, 10),
    "prio": np.linspace(0.0, 1.0, 50),
    "state": {"step": 12, "name": "walker", "flags": [True, None, 3.5]},
}
SMALL = dumps({"a": [1, 2.5, "three"], "b": (None, True)})


def test_every_truncation_of_a_small_checkpoint_is_refused():
    for cut in range(len(SMALL)):
        with pytest.raises(CorruptedDataError):
            loads(SMALL[:cut])


def test_every_single_byte_flip_of_a_small_checkpoint_is_refused_or_changes_nothing():
    # A flip inside compressed data can decode to the very same content (an LZ4 match that
    # copies equal bytes from elsewhere): the content checksum then holds, and the load gives
    # the original object. lz4's own decoder is the judge of "the same content".
    content = lz4.frame.decompress(SMALL)
    harmless = 0
    for position in range(len(SMALL)):
        for mask in (0x01, 0x80, 0xFF):
            damaged = bytearray(SMALL)
            damaged[position] ^= mask
            try:
                out = loads(bytes(damaged))
            except CorruptedDataError:
                continue
            assert lz4.frame.decompress(bytes(damaged)) == content, (position, mask)
            assert out == cloudpickle.loads(content)
            harmless += 1
    assert harmless <= 3 * len(SMALL) // 20  # nearly every flip is refused


def test_truncated_file_error_names_the_file(tmp_path):
    path = tmp_path / "ckpt.pkl.lz4"
    dump(PAYLOAD, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptedDataError, match=re.escape(str(path))) as info:
        load(path)
    assert "truncated" in str(info.value)


def test_flipped_byte_in_file_error_names_the_file(tmp_path):
    path = tmp_path / "ckpt.pkl.lz4"
    dump(PAYLOAD, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptedDataError, match=re.escape(str(path))):
        load(path)


def test_loads_error_says_it_was_a_byte_string():
    with pytest.raises(CorruptedDataError, match="byte string given to loads"):
        loads(SMALL[:-1])


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty"),
        (b"\x04\x22", "magic"),
        (cloudpickle.dumps({"plain": "pickle"}), "magic"),
        (SMALL + b"\x00", "after the end"),
        (SMALL + SMALL, "after the end"),
        (lz4.frame.compress(cloudpickle.dumps(1) + b"extra"), "after the end of the pickle"),
    ],
    ids=["empty", "short", "plain-pickle", "trailing-byte", "two-frames", "trailing-content"],
)
def test_malformed_inputs_are_refused(data, reason):
    with pytest.raises(CorruptedDataError, match=reason):
        loads(data)


payloads = st.one_of(
    st.recursive(
        st.none() | st.integers() | st.floats() | st.text(max_size=50) | st.binary(max_size=300),
        lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=5), c, max_size=5),
        max_leaves=20,
    ),
    st.builds(
        lambda n, seed: np.random.default_rng(seed).integers(0, 9, size=n).astype(np.float32),
        st.integers(0, 40000),
        st.integers(0, 2**32 - 1),
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads, st.data())
def test_fuzz_random_flips_are_refused_or_change_nothing(obj, data):
    original = dumps(obj)
    s = bytearray(original)
    positions = st.lists(st.integers(0, len(s) - 1), min_size=1, max_size=4, unique=True)
    for position in data.draw(positions, label="positions"):
        s[position] ^= data.draw(st.integers(1, 255), label="mask")
    trusted = data.draw(st.booleans(), label="trusted")
    # The frame header's checksum is one byte: about 1 flip in 256 of the flags byte keeps it
    # valid. A flip that so clears the content-checksum flag is refused by a restricted load
    # for that reason (LoadRefusedError) before any content is read; found by hypothesis.
    refused = CorruptedDataError if trusted else (CorruptedDataError, LoadRefusedError)
    try:
        loads(bytes(s), trusted=trusted)
    except refused:
        return
    # Loaded: only where the flips decode to the very same content (an LZ4 match copying
    # equal bytes), which lz4's own decoder judges; found by hypothesis.
    assert lz4.frame.decompress(bytes(s)) == lz4.frame.decompress(original)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads, st.data())
def test_fuzz_random_truncations_are_refused(obj, data):
    s = dumps(obj)
    cut = data.draw(st.integers(0, len(s) - 1), label="cut")
    with pytest.raises(CorruptedDataError):
        loads(s[:cut], trusted=data.draw(st.booleans(), label="trusted"))


def test_intact_payloads_still_load_after_the_fuzz_setup():
    # guards the fuzz tests against passing because loading always fails
    out = loads(dumps(PAYLOAD))
    np.testing.assert_array_equal(out["obs"], PAYLOAD["obs"])
    assert out["state"] == PAYLOAD["state"]


def test_flips_and_truncations_of_a_multi_block_checkpoint_are_refused():
    rng = np.random.default_rng(7)
    big = {"obs": (rng.integers(0, 16, size=(9 << 20) // 4) * 3).astype(np.float32), "k": 1}
    s = dumps(big)
    assert len(s) > 1 << 20
    for position in rng.integers(0, len(s), size=12):
        damaged = bytearray(s)
        damaged[position] ^= int(rng.integers(1, 256))
        with pytest.raises(CorruptedDataError):
            loads(bytes(damaged))
    for cut in rng.integers(0, len(s), size=6):
        with pytest.raises(CorruptedDataError):
            loads(s[:cut])
