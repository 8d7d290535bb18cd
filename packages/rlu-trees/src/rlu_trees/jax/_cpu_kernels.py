"""The host trees' numba kernels as XLA custom calls (C functions XLA calls on the CPU).

Each kernel made here is a numba ``cfunc`` with the signature of XLA's CPU custom calls
(``API_VERSION_STATUS_RETURNING_UNIFIED``)::

    void kernel(void *out, const void **in, const char *opaque, size_t opaque_len,
                XlaCustomCallStatus *status)

``opaque`` holds the static geometry as decimal numbers separated by commas (ASCII, so that
JAX's persistent compilation cache can store it; see ``_cpu.config``); every pointer arrives
as a 64-bit integer and becomes an array through ``_pointer``. A batch of ``trees`` trees lies
row after row in one buffer.

The JAX trees store the host layout without its unused element 0 (``nodes[i]`` is host
``tree[i + 1]``), so the host kernels run on a view that starts one element before the
buffer: they never touch ``tree[0]`` (the root is ``tree[1]`` and every walk stops there).
The kernels are the host trees' own (``rlu_trees._numba_kernels``): same walks, same sums,
same indices.

Every function is a module-level function (no closure), so that numba's on-disk cache finds
it again in the next process; the dtypes come from the empty arrays ``_F32``/``_F64``, which
numba freezes as constants. numba checks a cached kernel against its own file only, so the
kernels here are cached with the host kernels' files as dependencies (``DEPENDS``): an edit of
those makes them compile again (``_numba_cache.depend_on``).

This module is imported only when a program is lowered for the CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import numba
import numpy as np
import numpy.typing as npt
from numba import types
from numba.core.typing.templates import Signature
from numba.extending import intrinsic
from numba.np.numpy_support import carray

from rlu_trees import _kernel_contract, _numba_cache
from rlu_trees import _numba_kernels as host

# the files of the compiled functions and constants the kernels here use (see the module)
DEPENDS = (host.__file__, _kernel_contract.__file__)


def _jit(func: Any) -> Any:
    return host._jit(func, depends=DEPENDS)


# out, in, opaque, opaque_len, status: pointers and a size, all 64-bit integers in registers
SIGNATURE = types.void(types.int64, types.int64, types.int64, types.int64, types.int64)

# the dtypes of the kernels' arrays, as constants numba can read
_F32 = np.empty(0, np.float32)
_F64 = np.empty(0, np.float64)
_I32 = np.empty(0, np.int32)
_I64 = np.empty(0, np.int64)
_U8 = np.empty(0, np.uint8)


def _pointer_typing(
    typingctx: object, address: types.Integer, dtype: types.DTypeSpec
) -> tuple[Signature, Callable[..., Any]]:  # pragma: no cover - compiled
    """A typed pointer (``dtype*``) at an integer ``address``."""
    sig = types.CPointer(dtype.dtype)(address, dtype)  # type: ignore[no-untyped-call]  # numba

    def codegen(context: Any, builder: Any, signature: Signature, args: Sequence[Any]) -> Any:
        return builder.inttoptr(args[0], context.get_value_type(signature.return_type))

    return sig, codegen


# called from compiled code only, where numba gives it the typed pointer
_pointer = cast("Callable[[int, Any], Any]", intrinsic(_pointer_typing))


# the most numbers a configuration holds (the trees' kernels read four; rlu-replay's more)
WORDS = 8


@_jit
def _config(opaque: int, length: int) -> tuple[int, ...]:  # pragma: no cover - compiled
    """The first ``WORDS`` numbers of ``opaque`` (ASCII decimals separated by commas; those
    it does not hold are 0), in registers: no allocation on every call."""
    chars = carray(_pointer(opaque, _U8.dtype), length)
    w0 = w1 = w2 = w3 = w4 = w5 = w6 = w7 = np.int64(0)
    k = 0
    for i in range(length):
        c = chars[i]
        if c == 44:  # ','
            k += 1
            continue
        d = np.int64(c - 48)
        if k == 0:
            w0 = w0 * 10 + d
        elif k == 1:
            w1 = w1 * 10 + d
        elif k == 2:
            w2 = w2 * 10 + d
        elif k == 3:
            w3 = w3 * 10 + d
        elif k == 4:
            w4 = w4 * 10 + d
        elif k == 5:
            w5 = w5 * 10 + d
        elif k == 6:
            w6 = w6 * 10 + d
        elif k == 7:
            w7 = w7 * 10 + d
    return (w0, w1, w2, w3, w4, w5, w6, w7)  # pyright: ignore[reportReturnType]  # numba ints


@_jit
def _rows(
    address: int, row: int, length: int, like: npt.NDArray[Any], offset: int = 0
) -> npt.NDArray[Any]:  # pragma: no cover - compiled
    """Row ``row`` (``length`` items of ``like``'s dtype) of the buffer at ``address``, its view
    starting ``offset`` items early."""
    size = like.itemsize
    return carray(_pointer(address + (row * (length - offset) - offset) * size, like.dtype), length)


@_jit
def _descend_trees(
    out: int, ins: int, opaque: int, length: int, node: npt.NDArray[Any], target: npt.NDArray[Any]
) -> None:  # pragma: no cover - compiled
    """``out[t, k]`` = leaf for target mass ``x[t, k]`` in tree ``t``.

    ``in``: nodes ``(trees, size)``, x ``(trees, n)``; ``out``: int32 ``(trees, n)``.
    ``opaque``: trees, size, n, capacity. Indices past ``capacity - 1`` (only from an
    all-zero tree) become ``capacity - 1``, as in the XLA kernels.
    """
    cfg = _config(opaque, length)
    trees, size, n, capacity = cfg[0], cfg[1], cfg[2], cfg[3]
    args = carray(_pointer(ins, _I64.dtype), 2)
    x = np.empty(n, dtype=np.float64)
    leaf = np.empty(n, dtype=np.int64)
    for t in range(trees):
        tree = _rows(args[0], t, size + 1, node, 1)
        xs = _rows(args[1], t, n, target)
        res = _rows(out, t, n, _I32)
        for k in range(n):
            x[k] = xs[k]
        host._descend(tree, x, leaf)
        for k in range(n):
            res[k] = min(leaf[k], capacity - 1)


@_jit
def _set_trees(
    out: int, ins: int, opaque: int, length: int, node: npt.NDArray[Any]
) -> None:  # pragma: no cover - compiled
    """Leaf ``idx[t, k]`` of tree ``t`` gets ``values[t, k]``, in order; then the ancestors.

    ``in``: nodes ``(trees, size)`` (``out`` is the same buffer: XLA aliases them), idx int32
    ``(trees, n)`` with -1 for entries to skip, values ``(trees, n)``. ``opaque``: trees, size,
    n, op. Writing in batch order makes the last write win; then every written leaf's
    ancestors are recomputed by the host's ``_update_paths``.
    """
    cfg = _config(opaque, length)
    trees, size, n, op = cfg[0], cfg[1], cfg[2], cfg[3]
    args = carray(_pointer(ins, _I64.dtype), 3)
    half = (size + 1) // 2
    leaves = np.empty(n, dtype=np.int64)
    for t in range(trees):
        tree = _rows(out, t, size + 1, node, 1)
        idx = _rows(args[1], t, n, _I32)
        vals = _rows(args[2], t, n, node)
        m = 0
        for k in range(n):
            i = idx[k]
            if 0 <= i < half:  # skipped entries are -1
                tree[half + i] = vals[k]
                leaves[m] = half + i
                m += 1
        host._update_paths(tree, leaves[:m], op)


# the C entry points, one per dtype combination (module-level: numba caches them)


def descend_float32_float32(
    out: int, ins: int, opaque: int, length: int, status: int
) -> None:  # pragma: no cover - compiled
    _descend_trees(out, ins, opaque, length, _F32, _F32)


def descend_float32_float64(
    out: int, ins: int, opaque: int, length: int, status: int
) -> None:  # pragma: no cover - compiled
    _descend_trees(out, ins, opaque, length, _F32, _F64)


def descend_float64_float64(
    out: int, ins: int, opaque: int, length: int, status: int
) -> None:  # pragma: no cover - compiled
    _descend_trees(out, ins, opaque, length, _F64, _F64)


def set_float32(
    out: int, ins: int, opaque: int, length: int, status: int
) -> None:  # pragma: no cover - compiled
    _set_trees(out, ins, opaque, length, _F32)


def set_float64(
    out: int, ins: int, opaque: int, length: int, status: int
) -> None:  # pragma: no cover - compiled
    _set_trees(out, ins, opaque, length, _F64)


# the entry points by (operation, node dtype[, target dtype])
ENTRY_POINTS: dict[tuple[str, ...], Callable[..., None]] = {
    ("descend", "float32", "float32"): descend_float32_float32,
    ("descend", "float32", "float64"): descend_float32_float64,
    ("descend", "float64", "float64"): descend_float64_float64,
    ("set", "float32"): set_float32,
    ("set", "float64"): set_float64,
}


def compile_cfunc(func: Callable[..., None], depends: tuple[str, ...]) -> Any:
    """The compiled C callable of the entry point ``func`` (cached on disk when possible, stale
    when a file of ``depends`` changes). Also used by rlu-replay's compiled add."""
    try:
        return _numba_cache.cfunc(SIGNATURE, func, depends=depends)
    except RuntimeError:  # no writable cache folder (importing the host kernels has already
        # pointed numba at one wherever it could): compile in every process
        return numba.cfunc(SIGNATURE, cache=False)(func)


def compile_kernel(entry: tuple[str, ...]) -> Any:
    """The compiled C callable of the entry point ``entry``."""
    return compile_cfunc(ENTRY_POINTS[entry], DEPENDS)
