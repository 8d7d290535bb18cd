"""What a restricted load may build, and how: each global it admits, rebuilt from checked parts.

A pickle names a callable (a *global*) and the arguments to call it with. A restricted load
calls none of them: for each admitted global it has a constructor of its own here, which
checks the arguments' types and values and builds the object through public constructors
(``numpy.dtype`` from a validated description, ``numpy.frombuffer`` over bytes whose length
matches the shape, ``jax.device_put`` of such an array). Everything else is refused with
[`ForbiddenGlobalError`][rlu_serialize.ForbiddenGlobalError], by name, before anything is
imported. numpy, ml_dtypes and JAX are imported only when the data names them.
"""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from rlu_serialize._errors import LoadRefusedError

_NUMPY_CORE = ("numpy._core", "numpy.core")  # numpy >= 2 and numpy 1.x
_BUILTINS = ("builtins", "__builtin__")  # protocols 0-2 write Python 2's name
# The scalar types a pickle may mention as values (``{"dtype": np.float32}``).
_NUMPY_TYPES = (
    "bool_",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
)
# ml_dtypes' scalar types (JAX's bfloat16 and the 8-bit floats), admitted as dtypes.
_ML_DTYPES = (
    "bfloat16",
    "float8_e4m3fn",
    "float8_e4m3fnuz",
    "float8_e4m3b11fnuz",
    "float8_e5m2",
    "float8_e5m2fnuz",
    "int4",
    "uint4",
)
# Type codes numpy's dtype pickles use: kind and item size (no object dtype "O").
_TYPECODE = re.compile(r"(b1|[iu][1248]|f(2|4|8|12|16)|c(8|16|24|32)|[SUV]\d{1,9}|[Mm]8)\Z")
_TIME_UNITS = ("Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as")
_ALIGNED_STRUCT = 0x80  # numpy's flag for a structured dtype made with align=True
MAX_KEY_DEPTH = 100  # deepest tuple/frozenset hashed as a dict key or set member
MAX_KEY_SIZE = 10**6  # most items in such a key, counted with repeats (tuples cache no hash)
MAX_DTYPE_DEPTH = 32  # deepest nesting of sub-array and structured dtypes
_MAX_DIMS = 64  # numpy's own limit


def refuse(what: str) -> LoadRefusedError:
    """The error for data a restricted load does not accept."""
    return LoadRefusedError(f"restricted load (trusted=False) refuses {what}")


def _short(value: Any) -> str:
    """A short description of ``value`` for an error message (never a long repr)."""
    kind = type(value)
    if kind in (str, bytes):
        text = repr(value[:60])
    elif kind is int and value.bit_length() <= 64 or kind in (float, bool, type(None)):
        text = repr(value)
    else:
        text = f"a {kind.__name__}"
    return text if len(text) <= 60 else text[:57] + "..."


class Special:
    """Base of the load's own placeholders, which must never reach the caller."""

    name = "?"


class Constructor(Special):
    """An admitted global: REDUCE calls ``build`` with the checked argument tuple."""

    def __init__(self, name: str, build: Callable[[tuple[Any, ...]], Any]) -> None:
        self.name = name
        self.build = build


class Placeholder(Special):
    """An admitted global that is only ever an argument (``numpy.ndarray`` for ``_reconstruct``)."""

    def __init__(self, name: str) -> None:
        self.name = name


class Pending(Special):
    """A dtype or array whose REDUCE has run and whose BUILD (its state) is still to come."""

    def __init__(self, name: str, finish: Callable[[Any], Any]) -> None:
        self.name = name
        self.finish = finish
        self.memo_slots: list[int] = []


class Bulk(Special):
    """Array data read straight into a numpy buffer; only ever the data of ``_frombuffer``."""

    name = "array data"

    def __init__(self, array: Any) -> None:
        self.array = array


# -- numpy -------------------------------------------------------------------------------


def _numpy() -> Any:
    import numpy

    return numpy


def _is_int(value: Any) -> bool:
    return type(value) is int


def _is(value: Any, *options: Any) -> bool:
    """Whether ``value`` is one of ``options``, compared only when the types match."""
    return type(value) in {type(option) for option in options} and value in options


def _shape(value: Any, what: str) -> tuple[int, ...]:
    if type(value) is not tuple or len(value) > _MAX_DIMS:
        raise refuse(f"{what}: a shape must be a tuple of at most {_MAX_DIMS} ints")
    if not all(_is_int(n) and n >= 0 for n in value):
        raise refuse(f"{what}: a shape must hold ints >= 0, got {_short(value)}")
    return value


def _dtype_value(value: Any, what: str) -> Any:
    np = _numpy()
    if not isinstance(value, np.dtype) or value.hasobject:
        raise refuse(f"{what}: expected a dtype rebuilt by this load, got {_short(value)}")
    return value


def _start_dtype(args: tuple[Any, ...]) -> Pending:
    if len(args) != 3 or not _is(args[1], False, 0) or not _is(args[2], True, 1, False, 0):
        raise refuse(f"numpy.dtype called with {len(args)} arguments other than (code, 0, 1)")
    code = args[0]
    if isinstance(code, str):
        if not _TYPECODE.match(code):
            raise refuse(
                f"the dtype code {_short(code)} (bool, numbers, bytes, str, void and datetime "
                "dtypes load; object dtypes are never loaded)"
            )
    elif not (isinstance(code, type) and code in _ml_dtypes_types()):
        raise refuse(f"a dtype described by {_short(code)}")
    return Pending("numpy.dtype", lambda state: _finish_dtype(code, state))


def _ml_dtypes_types() -> tuple[type, ...]:
    import sys

    module = sys.modules.get("ml_dtypes")
    return tuple(getattr(module, name) for name in _ML_DTYPES if hasattr(module, name))


def _finish_dtype(code: Any, state: Any) -> Any:
    np = _numpy()
    if type(state) is not tuple or len(state) not in (8, 9) or not _is(state[0], 3, 4):
        raise refuse(f"a dtype state that is not numpy's (version 3 or 4): {_short(state)}")
    _, order, sub, names, fields, elsize, _, flags = state[:8]
    metadata = state[8] if len(state) == 9 else None
    if not _is(order, "<", ">", "|", "="):
        raise refuse(f"the byte order {_short(order)}")
    if not (_is_int(elsize) and _is_int(flags)):
        raise refuse("a dtype state whose item size or flags are not ints")
    try:
        if not isinstance(code, str):  # an ml_dtypes type
            if order == ">" or sub is not None or names is not None:
                raise refuse(f"an ml_dtypes dtype with state {_short(state)}")
            dtype = np.dtype(code)
        elif sub is not None:
            if code[0] != "V" or type(sub) is not tuple or len(sub) != 2:
                raise refuse(f"a sub-array dtype state {_short(sub)}")
            base = _dtype_value(sub[0], "a sub-array dtype")
            dtype = np.dtype((base, _shape(sub[1], "a sub-array dtype")))
        elif names is not None:
            dtype = _structured(code, names, fields, elsize, flags)
        elif code[0] in "Mm":
            unit = _time_unit(metadata)
            dtype = np.dtype(f"{order}{code[0]}8" + (f"[{unit}]" if unit else ""))
        else:
            dtype = np.dtype(order + code)
    except (TypeError, ValueError, OverflowError) as err:
        raise refuse(f"the dtype {_short(code)} ({err})") from None
    if not _is(elsize, -1, dtype.itemsize) or dtype.hasobject:
        raise refuse(f"a dtype of item size {elsize} where {_short(code)} has {dtype.itemsize}")
    if _dtype_depth(dtype) > MAX_DTYPE_DEPTH:  # numpy hashes and compares dtypes recursively
        raise refuse(f"a dtype nested over {MAX_DTYPE_DEPTH} deep")
    return dtype


def _children(dtype: Any) -> list[Any]:
    children = [] if dtype.subdtype is None else [dtype.subdtype[0]]
    if dtype.fields:
        children += [field[0] for field in dtype.fields.values()]
    return children


def _dtype_depth(dtype: Any) -> int:
    """Nesting depth of ``dtype`` (1 for a plain dtype), walked without recursion."""
    depths: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(dtype, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in depths:
            continue
        children = _children(node)
        if expanded:
            depths[id(node)] = 1 + max((depths[id(c)] for c in children), default=0)
        else:
            stack.append((node, True))
            stack += [(child, False) for child in children if id(child) not in depths]
    return depths[id(dtype)]


def _time_unit(metadata: Any) -> str:
    # (user metadata: None, or an empty dict in older numpy; (unit, count, 1, 1))
    if type(metadata) is not tuple or len(metadata) != 2 or metadata[0] not in (None, {}):
        raise refuse(f"datetime metadata {_short(metadata)}")
    unit = metadata[1]
    if type(unit) is not tuple or len(unit) != 4 or type(unit[0]) is not bytes:
        raise refuse(f"a datetime unit {_short(unit)}")
    name, count = unit[0].decode("utf-8", "replace"), unit[1]
    if name == "generic":
        return ""
    if name not in _TIME_UNITS or not _is_int(count) or not 1 <= count < 2**31:
        raise refuse(f"a datetime unit {_short(unit)}")
    return f"{count}{name}"


def _structured(code: str, names: Any, fields: Any, elsize: Any, flags: int) -> Any:
    np = _numpy()
    if code[0] != "V" or type(names) is not tuple or type(fields) is not dict:
        raise refuse("a structured dtype whose names or fields are not a tuple and a dict")
    if len(names) != len(fields) or not all(type(n) is str and n in fields for n in names):
        raise refuse("a structured dtype whose fields do not match its names (titles included)")
    formats, offsets = [], []
    for name in names:
        field = fields[name]
        if type(field) is not tuple or len(field) != 2 or not _is_int(field[1]):
            raise refuse(f"the structured field {_short(name)}")
        formats.append(_dtype_value(field[0], f"the field {_short(name)}"))
        offsets.append(field[1])
    spec = {"names": list(names), "formats": formats, "offsets": offsets, "itemsize": elsize}
    return np.dtype(spec, align=bool(flags & _ALIGNED_STRUCT))


def _array_from(data: Any, dtype: Any, shape: tuple[int, ...], fortran: bool, what: str) -> Any:
    np = _numpy()
    count = 1
    for n in shape:
        count *= n
    if count * dtype.itemsize != len(data):
        raise refuse(
            f"{what}: {len(data)} bytes of data for shape {shape} of {dtype} "
            f"({count * dtype.itemsize} expected)"
        )
    order = "F" if fortran else "C"
    if count == 0:
        return np.empty(shape, dtype, order=order)
    array = np.frombuffer(data, dtype, count).reshape(shape, order=order)
    _check_code_points(array, what)
    return array


def _check_code_points(array: Any, what: str) -> None:
    """Refuse str data (dtype ``U``) past U+10FFFF: numpy would fail only when it is read."""
    np = _numpy()
    dtype = array.dtype
    parts = [array] if dtype.kind == "U" else []
    if dtype.fields:
        parts += [array[name] for name, field in dtype.fields.items() if field[0].base.kind == "U"]
    for part in parts:
        order = part.dtype.byteorder
        code_unit = np.dtype((order if order in "<>" else "=") + "u4")
        codes = np.ascontiguousarray(part).reshape(-1).view(code_unit)
        if codes.size and int(codes.max()) > 0x10FFFF:
            raise refuse(f"{what}: str data with a code point past U+10FFFF")


def _frombuffer(args: tuple[Any, ...]) -> Any:
    what = "numpy._core.numeric._frombuffer"
    if len(args) != 4 or not _is(args[3], "C", "F"):
        raise refuse(f"{what} called with other than (bytes, dtype, shape, 'C' or 'F')")
    data = args[0].array if type(args[0]) is Bulk else args[0]
    if type(args[0]) is not Bulk and type(data) not in (bytes, bytearray):
        raise refuse(f"{what} called with data {_short(data)}")
    dtype = _dtype_value(args[1], what)
    return _array_from(data, dtype, _shape(args[2], what), args[3] == "F", what)


def _start_reconstruct(args: tuple[Any, ...]) -> Pending:
    what = "numpy._core.multiarray._reconstruct"
    if len(args) != 3 or not (type(args[0]) is Placeholder and args[0].name == "numpy.ndarray"):
        raise refuse(f"{what} called with other than (numpy.ndarray, shape, typecode)")
    _shape(args[1], what)
    if type(args[2]) not in (bytes, str) or len(args[2]) != 1:
        raise refuse(f"{what} called with the type code {_short(args[2])}")
    return Pending(what, _finish_array)


def _finish_array(state: Any) -> Any:
    what = "an ndarray state"
    if type(state) is not tuple or len(state) not in (4, 5):
        raise refuse(f"{what} that is not numpy's (shape, dtype, fortran, data)")
    if len(state) == 5:
        if not _is(state[0], 1):
            raise refuse(f"{what} of version {_short(state[0])}")
        state = state[1:]
    shape, dtype, fortran, data = state
    if not _is(fortran, True, False, 0, 1):
        raise refuse(f"{what} whose Fortran flag is {_short(fortran)}")
    if type(data) is str:  # protocols 0-2 store the bytes as latin-1 text
        data = data.encode("latin-1")
    if type(data) not in (bytes, bytearray):
        raise refuse(f"{what} whose data is {_short(data)} (object arrays are never loaded)")
    dtype = _dtype_value(dtype, what)
    # a copy of the bytes (padding included), writable, as numpy's own unpickling gives
    array = _array_from(bytearray(data), dtype, _shape(shape, what), bool(fortran), what)
    if not dtype.isnative:  # numpy's __setstate__ hands back native byte order
        array = array.astype(dtype.newbyteorder("="))
    return array


def _scalar(args: tuple[Any, ...]) -> Any:
    np = _numpy()
    what = "numpy._core.multiarray.scalar"
    if len(args) != 2:
        raise refuse(f"{what} called with {len(args)} arguments instead of (dtype, bytes)")
    dtype, data = _dtype_value(args[0], what), args[1]
    if type(data) is str:
        data = data.encode("latin-1")
    if type(data) is not bytes or len(data) != dtype.itemsize:
        raise refuse(f"{what}: {_short(data)} is not {dtype.itemsize} bytes of {dtype}")
    if dtype.itemsize == 0:  # np.bytes_(b""), np.str_(""), np.void(b"")
        if dtype.kind not in "SUV":
            raise refuse(f"{what}: a scalar of {dtype} without data")
        return dtype.type("" if dtype.kind == "U" else b"")
    return np.frombuffer(bytearray(data), dtype, 1)[0]


def _jax_array(args: tuple[Any, ...]) -> Any:
    what = "jax._src.array._reconstruct_array"
    if (
        len(args) != 4
        or type(args[0]) is not Constructor
        or args[0].build is not _start_reconstruct
    ):
        raise refuse(f"{what} called with other than (_reconstruct, args, state, aval state)")
    if type(args[1]) is not tuple:
        raise refuse(f"{what} called with arguments {_short(args[1])} for _reconstruct")
    _start_reconstruct(args[1])
    array = _finish_array(args[2])
    aval = args[3]
    # JAX before 0.4.36 also wrote an (always empty) named_shape
    if type(aval) is not dict or set(aval) - {"weak_type", "named_shape"}:
        raise refuse(f"{what}: an aval state other than {{'weak_type': bool}}")
    named_shape = aval.get("named_shape", {})
    if type(named_shape) is not dict or named_shape:
        raise refuse(f"{what}: a named_shape other than {{}}")
    weak = aval.get("weak_type", False)
    if type(weak) is not bool:
        raise refuse(f"{what}: weak_type {_short(weak)}")
    # JAX's own reconstruction (weak types differ between JAX versions), given only parts
    # this load built and checked: a fresh empty array, and the state of the checked copy
    import importlib

    importlib.import_module("jax")  # JAX itself must load (it may be uninstalled or blocked)
    rebuild: Callable[..., Any] = importlib.import_module("jax._src.array")._reconstruct_array
    blank = _numpy().empty(0, "uint8")
    return rebuild(blank.copy, (), array.__reduce__()[2], {"weak_type": weak})


# -- builtins and collections ----------------------------------------------------------------


def _number(value: Any) -> bool:
    return type(value) in (int, float, bool)


def _complex(args: tuple[Any, ...]) -> complex:
    if not 1 <= len(args) <= 2 or not all(_number(x) for x in args):
        raise refuse("complex called with other than one or two numbers")
    return complex(*args)


def _items(args: tuple[Any, ...], what: str) -> list[Any] | tuple[Any, ...]:
    if not args:
        return ()
    items = args[0]
    if len(args) != 1 or not isinstance(items, (list, tuple)) or type(items) not in (list, tuple):
        raise refuse(f"{what} called with other than one list")
    return items


def _bytearray(args: tuple[Any, ...]) -> bytearray:
    if not args:
        return bytearray()
    if len(args) == 1 and type(args[0]) is bytes:
        return bytearray(args[0])
    if len(args) == 2 and type(args[0]) is str and _is(args[1], "latin-1", "latin1"):
        return bytearray(args[0].encode("latin-1"))
    raise refuse("bytearray called with other than bytes or (str, 'latin-1')")


def _bytes(args: tuple[Any, ...]) -> bytes:
    if args:
        raise refuse("bytes called with arguments (a pickle calls it only for b'')")
    return b""


def _encode(args: tuple[Any, ...]) -> bytes:
    if len(args) != 2 or type(args[0]) is not str or not _is(args[1], "latin-1", "latin1"):
        raise refuse("_codecs.encode called with other than (str, 'latin1')")
    return args[0].encode("latin-1")


def _bounds(args: tuple[Any, ...], what: str, none_ok: bool) -> tuple[Any, ...]:
    if not 1 <= len(args) <= 3 or not all(_is_int(x) or (none_ok and x is None) for x in args):
        raise refuse(f"{what} called with other than one to three ints")
    return args


def _ordered_dict(args: tuple[Any, ...]) -> OrderedDict[Any, Any]:
    items = _items(args, "collections.OrderedDict")
    if not all(type(pair) in (list, tuple) and len(pair) == 2 for pair in items):
        raise refuse("collections.OrderedDict called with items that are not pairs")
    return OrderedDict(items)


def _deque(args: tuple[Any, ...]) -> deque[Any]:
    if len(args) == 0:
        return deque()
    if len(args) > 2 or type(args[0]) not in (list, tuple):
        raise refuse("collections.deque called with other than (list, maxlen)")
    maxlen = args[1] if len(args) == 2 else None
    if maxlen is not None and not (_is_int(maxlen) and maxlen >= 0):
        raise refuse(f"collections.deque called with maxlen {_short(maxlen)}")
    return deque(args[0], maxlen)


def admitted_globals() -> dict[tuple[str, str], Any]:
    """Every ``(module, name)`` a restricted load resolves, with what it resolves to.

    A ``Constructor`` builds objects (through REDUCE), a ``Placeholder`` is only an argument
    of one, and any other value is a type a pickle may hold as a plain value (``float``,
    ``numpy.float32``): it is returned as it is and never called.
    """
    table: dict[tuple[str, str], Any] = {}
    for module in _BUILTINS:
        table[module, "complex"] = Constructor("complex", _complex)
        table[module, "set"] = Constructor("set", lambda a: set(_items(a, "set")))
        table[module, "frozenset"] = Constructor(
            "frozenset", lambda a: frozenset(_items(a, "frozenset"))
        )
        table[module, "bytearray"] = Constructor("bytearray", _bytearray)
        table[module, "slice"] = Constructor("slice", lambda a: slice(*_bounds(a, "slice", True)))
        for value in (bool, int, float, complex, str, bytes):
            table.setdefault((module, value.__name__), value)
    for module in _BUILTINS:  # bytes() is how protocol 2 writes b""
        table[module, "bytes"] = Constructor("bytes", _bytes)
    table["builtins", "range"] = Constructor("range", lambda a: range(*_bounds(a, "range", False)))
    table["__builtin__", "xrange"] = table["builtins", "range"]
    table["__builtin__", "long"] = int
    table["__builtin__", "unicode"] = str
    table["_codecs", "encode"] = Constructor("_codecs.encode", _encode)
    table["collections", "OrderedDict"] = Constructor("collections.OrderedDict", _ordered_dict)
    table["collections", "deque"] = Constructor("collections.deque", _deque)
    table["numpy", "dtype"] = Constructor("numpy.dtype", _start_dtype)
    table["numpy", "ndarray"] = Placeholder("numpy.ndarray")
    for core in _NUMPY_CORE:
        table[f"{core}.multiarray", "_reconstruct"] = Constructor(
            f"{core}.multiarray._reconstruct", _start_reconstruct
        )
        table[f"{core}.multiarray", "scalar"] = Constructor(f"{core}.multiarray.scalar", _scalar)
        table[f"{core}.numeric", "_frombuffer"] = Constructor(
            f"{core}.numeric._frombuffer", _frombuffer
        )
    table["jax._src.array", "_reconstruct_array"] = Constructor(
        "jax._src.array._reconstruct_array", _jax_array
    )
    for name in _NUMPY_TYPES:
        table["numpy", name] = ("numpy", name)  # resolved on use: numpy loads only if named
    for name in _ML_DTYPES:
        table["ml_dtypes", name] = ("ml_dtypes", name)
    return table


def resolve_type(module: str, name: str) -> Any:
    """Import ``module`` (numpy or ml_dtypes) and return its scalar type ``name``."""
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise refuse(f"{module}.{name}: {module} is not installed or has no {name}") from None
