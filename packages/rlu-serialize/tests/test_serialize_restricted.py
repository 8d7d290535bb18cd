"""Restricted loading: plain data only, every other global refused by name."""

from __future__ import annotations

import collections
import os
import pickle

import lz4.frame
import numpy as np
import pytest
from rlu_serialize import (
    CorruptedDataError,
    ForbiddenGlobalError,
    LoadRefusedError,
    dump,
    dumps,
    load,
    loads,
)


class Custom:
    def __init__(self, x):
        self.x = x


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize(
    "obj, name",
    [
        (Exploit(), f"{os.system.__module__}.system"),
        (Custom(1), f"{__name__}.Custom"),
        (print, "builtins.print"),
        (collections.Counter("aab"), "collections.Counter"),
    ],
    ids=["os.system", "custom-class", "print", "Counter"],
)
def test_forbidden_globals_are_refused_by_name(obj, name, tmp_path):
    with pytest.raises(ForbiddenGlobalError) as info:
        loads(dumps(obj), trusted=False)
    assert info.value.global_name == name
    assert name in str(info.value)
    dump(obj, tmp_path / "x.lz4")
    with pytest.raises(ForbiddenGlobalError, match=name.replace(".", r"\.")):
        load(tmp_path / "x.lz4", trusted=False)


def test_lambda_is_refused():
    with pytest.raises(ForbiddenGlobalError, match="cloudpickle"):
        loads(dumps(lambda: 1), trusted=False)


def test_exploit_does_not_run(tmp_path, capfd):
    with pytest.raises(ForbiddenGlobalError):
        loads(dumps(Exploit()), trusted=False)
    assert "pwned" not in capfd.readouterr().out


def test_forbidden_error_is_an_unpickling_error_not_corruption():
    with pytest.raises(pickle.UnpicklingError) as info:
        loads(dumps(print), trusted=False)
    assert not isinstance(info.value, CorruptedDataError)


def test_object_arrays_are_refused_before_their_items_are_read():
    s = dumps(np.array([1, Custom(2)], dtype=object))
    with pytest.raises(LoadRefusedError, match="object dtypes are never loaded"):
        loads(s, trusted=False)


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_plain_data_of_every_binary_protocol_loads(protocol):
    obj = {
        "ints": [1, -2, 2**70],
        "set": {1, 2},
        "bytes": b"\x00\xff",
        "bytearray": bytearray(b"ab"),
        "complex": 3j,
        "array": np.arange(6, dtype=np.int16).reshape(2, 3),
        "scalar": np.float64(2.5),
        "dtype": np.dtype([("a", "<f4")]),
        "ordered": collections.OrderedDict(a=1),
    }
    s = lz4.frame.compress(pickle.dumps(obj, protocol=protocol), content_checksum=True)
    out = loads(s, trusted=False)
    assert out.keys() == obj.keys()
    np.testing.assert_array_equal(out.pop("array"), obj["array"])
    assert out == {k: v for k, v in obj.items() if k != "array"}


def test_text_protocol_is_refused():
    s = lz4.frame.compress(pickle.dumps({"a": 1.5}, protocol=0), content_checksum=True)
    with pytest.raises(LoadRefusedError, match="protocols 0 and 1"):
        loads(s, trusted=False)


def test_frames_without_a_content_checksum_are_refused():
    s = lz4.frame.compress(pickle.dumps({"a": 1}))  # what coax's dumps wrote
    assert loads(s) == {"a": 1}
    with pytest.raises(LoadRefusedError, match="content checksum"):
        loads(s, trusted=False)


def test_restricted_load_imports_numpy_and_jax_only_when_needed(python_runner):
    proc = python_runner(
        "import sys, rlu_serialize\n"
        "s = rlu_serialize.dumps({'a': [1, 2.0, 'x', {3}], 'b': (None, True, 1j)})\n"
        "for name in ('numpy', 'jax'):\n"
        "    sys.modules.pop(name, None)\n"
        "import builtins\n"
        "real_import = builtins.__import__\n"
        "def guard(name, *args, **kw):\n"
        "    if name.split('.')[0] in ('numpy', 'jax'):\n"
        "        raise AssertionError('imported ' + name)\n"
        "    return real_import(name, *args, **kw)\n"
        "builtins.__import__ = guard\n"
        "print(rlu_serialize.loads(s, trusted=False))\n"
        "print(sorted({'numpy', 'jax'} & set(sys.modules)))\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["{'a': [1, 2.0, 'x', {3}], 'b': (None, True, 1j)}", "[]"]


def test_jax_arrays_load_restricted_and_typed_keys_are_refused_by_name():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    data = {"params": jnp.arange(6.0).reshape(2, 3), "rng": jax.random.PRNGKey(7)}
    back = loads(dumps(data), trusted=False)
    assert isinstance(back["params"], jax.Array)
    np.testing.assert_array_equal(back["params"], data["params"])
    np.testing.assert_array_equal(back["rng"], data["rng"])
    assert back["rng"].dtype == np.uint32
    # a typed key holds its PRNG implementation, which is code, not plain data
    with pytest.raises(ForbiddenGlobalError, match="PRNGKeyArray"):
        loads(dumps(jax.random.key(7)), trusted=False)
