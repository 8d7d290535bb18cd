"""Round trips: what goes in comes out, with the reference's reference semantics."""

from __future__ import annotations

import collections
import importlib.metadata
import os
import pathlib
import pickle

import numpy as np
import pytest
import rlu_serialize
from hypothesis import given, settings
from hypothesis import strategies as st
from rlu_serialize import dump, dumps, load, loads
from rlu_serialize._frame import BLOCK_SIZE

plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | st.complex_numbers(allow_nan=False),
    lambda children: (
        st.lists(children)
        | st.tuples(children, children)
        | st.dictionaries(st.text() | st.integers(), children)
        | st.frozensets(st.integers())
    ),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(plain)
def test_plain_data_round_trips(obj):
    assert loads(dumps(obj)) == obj
    assert loads(dumps(obj), trusted=False) == obj


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.arange(12, dtype=np.int64).reshape(3, 4).T,  # not contiguous
        np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        np.zeros((0, 5), dtype=np.uint8),
        np.array(3.5),
        np.array([True, False]),
        np.array(["ab", "c"]),
        np.array([1 + 2j], dtype=np.complex64),
        np.array(["2020-01-01"], dtype="datetime64[D]"),
        np.zeros(3, dtype=[("a", "<f4"), ("b", "<i8", (2,))]),
    ],
    ids=lambda a: f"{a.dtype}-{a.shape}",
)
def test_numpy_arrays_round_trip_exactly(array):
    for trusted in (True, False):
        out = loads(dumps(array), trusted=trusted)
        assert type(out) is np.ndarray
        assert out.dtype == array.dtype and out.shape == array.shape
        assert out.tobytes() == array.tobytes()
        out[...] = out  # loaded arrays are writable


def test_multi_block_payload_round_trips_and_keeps_ratio(tmp_path):
    # Several blocks, a block boundary inside an array, small state around it.
    rng = np.random.default_rng(1)
    obs = (rng.integers(0, 32, size=(3 * BLOCK_SIZE // 4 + 12345,), dtype=np.uint8) * 8).astype(
        np.float32
    )
    state = {"obs": obs, "prio": rng.random(1000).astype(np.float32), "meta": {"step": 9}}
    s = dumps(state)
    out = loads(s)
    assert out["meta"] == {"step": 9}
    np.testing.assert_array_equal(out["obs"], obs)
    np.testing.assert_array_equal(out["prio"], state["prio"])
    dump(state, tmp_path / "s.lz4")
    assert (tmp_path / "s.lz4").read_bytes() == s  # dump writes exactly what dumps returns
    np.testing.assert_array_equal(load(tmp_path / "s.lz4")["obs"], obs)


def test_single_and_multi_worker_writers_agree():
    from rlu_serialize._frame import FrameWriter

    data = os.urandom(BLOCK_SIZE + 1000) + bytes(2 * BLOCK_SIZE)
    outputs = []
    for workers in (1, 3):
        pieces: list[bytes] = []
        writer = FrameWriter(lambda p, pieces=pieces: pieces.append(bytes(p)), workers=workers)
        writer.write(data[:10])
        writer.write(memoryview(data)[10:])
        writer.close()
        outputs.append(b"".join(pieces))
    assert outputs[0] == outputs[1]


def test_references_preserved_within_one_call_only(tmp_path):
    a = [13]
    b = {"a": a}
    a_new, b_new = loads(dumps((a, b)))
    b_new["a"].append(7)
    assert a_new == [13, 7]
    a_new, b_new = loads(dumps(a)), loads(dumps(b))
    b_new["a"].append(7)
    assert a_new == [13] and b_new == {"a": [13, 7]}

    dump((a, b), tmp_path / "ab.pkl.lz4")
    a_new, b_new = load(tmp_path / "ab.pkl.lz4")
    assert b_new["a"] is a_new


def test_functions_round_trip():
    offset = 5
    closure = lambda x: x + offset  # noqa: E731
    assert loads(dumps(closure))(1) == 6

    def nested(n):
        return [closure(i) for i in range(n)]

    assert loads(dumps(nested))(3) == [5, 6, 7]


def test_jitted_function_round_trips():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy

    @jax.jit
    def f(x):
        return jnp.sin(x) * 2.0

    g = loads(dumps(f))
    x = jnp.arange(4.0)
    np.testing.assert_allclose(np.asarray(g(x)), np.asarray(f(x)))


def test_jax_arrays_round_trip_in_both_modes():
    jax = pytest.importorskip("jax")
    x = jax.numpy.arange(6.0).reshape(2, 3)
    for trusted in (True, False):
        y = loads(dumps({"x": x}), trusted=trusted)["x"]
        assert isinstance(y, jax.Array)
        np.testing.assert_array_equal(np.asarray(y), np.asarray(x))


def test_builtin_containers_in_restricted_mode():
    obj = {
        "set": {1, 2},
        "frozenset": frozenset("ab"),
        "complex": 1 - 2j,
        "bytearray": bytearray(b"xyz"),
        "slice": slice(1, None, 2),
        "range": range(2, 9, 3),
        "ordered": collections.OrderedDict(b=1, a=2),
        "deque": collections.deque([1, 2]),
        "scalars": [np.float32(1.5), np.int64(-3), np.bool_(True), np.dtype("f8")],
    }
    assert loads(dumps(obj), trusted=False) == obj


def test_dump_creates_directories_and_accepts_pathlike_and_tilde(tmp_path, monkeypatch):
    target = tmp_path / "a" / "b" / "c.pkl.lz4"
    dump({"x": 1}, target)
    assert load(str(target)) == {"x": 1}
    monkeypatch.setenv("HOME", str(tmp_path))
    dump([1, 2], "~/home/ckpt.lz4")
    assert load(pathlib.Path(tmp_path / "home" / "ckpt.lz4")) == [1, 2]
    assert load("~/home/ckpt.lz4") == [1, 2]


def test_dump_overwrites_and_uses_ordinary_permissions(tmp_path):
    target = tmp_path / "c.lz4"
    dump("old", target)
    dump("new", target)
    assert load(target) == "new"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert sorted(os.listdir(tmp_path)) == ["c.lz4"]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: loads("text"), "s must be a bytes-like"),
        (lambda: loads(123), "s must be a bytes-like"),
        (lambda: loads(b"", trusted="no"), "trusted must be a bool"),
        (lambda: load(3.5), "filepath must be a str"),
        (lambda: dump(1, None), "filepath must be a str"),
    ],
)
def test_bad_arguments_raise_type_errors_naming_them(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_empty_filepath_is_refused():
    with pytest.raises(ValueError, match="filepath must not be empty"):
        dump(1, "")


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.lz4")


def test_unpicklable_object_raises_pickling_error():
    import threading

    with pytest.raises((TypeError, pickle.PicklingError)):
        dumps({"lock": threading.Lock()})


def test_public_surface():
    assert set(rlu_serialize.__all__) == {
        "CorruptedDataError",
        "ForbiddenGlobalError",
        "LoadRefusedError",
        "RESTRICTED_MAX_BYTES",
        "SignatureError",
        "__version__",
        "dump",
        "dumps",
        "load",
        "loads",
    }
    # the version the installed metadata reports is the package's own
    assert rlu_serialize.__version__ == importlib.metadata.version("rlu-serialize")


def test_import_is_cheap(python_runner):
    proc = python_runner(
        "import sys, rlu_serialize\n"
        "heavy = {'lz4', 'cloudpickle', 'numpy', 'jax', 'concurrent.futures'} & set(sys.modules)\n"
        "print(sorted(heavy))"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@settings(max_examples=20, deadline=None)
@given(
    parts=st.lists(
        st.tuples(
            st.sampled_from(["random", "zeros", "small"]),
            st.integers(0, 2 * BLOCK_SIZE + 3),
            st.integers(0, 2**32 - 1),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_a_mapped_file_loads_as_every_other_way_reads_it(tmp_path_factory, parts):
    # random bytes become uncompressed blocks, which a trusted load of a file borrows from
    # its memory map; every way of reading must give back the same objects
    import rlu_serialize._serialize as serialize_module

    obj = [
        np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8)
        if kind == "random"
        else np.zeros(size, np.uint8)
        if kind == "zeros"
        else {"k": size, "s": "x" * (seed % 100)}
        for kind, size, seed in parts
    ]
    path = tmp_path_factory.mktemp("mapped") / "c.lz4"
    dump(obj, path, durable=False)
    mapped: list[int] = []
    real = serialize_module.map_file

    def spy(fileno, size):
        mapped.append(size)
        return real(fileno, size)

    def unmapped(fileno, size):
        return None

    serialize_module.map_file = spy
    try:
        outs = [load(path), load(path, trusted=False)]
        assert mapped == [path.stat().st_size]  # only the trusted load maps the file
        serialize_module.map_file = unmapped
        outs.append(load(path))
    finally:
        serialize_module.map_file = real
    outs.append(loads(path.read_bytes()))
    for out in outs:
        assert len(out) == len(obj)
        for got, want in zip(out, obj, strict=True):
            if isinstance(want, np.ndarray):
                assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
                got[...] = 1  # writable, and its own memory: the map is closed by now
            else:
                assert got == want


@pytest.mark.parametrize("fmt", ["B", "b", "c"])
def test_loads_takes_byte_views_of_any_byte_format(fmt):
    # a char or signed-byte view of the same bytes is the same checkpoint
    weights = np.random.default_rng(2).standard_normal(1 << 19).astype(np.float32)  # 2 MiB
    s = dumps({"w": weights, "n": 3})
    out = loads(memoryview(bytearray(s)).cast(fmt))
    assert out["n"] == 3 and out["w"].tobytes() == weights.tobytes()
