"""Pickled errors of rlu-serialize 0.1.0 still load; coax's own tests, ported; errors that
stay catchable the way coax raised them."""

from __future__ import annotations

import base64
import importlib
import os
import pickle
import tempfile

import cloudpickle
import lz4.frame
import pytest
import rlu_serialize
from rlu_serialize import CorruptedDataError, ForbiddenGlobalError, dump, dumps, load, loads

# Written by rlu-serialize 0.1.0, whose errors lived in rlu_serialize.errors:
#   pickle.dumps(CorruptedDataError("ckpt.lz4 is not an intact checkpoint: it is empty"), 4)
#   pickle.dumps(ForbiddenGlobalError("builtins.print"), 4)
CORRUPTED_PICKLE = (
    "gASVZwAAAAAAAACMFHJsdV9zZXJpYWxpemUuZXJyb3JzlIwSQ29ycnVwdGVkRGF0YUVycm9ylJOUjDFja3B0Lmx6"
    "NCBpcyBub3QgYW4gaW50YWN0IGNoZWNrcG9pbnQ6IGl0IGlzIGVtcHR5lIWUUpQu"
)
FORBIDDEN_PICKLE = (
    "gASVYwEAAAAAAACMFHJsdV9zZXJpYWxpemUuZXJyb3JzlIwURm9yYmlkZGVuR2xvYmFsRXJyb3KUk5RYBQEAAHJl"
    "c3RyaWN0ZWQgbG9hZCAodHJ1c3RlZD1GYWxzZSkgcmVmdXNlcyB0aGUgZ2xvYmFsICdidWlsdGlucy5wcmludCc6"
    "IG9ubHkgcGxhaW4gZGF0YSBpcyBhbGxvd2VkIChidWlsdGluIGNvbnRhaW5lcnMgYW5kIHNjYWxhcnMsIG51bXB5"
    "IGFycmF5cywgZHR5cGVzIGFuZCBzY2FsYXJzLCBKQVggYXJyYXlzKTsgbG9hZCB3aXRoIHRydXN0ZWQ9VHJ1ZSBv"
    "bmx5IGRhdGEgeW91IHRydXN0LCBiZWNhdXNlIHVucGlja2xpbmcgY2FuIHJ1biBhcmJpdHJhcnkgY29kZZSFlFKU"
    "fZSMC2dsb2JhbF9uYW1llIwOYnVpbHRpbnMucHJpbnSUc2Iu"
)


def load_0_1_0(blob, module):
    """Unpickle the base64 ``blob``, first checking that it records the 0.1.0 ``module``."""
    data = base64.b64decode(blob)
    assert module.encode() in data
    return pickle.loads(data)


def test_error_pickles_of_rlu_serialize_0_1_0_load():
    err = load_0_1_0(CORRUPTED_PICKLE, "rlu_serialize.errors")
    assert type(err) is CorruptedDataError
    assert str(err) == "ckpt.lz4 is not an intact checkpoint: it is empty"
    err = load_0_1_0(FORBIDDEN_PICKLE, "rlu_serialize.errors")
    assert type(err) is ForbiddenGlobalError
    assert err.global_name == "builtins.print"
    assert str(err) == str(ForbiddenGlobalError("builtins.print"))  # 0.1.0 wrapped it twice


@pytest.mark.parametrize(
    "err", [CorruptedDataError("x is damaged"), ForbiddenGlobalError("os.system")]
)
def test_errors_pickle_under_their_public_path(err):
    data = pickle.dumps(err, protocol=4)
    assert b"rlu_serialize" in data and b"rlu_serialize." not in data
    back = pickle.loads(data)
    assert type(back) is type(err) and str(back) == str(err) and back.args == err.args
    compat = importlib.import_module("rlu_serialize.errors")
    assert getattr(compat, type(err).__name__) is type(err)
    assert "old pickles" in compat.__doc__


def test_forbidden_global_error_survives_pickling_with_its_name():
    with pytest.raises(ForbiddenGlobalError) as info:
        loads(dumps(print), trusted=False)
    back = pickle.loads(pickle.dumps(info.value))
    assert back.global_name == "builtins.print" and str(back) == str(info.value)


# ---- where coax raised another class for the same mistake, rlu's error is also that class ------
COAX_BYTES = lz4.frame.compress(cloudpickle.dumps({"a": [1, 2, 3], "b": "x" * 50}))


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage, not a frame", cloudpickle.dumps(1), COAX_BYTES[:20], COAX_BYTES[:-3]],
    ids=["empty", "garbage", "plain-pickle", "truncated-header", "truncated"],
)
def test_damaged_bytes_raise_what_coax_raised_too(data):
    with pytest.raises(CorruptedDataError) as info:
        loads(data)
    assert isinstance(info.value, ValueError) and isinstance(info.value, RuntimeError)


@pytest.mark.parametrize("data", [b"", COAX_BYTES[:20], COAX_BYTES[:-3]])
def test_truncated_files_are_also_eof_errors_as_in_coax(tmp_path, data):
    path = tmp_path / "ckpt.pkl.lz4"
    path.write_bytes(data)
    with pytest.raises(CorruptedDataError) as info:
        load(path)
    assert isinstance(info.value, EOFError) and isinstance(info.value, RuntimeError)


def test_empty_filepath_is_also_file_not_found_as_in_coax():
    for call in (lambda: dump(1, ""), lambda: load("")):
        with pytest.raises(ValueError, match="filepath must not be empty") as info:
            call()
        assert isinstance(info.value, FileNotFoundError)


def test_public_classes_keep_their_documented_bases():
    assert issubclass(CorruptedDataError, ValueError)
    assert issubclass(ForbiddenGlobalError, pickle.UnpicklingError)
    assert not issubclass(ForbiddenGlobalError, CorruptedDataError)
    assert rlu_serialize.CorruptedDataError.__module__ == "rlu_serialize"


# ---- coax/utils/_misc_test.py, ported with only the imports changed ---------------------------
def test_dump_load():
    with tempfile.TemporaryDirectory() as d:
        a = [13]
        b = {"a": a}

        # references preserved
        dump((a, b), os.path.join(d, "ab.pkl.lz4"))
        a_new, b_new = load(os.path.join(d, "ab.pkl.lz4"))
        b_new["a"].append(7)
        assert b_new["a"] == [13, 7]
        assert a_new == [13, 7]

        # references not preserved
        dump(a, os.path.join(d, "a.pkl.lz4"))
        dump(b, os.path.join(d, "b.pkl.lz4"))
        a_new = load(os.path.join(d, "a.pkl.lz4"))
        b_new = load(os.path.join(d, "b.pkl.lz4"))
        b_new["a"].append(7)
        assert b_new["a"] == [13, 7]
        assert a_new == [13]


def test_dumps_loads():
    a = [13]
    b = {"a": a}

    # references preserved
    s = dumps((a, b))
    a_new, b_new = loads(s)
    b_new["a"].append(7)
    assert b_new["a"] == [13, 7]
    assert a_new == [13, 7]

    # references not preserved
    s_a = dumps(a)
    s_b = dumps(b)
    a_new = loads(s_a)
    b_new = loads(s_b)
    b_new["a"].append(7)
    assert b_new["a"] == [13, 7]
    assert a_new == [13]


def test_dumps_loads_jitted_function():
    jit = pytest.importorskip("rlu_jaxtools", reason="rlu.jit lives in rlu-jaxtools").jit

    @jit
    def f(x):
        return 13 * x

    # references preserved
    s = dumps(f)
    f_new = loads(s)
    assert f_new(11) == f(11) == 143
