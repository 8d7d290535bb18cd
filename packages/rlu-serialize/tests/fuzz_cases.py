"""Fuzzing restricted loads: the crafted cases (``fuzz_harness`` runs them).

``rlu_serialize.loads(s, trusted=False)`` must be safe on any input: it runs no code, does
not crash, stays within its memory bound and raises only ``CorruptedDataError`` or
``LoadRefusedError`` (and the latter's subclasses). The cases (``Case``) come from
hypothesis strategies:

* ``opcode_cases``: pickle opcode streams from a grammar of every pickle opcode, with
  gadgets that name dangerous globals (``os.system``, ``builtins.eval``...), build numpy
  dtypes and arrays from tampered states, nest containers very deep or repeat opcodes
  many times, each compressed as ``lz4.frame.compress(stream, content_checksum=True)``;
* ``pickle_mutation_cases``: real checkpoints (``rlu_serialize.dumps`` of realistic
  payloads) whose *decompressed pickle* is mutated and recompressed with a content
  checksum, so that the mutations reach the unpickler;
* ``frame_mutation_cases``: raw mutations of such compressed frames and LZ4 bombs.

Each dangerous gadget would create the file ``MARKER`` in the load's working directory,
so a file there is proof that code ran.
"""

from __future__ import annotations

import collections
import pickle
import pickletools
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import lz4.frame
import numpy as np
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

try:
    from hypothesis.errors import FlakyStrategyDefinition
except ImportError:  # hypothesis before 6.111 (the floor is 6.100) reports it as Flaky
    from hypothesis.errors import Flaky as FlakyStrategyDefinition

#: File every dangerous gadget tries to create in the load's working directory.
MARKER = "rlu_fuzz_marker"
#: Top-level packages a restricted load may import (numpy, ml_dtypes, JAX and their parts).
ALLOWED_IMPORTS = ("numpy", "ml_dtypes", "jax", "jaxlib", "rlu_serialize", "lz4")
#: ``max_bytes`` fuzzing passes unless told otherwise (the library default is 4 GiB).
FUZZ_MAX_BYTES = 64 << 20
#: What ``Case.max_bytes`` holds to use the runner's ``max_bytes``.
RUNNER = "runner"

MIB = 1 << 20
GROWTH = 64  # objects may be estimated at most 64 x the content (documented bound)
SLACK = MIB  # ... plus 1 MiB
_P61 = 2**61 - 1  # ints congruent modulo this hash alike


# -- cases -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One input for ``rlu_serialize.loads(data, trusted=False)``.

    ``max_bytes`` is passed to the load (``RUNNER``: the runner's; ``None``: not passed, so
    the library default applies); ``via_file`` loads it with ``load`` from a file instead;
    ``trusted`` loads it with ``trusted=True``, which only a check of the harness itself does;
    ``without`` names modules the load must do without (numpy, ml_dtypes, jax: optional).
    """

    data: bytes
    kind: str
    max_bytes: int | str | None = RUNNER
    timeout: float | None = None
    via_file: bool = False
    trusted: bool = False
    without: tuple[str, ...] = ()


def compress(content: bytes, **options: Any) -> bytes:
    """An LZ4 frame of ``content`` with a content checksum, as a restricted load requires."""
    options.setdefault("content_checksum", True)
    return bytes(lz4.frame.compress(content, **options))


# Pickle encodings: each helper returns the opcodes that push one value.


def op_int(n: int) -> bytes:
    """The shortest binary opcode that pushes the int ``n``."""
    if 0 <= n < 256:
        return pickle.BININT1 + bytes([n])
    if 0 <= n < 65536:
        return pickle.BININT2 + struct.pack("<H", n)
    if -(2**31) <= n < 2**31:
        return pickle.BININT + struct.pack("<i", n)
    data = pickle.encode_long(n)
    if len(data) < 256:
        return pickle.LONG1 + bytes([len(data)]) + data
    return pickle.LONG4 + struct.pack("<i", len(data)) + data


def op_str(text: str) -> bytes:
    """A BINUNICODE push of ``text`` (lone surrogates kept)."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) < 256:
        return pickle.SHORT_BINUNICODE + bytes([len(data)]) + data
    return pickle.BINUNICODE + struct.pack("<I", len(data)) + data


def op_bytes(data: bytes) -> bytes:
    """A BINBYTES push of ``data``."""
    if len(data) < 256:
        return pickle.SHORT_BINBYTES + bytes([len(data)]) + data
    return pickle.BINBYTES + struct.pack("<I", len(data)) + data


def op_global(module: str, name: str) -> bytes:
    """A GLOBAL naming ``module.name``."""
    return pickle.GLOBAL + f"{module}\n{name}\n".encode("utf-8", "surrogatepass")


def op_stack_global(module: str, name: str) -> bytes:
    """A STACK_GLOBAL naming ``module.name``."""
    return op_str(module) + op_str(name) + pickle.STACK_GLOBAL


def op_tuple(items: Sequence[bytes]) -> bytes:
    """Opcodes that push a tuple of the values ``items`` push."""
    body = b"".join(items)
    short = {0: pickle.EMPTY_TUPLE, 1: pickle.TUPLE1, 2: pickle.TUPLE2, 3: pickle.TUPLE3}
    if len(items) in short:
        return body + short[len(items)]
    return pickle.MARK + body + pickle.TUPLE


def op_call(func: bytes, args: Sequence[bytes]) -> bytes:
    """``func(*args)`` through REDUCE."""
    return func + op_tuple(args) + pickle.REDUCE


def op_dict(pairs: Sequence[tuple[bytes, bytes]]) -> bytes:
    """A dict of the given (key, value) pushes."""
    return pickle.EMPTY_DICT + (
        pickle.MARK + b"".join(k + v for k, v in pairs) + pickle.SETITEMS if pairs else b""
    )


def op_shape(shape: Sequence[int]) -> bytes:
    """A tuple of ints."""
    return op_tuple([op_int(n) for n in shape])


def dtype_op(code: bytes, state: Sequence[bytes], args: Sequence[bytes] | None = None) -> bytes:
    """``numpy.dtype(code, False, True)`` finished by BUILD with ``state`` (item pushes)."""
    args = [code, pickle.NEWFALSE, pickle.NEWTRUE] if args is None else args
    return op_call(op_global("numpy", "dtype"), args) + op_tuple(state) + pickle.BUILD


def simple_dtype_op(code: str, order: str = "<", elsize: int = -1, flags: int = 0) -> bytes:
    """A dtype pickle for a type code with no fields or sub-array (elsize -1: numpy's own)."""
    state = [op_int(3), op_str(order), pickle.NONE, pickle.NONE, pickle.NONE]
    return dtype_op(op_str(code), state + [op_int(elsize), op_int(-1), op_int(flags)])


def reconstruct_op(state: Sequence[bytes], core: str = "numpy._core") -> bytes:
    """``numpy.ndarray`` rebuilt by ``_reconstruct`` and BUILD with ``state`` (item pushes)."""
    args = [op_global("numpy", "ndarray"), op_shape((0,)), op_bytes(b"b")]
    return op_call(op_global(f"{core}.multiarray", "_reconstruct"), args) + (
        op_tuple(state) + pickle.BUILD
    )


def frombuffer_op(data: bytes, dtype: bytes, shape: bytes, order: str = "C") -> bytes:
    """``numpy._core.numeric._frombuffer(data, dtype, shape, order)``."""
    func = op_global("numpy._core.numeric", "_frombuffer")
    return op_call(func, [data, dtype, shape, op_str(order)])


def bytearray8(data: bytes) -> bytes:
    """A BYTEARRAY8 push of ``data``."""
    return pickle.BYTEARRAY8 + struct.pack("<Q", len(data)) + data


def pickle_of(*pushes: bytes, protocol: int = 4) -> bytes:
    """A whole pickle: PROTO, the pushes, STOP."""
    return pickle.PROTO + bytes([protocol]) + b"".join(pushes) + pickle.STOP


# Dangerous globals: each call would create MARKER in the working directory.
_SHELL = f"touch {MARKER}"
_PY = f"open({MARKER!r}, 'w').close()"


def _nested_pickle() -> bytes:
    """A trusted pickle that runs ``os.system`` (for loaders reached through a gadget)."""
    return pickle_of(op_call(op_global("os", "system"), [op_str(_SHELL)]), protocol=2)


def _dangerous_calls() -> list[tuple[str, str, list[bytes]]]:
    shell, py = op_str(_SHELL), op_str(_PY)
    argv = pickle.EMPTY_LIST + pickle.MARK + op_str("touch") + op_str(MARKER) + pickle.APPENDS
    nested = _nested_pickle()
    return [
        ("os", "system", [shell]),
        ("posix", "system", [shell]),
        ("nt", "system", [shell]),
        ("os", "popen", [shell]),
        ("builtins", "eval", [py]),
        ("builtins", "exec", [py]),
        ("__builtin__", "eval", [py]),
        ("builtins", "open", [op_str(MARKER), op_str("w")]),
        ("io", "open", [op_str(MARKER), op_str("w")]),
        ("_io", "open", [op_str(MARKER), op_str("w")]),
        ("subprocess", "check_call", [argv]),
        ("subprocess", "Popen", [argv]),
        ("subprocess", "getoutput", [shell]),
        ("pty", "spawn", [argv]),
        ("numpy.testing._private.utils", "runstring", [py, pickle.EMPTY_DICT]),
        ("pickle", "loads", [op_bytes(nested)]),
        ("_pickle", "loads", [op_bytes(nested)]),
        ("cloudpickle", "loads", [op_bytes(nested)]),
        ("rlu_serialize", "loads", [op_bytes(compress(nested))]),
        ("rlu_serialize._serialize", "loads", [op_bytes(compress(nested))]),
        ("numpy", "load", [op_str(MARKER)]),
        ("builtins", "getattr", [op_global("os", "system"), op_str("__call__")]),
        ("builtins", "__import__", [op_str("os")]),
        ("importlib", "import_module", [op_str("subprocess")]),
        ("collections", "OrderedDict.fromkeys", [op_str(MARKER)]),
        ("builtins", "int.__subclasses__", []),
        ("numpy", "dtype.__class__", [op_str("f8")]),
        ("copyreg", "_reconstructor", [op_global("os", "system"), pickle.NONE, shell]),
        ("functools", "partial", [op_global("os", "system"), shell]),
        ("operator", "methodcaller", [op_str("system"), shell]),
    ]


DANGEROUS = _dangerous_calls()
# Globals a restricted load admits, for calls with arguments of any kind.
ADMITTED = [
    ("builtins", "complex"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "bytearray"),
    ("builtins", "bytes"),
    ("builtins", "slice"),
    ("builtins", "range"),
    ("__builtin__", "xrange"),
    ("__builtin__", "set"),
    ("_codecs", "encode"),
    ("collections", "OrderedDict"),
    ("collections", "deque"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy", "float32"),
    ("numpy", "bool_"),
    ("ml_dtypes", "bfloat16"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
    ("jax._src.array", "_reconstruct_array"),
    ("builtins", "int"),
    ("builtins", "float"),
    ("builtins", "list"),
    ("builtins", "dict"),
    ("builtins", "object"),
    ("builtins", "type"),
]

_DTYPE_CODES = ["f8", "f4", "f2", "i1", "i8", "u2", "b1", "c8", "c16", "f16", "S5", "U3", "V8"]
_DTYPE_CODES += ["M8", "m8", "S0", "U0", "V0", "V1", "S1000000000", "U999999999", "V4294967296"]
_BAD_CODES = ["O8", "O4", "O", "f3", "V", "i16", "M8[ns]", "<f8", "f8,i4", "object", "c"]
_ITEMSIZE = {"f8": 8, "f4": 4, "f2": 2, "i1": 1, "i8": 8, "u2": 2, "b1": 1, "c8": 8}
_ITEMSIZE |= {"c16": 16, "f16": 16, "S5": 5, "U3": 12, "V8": 8, "M8": 8, "m8": 8, "V1": 1}
_INTERESTING_INTS = [0, 1, 2, 7, 8, 255, 256, 2**15, 2**16 - 1, 2**31 - 1, 2**31, 2**32 - 1]
_INTERESTING_INTS += [2**32, 2**62, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 10**9, -1, -2, -(2**31)]

# Opcodes without arguments (POP, MARK, containers, REDUCE, BUILD, NEWOBJ, buffers...).
_SINGLE_OPS = b"(.012N\x88\x89)t\x85\x86\x87]ael}dsu\x8f\x90\x91\x94Rb\x81\x92o\x93Q\x97\x98"

_STRATEGIES: dict[tuple[Any, ...], Any] = {}


def _s(factory: Callable[..., Any], *args: Any) -> Any:
    """``factory(*args)``, made once: hypothesis validates each new strategy object again."""
    key = (factory, *args)
    if key not in _STRATEGIES:
        _STRATEGIES[key] = factory(*args)
    return _STRATEGIES[key]


small_ints = st.integers(-3, 300)
interesting_ints = st.one_of(small_ints, st.sampled_from(_INTERESTING_INTS))


def _shapes() -> st.SearchStrategy[tuple[int, ...]]:
    dims = st.one_of(st.integers(0, 6), st.sampled_from([2**31, 2**32, 2**62, 2**63, -1, 10**6]))
    return st.one_of(
        st.lists(st.integers(0, 5), max_size=3).map(tuple),
        st.lists(dims, max_size=4).map(tuple),
        st.just((1,) * 65),
    )


shapes = _shapes()


@st.composite
def dtype_ops(draw: st.DrawFn, depth: int = 0) -> bytes:
    """A numpy dtype pickle, often tampered: codes, orders, sizes, flags, fields, sub-arrays."""
    kind = draw(st.sampled_from(["simple", "simple", "bad", "ml", "struct", "sub", "time", "args"]))
    if depth > 1:
        kind = "simple"
    order = draw(st.sampled_from(["<", ">", "|", "=", "<", "x"]))
    elsize = draw(st.one_of(st.just(-1), interesting_ints))
    flags = draw(st.sampled_from([0, 0, 1, 16, 0x3F, 0x80, 0x90, 0xFF, -1, 2**32]))
    align = draw(st.sampled_from([-1, 1, 4, 8, 0, 2**31]))
    version = draw(st.sampled_from([3, 3, 3, 4, 2, 99]))
    if kind in ("simple", "bad", "args"):
        code = draw(st.sampled_from(_DTYPE_CODES if kind != "bad" else _BAD_CODES))
        state = [op_int(version), op_str(order), pickle.NONE, pickle.NONE, pickle.NONE]
        state += [op_int(elsize), op_int(align), op_int(flags)]
        args = None
        if kind == "args":
            args = draw(
                st.sampled_from(
                    [
                        [op_str(code)],
                        [op_str(code), op_int(1), op_int(0)],
                        [op_str(code), pickle.NEWFALSE, pickle.NEWTRUE, pickle.NONE],
                        [op_bytes(code.encode()), pickle.NEWFALSE, pickle.NEWTRUE],
                        [op_global("numpy", "float32"), pickle.NEWFALSE, pickle.NEWTRUE],
                    ]
                )
            )
        if draw(st.booleans()):
            state = state[: draw(st.integers(0, len(state)))]  # a short state
        return dtype_op(op_str(code), state, args)
    if kind == "ml":
        name = draw(st.sampled_from(["bfloat16", "float8_e4m3fn", "int4", "float32", "nope"]))
        state = [op_int(version), op_str(order), pickle.NONE, pickle.NONE, pickle.NONE]
        state += [op_int(elsize), op_int(align), op_int(flags)]
        return dtype_op(op_global("ml_dtypes", name), state)
    if kind == "time":
        code = draw(st.sampled_from(["M8", "m8"]))
        unit = draw(st.sampled_from([b"ns", b"D", b"generic", b"xx", b"", b"Y" * 300]))
        count = draw(st.sampled_from([1, 7, 0, -1, 2**31, 2**63]))
        meta = op_tuple([pickle.NONE, op_tuple([op_bytes(unit), op_int(count), op_int(1)])])
        if draw(st.booleans()):
            meta = op_tuple(
                [pickle.NONE, op_tuple([op_bytes(unit), op_int(count), op_int(1), op_int(1)])]
            )
        state = [op_int(4), op_str(order), pickle.NONE, pickle.NONE, pickle.NONE]
        state += [op_int(elsize), op_int(align), op_int(flags), meta]
        return dtype_op(op_str(code), state)
    if kind == "sub":
        base = draw(_s(dtype_ops, depth + 1))
        sub = op_tuple([base, op_shape(draw(shapes))])
        code = draw(st.sampled_from(["V8", "V16", "f8", "V0"]))
        state = [op_int(3), op_str("|"), sub, pickle.NONE, pickle.NONE]
        state += [op_int(elsize), op_int(align), op_int(flags)]
        return dtype_op(op_str(code), state)
    names = draw(st.lists(st.sampled_from(["a", "b", "c", "", "\udc80"]), max_size=3))
    fields = []
    for name in names:
        offset = draw(st.one_of(st.integers(-2, 24), st.sampled_from([2**31, 2**62, -(2**40)])))
        entry = [draw(_s(dtype_ops, depth + 1)), op_int(offset)]
        if draw(st.integers(0, 5)) == 0:
            entry.append(draw(st.sampled_from([op_str("title"), op_str("a"), pickle.NONE])))
        fields.append((op_str(name), op_tuple(entry)))
    if draw(st.booleans()):
        names = names[:-1] if names else ["x"]  # names that do not match the fields
    code = f"V{draw(st.sampled_from([0, 1, 4, 8, 16, 24, 2**31]))}"
    state = [op_int(3), op_str("|"), pickle.NONE, op_tuple([op_str(n) for n in names])]
    state += [op_dict(fields), op_int(elsize), op_int(align), op_int(flags)]
    return dtype_op(op_str(code), state)


def _data_for(draw: st.DrawFn, shape: tuple[int, ...], itemsize: int) -> bytes:
    """Array data of the right length for ``shape`` (where small), or a lying length."""
    count = 1
    for n in shape:
        count *= max(n, 0)
    right = count * itemsize
    size = draw(st.sampled_from([right, right, 0, 1, right + 1, max(right - 1, 0), 8, 4096]))
    return bytes(min(size, 1 << 16))


@st.composite
def array_ops(draw: st.DrawFn) -> bytes:
    """A numpy array, scalar or JAX array pickle with a tampered dtype, shape, state or data."""
    code = draw(st.sampled_from(sorted(_ITEMSIZE)))
    dtype = draw(st.one_of(st.just(simple_dtype_op(code)), _s(dtype_ops)))
    shape = draw(shapes)
    data = _data_for(draw, shape, _ITEMSIZE[code])
    kinds = ["reconstruct", "frombuffer", "scalar", "jax", "bulk"] * 4 + ["large"]
    kind = draw(st.sampled_from(kinds))
    if kind == "large":  # tens of MiB of data, byte-swapped or not: close to the memory bound
        size = draw(st.sampled_from([8 * MIB, 20 * MIB, 31 * MIB]))
        big = simple_dtype_op("f4", draw(st.sampled_from(["<", ">"])))
        count = size // 4
        state = [op_int(1), op_shape((count,)), big, pickle.NEWFALSE, op_bytes(bytes(size))]
        way = draw(st.sampled_from(["reconstruct", "jax", "frombuffer", "frombuffer8"]))
        if way == "reconstruct":
            return reconstruct_op(state)
        if way == "jax":
            return jax_array_op(state)
        data = (bytearray8 if way == "frombuffer8" else op_bytes)(bytes(size))
        return frombuffer_op(data, big, op_shape((count,)))
    if kind == "frombuffer":
        push = draw(st.sampled_from([op_bytes, bytearray8, lambda b: op_str(b.decode("latin-1"))]))
        order = draw(st.sampled_from(["C", "F", "K", ""]))
        return frombuffer_op(push(data), dtype, op_shape(shape), order)
    if kind == "bulk":  # at least 1 MiB: read straight into numpy's memory
        size = draw(st.sampled_from([MIB, MIB + 1, 2 * MIB, 8 * MIB + 8]))
        n = draw(st.sampled_from([size // _ITEMSIZE[code], 1, 0, size]))
        func = op_global("numpy._core.numeric", "_frombuffer")
        args = [bytearray8(bytes(size)), dtype, op_shape((n,)), op_str("C")]
        if draw(st.booleans()):
            args = [op_str("x")] + args  # the data not first: it is no longer array data
        return op_call(func, args)
    if kind == "scalar":
        args = [dtype, draw(st.sampled_from([op_bytes(data[:16]), op_str("ab"), op_int(1)]))]
        if draw(st.integers(0, 4)) == 0:
            args.append(pickle.NONE)
        return op_call(op_global("numpy._core.multiarray", "scalar"), args)
    fortran = draw(st.sampled_from([pickle.NEWFALSE, pickle.NEWTRUE, op_int(2), pickle.NONE]))
    payload = draw(
        st.sampled_from(
            [
                op_bytes(data),
                op_str(data.decode("latin-1")),
                bytearray8(data),
                pickle.EMPTY_LIST + pickle.MARK + op_int(1) + pickle.NONE + pickle.APPENDS,
                pickle.NONE,
            ]
        )
    )
    version = draw(st.sampled_from([[op_int(1)], [op_int(1)], [], [op_int(2)]]))
    state = version + [op_shape(shape), dtype, fortran, payload]
    if kind == "reconstruct":
        core = draw(st.sampled_from(["numpy._core", "numpy.core"]))
        return reconstruct_op(state, core)
    weak = draw(st.sampled_from([pickle.NEWTRUE, pickle.NEWFALSE, op_int(1)]))
    aval = op_dict([(op_str("weak_type"), weak)])
    if draw(st.integers(0, 5)) == 0:
        aval = op_dict([(op_str("shape"), op_shape((2,)))])
    return jax_array_op(state, aval)


def jax_array_op(state: Sequence[bytes], aval: bytes | None = None) -> bytes:
    """``jax._src.array._reconstruct_array`` of an ndarray ``state`` (item pushes)."""
    if aval is None:
        aval = op_dict([(op_str("weak_type"), pickle.NEWFALSE)])
    rec = op_global("numpy._core.multiarray", "_reconstruct")
    args = op_tuple([op_global("numpy", "ndarray"), op_shape((0,)), op_bytes(b"b")])
    func = op_global("jax._src.array", "_reconstruct_array")
    return op_call(func, [rec, args, op_tuple(state), aval])


@st.composite
def dangerous_ops(draw: st.DrawFn) -> bytes:
    """A call of something that would create MARKER, by REDUCE, INST, OBJ, NEWOBJ or EXT."""
    module, name, args = draw(st.sampled_from(DANGEROUS))
    how = draw(st.sampled_from(["reduce", "stack", "inst", "obj", "newobj", "newobj_ex", "chain"]))
    if how == "reduce":
        return op_call(op_global(module, name), args)
    if how == "stack":
        return op_call(op_stack_global(module, name), args)
    if how == "inst":
        return pickle.MARK + b"".join(args) + pickle.INST + f"{module}\n{name}\n".encode()
    if how == "obj":
        return pickle.MARK + op_global(module, name) + b"".join(args) + pickle.OBJ
    if how == "newobj":
        return op_global(module, name) + op_tuple(args) + pickle.NEWOBJ
    if how == "newobj_ex":
        return op_global(module, name) + op_tuple(args) + pickle.EMPTY_DICT + pickle.NEWOBJ_EX
    # getattr(__import__('os'), 'system')('touch MARKER'), the classic chain
    mod = op_call(op_global("builtins", "__import__"), [op_str("os")])
    system = op_call(op_global("builtins", "getattr"), [mod, op_str("system")])
    return op_call(system, [op_str(_SHELL)])


@st.composite
def report_chain_ops(draw: st.DrawFn) -> bytes:
    """The security report's chain: a pointer read as an object-dtype scalar, then called."""
    flags = draw(st.sampled_from([0, 0x3F, 1]))
    code = draw(st.sampled_from(["O8", "V8", "f8", "u8"]))
    dtype = simple_dtype_op(code, order="|", flags=flags)
    address = draw(st.sampled_from([0, 0x10, 2**47 - 8, 0x7F0000000000]))
    scalar = op_call(
        op_global("numpy._core.multiarray", "scalar"), [dtype, op_bytes(struct.pack("<Q", address))]
    )
    return op_call(scalar, [op_str(_SHELL)])


@st.composite
def amplification_ops(draw: st.DrawFn) -> bytes:
    """Opcodes repeated many times: deep nests, wide containers, memo growth, hash floods."""
    kind = draw(
        st.sampled_from(
            ["lists", "tuples", "dicts", "frozensets", "deques", "empty", "marks", "memo", "dup"]
            + ["collide", "ordered", "keys", "doubling"]
        )
    )
    n = draw(st.sampled_from([2, 10, 1000, 20_000, 200_000, 400_000]))
    if kind == "lists":  # [[[...]]]
        return pickle.EMPTY_LIST * n + pickle.APPEND * (n - 1)
    if kind == "tuples":  # ((((),),),)
        return pickle.EMPTY_TUPLE + pickle.TUPLE1 * n
    if kind == "dicts":  # {0: {0: {...: None}}}
        return (pickle.EMPTY_DICT + op_int(0)) * n + pickle.NONE + pickle.SETITEM * n
    if kind == "frozensets":
        return pickle.MARK * n + pickle.FROZENSET * n
    if kind == "deques":  # deque([deque([...])])
        deque = op_global("collections", "deque") + pickle.BINPUT + b"\xfe"
        new = pickle.BINGET + b"\xfe" + pickle.EMPTY_TUPLE + pickle.REDUCE
        return deque + pickle.POP + new * n + pickle.APPEND * (n - 1)
    if kind == "ordered":  # OrderedDict([(0, OrderedDict([(0, ...)]))])
        od = op_global("collections", "OrderedDict") + pickle.BINPUT + b"\xfd" + pickle.POP
        step = pickle.TUPLE2 + pickle.TUPLE1 + pickle.TUPLE1 + pickle.REDUCE
        return od + (pickle.BINGET + b"\xfd" + op_int(0)) * n + pickle.NONE + step * n
    if kind == "empty":
        return pickle.EMPTY_LIST * n
    if kind == "marks":
        return pickle.MARK * n + pickle.POP_MARK * draw(st.sampled_from([0, n]))
    if kind == "memo":
        return pickle.NONE + pickle.MEMOIZE * n
    if kind == "dup":
        return pickle.NONE + pickle.DUP * n
    if kind == "doubling":  # t = (t, t) again and again: hashing it visits 2**k items
        return op_int(1) + (pickle.DUP + pickle.TUPLE2) * min(n, 64)
    if kind == "keys":  # a dict key of nested tuples
        return (
            pickle.EMPTY_DICT
            + pickle.EMPTY_TUPLE
            + pickle.TUPLE1 * n
            + pickle.NONE
            + (pickle.SETITEM)
        )
    # ints that hash alike, as set members (a collision flood, at most 20 000 here)
    count = min(n, 20_000)
    keys = b"".join(op_int(k * _P61 + 7) for k in range(1, count + 1))
    return pickle.EMPTY_SET + pickle.MARK + keys + pickle.ADDITEMS


@st.composite
def raw_ops(draw: st.DrawFn) -> bytes:
    """One opcode of any kind with arguments that may lie (lengths, indices, text)."""
    n = draw(interesting_ints)
    length = draw(st.one_of(st.integers(0, 40), st.sampled_from(_INTERESTING_INTS)))
    blob = draw(st.binary(max_size=24))
    kind = draw(st.integers(0, 40))
    u32 = struct.pack("<I", length % 2**32)
    u64 = struct.pack("<Q", length % 2**64)
    i32 = struct.pack("<i", ((length + 2**31) % 2**32) - 2**31)
    if kind < 6:
        return bytes([draw(st.sampled_from(_SINGLE_OPS))])
    if kind < 8:
        return op_int(n)
    if kind == 8:  # text opcodes of protocol 0
        return draw(
            st.sampled_from(
                [
                    pickle.INT + b"12\n",
                    pickle.LONG + b"123L\n",
                    pickle.FLOAT + b"1.5\n",
                    pickle.STRING + b"'abc'\n",
                    pickle.UNICODE + b"abc\n",
                    pickle.GET + b"0\n",
                    pickle.PUT + b"0\n",
                    pickle.PERSID + b"id\n",
                    pickle.INST + b"os\nsystem\n",
                    pickle.GLOBAL + b"os\nsystem\n",
                    pickle.TRUE,
                    pickle.FALSE,
                ]
            )
        )
    if kind == 9:
        return pickle.BINSTRING + i32 + blob
    if kind == 10:
        return pickle.SHORT_BINSTRING + bytes([length % 256]) + blob
    if kind == 11:
        return pickle.SHORT_BINUNICODE + bytes([length % 256]) + blob
    if kind == 12:
        return pickle.BINUNICODE + u32 + blob
    if kind == 13:
        return pickle.BINUNICODE8 + u64 + blob
    if kind == 14:
        return pickle.SHORT_BINBYTES + bytes([length % 256]) + blob
    if kind == 15:
        return pickle.BINBYTES + u32 + blob
    if kind == 16:
        return pickle.BINBYTES8 + u64 + blob
    if kind == 17:
        return pickle.BYTEARRAY8 + u64 + blob
    if kind == 18:
        return pickle.LONG1 + bytes([length % 256]) + blob
    if kind == 19:  # LONG4 of any length, huge ones included
        return pickle.LONG4 + i32 + blob
    if kind == 20:
        return pickle.BINFLOAT + (blob + bytes(8))[:8]
    if kind == 21:
        return pickle.BINGET + bytes([n % 256])
    if kind == 22:
        return pickle.LONG_BINGET + struct.pack("<I", n % 2**32)
    if kind == 23:
        return pickle.BINPUT + bytes([n % 256])
    if kind == 24:
        return pickle.LONG_BINPUT + struct.pack("<I", n % 2**32)
    if kind == 25:
        return pickle.FRAME + u64
    if kind == 26:
        return pickle.PROTO + bytes([length % 256])
    if kind == 27:
        code = draw(st.sampled_from([pickle.EXT1, pickle.EXT2, pickle.EXT4]))
        return code + struct.pack("<I", n % 2**32)[: {pickle.EXT1: 1, pickle.EXT2: 2}.get(code, 4)]
    if kind == 28:
        module, name = draw(st.sampled_from(ADMITTED + [(m, n) for m, n, _ in DANGEROUS]))
        return draw(st.sampled_from([op_global, op_stack_global]))(module, name)
    if kind == 29:
        return pickle.GLOBAL + blob + b"\n" + blob + b"\n"
    if kind == 30:
        return pickle.GLOBAL + b"a" * draw(st.sampled_from([255, 256, 300])) + b"\n"
    if kind == 31:
        return op_str(draw(st.text(max_size=8)))
    if kind == 32:
        return op_bytes(blob)
    return bytes([draw(st.integers(0, 255))])


@st.composite
def values(draw: st.DrawFn, depth: int = 0) -> bytes:
    """Opcodes that push one value: plain data, containers, calls, arrays or gadgets."""
    if depth > 3:
        return draw(st.one_of(st.just(pickle.NONE), interesting_ints.map(op_int)))
    kind = draw(st.integers(0, 20))
    if kind == 0:
        return op_int(draw(interesting_ints))
    if kind == 1:
        return op_str(draw(st.text(max_size=10)))
    if kind == 2:
        return pickle.BINFLOAT + struct.pack(">d", draw(st.floats()))
    if kind == 3:
        return op_bytes(draw(st.binary(max_size=20)))
    if kind == 4:
        items = draw(st.lists(_s(values, depth + 1), max_size=4))
        return op_tuple(items)
    if kind == 5:
        items = draw(st.lists(_s(values, depth + 1), max_size=4))
        return pickle.EMPTY_LIST + (
            pickle.MARK + b"".join(items) + pickle.APPENDS if items else b""
        )
    if kind == 6:
        pairs = draw(st.lists(st.tuples(_s(values, depth + 1), _s(values, depth + 1)), max_size=3))
        return op_dict(pairs)
    if kind == 7:
        items = draw(st.lists(_s(values, depth + 1), max_size=3))
        op = draw(st.sampled_from([pickle.FROZENSET, pickle.ADDITEMS]))
        prefix = pickle.EMPTY_SET if op == pickle.ADDITEMS else b""
        return prefix + pickle.MARK + b"".join(items) + op
    if kind == 8:
        module, name = draw(st.sampled_from(ADMITTED))
        args = draw(st.lists(_s(values, depth + 1), max_size=3))
        return op_call(op_global(module, name), args)
    if kind in (9, 10):
        return draw(_s(array_ops))
    if kind == 11:
        return draw(_s(dtype_ops))
    if kind == 12:
        return draw(_s(dangerous_ops))
    if kind == 13:
        return draw(_s(report_chain_ops))
    if kind == 14:
        return draw(_s(amplification_ops))
    if kind == 15:  # memoize a value, fetch it back
        inner = draw(_s(values, depth + 1))
        index = draw(st.sampled_from([0, 1, 255, 2**16, 2**31 - 1, 2**32 - 1]))
        return (
            inner
            + pickle.LONG_BINPUT
            + struct.pack("<I", index)
            + (pickle.LONG_BINGET + struct.pack("<I", index))
        )
    if kind == 16:  # OrderedDict / deque with items of any kind
        items = draw(st.lists(_s(values, depth + 1), max_size=3))
        pairs = op_tuple([op_tuple([op_int(i), item]) for i, item in enumerate(items)])
        module, name = draw(
            st.sampled_from([("collections", "OrderedDict"), ("collections", "deque")])
        )
        return op_call(op_global(module, name), [pairs])
    if kind == 17:
        return draw(_s(raw_ops))
    if kind == 18:
        value = draw(_s(values, depth + 1))
        return value + pickle.BUILD + draw(_s(values, depth + 1))
    if kind == 19:  # an admitted global itself, or a dtype or array whose BUILD never comes
        return draw(
            st.one_of(
                st.sampled_from(ADMITTED).map(lambda pair: op_global(*pair)),
                st.just(
                    op_call(
                        op_global("numpy", "dtype"), [op_str("f8"), pickle.NEWFALSE, pickle.NEWTRUE]
                    )
                ),
                st.just(reconstruct_op([])[: -len(op_tuple([]) + pickle.BUILD)]),
                st.just(pickle.BYTEARRAY8 + struct.pack("<Q", MIB) + bytes(MIB)),
            )
        )
    return draw(st.sampled_from([pickle.NONE, pickle.NEWTRUE, pickle.EMPTY_TUPLE]))


@st.composite
def opcode_streams(draw: st.DrawFn) -> bytes:
    """A pickle opcode stream (decompressed content): PROTO, values and raw opcodes, STOP."""
    proto = draw(st.sampled_from([b"\x80\x02", b"\x80\x04", b"\x80\x05"] * 3 + [b"", b"\x80\x06"]))
    if draw(st.booleans()):  # one value: a well-formed pickle, which gets past the framing
        parts = [draw(_s(values))]
    else:
        parts = draw(st.lists(st.one_of(_s(values), _s(raw_ops)), min_size=1, max_size=5))
    body = b"".join(parts)
    framing = draw(
        st.sampled_from(["none"] * 6 + ["right"] * 3 + ["short", "long", "huge", "twice"])
    )
    if framing != "none":
        n = {"right": len(body) + 1, "short": len(body) // 2, "long": len(body) + 100}.get(
            framing, 2**63 if framing == "huge" else len(body) // 2
        )
        frame = pickle.FRAME + struct.pack("<Q", n)
        if framing == "twice":
            body = body[:n] + pickle.FRAME + struct.pack("<Q", len(body) - n + 1) + body[n:]
        body = frame + body
    end = draw(st.sampled_from([pickle.STOP, pickle.STOP, b"", pickle.STOP + b"\x00", b"N."]))
    return proto + body + end


# Values that only a load's own machinery should ever hold: admitted globals, a dtype or an
# array whose BUILD never came, array data read for ``_frombuffer``.
_SPECIALS = [op_global(module, name) for module, name in ADMITTED[:22]] + [
    op_call(op_global("numpy", "dtype"), [op_str("f8"), pickle.NEWFALSE, pickle.NEWTRUE]),
    reconstruct_op([])[: -len(pickle.EMPTY_TUPLE + pickle.BUILD)],
    # 1 MiB of array data for _frombuffer (read into numpy's memory), on the stack by itself
    op_global("numpy._core.numeric", "_frombuffer") + pickle.MARK + bytearray8(bytes(MIB)),
]


@st.composite
def escape_ops(draw: st.DrawFn) -> bytes:
    """A placeholder wrapped in containers and constructors, trying to reach the caller."""
    value = draw(st.sampled_from(_SPECIALS))
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.integers(0, 12))
        if how == 0:
            value = op_tuple([value])
        elif how == 1:
            value = op_tuple([op_int(1), value])
        elif how == 2:
            value = pickle.EMPTY_LIST + value + pickle.APPEND
        elif how == 3:
            value = pickle.MARK + value + pickle.LIST
        elif how == 4:
            value = op_dict([(op_int(1), value)])
        elif how == 5:
            value = op_dict([(value, op_int(1))])
        elif how == 6:
            value = pickle.EMPTY_SET + pickle.MARK + value + pickle.ADDITEMS
        elif how == 7:
            value = pickle.MARK + value + pickle.FROZENSET
        elif how == 8:  # OrderedDict((key, value) pairs) and deque(items)
            pairs = op_tuple([op_tuple([op_int(1), value])])
            value = op_call(op_global("collections", "OrderedDict"), [pairs])
        elif how == 9:
            value = op_call(op_global("collections", "deque"), [op_tuple([value])])
        elif how == 10:
            module, name = draw(st.sampled_from(ADMITTED[:13]))
            value = op_call(op_global(module, name), [op_tuple([value])])
        elif how == 11:  # through the memo
            value = value + pickle.MEMOIZE + pickle.POP + pickle.LONG_BINGET + b"\x00" * 4
        else:
            value = value + pickle.DUP + pickle.TUPLE2
    return value


@st.composite
def deep_dtype_ops(draw: st.DrawFn) -> bytes:
    """A structured (or sub-array) dtype nested very deep, then hashed, compared or used."""
    n = draw(st.sampled_from([2, 40, 1000, 60_000, 140_000]))
    sub = draw(st.booleans())
    code = op_str("V8")
    put = pickle.BINPUT + b"\x05" + pickle.POP
    if sub:  # dtype((inner, (1,)))
        state = [op_int(3), op_str("|"), op_tuple([pickle.BINGET + b"\x05", op_shape((1,))])]
        state += [pickle.NONE, pickle.NONE, op_int(8), op_int(-1), op_int(0)]
    else:  # dtype([("a", inner)])
        fields = op_dict([(op_str("a"), op_tuple([pickle.BINGET + b"\x05", op_int(0)]))])
        state = [op_int(3), op_str("|"), pickle.NONE, op_tuple([op_str("a")]), fields]
        state += [op_int(8), op_int(-1), op_int(0)]
    nest = simple_dtype_op("f8") + (put + dtype_op(code, state)) * n
    use = draw(st.sampled_from(["none", "key", "array", "scalar", "frombuffer", "jax", "eq"]))
    get = pickle.BINGET + b"\x05"
    nest += put  # the nested dtype is in memo slot 5
    array_state = [op_int(1), op_shape((1,)), get, pickle.NEWFALSE, op_bytes(bytes(8))]
    if use == "key":
        return nest + pickle.EMPTY_DICT + get + pickle.NONE + pickle.SETITEM
    if use == "array":
        return nest + reconstruct_op(array_state)
    if use == "scalar":
        func = op_global("numpy._core.multiarray", "scalar")
        return nest + op_call(func, [get, op_bytes(bytes(8))])
    if use == "frombuffer":
        return nest + frombuffer_op(op_bytes(bytes(8)), get, op_shape((1,)))
    if use == "jax":
        return nest + jax_array_op(array_state)
    if use == "eq":  # a set of two equal dtypes: hashed and compared
        return nest + pickle.EMPTY_SET + pickle.MARK + get + get + pickle.ADDITEMS
    return nest + get


@st.composite
def wrapped_amplification_ops(draw: st.DrawFn) -> bytes:
    """An amplification gadget, then hashed, nested in a list, or dropped by a refusal."""
    value = draw(_s(amplification_ops))
    use = draw(st.sampled_from(["none", "none", "key", "member", "list", "refused"]))
    if use == "key":
        return pickle.EMPTY_DICT + value + pickle.NONE + pickle.SETITEM
    if use == "member":
        return pickle.EMPTY_SET + pickle.MARK + value + pickle.ADDITEMS
    if use == "list":
        return pickle.EMPTY_LIST + value + pickle.APPEND
    if use == "refused":  # everything built is freed while the refusal unwinds
        return value + op_global("os", "system")
    return value


# Optional modules a case may have to do without (rlu-serialize depends on none of them).
_WITHOUT = [(), ("numpy", "ml_dtypes", "jax"), ("jax",), ("ml_dtypes",), ("numpy",)]


@st.composite
def opcode_cases(draw: st.DrawFn) -> Case:
    """A crafted opcode stream in an LZ4 frame with a content checksum.

    Mostly a stream from the grammar; otherwise one gadget of a family (amplification, a
    placeholder that tries to escape, a deeply nested dtype, a dangerous call) in an
    otherwise well-formed pickle, sometimes without numpy, ml_dtypes or JAX importable.
    """
    family = draw(st.sampled_from(["grammar"] * 8 + ["amplify", "escape", "dtype", "danger"]))
    max_bytes = draw(_s(max_bytes_options))
    if family == "grammar":
        stream = draw(opcode_streams())
    else:
        strategy = {
            "amplify": _s(wrapped_amplification_ops),
            "escape": _s(escape_ops),
            "dtype": _s(deep_dtype_ops),
            "danger": st.one_of(_s(dangerous_ops), _s(report_chain_ops)),
        }[family]
        stream = pickle_of(draw(strategy), protocol=draw(st.sampled_from([2, 4, 5])))
        if family in ("amplify", "dtype") and draw(st.booleans()):
            max_bytes = None  # the 64 x content bound, not max_bytes, limits it
    without = draw(st.sampled_from([()] * 16 + _WITHOUT[1:]))
    data = compress(stream, store_size=draw(st.booleans()))
    return Case(data, f"opcodes:{family}", max_bytes=max_bytes, without=without)


def max_bytes_options() -> st.SearchStrategy[int | str | None]:
    """Mostly the runner's ``max_bytes``; sometimes a tiny one, or the library default."""
    return st.sampled_from([RUNNER] * 16 + [0, 100, MIB, None])


# -- realistic checkpoints and their mutations -------------------------------------------------


def jax_module() -> Any:
    try:
        import jax
    except ImportError:  # pragma: no cover - jax is optional
        return None
    return jax


_STRUCTURED = [
    np.dtype([("a", "<f4"), ("b", "<i2", (2,))]),
    np.dtype([("x", "<f8"), ("y", "u1")], align=True),
    np.dtype([("inner", [("p", "<i4"), ("q", "S3")]), ("t", "M8[ms]")]),
]
_ARRAY_DTYPES: list[Any] = ["float32", "float64", "int8", "uint16", "int64", "bool", "complex64"]
_ARRAY_DTYPES += ["float16", ">f8", "<i4", "datetime64[ns]", "timedelta64[s]", "S5", "U3", "V4"]
_ARRAY_DTYPES += _STRUCTURED


@st.composite
def arrays(draw: st.DrawFn) -> Any:
    """A numpy array of one of many dtypes (structured and datetime included), any layout."""
    dtype = np.dtype(draw(st.sampled_from(_ARRAY_DTYPES)))
    shape = draw(st.sampled_from([(), (0,), (3,), (2, 3), (4, 1, 2), (64,), (3, 0, 2)]))
    if draw(st.integers(0, 15)) == 0:  # large: its data is read straight into numpy's memory
        shape = ((MIB + 4096) // dtype.itemsize + 1,)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    count = int(np.prod(shape))
    raw = rng.integers(0, 256, min(count * dtype.itemsize, 4096), dtype=np.uint8).tobytes()
    raw = raw.ljust(count * dtype.itemsize, b"\x00")  # large arrays: mostly zeros
    if dtype.kind in "Mm":
        raw = np.arange(count, dtype="<i8").tobytes()
    if dtype.kind == "U":
        raw = np.full(count, "abc", dtype=dtype).tobytes()
    array = np.frombuffer(raw, dtype=dtype, count=count).reshape(shape).copy()
    if draw(st.integers(0, 4)) == 0 and array.ndim > 1:
        array = np.asfortranarray(array)
    return array


@st.composite
def scalars(draw: st.DrawFn) -> Any:
    """A plain leaf: Python and numpy scalars, text, bytes, ranges, slices, dtypes, types."""
    return draw(
        st.one_of(
            st.integers(-(2**70), 2**70),
            st.floats(allow_nan=False),
            st.text(max_size=8),
            st.binary(max_size=8),
            st.binary(max_size=8).map(bytearray),
            st.complex_numbers(allow_nan=False, allow_infinity=False),
            st.sampled_from([None, True, False, range(3, 9, 2), slice(1, None, 2)]),
            st.sampled_from([np.float32(1.5), np.int64(-3), np.bool_(True), np.uint8(7)]),
            st.sampled_from([np.datetime64("2024-01-02T03:04", "ms"), np.complex64(1j)]),
            st.sampled_from([np.dtype("f4"), np.dtype(">i8"), _STRUCTURED[0], np.float32]),
            st.sampled_from([np.dtype("M8[D]"), np.dtype(("f8", (2, 3))), float, int]),
        )
    )


@st.composite
def jax_arrays(draw: st.DrawFn) -> Any:
    """A JAX array (bfloat16 and weak-typed ones included), or a numpy one without JAX."""
    jax = jax_module()
    if jax is None:
        return draw(_s(arrays))
    jnp = jax.numpy
    kind = draw(st.sampled_from(["f32", "bf16", "i8", "weak", "u32", "bool"]))
    n = draw(st.integers(0, 12))
    if kind == "weak":
        return jnp.asarray(1.5)
    dtype = {"f32": jnp.float32, "bf16": jnp.bfloat16, "i8": jnp.int8, "u32": jnp.uint32}
    return jnp.arange(n).astype(dtype.get(kind, jnp.bool_))


def _ml_dtypes_array(n: int) -> Any:
    try:
        import ml_dtypes
    except ImportError:  # pragma: no cover
        return np.arange(n, dtype=np.float32)
    return np.arange(n, dtype=np.float32).astype(ml_dtypes.bfloat16)


def payloads() -> st.SearchStrategy[Any]:
    """Realistic checkpoint payloads: dicts of arrays, lists, sets, OrderedDicts, tuples."""
    leaves = st.one_of(
        _s(arrays), _s(arrays), _s(scalars), _s(jax_arrays), st.integers(0, 8).map(_ml_dtypes_array)
    )
    keys = st.one_of(st.text(max_size=6), st.integers(-5, 5), st.tuples(st.integers(), st.text()))

    def extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            st.dictionaries(keys, inner, max_size=4),
            st.lists(inner, max_size=4),
            st.lists(inner, max_size=3).map(tuple),
            st.lists(inner, max_size=3).map(lambda items: (tuple(items), [items])),
            st.dictionaries(keys, inner, max_size=3).map(collections.OrderedDict),
            st.lists(inner, max_size=3).map(collections.deque),
            st.frozensets(st.integers(-9, 9) | st.text(max_size=3), max_size=4),
            st.sets(st.integers() | st.tuples(st.integers(), st.floats(allow_nan=False))),
        )

    return st.recursive(leaves, extend, max_leaves=8)


def checkpoint(obj: Any) -> bytes:
    """``rlu_serialize.dumps(obj)`` decompressed: the pickle a real checkpoint holds."""
    import rlu_serialize  # what loads need, imported once here (numpy too), not in each child

    return bytes(lz4.frame.decompress(rlu_serialize.dumps(obj)))


def _ops(content: bytes) -> list[tuple[str, Any, int, int]]:
    """(name, argument, start, end) of each opcode of a pickle, as far as it parses."""
    found: list[tuple[str, Any, int]] = []
    try:
        for op, arg, pos in pickletools.genops(content):
            found.append((op.name, arg, pos or 0))
    except Exception:  # a broken tail: keep what parsed
        pass
    if not found:
        return []
    ends = [pos for _, _, pos in found[1:]] + [len(content)]
    return [(name, arg, pos, end) for (name, arg, pos), end in zip(found, ends, strict=True)]


def unframe(content: bytes) -> bytes:
    """``content`` without its FRAME opcodes (so that edits cannot break the framing)."""
    ops = _ops(content)
    kept = [content[start:end] for name, _, start, end in ops if name != "FRAME"]
    parsed = ops[-1][3] if ops else 0
    return b"".join(kept) + content[parsed:]


def reframe(content: bytes) -> bytes:
    """``content`` with one FRAME around all that follows its PROTO."""
    head = 2 if content[:1] == pickle.PROTO else 0
    rest = content[head:]
    return content[:head] + pickle.FRAME + struct.pack("<Q", len(rest)) + rest


# Strings a mutation may put in place of another: type codes, byte orders, names.
_WORDS = ["O8", "O", "V8", "f8", "<f8", "|", ">", "", "M8", "S0", "U4", "numpy", "os", "system"]
_WORDS += ["builtins", "eval", "_reconstruct", "ndarray", "dtype", "weak_type", "latin1", "F"]


def _argument(draw: st.DrawFn, name: str, arg: Any) -> bytes | None:
    """A new opcode for ``name`` with another argument of the same kind, or None."""
    if name in ("BININT", "BININT1", "BININT2", "LONG1", "LONG4"):
        return op_int(draw(st.one_of(interesting_ints, st.integers(-(2**70), 2**70))))
    if name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8"):
        return op_str(draw(st.one_of(st.sampled_from(_WORDS), st.text(max_size=4))))
    if name in ("SHORT_BINBYTES", "BINBYTES", "BINBYTES8", "BYTEARRAY8"):
        data = bytes(arg)
        size = draw(st.sampled_from([0, 1, len(data) - 1, len(data) + 1, 2 * len(data), 8]))
        data = (data * 2 + bytes(8))[: max(size, 0)]
        return bytearray8(data) if name == "BYTEARRAY8" else op_bytes(data)
    if name in ("BINPUT", "LONG_BINPUT", "BINGET", "LONG_BINGET"):
        index = draw(st.sampled_from([0, 1, 2, 255, 256, 2**31, 2**32 - 1]))
        code = pickle.LONG_BINPUT if "PUT" in name else pickle.LONG_BINGET
        return code + struct.pack("<I", index)
    if name == "GLOBAL":
        return op_global(*draw(st.sampled_from(ADMITTED + [(m, n) for m, n, _ in DANGEROUS])))
    return None


def mutate(draw: st.DrawFn, content: bytes) -> bytes:
    """``content`` with 1 to 6 mutations: flips, new arguments, insertions, deletions, splices.

    Positions are opcode starts half of the time. The FRAME opcodes are taken out first (and
    sometimes one is put back around the result), so that a change of length does more than
    break a frame.
    """
    data = bytearray(unframe(content))
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3, 6]))):
        if not data:
            data += pickle.PROTO
        ops = _ops(bytes(data))
        if ops and draw(st.booleans()):
            name, arg, pos, end = ops[draw(st.integers(0, len(ops) - 1))]
        else:
            name, arg, pos = "", None, draw(st.integers(0, len(data) - 1))
            end = pos + 1
        pos = min(pos, len(data) - 1)
        kind = draw(st.integers(0, 11))
        if kind == 0:  # flip a bit
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == 1:  # another byte (another opcode where it was one)
            data[pos] = draw(st.integers(0, 255))
        elif kind == 2:  # a length or index after an opcode
            width = draw(st.sampled_from([1, 2, 4, 8]))
            value = draw(st.sampled_from(_INTERESTING_INTS)) % 2 ** (8 * width)
            data[pos + 1 : pos + 1 + width] = value.to_bytes(width, "little")
        elif kind in (3, 4):  # the same opcode with another argument (int, text, bytes, memo)
            replacement = _argument(draw, name, arg) if name else None
            if replacement is not None:
                data[pos:end] = replacement
        elif kind == 5:  # insert opcodes
            data[pos:pos] = draw(st.one_of(_s(raw_ops), _s(values, 3)))
        elif kind == 6:  # insert a whole gadget
            data[pos:pos] = draw(st.one_of(_s(dangerous_ops), _s(array_ops), _s(dtype_ops)))
        elif kind == 7:  # delete an opcode or a range
            end = end if name else pos + draw(st.sampled_from([1, 2, 4, 9, 64, 4096]))
            del data[pos:end]
        elif kind == 8:  # duplicate a range (a splice of the pickle into itself)
            start = draw(st.integers(0, len(data) - 1))
            data[pos:pos] = data[start : start + draw(st.sampled_from([1, 8, 40, 400]))]
        elif kind == 9:  # move a range elsewhere
            start = draw(st.integers(0, len(data) - 1))
            piece = data[start : start + draw(st.sampled_from([2, 16, 100]))]
            del data[start : start + len(piece)]
            data[min(pos, len(data)) : min(pos, len(data))] = piece
        elif kind == 10:  # truncate
            del data[pos:]
        else:  # append junk
            data += draw(st.binary(max_size=8))
    return reframe(bytes(data)) if draw(st.integers(0, 3)) == 0 else bytes(data)


@st.composite
def pickle_mutation_cases(draw: st.DrawFn) -> Case:
    """A real checkpoint whose pickle is mutated, recompressed with a content checksum."""
    content = checkpoint(draw(_s(payloads)))
    if draw(st.integers(0, 3)) == 0:  # splice in a second checkpoint's opcodes
        other = checkpoint(draw(_s(payloads)))
        cut = draw(st.integers(0, len(content)))
        start = draw(st.integers(0, len(other)))
        content = content[:cut] + other[start:] + content[cut:]
    mutated = mutate(draw, content)
    via_file = draw(st.integers(0, 9)) == 0
    max_bytes = draw(_s(max_bytes_options))
    without = draw(st.sampled_from([()] * 16 + _WITHOUT[1:]))
    return Case(
        compress(mutated),
        "pickle-mutation",
        max_bytes=max_bytes,
        via_file=via_file,
        without=without,
    )


def xxh32(data: bytes, seed_: int = 0) -> int:
    """XXH32 of ``data`` (what an LZ4 frame header's checksum is made of)."""
    p1, p2, p3, p4, p5, mask = 2654435761, 2246822519, 3266489917, 668265263, 374761393, 2**32 - 1

    def rotl(x: int, r: int) -> int:
        return ((x << r) | (x >> (32 - r))) & mask

    n, i = len(data), 0
    if n >= 16:
        lanes = [(seed_ + p1 + p2) & mask, (seed_ + p2) & mask, seed_, (seed_ - p1) & mask]
        while i + 16 <= n:
            for j in range(4):
                word = int.from_bytes(data[i : i + 4], "little")
                lanes[j] = rotl((lanes[j] + word * p2) & mask, 13) * p1 & mask
                i += 4
        h = rotl(lanes[0], 1) + rotl(lanes[1], 7) + rotl(lanes[2], 12) + rotl(lanes[3], 18)
    else:
        h = seed_ + p5
    h = (h + n) & mask
    while i + 4 <= n:
        h = rotl((h + int.from_bytes(data[i : i + 4], "little") * p3) & mask, 17) * p4 & mask
        i += 4
    while i < n:
        h = rotl((h + data[i] * p5) & mask, 11) * p1 & mask
        i += 1
    h ^= h >> 15
    h = h * p2 & mask
    h ^= h >> 13
    h = h * p3 & mask
    return h ^ (h >> 16)


def reheader(
    frame: bytes, flg: int | None = None, bd: int | None = None, size: int | None = None
) -> bytes:
    """``frame`` with a new header (FLG, BD, content size) and a matching header checksum."""
    old_flg = frame[4]
    length = 7 + (8 if old_flg & 0x08 else 0) + (4 if old_flg & 0x01 else 0)
    new_flg = old_flg if flg is None else flg
    descriptor = bytes([new_flg, frame[5] if bd is None else bd])
    if new_flg & 0x08:
        old_size = struct.unpack_from("<Q", frame, 6)[0] if old_flg & 0x08 else 0
        descriptor += struct.pack("<Q", (old_size if size is None else size) % 2**64)
    if new_flg & 0x01:
        descriptor += b"\x01\x00\x00\x00"
    check = bytes([(xxh32(descriptor) >> 8) & 0xFF])
    return frame[:4] + descriptor + check + frame[length:]


@st.composite
def frame_mutation_cases(draw: st.DrawFn) -> Case:
    """Raw mutations of a compressed checkpoint: bytes, headers, trailing data, bombs."""
    kind = draw(st.integers(0, 9))
    if kind == 0:  # an LZ4 bomb: far more content than max_bytes, or just under it
        size = draw(st.sampled_from([MIB, 63 * MIB, 65 * MIB, 200 * MIB]))
        head = draw(st.sampled_from([b"\x80\x04", b"\x80\x04]", b""]))
        filler = draw(st.sampled_from([b"\x00", b"]", b"N", b"("]))
        return Case(_bomb(size, head, filler, draw(st.booleans())), "frame-mutation")
    frame = bytearray(
        lz4.frame.compress(
            checkpoint(draw(_s(payloads))),
            content_checksum=draw(st.booleans()),
            block_checksum=draw(st.booleans()),
            store_size=draw(st.booleans()),
            block_size=draw(st.sampled_from([0, 4, 5, 6, 7])),
        )
    )
    if kind <= 3:  # flip or overwrite bytes anywhere
        for _ in range(draw(st.integers(1, 4))):
            pos = draw(st.integers(0, len(frame) - 1))
            frame[pos] = (
                draw(st.integers(0, 255))
                if kind == 1
                else frame[pos] ^ 1 << draw(st.integers(0, 7))
            )
    elif kind == 4:  # truncate, or append junk, another frame or a skippable frame
        tail = draw(
            st.sampled_from(
                [b"", b"\x00", bytes(frame), b"\x50\x2a\x4d\x18\x04\x00\x00\x00abcd", b"junk"]
            )
        )
        cut = draw(st.integers(0, len(frame)))
        frame = frame[:cut] + tail if draw(st.booleans()) else frame + tail
    elif kind in (5, 6):  # a new header with a valid checksum: flags, block size, content size
        flg = draw(st.sampled_from([None, 0x60, 0x64, 0x6C, 0x70, 0x7C, 0x65, 0x40, 0x62]))
        bd = draw(st.sampled_from([None, 0x40, 0x70, 0x00, 0x80, 0x7F]))
        size = draw(st.sampled_from([None, 0, 1, 100, 2**31, 2**63, 64 * MIB + 1]))
        frame = bytearray(reheader(bytes(frame), flg, bd, size))
    elif kind == 7:  # a block whose size field lies (uncompressed bit flipped, huge sizes)
        header = 7 + (8 if frame[4] & 0x08 else 0)
        word = struct.unpack_from("<I", frame, header)[0]
        value = draw(st.sampled_from([word ^ 0x80000000, 0x7FFFFFFF, 0, word + 1, 4 * MIB + 1]))
        struct.pack_into("<I", frame, header, value)
    elif kind == 8:  # a skippable frame first, or a signature-like frame after
        skip = b"\x5b\x2a\x4d\x18" + struct.pack("<I", 49) + b"rlu-hmac-sha256/1" + bytes(32)
        frame = bytearray(skip + frame) if draw(st.booleans()) else frame + skip
    else:  # the end mark or content checksum damaged
        frame[-draw(st.integers(1, min(8, len(frame)))) :] = b""
    return Case(bytes(frame), "frame-mutation", via_file=draw(st.integers(0, 4)) == 0)


_BOMBS: dict[tuple[int, bytes, bytes, bool], bytes] = {}


def _bomb(size: int, head: bytes, filler: bytes, store_size: bool) -> bytes:
    """A frame of ``size`` bytes of content (``head`` then ``filler``), highly compressed."""
    key = (size, head, filler, store_size)
    if key not in _BOMBS:
        if len(_BOMBS) > 8:
            _BOMBS.clear()
        content = head + filler * (size - len(head))
        _BOMBS[key] = compress(content, store_size=store_size)
    return _BOMBS[key]


def generators() -> list[tuple[st.SearchStrategy[Case], float]]:
    """The case strategies with their share of the cases."""
    return [(opcode_cases(), 0.5), (pickle_mutation_cases(), 0.4), (frame_mutation_cases(), 0.1)]


def draw_cases(strategy: st.SearchStrategy[Case], n: int, seed_: int) -> list[Case]:
    """``n`` cases from ``strategy``, drawn by hypothesis from ``seed_`` (no shrinking)."""
    found: list[Case] = []
    attempt = 0
    while len(found) < n and attempt < 50:

        @settings(
            max_examples=n - len(found),
            database=None,
            phases=[Phase.generate],
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @seed(seed_ * 1000 + attempt)
        @given(strategy)
        def gather(case: Case) -> None:
            found.append(case)

        try:
            gather()
        except FlakyStrategyDefinition:
            # A checkpoint's bytes can differ between two draws of the same payload (pickle
            # memoizes by identity), and hypothesis notices when it replays a draw: keep the
            # cases drawn so far and go on from the next seed.
            pass
        attempt += 1
    return found[:n]


def generate(n: int, seed_: int = 0, batch: int = 250) -> Iterator[list[Case]]:
    """``n`` cases across the generators, in shuffled batches of about ``batch``."""
    import random

    done = 0
    index = 0
    while done < n:
        take = min(batch, n - done)
        cases: list[Case] = []
        for strategy, share in generators():
            cases += draw_cases(strategy, max(1, round(take * share)), seed_ * 7919 + index)
            index += 1
        random.Random(seed_ + done).shuffle(cases)
        cases = cases[:take]
        done += len(cases)
        yield cases


def jax_array_pickle(n: int = 3) -> bytes:
    """The pickle of ``jax.numpy.zeros(n, "float32")``, written without JAX."""
    dtype = simple_dtype_op("f4")
    return pickle_of(
        jax_array_op([op_int(1), op_shape((n,)), dtype, pickle.NEWFALSE, op_bytes(bytes(4 * n))])
    )
