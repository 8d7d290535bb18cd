"""Fuzzing restricted loads: generated cases and the known attacks, each loaded in a sandbox.

Every case runs through ``fuzz_harness.Runner``: a child forked from a worker interpreter
loads it with ``trusted=False`` under an address-space limit, and the case fails if the
load raised anything but ``CorruptedDataError`` / ``LoadRefusedError``, died of a signal,
hung, created a file (code ran), imported a module other than numpy's or JAX's, returned
something other than plain data, or used more memory than the documented bound.
``fuzz_serialize.py`` runs the same harness for as long as one likes.
"""

from __future__ import annotations

import collections
import importlib.util
import os
import pickle
import struct
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import lz4.frame
import numpy as np
import pytest


def _load_harness() -> ModuleType:
    name = "rlu_serialize_fuzz_harness"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("fuzz_harness.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


fh = _load_harness()
fc = sys.modules["fuzz_cases"]  # the cases module the harness imported
REFUSED = ("LoadRefusedError", "ForbiddenGlobalError")
FORBIDDEN = ("ForbiddenGlobalError",)


@pytest.fixture(scope="module")
def runner() -> Any:
    with fh.Runner(workers=min(2, os.cpu_count() or 1)) as started:
        yield started


def test_generated_cases_break_no_promise(runner: Any) -> None:
    summary = fh.run_fuzz(300, seed_=20_240_601, runner=runner)
    print(summary.table())
    assert len(summary.outcomes) == 300
    assert not summary.violations, summary.table()
    # the generators reach past the frame: most cases meet the unpickler
    assert summary.counts["loaded"] + summary.counts["LoadRefusedError"] > 150


# -- the known attacks -------------------------------------------------------------------------
# The security report's exploit: an object-dtype scalar read from 8 bytes that hold the
# address of os.system, called with a shell command.


class _ObjectDtype:
    def __reduce__(self) -> Any:
        return (np.dtype, ("O8", False, True), (3, "|", None, None, None, -1, -1, 0))


class _Pointer:
    def __init__(self, address: int) -> None:
        self.address = address

    def __call__(self) -> None:
        pass

    def __reduce__(self) -> Any:
        try:
            from numpy._core.multiarray import scalar
        except ImportError:  # numpy 1.x
            from numpy.core.multiarray import scalar

        return (scalar, (_ObjectDtype(), struct.pack("<Q", self.address)))


class _Call:
    def __reduce__(self) -> Any:
        return (_Pointer(id(os.system)), (f"echo pwned > {fc.MARKER}",))


def _op_dtype(code: str, order: str = "|", flags: int = 0) -> bytes:
    return fc.simple_dtype_op(code, order=order, flags=flags)


def _struct_dtype(itemsize: int, field: bytes, offset: int = 0) -> bytes:
    """A structured dtype of one field ``a`` (a dtype push) at ``offset``, ``itemsize`` long."""
    state = [fc.op_int(3), fc.op_str("|"), pickle.NONE, fc.op_tuple([fc.op_str("a")])]
    fields = fc.op_dict([(fc.op_str("a"), fc.op_tuple([field, fc.op_int(offset)]))])
    state += [fields, fc.op_int(itemsize), fc.op_int(-1), fc.op_int(16)]
    return fc.dtype_op(fc.op_str(f"V{itemsize}"), state)


def _frombuffer(data: bytes, dtype: bytes, shape: tuple[int, ...]) -> bytes:
    return fc.pickle_of(fc.frombuffer_op(fc.op_bytes(data), dtype, fc.op_shape(shape)))


def _reconstruct(shape: tuple[int, ...], dtype: bytes, data: bytes) -> bytes:
    state = [fc.op_int(1), fc.op_shape(shape), dtype, pickle.NEWFALSE, data]
    return fc.pickle_of(fc.reconstruct_op(state))


def _reconstruct_list_state() -> bytes:
    """``_reconstruct`` finished by BUILD with a list (not numpy's tuple) of an object array."""
    items = [fc.op_int(1), fc.op_shape((2,)), _O8, pickle.NEWFALSE]
    items.append(pickle.EMPTY_LIST + (fc.op_global("os", "system") + pickle.APPEND) * 2)
    state = pickle.EMPTY_LIST + pickle.MARK + b"".join(items) + pickle.APPENDS
    return fc.pickle_of(
        fc.reconstruct_op([])[: -len(pickle.EMPTY_TUPLE + pickle.BUILD)] + state + pickle.BUILD
    )


def _deque_nest(n: int) -> bytes:
    """``deque([deque([...])])`` ``n`` deep: freeing it recursed once per level in C."""
    new = pickle.BINGET + b"\x00" + pickle.EMPTY_TUPLE + pickle.REDUCE
    head = fc.op_global("collections", "deque") + pickle.BINPUT + b"\x00" + pickle.POP
    return fc.pickle_of(head + new * n + pickle.APPEND * (n - 1))


def _structured_nest(n: int) -> bytes:
    """A structured dtype nested ``n`` deep (numpy hashes it recursively), as a dict key."""
    level = pickle.BINPUT + b"\x05" + pickle.POP + _struct_dtype(8, pickle.BINGET + b"\x05")
    key = pickle.BINPUT + b"\x05" + pickle.POP + pickle.EMPTY_DICT + pickle.BINGET + b"\x05"
    return fc.pickle_of(_op_dtype("f8", "<") + level * n + key + pickle.NONE + pickle.SETITEM)


def _ordered_dict_of_global() -> bytes:
    """``OrderedDict(((1, numpy.dtype),))``: an admitted global as a value."""
    pair = fc.op_tuple([fc.op_int(1), fc.op_global("numpy", "dtype")])
    return fc.pickle_of(
        fc.op_call(fc.op_global("collections", "OrderedDict"), [fc.op_tuple([pair])])
    )


_C = fc.compress
_F8 = _op_dtype("f8", "<")
_O8 = _op_dtype("O8", flags=0x3F)  # object dtype, with numpy's reference-counting flags
KNOWN: list[tuple[str, bytes, tuple[str, ...], dict[str, Any]]] = [
    # (name, case bytes, the outcomes that pass, Case options)
    ("report-exploit", _C(pickle.dumps(_Call(), protocol=2)), REFUSED, {}),
    (
        "report-exploit-unchecked",
        lz4.frame.compress(pickle.dumps(_Call(), protocol=2)),
        REFUSED,
        {},
    ),
    ("frombuffer-object-dtype", _C(_frombuffer(bytes(8), _O8, (1,))), REFUSED, {}),
    (
        "frombuffer-object-field",
        _C(_frombuffer(bytes(8), _struct_dtype(8, _O8), (1,))),
        REFUSED,
        {},
    ),
    ("reconstruct-list-state", _C(_reconstruct_list_state()), REFUSED, {}),
    (
        "reconstruct-list-data",
        _C(_reconstruct((2,), _F8, pickle.EMPTY_LIST + pickle.NONE + pickle.APPEND)),
        REFUSED,
        {},
    ),
    (
        "reconstruct-object-list",
        _C(_reconstruct((1,), _O8, pickle.EMPTY_LIST + pickle.NONE + pickle.APPEND)),
        REFUSED,
        {},
    ),
    (
        "struct-itemsize-below-field",
        _C(_frombuffer(bytes(4), _struct_dtype(4, _F8), (1,))),
        REFUSED,
        {},
    ),
    (
        "struct-field-past-end",
        _C(_frombuffer(bytes(8), _struct_dtype(8, _F8, 4), (1,))),
        REFUSED,
        {},
    ),
    (
        "reconstruct-shape-over-data",
        _C(_reconstruct((10**6,), _F8, fc.op_bytes(bytes(8)))),
        REFUSED,
        {},
    ),
    (
        "reconstruct-huge-shape",
        _C(_reconstruct((2**62, 4), _F8, fc.op_bytes(bytes(8)))),
        REFUSED,
        {},
    ),
    ("frombuffer-shape-over-data", _C(_frombuffer(bytes(8), _F8, (10**6,))), REFUSED, {}),
    ("frombuffer-2d-over-data", _C(_frombuffer(bytes(8), _F8, (2**32, 2**32))), REFUSED, {}),
    (
        "scalar-short-data",
        _C(
            fc.pickle_of(
                fc.op_call(
                    fc.op_global("numpy._core.multiarray", "scalar"), [_F8, fc.op_bytes(b"x")]
                )
            )
        ),
        REFUSED,
        {},
    ),
    # the report's tiny files (60 and 70 bytes here, with the content checksum)
    ("bytearray-1e9", _C(b"\x80\x02c__builtin__\nbytearray\nJ\x00\xca\x9a;\x85R."), REFUSED, {}),
    (
        "list-range-5e7",
        _C(b"\x80\x02c__builtin__\nlist\nc__builtin__\nxrange\nJ\x80\xf0\xfa\x02\x85R\x85R."),
        FORBIDDEN,
        {},
    ),
    ("empty-lists-1e7", _C(b"\x80\x04" + pickle.EMPTY_LIST * 10**7 + pickle.STOP), REFUSED, {}),
    (
        "empty-lists-2e6-default-max-bytes",  # the 64 x content bound, not max_bytes, stops it
        _C(b"\x80\x04" + pickle.EMPTY_LIST * 2 * 10**6 + pickle.STOP),
        REFUSED,
        {"max_bytes": None},
    ),
    ("deque-nest", _C(_deque_nest(400_000)), REFUSED, {}),
    ("structured-dtype-nest", _C(_structured_nest(150_000)), REFUSED, {"max_bytes": None}),
    ("ordered-dict-of-global", _C(_ordered_dict_of_global()), REFUSED, {}),
]
for _module, _name, _args in fc.DANGEROUS:
    KNOWN.append(
        (
            f"call-{_module}.{_name}",
            _C(fc.pickle_of(fc.op_call(fc.op_global(_module, _name), _args), protocol=2)),
            FORBIDDEN,
            {},
        )
    )
KNOWN.append(
    (
        "inst-os.system",
        _C(pickle.PROTO + b"\x02" + pickle.MARK + fc.op_str("touch x") + b"ios\nsystem\n."),
        REFUSED,
        {},
    )
)
# numpy, ml_dtypes and JAX are optional: data that names them is refused where they are missing.
_BULK = fc.frombuffer_op(fc.bytearray8(bytes(fc.MIB)), _F8, fc.op_shape((fc.MIB // 8,)))
KNOWN += [
    ("bulk-array-without-numpy", _C(fc.pickle_of(_BULK)), REFUSED, {"without": ("numpy",)}),
    ("dtype-without-numpy", _C(fc.pickle_of(_F8)), REFUSED, {"without": ("numpy",)}),
    ("jax-array-without-jax", _C(fc.jax_array_pickle()), REFUSED, {"without": ("jax",)}),
    (
        "bfloat16-without-ml-dtypes",
        _C(fc.pickle_of(fc.op_global("ml_dtypes", "bfloat16"))),
        REFUSED,
        {"without": ("ml_dtypes",)},
    ),
]


# Known failures of rlu_serialize itself, each to be fixed there (the mark then goes).
def _known_params() -> list[Any]:
    return [
        pytest.param(data, expected, options, id=name) for name, data, expected, options in KNOWN
    ]


@pytest.mark.parametrize("data, expected, options", _known_params())
def test_known_attacks_are_refused(
    runner: Any, data: bytes, expected: tuple[str, ...], options: dict[str, Any]
) -> None:
    outcome = runner.run([fc.Case(data, "known", **options)])[0]
    assert not outcome.violations, fh.describe(outcome)
    assert outcome.outcome in expected, fh.describe(outcome)


# -- the harness sees what it looks for ---------------------------------------------------------
# Loaded with trusted=True (plain pickle), these cases do what a restricted load must never do.


def _trusted_call(module: str, name: str, *args: bytes) -> bytes:
    return fc.compress(fc.pickle_of(fc.op_call(fc.op_global(module, name), list(args))))


HARNESS_CHECKS = [
    ("marker", _trusted_call("os", "system", fc.op_str(f"touch {fc.MARKER}")), "created files"),
    ("crash", _trusted_call("ctypes", "string_at", fc.op_int(0)), "killed by SIGSEGV"),
    ("hang", _trusted_call("time", "sleep", fc.op_int(30)), "hang"),
    ("exception", _trusted_call("builtins", "int", fc.op_str("x")), "undocumented exception"),
    ("memory", _trusted_call("numpy", "ones", fc.op_int(20_000_000)), "memory over bound"),
    (
        "import",
        _trusted_call("importlib", "import_module", fc.op_str("colorsys")),
        "imported",
    ),
    ("not-plain", fc.compress(pickle.dumps(collections.Counter("ab"))), "the loaded"),
]


@pytest.mark.parametrize(
    "data, violation", [c[1:] for c in HARNESS_CHECKS], ids=[c[0] for c in HARNESS_CHECKS]
)
def test_the_harness_reports_each_kind_of_violation(
    runner: Any, data: bytes, violation: str
) -> None:
    outcome = runner.run([fc.Case(data, "check", timeout=2.0, trusted=True)])[0]
    assert any(v.startswith(violation) for v in outcome.violations), fh.describe(outcome)
