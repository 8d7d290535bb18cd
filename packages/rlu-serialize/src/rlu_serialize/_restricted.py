"""Restricted unpickling: a pickle machine of its own that builds plain data and nothing else.

Python's unpickler imports whatever module a pickle names and calls whatever it finds
there, and numpy's reconstruction helpers trust the bytes they are given; a crafted
checkpoint can therefore run code. ``RestrictedUnpickler`` interprets the opcode stream
itself. It knows the opcodes of protocols 2 to 5 that describe data (numbers, strings,
bytes, tuples, lists, dicts, sets, the memo, frames) and refuses the rest (persistent ids,
extension codes, out-of-band buffers, ``INST``/``OBJ``/``NEWOBJ``, the text opcodes of
protocols 0 and 1). A global resolves only through the table of ``_plain``, whose
constructors check their arguments and build through public constructors; ``REDUCE``
runs only those, ``BUILD`` only finishes the dtypes and arrays they started.

Memory is bounded: every object is charged an upper estimate of its size before it is
built, and the load is refused once the total passes ``64 x`` the content's size (plus
1 MiB) or ``max_bytes`` (plus 1 MiB). Bytes and strings can be no longer than the content
left. Dict keys and set members that are tuples or frozensets may be nested at most
``MAX_KEY_DEPTH`` deep, so hashing them cannot exhaust the C stack.
"""

from __future__ import annotations

import struct
from collections import OrderedDict, deque
from typing import Any

from rlu_serialize._content import Content
from rlu_serialize._errors import CorruptedDataError, ForbiddenGlobalError, LoadRefusedError
from rlu_serialize._plain import (
    MAX_KEY_DEPTH,
    MAX_KEY_SIZE,
    Bulk,
    Constructor,
    Pending,
    Special,
    admitted_globals,
    refuse,
    resolve_type,
)

#: Objects may be estimated at most this many times the content's size (plus ``SLACK``).
GROWTH = 64
#: Allowance on top of the two bounds, for the small objects every load builds.
SLACK = 1 << 20

# Upper estimates, in bytes, of what an object costs (CPython 3.10-3.13, 64-bit): the object,
# its GC header and the slot that holds it, with room for over-allocation.
_SLOT = 16
_NUMBER = 48
_STR = 96  # plus 4 per byte of UTF-8: at most one code point per byte, at most 4 bytes each
_BYTES = 64
_LIST = 96
_DICT = 112
_SET = 256
_DICT_ITEM = 112
_SET_ITEM = 128
_ARRAY = 256
_DEQUE = 768
_FIELD = 512  # per field of a structured dtype: its name, offset, dtype and numpy's tables
_JAX_ARRAY = 8 << 10  # JAX's Python objects around one array
_BULK = 1 << 20  # array data from this size on is read into numpy's memory directly

_TABLE = admitted_globals()
# Opcodes refused outright, with the reason.
_REFUSED = {
    b"P"[0]: "persistent ids (PERSID)",
    b"Q"[0]: "persistent ids (BINPERSID)",
    b"\x82"[0]: "extension codes (EXT1)",
    b"\x83"[0]: "extension codes (EXT2)",
    b"\x84"[0]: "extension codes (EXT4)",
    b"\x97"[0]: "out-of-band buffers (NEXT_BUFFER)",
    b"\x98"[0]: "out-of-band buffers (READONLY_BUFFER)",
    b"i"[0]: "instances built by INST",
    b"o"[0]: "instances built by OBJ",
    b"\x81"[0]: "instances built by NEWOBJ (custom classes, namedtuples)",
    b"\x92"[0]: "instances built by NEWOBJ_EX (custom classes)",
}
_TEXT_OPCODES = ("INT", "LONG", "FLOAT", "STRING", "UNICODE", "GET", "PUT", "SHORT_BINSTRING")
for _code, _name in zip(b"ILFSVgpUT", (*_TEXT_OPCODES, "BINSTRING"), strict=True):
    _REFUSED[_code] = f"the opcode {_name} (protocols 0 and 1, and Python 2 strings)"


class RestrictedUnpickler:
    """Interpret one pickle from verified content, admitting plain data only.

    Parameters
    ----------
    content : Content
        The verified, decompressed pickle.
    max_bytes : int or None
        The objects built may be estimated at most this large (plus 1 MiB).

    Examples
    --------
    >>> import pickle
    >>> content = Content()
    >>> content.append(pickle.dumps({"a": [1, 2.5, {3}], "b": (b"x", None)}))
    >>> content.done()
    >>> RestrictedUnpickler(content, None).load()
    {'a': [1, 2.5, {3}], 'b': (b'x', None)}
    """

    def __init__(self, content: Content, max_bytes: int | None) -> None:
        self._content = content
        limit = GROWTH * content.remaining + SLACK
        if max_bytes is not None:
            limit = min(limit, max_bytes + SLACK)
        self._limit = limit
        self._used = 0
        self._frame = b""
        self._pos = 0
        self._stack: list[Any] = []
        self._metastack: list[list[Any]] = []
        self._memo: list[Any] = []
        # id -> (depth, expanded size) of nested tuples and frozensets, for _hashable
        self._shapes: dict[int, tuple[int, int]] = {}
        self._tainted: set[int] = set()  # ids of tuples that hold a placeholder
        self._dispatch = _dispatch_table(self)

    # -- input -----------------------------------------------------------------------------
    def _read(self, n: int) -> bytes:
        pos, frame = self._pos, self._frame
        if pos + n <= len(frame):
            self._pos = pos + n
            return frame[pos : pos + n]
        if pos < len(frame):
            raise refuse("a pickle whose opcode runs past the end of its frame")
        if n > self._content.remaining:
            raise refuse("a pickle that ends in the middle of an opcode")
        return self._content.read(n)

    def _read_bulk(self, n: int, mutable: bool) -> bytes | bytearray:
        """``n`` bytes of data (a bytes or bytearray object), charged before they are read."""
        self._charge(_BYTES + n)
        if self._pos < len(self._frame) or n <= 1 << 16:
            data = self._read(n)
            return bytearray(data) if mutable else data
        if n > self._content.remaining:
            raise refuse("a pickle whose data runs past its end")
        buffer = bytearray(n)  # read straight in: one copy, as pickle's own BYTEARRAY8
        self._content.readinto(buffer)
        if mutable:
            return buffer
        self._charge(n)  # bytes(buffer) copies: both exist for a moment
        return bytes(buffer)

    def _size(self, fmt: str, n: int) -> int:
        return int(struct.unpack(fmt, self._read(n))[0])

    def _line(self) -> str:
        parts: list[bytes] = []
        for _ in range(256):
            char = self._read(1)
            if char == b"\n":
                return b"".join(parts).decode("ascii")
            parts.append(char)
        raise refuse("a GLOBAL name longer than 256 characters")

    # -- bookkeeping -----------------------------------------------------------------------
    def _charge(self, n: int) -> None:
        self._used += n
        if self._used > self._limit:
            raise LoadRefusedError(
                "restricted load (trusted=False) refuses a pickle that would build more than "
                f"{self._limit} bytes of objects ({GROWTH} x its {self._content.size} bytes, "
                "or max_bytes, plus 1 MiB)"
            )

    def _push(self, value: Any, cost: int) -> None:
        self._charge(cost)
        self._stack.append(value)

    def _pop_mark(self) -> list[Any]:
        if not self._metastack:
            raise refuse("a pickle that closes a MARK it never opened")
        items = self._stack
        self._stack = self._metastack.pop()
        return items

    def _top(self) -> Any:
        if not self._stack:
            raise refuse("a pickle that reads an empty stack")
        return self._stack[-1]

    def _pop(self) -> Any:
        if not self._stack:
            raise refuse("a pickle that reads an empty stack")
        return self._stack.pop()

    def _plain(self, items: Any) -> None:
        """Refuse ``items`` if one is a placeholder, or a tuple that holds one."""
        tainted = self._tainted
        for item in items:
            kind = type(item)
            if isinstance(item, Special) or (kind is tuple and tainted and id(item) in tainted):
                raise refuse(f"{getattr(item, 'name', 'a tuple of globals')} used as data")

    def _hashable(self, keys: Any) -> None:
        """Refuse keys whose hashing could exhaust the C stack or take exponential time."""
        for key in keys:
            if type(key) in (tuple, frozenset):
                depth, size = self._shapes.get(id(key), (1, 1))
                if depth > MAX_KEY_DEPTH or size > MAX_KEY_SIZE:
                    raise refuse(
                        f"a dict key or set member nested over {MAX_KEY_DEPTH} deep or over "
                        f"{MAX_KEY_SIZE} items when expanded"
                    )

    def _nested(self, value: Any, items: Any) -> None:
        """Record a new tuple's or frozenset's nesting, and whether it holds placeholders.

        Depth and expanded size (every item counted as often as it occurs, shared ones too)
        bound what hashing the value costs: hashing recurses once per level and visits
        every item of the expansion (tuples do not cache their hash).
        """
        depth, size, tainted, special = 1, 1, self._tainted, False
        shapes = self._shapes
        for item in items:
            kind = type(item)
            if kind is tuple or kind is frozenset:
                inner_depth, inner_size = shapes.get(id(item), (1, len(item) + 1))
                depth = max(depth, inner_depth + 1)
                size = min(size + inner_size, MAX_KEY_SIZE + 1)
                special = special or (bool(tainted) and id(item) in tainted)
            else:
                size += 1
                special = special or isinstance(item, Special)
        key = id(value)
        if depth > 1:
            self._charge(_DICT_ITEM)
            shapes[key] = (depth, size)
        else:
            shapes.pop(key, None)
        if special and type(value) is tuple:
            tainted.add(key)
        else:
            tainted.discard(key)

    # -- the machine -----------------------------------------------------------------------
    def load(self) -> Any:
        """Run the pickle to its STOP and return the object it built.

        Raises
        ------
        LoadRefusedError
            If the pickle holds anything but plain data, is malformed, or would build
            more than the bound allows.
        CorruptedDataError
            If content is left after the pickle's STOP.
        """
        dispatch = self._dispatch
        read = self._read
        try:
            while True:
                code = read(1)[0]
                handler = dispatch.get(code)
                if handler is None:
                    reason = _REFUSED.get(code, f"the unknown opcode {bytes([code])!r}")
                    raise refuse(reason)
                if handler():
                    break
            result = self._pop()
            self._plain((result,))
        except LoadRefusedError:
            raise
        except (
            TypeError,
            ValueError,
            KeyError,
            IndexError,
            OverflowError,
            AttributeError,
            BufferError,
            RecursionError,
            struct.error,
        ) as err:
            raise refuse(f"a malformed pickle ({type(err).__name__}: {err})") from None
        finally:  # the dispatch table holds bound methods: break the cycle now
            self._dispatch, self._stack, self._metastack = {}, [], []
            self._memo, self._shapes, self._tainted = [], {}, set()
        if self._pos < len(self._frame) or self._content.remaining:
            raise CorruptedDataError(
                "the checkpoint is not intact: there is content after the end of the pickle"
            )
        return result

    # opcode handlers: return True at STOP
    def _proto(self) -> None:
        if self._read(1)[0] > 5:
            raise refuse("a pickle protocol above 5")

    def _frame_op(self) -> None:
        n = self._size("<Q", 8)
        if self._pos < len(self._frame):
            raise refuse("a FRAME inside another frame")
        if n > self._content.remaining:
            raise refuse("a FRAME longer than the rest of the pickle")
        self._charge(_BYTES + n)
        self._frame, self._pos = self._content.read(n), 0

    def _stop(self) -> bool:
        return True

    def _mark(self) -> None:
        self._charge(_LIST)
        self._metastack.append(self._stack)
        self._stack = []

    def _pop_op(self) -> None:
        if self._stack:
            self._stack.pop()
        else:
            self._pop_mark()

    def _pop_mark_op(self) -> None:
        self._pop_mark()

    def _dup(self) -> None:
        self._push(self._top(), _SLOT)

    def _none(self) -> None:
        self._push(None, _SLOT)

    def _true(self) -> None:
        self._push(True, _SLOT)

    def _false(self) -> None:
        self._push(False, _SLOT)

    def _binint(self) -> None:
        self._push(self._size("<i", 4), _NUMBER)

    def _binint1(self) -> None:
        self._push(self._read(1)[0], _NUMBER)

    def _binint2(self) -> None:
        self._push(self._size("<H", 2), _NUMBER)

    def _long1(self) -> None:
        n = self._read(1)[0]
        self._push(int.from_bytes(self._read(n), "little", signed=True), _NUMBER + n)

    def _long4(self) -> None:
        n = self._size("<i", 4)
        if n < 0:
            raise refuse("a LONG4 of negative length")
        self._charge(n)
        self._push(int.from_bytes(self._read_bulk(n, False), "little", signed=True), _NUMBER)

    def _binfloat(self) -> None:
        self._push(float(struct.unpack(">d", self._read(8))[0]), _NUMBER)

    def _unicode(self, n: int) -> None:
        self._charge(4 * n)
        data = self._read_bulk(n, False)
        self._push(str(data, "utf-8", "surrogatepass"), _STR)

    def _short_binunicode(self) -> None:
        self._unicode(self._read(1)[0])

    def _binunicode(self) -> None:
        self._unicode(self._size("<I", 4))

    def _binunicode8(self) -> None:
        self._unicode(self._size("<Q", 8))

    def _short_binbytes(self) -> None:
        self._push(self._read_bulk(self._read(1)[0], False), _SLOT)

    def _binbytes(self) -> None:
        self._push(self._read_bulk(self._size("<I", 4), False), _SLOT)

    def _binbytes8(self) -> None:
        self._push(self._read_bulk(self._size("<Q", 8), False), _SLOT)

    def _bytearray8(self) -> None:
        n = self._size("<Q", 8)
        if n >= _BULK and self._is_array_data():
            try:
                import numpy as np
            except ImportError:
                raise refuse("numpy array data: numpy is not installed") from None

            self._charge(_ARRAY + n)
            if self._pos < len(self._frame) or n > self._content.remaining:
                raise refuse("a pickle whose data runs past its end")
            array = np.empty(n, np.uint8)  # numpy asks for huge pages: fewer page faults
            self._content.readinto(array)
            self._push(Bulk(array), _SLOT)
        else:
            self._push(self._read_bulk(n, True), _SLOT)

    def _is_array_data(self) -> bool:
        """Whether the bytes being read are the first argument of numpy's ``_frombuffer``."""
        if self._stack or not self._metastack or not self._metastack[-1]:
            return False
        below = self._metastack[-1][-1]
        return type(below) is Constructor and below.name.endswith("._frombuffer")

    def _tuple_of(self, items: list[Any]) -> None:
        self._charge(_LIST + 8 * len(items))
        value = tuple(items)
        self._nested(value, value)
        self._push(value, _SLOT)

    def _empty_tuple(self) -> None:
        self._push((), _SLOT)

    def _tuple(self) -> None:
        self._tuple_of(self._pop_mark())

    def _tuple_n(self, n: int) -> None:
        if len(self._stack) < n:
            raise refuse("a pickle that reads an empty stack")
        items = self._stack[-n:]
        del self._stack[-n:]
        self._tuple_of(items)

    def _tuple1(self) -> None:
        self._tuple_n(1)

    def _tuple2(self) -> None:
        self._tuple_n(2)

    def _tuple3(self) -> None:
        self._tuple_n(3)

    def _empty_list(self) -> None:
        self._push([], _LIST)

    def _list(self) -> None:
        items = self._pop_mark()
        self._plain(items)
        self._push(items, _LIST + _SLOT * len(items))

    def _extend(self, items: list[Any]) -> None:
        target = self._top()
        if type(target) is not list and type(target) is not deque:
            raise refuse(f"APPEND to a {type(target).__name__}")
        self._plain(items)
        if type(target) is deque:
            _no_deques(items)
        self._charge(_SLOT * len(items))
        target.extend(items)

    def _append(self) -> None:
        value = self._pop()
        self._extend([value])

    def _appends(self) -> None:
        self._extend(self._pop_mark())

    def _empty_dict(self) -> None:
        self._push({}, _DICT)

    def _dict(self) -> None:
        items = self._pop_mark()
        self._push({}, _DICT)
        self._set_items(items)

    def _set_items(self, items: list[Any]) -> None:
        target = self._top()
        if type(target) is not dict and type(target) is not OrderedDict:
            raise refuse(f"SETITEM on a {type(target).__name__}")
        if len(items) % 2:
            raise refuse("SETITEMS with an odd number of items")
        self._plain(items)
        keys = items[0::2]
        self._hashable(keys)
        self._charge(_DICT_ITEM * len(keys))
        for i in range(0, len(items), 2):
            target[items[i]] = items[i + 1]

    def _setitem(self) -> None:
        value = self._pop()
        key = self._pop()
        self._set_items([key, value])

    def _setitems(self) -> None:
        self._set_items(self._pop_mark())

    def _empty_set(self) -> None:
        self._push(set(), _SET)

    def _additems(self) -> None:
        items = self._pop_mark()
        target = self._top()
        if type(target) is not set:
            raise refuse(f"ADDITEMS to a {type(target).__name__}")
        self._plain(items)
        self._hashable(items)
        self._charge(_SET_ITEM * len(items))
        target.update(items)

    def _frozenset(self) -> None:
        items = self._pop_mark()
        self._plain(items)
        self._hashable(items)
        self._charge(_SET + _SET_ITEM * len(items))
        value = frozenset(items)
        self._nested(value, value)
        self._push(value, _SLOT)

    def _memoize(self) -> None:
        self._put(len(self._memo))

    def _binput(self) -> None:
        self._put(self._read(1)[0])

    def _long_binput(self) -> None:
        self._put(self._size("<I", 4))

    def _put(self, index: int) -> None:
        value = self._top()
        memo = self._memo
        if index >= len(memo):
            self._charge(_SLOT * (index + 1 - len(memo)))
            memo.extend([None] * (index + 1 - len(memo)))
        memo[index] = value
        if type(value) is Pending:
            self._charge(_SLOT)
            value.memo_slots.append(index)

    def _binget(self) -> None:
        self._get(self._read(1)[0])

    def _long_binget(self) -> None:
        self._get(self._size("<I", 4))

    def _get(self, index: int) -> None:
        if index >= len(self._memo):
            raise refuse(f"a memo lookup of the unset index {index}")
        self._push(self._memo[index], _SLOT)

    def _global(self) -> None:
        module = self._line()
        self._find(module, self._line())

    def _stack_global(self) -> None:
        name = self._pop()
        module = self._pop()
        if type(module) is not str or type(name) is not str:
            raise refuse("STACK_GLOBAL with names that are not strings")
        self._find(module, name)

    def _find(self, module: str, name: str) -> None:
        found = _TABLE.get((module, name))
        if found is None:
            raise ForbiddenGlobalError(f"{module}.{name}")
        if type(found) is tuple:  # a numpy or ml_dtypes scalar type: imported on first use
            found = resolve_type(*found)
        self._push(found, _SLOT)  # a shared table entry or type: nothing new is built

    def _reduce(self) -> None:
        args = self._pop()
        func = self._pop()
        if type(func) is not Constructor:
            raise refuse(f"REDUCE on {getattr(func, 'name', type(func).__name__)}")
        if type(args) is not tuple:
            raise refuse(f"REDUCE of {func.name} with arguments that are not a tuple")
        if func.name in ("set", "frozenset", "collections.OrderedDict", "collections.deque"):
            self._check_items(func.name, args)
        self._charge(_cost(func.name, args))
        try:
            value = func.build(args)
        except LoadRefusedError:
            raise
        except Exception as err:  # a constructor's own check, or numpy's, refused the arguments
            raise refuse(
                f"{func.name} with these arguments ({type(err).__name__}: {err})"
            ) from None
        if type(value) is frozenset:
            self._nested(value, value)
        self._push(value, _SLOT)

    def _check_items(self, name: str, args: tuple[Any, ...]) -> None:
        """Check the items a container constructor is given, before it hashes any."""
        if not args:
            return
        items = args[0]
        if type(items) not in (list, tuple):
            raise refuse(f"{name} called with other than one list")
        if name == "collections.OrderedDict":
            for pair in items:
                if type(pair) not in (list, tuple) or len(pair) != 2:
                    raise refuse(f"{name} called with items that are not pairs")
                self._plain(pair)
                self._hashable(pair[:1])
        else:
            self._plain(items)
            if name == "collections.deque":
                _no_deques(items)
            else:
                self._hashable(items)

    def _build(self) -> None:
        state = self._pop()
        pending = self._top()
        if type(pending) is not Pending:
            raise refuse(f"BUILD on a {type(pending).__name__} (only numpy's dtypes and arrays)")
        self._charge(_state_cost(state))
        try:
            value = pending.finish(state)
        except LoadRefusedError:
            raise
        except Exception as err:
            raise refuse(f"{pending.name} with this state ({type(err).__name__}: {err})") from None
        self._stack[-1] = value
        for slot in pending.memo_slots:
            if self._memo[slot] is pending:
                self._memo[slot] = value


def _no_deques(items: Any) -> None:
    """Refuse a deque directly inside a deque: CPython frees nested deques recursively."""
    if any(type(item) is deque for item in items):
        raise refuse("a deque inside a deque")


def _state_cost(state: Any) -> int:
    """Upper estimate of what BUILD with ``state`` (an ndarray's or a dtype's) allocates."""
    cost = _ARRAY + _data_size(state)
    if type(state) is tuple and len(state) in (8, 9):  # a dtype: its fields and sub-array shape
        names, sub = state[3], state[2]
        if type(names) is tuple:
            cost += _FIELD * len(names)
        if type(sub) is tuple and len(sub) == 2 and type(sub[1]) is tuple:
            cost += _SLOT * len(sub[1])
    return cost


def _data_size(state: Any) -> int:
    """Bytes of array data in an ndarray state (the last item), 0 for anything else."""
    if type(state) is tuple and state and type(state[-1]) in (bytes, bytearray, str):
        return len(state[-1])
    return 0


def _cost(name: str, args: tuple[Any, ...]) -> int:
    """Upper estimate of what calling the constructor ``name`` with ``args`` allocates."""
    if name in ("set", "frozenset"):
        return _SET + _SET_ITEM * (len(args[0]) if args else 0)
    if name == "collections.OrderedDict":
        return _DICT + _DICT_ITEM * (len(args[0]) if args and type(args[0]) in (list, tuple) else 0)
    if name == "collections.deque":  # a deque allocates a 64-slot block from the start
        return _DEQUE + _SLOT * (len(args[0]) if args and type(args[0]) in (list, tuple) else 0)
    if name.endswith("._frombuffer"):  # a view of bytes already charged, and its shape
        return _ARRAY + _SLOT * (len(args[2]) if len(args) == 4 and type(args[2]) is tuple else 0)
    if name.endswith("._reconstruct_array"):  # a numpy copy, the device's, and JAX's own objects
        return _JAX_ARRAY + 2 * _data_size(args[2] if len(args) == 4 else None)
    return _ARRAY + sum(len(a) for a in args if type(a) in (bytes, bytearray, str))


def _dispatch_table(machine: RestrictedUnpickler) -> dict[int, Any]:
    m = machine
    table = {
        b"\x80": m._proto,
        b"\x95": m._frame_op,
        b".": m._stop,
        b"(": m._mark,
        b"0": m._pop_op,
        b"1": m._pop_mark_op,
        b"2": m._dup,
        b"N": m._none,
        b"\x88": m._true,
        b"\x89": m._false,
        b"J": m._binint,
        b"K": m._binint1,
        b"M": m._binint2,
        b"\x8a": m._long1,
        b"\x8b": m._long4,
        b"G": m._binfloat,
        b"\x8c": m._short_binunicode,
        b"X": m._binunicode,
        b"\x8d": m._binunicode8,
        b"C": m._short_binbytes,
        b"B": m._binbytes,
        b"\x8e": m._binbytes8,
        b"\x96": m._bytearray8,
        b")": m._empty_tuple,
        b"t": m._tuple,
        b"\x85": m._tuple1,
        b"\x86": m._tuple2,
        b"\x87": m._tuple3,
        b"]": m._empty_list,
        b"l": m._list,
        b"a": m._append,
        b"e": m._appends,
        b"}": m._empty_dict,
        b"d": m._dict,
        b"s": m._setitem,
        b"u": m._setitems,
        b"\x8f": m._empty_set,
        b"\x90": m._additems,
        b"\x91": m._frozenset,
        b"\x94": m._memoize,
        b"q": m._binput,
        b"r": m._long_binput,
        b"h": m._binget,
        b"j": m._long_binget,
        b"c": m._global,
        b"\x93": m._stack_global,
        b"R": m._reduce,
        b"b": m._build,
    }
    return {code[0]: handler for code, handler in table.items()}
