"""Loading data from elsewhere: verify first, signatures, size limits, restricted loads.

On plain data, restricted = trusted.
"""

from __future__ import annotations

import ast
import collections
import os
import pickle
import struct
import subprocess
import tracemalloc

import cloudpickle
import lz4.frame
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from rlu_serialize import (
    RESTRICTED_MAX_BYTES,
    CorruptedDataError,
    LoadRefusedError,
    SignatureError,
    dump,
    dumps,
    load,
    loads,
)
from rlu_serialize._frame import frame_header
from rlu_serialize._restricted import GROWTH, SLACK

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


# -- verify first ----------------------------------------------------------------------------


class TouchesMarker:
    """Unpickling this creates the file ``path``: a stand-in for code a pickle runs."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("trusted", [True, False])
def test_a_failing_block_checksum_runs_nothing(tmp_path, trusted):
    marker = tmp_path / "marker"
    s = bytearray(dumps([TouchesMarker(marker), np.zeros(100_000)]))
    s[-5] ^= 0x01  # the last block's checksum, before the end mark: refused before unpickling
    with pytest.raises(CorruptedDataError, match="(?i)checksum"):
        loads(bytes(s), trusted=trusted)
    assert not marker.exists()
    loads(dumps(TouchesMarker(marker)))  # the same payload, intact, does run
    assert marker.exists()


def test_a_damaged_uncompressed_block_of_a_mapped_file_runs_nothing(tmp_path):
    # model weights are stored uncompressed and checked on helper threads, in place in the
    # file's memory map; the marker's opcodes share the first block with the weights
    marker = tmp_path / "marker"
    weights = np.random.default_rng(0).standard_normal(3 << 20 >> 2).astype(np.float32)
    path = tmp_path / "weights.lz4"
    dump([TouchesMarker(marker), weights], path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # inside an uncompressed block of more than 1 MiB
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptedDataError, match="checksum"):
        load(path)
    assert not marker.exists()


def test_a_signed_load_uses_only_what_it_checked(tmp_path, monkeypatch):
    # a file rewritten in place after its signature passed must not reach the unpickler
    import rlu_serialize._serialize as serialize_module

    weights = np.random.default_rng(1).standard_normal(3 << 20 >> 2).astype(np.float32)
    path = tmp_path / "signed.lz4"
    dump({"w": weights}, path, key=KEY)
    real = serialize_module._unpickle

    def rewrite_then_unpickle(*args):
        with open(path, "r+b") as f:  # in place: same inode, as another writer could
            f.seek(os.path.getsize(path) // 2)
            f.write(bytes(4096))
        return real(*args)

    monkeypatch.setattr(serialize_module, "_unpickle", rewrite_then_unpickle)
    out = load(path, key=KEY)
    np.testing.assert_array_equal(out["w"], weights)


@pytest.mark.parametrize("trusted", [True, False])
def test_a_failing_content_checksum_runs_nothing(tmp_path, trusted):
    # frames with a content checksum (rlu 0.4 wrote them, as lz4's own tools do)
    marker = tmp_path / "marker"
    pickled = cloudpickle.dumps([TouchesMarker(marker), np.zeros(100_000)], protocol=5)
    s = bytearray(lz4.frame.compress(pickled, content_checksum=True))
    s[-1] ^= 0x01  # the content checksum: every block decodes, only the final check fails
    with pytest.raises(CorruptedDataError, match="(?i)checksum"):
        loads(bytes(s), trusted=trusted)
    assert not marker.exists()
    loads(lz4.frame.compress(cloudpickle.dumps(TouchesMarker(marker)), content_checksum=True))
    assert marker.exists()


# -- signatures ------------------------------------------------------------------------------


def test_signed_bytes_and_files_round_trip_and_stay_plain_lz4(tmp_path):
    obj = {"w": np.arange(10.0), "step": 3}
    s = dumps(obj, key=KEY)
    assert len(s) == len(dumps(obj)) + 57  # one skippable frame: magic, length, tag, HMAC
    for out in (loads(s, key=KEY), loads(s, trusted=False, key=KEY), loads(s)):
        np.testing.assert_array_equal(out["w"], obj["w"])
    path = tmp_path / "signed.lz4"
    dump(obj, path, key=bytearray(KEY))
    assert path.read_bytes() == s
    assert load(path, key=KEY)["step"] == 3
    # every LZ4 reader skips the signature frame
    assert pickle.loads(lz4.frame.decompress(s))["step"] == 3
    with lz4.frame.open(path) as file:
        assert pickle.load(file)["step"] == 3
    plain = subprocess.run(["lz4", "-dc", str(path)], capture_output=True, check=True).stdout
    assert pickle.loads(plain)["step"] == 3


def test_unsigned_and_wrongly_signed_data_are_refused(tmp_path):
    with pytest.raises(SignatureError, match="not signed"):
        loads(dumps([1]), key=KEY)
    with pytest.raises(SignatureError, match="does not match"):
        loads(dumps([1], key=OTHER_KEY), key=KEY)
    with pytest.raises(SignatureError, match="not signed"):
        loads(b"", key=KEY)
    path = tmp_path / "x.lz4"
    dump([1], path)
    with pytest.raises(SignatureError, match="not signed"):
        load(path, key=KEY)
    with pytest.raises(LoadRefusedError):  # SignatureError is a refusal like the others
        load(path, key=KEY)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_change_to_a_signed_checkpoint_is_refused_as_a_signature_failure(data):
    marker_free = {"a": np.arange(300, dtype=np.int16), "b": ["x" * 50, 1.5]}
    s = bytearray(dumps(marker_free, key=KEY))
    change = data.draw(st.sampled_from(["flip", "truncate", "append", "prepend", "drop"]))
    if change == "flip":
        s[data.draw(st.integers(0, len(s) - 1))] ^= data.draw(st.integers(1, 255))
    elif change == "truncate":
        del s[data.draw(st.integers(0, len(s) - 1)) :]
    elif change == "append":
        s += data.draw(st.binary(min_size=1, max_size=60))
    elif change == "prepend":
        s[:0] = data.draw(st.binary(min_size=1, max_size=60))
    else:
        del s[data.draw(st.integers(0, len(s) - 1))]
    with pytest.raises(SignatureError):
        loads(bytes(s), key=KEY, trusted=data.draw(st.booleans()))


def test_the_signature_is_checked_before_anything_is_unpickled(tmp_path):
    marker = tmp_path / "marker"
    forged = dumps(TouchesMarker(marker), key=OTHER_KEY)
    with pytest.raises(SignatureError):
        loads(forged, key=KEY)  # trusted mode: the pickle would run if it were reached
    assert not marker.exists()


@pytest.mark.parametrize(
    "key, error, message",
    [
        ("a text key of 32 characters....", TypeError, "key must be bytes"),
        (12345, TypeError, "key must be a bytes-like object or None, got int"),
        (b"short", ValueError, "at least 16 bytes long"),
    ],
)
def test_key_argument_checks(tmp_path, key, error, message):
    for call in (
        lambda: dumps(1, key=key),
        lambda: dump(1, tmp_path / "k.lz4", key=key),
        lambda: loads(dumps(1), key=key),
        lambda: load(tmp_path / "missing.lz4", key=key),
    ):
        with pytest.raises(error, match=message):
            call()
    assert not (tmp_path / "k.lz4").exists()


# -- sizes -----------------------------------------------------------------------------------


def test_max_bytes_refuses_a_declared_size_before_allocating():
    # a 30-byte frame that declares 2**60 bytes of content
    lie = frame_header(2**60) + b"\x00\x00\x00\x00" + b"\x00" * 4
    tracemalloc.start()
    try:
        for trusted, limit in ((False, None), (True, 1 << 20), (False, 1 << 20)):
            with pytest.raises(LoadRefusedError, match="declares 1152921504606846976 bytes"):
                loads(lie, trusted=trusted, max_bytes=limit)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_max_bytes_refuses_content_of_undeclared_size_as_it_grows():
    s = lz4.frame.compress(pickle.dumps(bytes(5 << 20)), store_size=False, content_checksum=True)
    assert len(loads(s, trusted=False)) == 5 << 20
    with pytest.raises(LoadRefusedError, match="more than max_bytes=1048576"):
        loads(s, trusted=False, max_bytes=1 << 20)
    with pytest.raises(LoadRefusedError, match="max_bytes"):
        loads(dumps(bytes(5 << 20)), max_bytes=1 << 20)  # trusted loads take a limit too
    assert RESTRICTED_MAX_BYTES == 4 << 30


@pytest.mark.parametrize(
    "value, error, message",
    [
        (-1, ValueError, "max_bytes must be an int >= 0"),
        ("1", TypeError, "got str"),
        (True, TypeError, "got bool"),
        (1.5, TypeError, "got float"),
    ],
)
def test_max_bytes_argument_checks(tmp_path, value, error, message):
    with pytest.raises(error, match=message):
        loads(dumps(1), max_bytes=value)
    with pytest.raises(error, match=message):
        load(tmp_path / "missing.lz4", max_bytes=value)


def _frame(stream: bytes) -> bytes:
    return lz4.frame.compress(stream, content_checksum=True)


def _empty_lists(n: int) -> bytes:  # [[], [], ...] with a memo entry per list
    return b"\x80\x05](" + b"]\x94" * n + b"e."


def _dup_appends(n: int) -> bytes:  # one list holding n references to one float
    return b"\x80\x05](G?\xf0\x00\x00\x00\x00\x00\x00" + b"2" * n + b"e."


def _int_dict(n: int) -> bytes:  # {i: i} for n ints
    body = b"".join(b"J" + struct.pack("<i", i) + b"J" + struct.pack("<i", i) for i in range(n))
    return b"\x80\x05}(" + body + b"u."


def _empty_sets(n: int) -> bytes:  # [set(), set(), ...]
    return b"\x80\x05](" + b"\x8f" * n + b"e."


@pytest.mark.parametrize(
    "stream",
    [
        _empty_lists(100_000),
        _dup_appends(400_000),
        _int_dict(50_000),
        _empty_sets(100_000),
        _empty_sets(2_000),
    ],
    ids=["empty-lists", "dup-appends", "int-dict", "empty-sets-many", "empty-sets-few"],
)
def test_what_a_restricted_load_allocates_stays_within_its_bound(stream):
    # measured, not estimated: what the objects really take, against the documented bound
    bound = GROWTH * len(stream) + SLACK
    s = _frame(stream)
    tracemalloc.start()
    try:
        try:
            out = loads(s, trusted=False)
        except LoadRefusedError as err:
            assert "would build more than" in str(err)
            out = None
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= len(stream) + bound  # the content itself, then the objects
    if out is not None:
        assert out == pickle.loads(stream)


# -- restricted loads give what pickle gives, for plain data ---------------------------------

_DTYPES = st.sampled_from(
    [
        "b1",
        "i1",
        "<i2",
        ">i4",
        "i8",
        "u1",
        "u2",
        "<u4",
        ">u8",
        "f2",
        "<f4",
        ">f8",
        "c8",
        "c16",
        "S3",
        "<U2",
        "V5",
        "M8[ms]",
        ">m8[3s]",
        "M8",
        "[('a', '<f4'), ('b', 'u1', (2,))]",
        "{'names': ['x', 'y'], 'formats': ['i2', 'f8'], 'offsets': [0, 8], 'itemsize': 24}",
    ]
)


@st.composite
def arrays(draw):
    code = draw(_DTYPES)
    dtype = np.dtype(ast.literal_eval(code) if code[0] in "[{(" else code)
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    count = int(np.prod(shape)) * dtype.itemsize
    data = draw(st.binary(min_size=count, max_size=count))
    array = np.frombuffer(data, dtype=dtype, count=int(np.prod(shape))).reshape(shape).copy()
    if dtype.kind == "U":  # valid code points only: numpy fails on others when they are read
        codes = array.reshape(-1).view(dtype.byteorder.replace("|", "=") + "u4")
        codes %= 0x110000
    layout = draw(st.sampled_from(["C", "F", "strided", "readonly"]))
    if layout == "F":
        array = np.asfortranarray(array)
    elif layout == "strided" and array.ndim:
        array = array[::2]
    elif layout == "readonly":
        array.flags.writeable = False
    return array


_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.complex_numbers(allow_nan=False),
    st.text(max_size=10),
    st.binary(max_size=10),
    arrays(),
    st.builds(
        lambda a: a[()] if a.ndim == 0 else a.ravel()[:1][0] if a.size else np.float32(0), arrays()
    ),
    st.builds(bytearray, st.binary(max_size=10)),
    st.sampled_from([float, int, np.float32, np.int8]),
)
_KEYS = st.one_of(st.text(max_size=5), st.integers(), st.tuples(st.integers(), st.text(max_size=3)))
_PLAIN = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(_KEYS, inner, max_size=4),
        st.builds(collections.OrderedDict, st.dictionaries(_KEYS, inner, max_size=3)),
        st.frozensets(_KEYS, max_size=4),
        st.sets(_KEYS, max_size=4),
        st.builds(  # a deque directly inside a deque is refused (tested below)
            collections.deque,
            st.lists(inner.filter(lambda x: type(x) is not collections.deque), max_size=3),
        ),
    ),
    max_leaves=12,
)


def assert_same(a, b):
    """Equal values of equal types; arrays equal bit for bit, with dtype, layout and flags."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes(order="A") == b.tobytes(order="A")
        assert (a.flags.f_contiguous, a.flags.c_contiguous) == (
            b.flags.f_contiguous,
            b.flags.c_contiguous,
        )
        assert a.flags.writeable == b.flags.writeable or a.size == 0  # numpy: empty varies
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    elif isinstance(a, (list, tuple, collections.deque)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    else:
        assert a == b or (a != a and b != b)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=_PLAIN, protocol=st.sampled_from([2, 3, 4, 5]))
def test_restricted_loads_build_what_pickle_builds(obj, protocol):
    stream = pickle.dumps(obj, protocol=protocol)
    truth = pickle.loads(stream)  # CPython's own unpickler: the independent answer
    assert_same(loads(_frame(stream), trusted=False), truth)
    # One stream loaded both ways: two dumps of a strided structured array may differ in its
    # padding bytes, which numpy's copy leaves uninitialised.
    ours = dumps(obj)
    assert_same(loads(ours, trusted=False), loads(ours))


def test_jax_and_ml_dtypes_arrays_load_restricted():
    jax = pytest.importorskip("jax")
    import ml_dtypes

    data = {
        "w": jax.numpy.arange(6.0, dtype=jax.numpy.bfloat16).reshape(2, 3),
        "weak": jax.numpy.asarray(2.0),
        "host": np.arange(4, dtype=ml_dtypes.float8_e4m3fn),
    }
    out = loads(dumps(data), trusted=False)
    assert isinstance(out["w"], jax.Array) and out["w"].dtype == jax.numpy.bfloat16
    np.testing.assert_array_equal(np.asarray(out["w"]), np.asarray(data["w"]))
    assert out["weak"].weak_type and not out["w"].weak_type
    assert out["host"].dtype == np.dtype(ml_dtypes.float8_e4m3fn)
    assert out["host"].tobytes() == data["host"].tobytes()


def test_content_after_the_pickle_is_refused_in_both_modes():
    s = _frame(pickle.dumps([1]) + b"extra")
    for trusted in (True, False):
        with pytest.raises(CorruptedDataError, match="after the end of the pickle"):
            loads(s, trusted=trusted)


def test_load_reads_a_file_through_the_same_checks(tmp_path):
    path = tmp_path / "coax-style.lz4"
    with lz4.frame.open(path, "wb") as file:  # coax's files: no content checksum, no size
        pickle.dump({"a": 1}, file)
    assert load(path) == {"a": 1}
    with pytest.raises(LoadRefusedError, match="content checksum"):
        load(path, trusted=False)


# -- crafted pickles a security review of this loader built --------------------------------


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _str(text: str) -> bytes:
    return b"\x8c" + bytes([len(text)]) + text.encode()


def _dtype(code: str, state: bytes) -> bytes:  # numpy.dtype(code, False, True), then BUILD
    return _global("numpy", "dtype") + b"(" + _str(code) + b"\x89\x88tR" + state + b"b"


def _subarray_chain(depth: int) -> bytes:
    stream = _dtype("f4", b"(K\x03" + _str("<") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t")
    for _ in range(depth):  # dtype((previous, (1,))), which numpy does not flatten
        stream = (
            _global("numpy", "dtype")
            + b"("
            + _str("V4")
            + b"\x89\x88tR"
            + b"(K\x03"
            + _str("|")
            + stream
            + b"K\x01\x85\x86NNK\x04K\x01K\x00tb"
        )
    return stream


def _tuple_dag(levels: int) -> bytes:  # t(i+1) = (t(i), t(i)): tiny, but 2**levels to hash
    return b"K\x01\x85q\x000" + b"h\x00h\x00\x86q\x000" * levels + b"h\x00"


_ATTACKS = {
    # an OrderedDict whose value was one of the loader's own placeholders
    "ordereddict-placeholder": (
        _global("collections", "OrderedDict")
        + b"(]("
        + _str("k")
        + _global("numpy", "dtype")
        + b"tatR.",
        "a tuple of globals used as data",
    ),
    # an OrderedDict keyed by a deeply nested tuple (10**6 deep overflowed the C stack)
    "ordereddict-deep-key": (
        _global("collections", "OrderedDict") + b"(](K\x01" + b"\x85" * 150 + b"K\x02tatR.",
        "nested over 100 deep",
    ),
    # deques freed recursively by CPython
    "deque-in-deque": (
        _global("collections", "deque") + b"]" + _global("collections", "deque") + b")Ra\x85R.",
        "a deque inside a deque",
    ),
    # sub-array dtypes nested 40 deep: numpy hashes them recursively
    "deep-subarray-dtype": (_subarray_chain(40) + b".", "a dtype nested over 32 deep"),
    # a dict key of about 90 bytes that takes 2**60 steps to hash
    "tuple-dag-key": (b"}" + _tuple_dag(60) + b"Ns.", "items when expanded"),
    # a str scalar with a code point past U+10FFFF (SystemError in numpy)
    "bad-code-point": (
        _global("numpy._core.multiarray", "scalar")
        + b"("
        + _dtype("U1", b"(K\x03" + _str("<") + b"NNNK\x04K\x04K\x08t")
        + b"C\x04\xff\xff\xff\xfftR.",
        "SystemError",
    ),
}


@pytest.mark.parametrize("stream, reason", list(_ATTACKS.values()), ids=list(_ATTACKS))
def test_crafted_pickles_from_the_review_are_refused(stream, reason):
    with pytest.raises(LoadRefusedError, match=reason):
        loads(_frame(b"\x80\x02" + stream), trusted=False)


def test_the_review_streams_are_what_they_claim():
    # the same streams, with the one refused ingredient made harmless, load: the tests above
    # fail for the reason they name, not for a malformed pickle
    assert loads(
        _frame(
            b"\x80\x02" + _global("collections", "OrderedDict") + b"(](" + _str("k") + b"K\x01tatR."
        ),
        trusted=False,
    ) == collections.OrderedDict(k=1)
    dtype = loads(_frame(b"\x80\x02" + _subarray_chain(3) + b"."), trusted=False)
    for _ in range(3):
        assert dtype.shape == (1,)
        dtype = dtype.subdtype[0]
    assert dtype == np.float32
    out = loads(_frame(b"\x80\x02}" + _tuple_dag(10) + b"Ns."), trusted=False)
    (key,) = out
    assert len(key) == 2 and key[0] is key[1]
