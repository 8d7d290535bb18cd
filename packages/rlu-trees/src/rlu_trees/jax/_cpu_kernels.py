"""The host trees' numba kernels as XLA custom calls (C functions XLA calls on the CPU).

Each function made here is a numba ``cfunc`` with the signature of XLA's CPU custom calls
(``API_VERSION_STATUS_RETURNING_UNIFIED``)::

    void kernel(void *out, const void **in, const char *opaque, size_t opaque_len,
                XlaCustomCallStatus *status)

``opaque`` holds the static geometry as int64 words (see ``_cpu.config``); every
pointer arrives as a 64-bit integer and becomes an array through ``_pointer``. A batch of
``trees`` trees lies row after row in one buffer.

The JAX trees store the host layout without its unused element 0 (``nodes[i]`` is host
``tree[i + 1]``), so the host kernels run on a view that starts one element before the
buffer: they never touch ``tree[0]`` (the root is ``tree[1]`` and every walk stops there).
The kernels are the host trees' own (``rlu_trees._numba_kernels``): same walks, same sums,
same indices.

This module is imported only when a program is lowered for the CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import numba
import numpy as np
from numba import types
from numba.core.typing.templates import Signature
from numba.extending import intrinsic
from numba.np.numpy_support import carray, from_dtype

from rlu_trees import _numba_kernels as host

# out, in, opaque, opaque_len, status: pointers and a size, all 64-bit integers in registers
SIGNATURE = types.void(types.int64, types.int64, types.int64, types.int64, types.int64)


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


def _cfunc(func: Callable[..., None]) -> Any:
    """Compile ``func`` as a C callable with ``SIGNATURE`` (cached on disk when possible)."""
    try:
        return numba.cfunc(SIGNATURE, cache=True)(func)
    except RuntimeError:  # no writable cache folder: compile in every process
        return numba.cfunc(SIGNATURE, cache=False)(func)


def make_descend(node_dtype: Any, x_dtype: Any) -> Any:
    """The descent: ``out[t, k]`` = leaf for target mass ``x[t, k]`` in tree ``t``.

    ``in``: nodes ``(trees, size)``, x ``(trees, n)``; ``out``: int32 ``(trees, n)``.
    ``opaque``: trees, size, n, capacity. Indices past ``capacity - 1`` (only from an
    all-zero tree) become ``capacity - 1``, as in the XLA kernels.
    """
    node_t = from_dtype(np.dtype(node_dtype))
    x_t = from_dtype(np.dtype(x_dtype))
    node_size = np.dtype(node_dtype).itemsize
    x_size = np.dtype(x_dtype).itemsize
    descend = host._descend

    def kernel(out: int, ins: int, opaque: int, opaque_len: int, status: int) -> None:
        cfg = carray(_pointer(opaque, types.int64), 4)
        trees, size, n, capacity = cfg[0], cfg[1], cfg[2], cfg[3]
        args = carray(_pointer(ins, types.int64), 2)
        x = np.empty(n, dtype=np.float64)
        leaf = np.empty(n, dtype=np.int64)
        for t in range(trees):
            tree = carray(_pointer(args[0] + (t * size - 1) * node_size, node_t), size + 1)
            xs = carray(_pointer(args[1] + t * n * x_size, x_t), n)
            res = carray(_pointer(out + t * n * 4, types.int32), n)
            for k in range(n):
                x[k] = xs[k]
            descend(tree, x, leaf)
            for k in range(n):
                res[k] = min(leaf[k], capacity - 1)

    return _cfunc(kernel)


def make_set(node_dtype: Any) -> Any:
    """The update: leaf ``idx[t, k]`` of tree ``t`` gets ``values[t, k]``, in order.

    ``in``: nodes ``(trees, size)`` (``out`` is the same buffer: XLA aliases them), idx int32
    ``(trees, n)`` with -1 for entries to skip, values ``(trees, n)``. ``opaque``: trees, size,
    n, op. Writing in batch order makes the last write win; then every written leaf's
    ancestors are recomputed by the host's ``_update_paths``.
    """
    node_t = from_dtype(np.dtype(node_dtype))
    node_size = np.dtype(node_dtype).itemsize
    update_paths = host._update_paths

    def kernel(out: int, ins: int, opaque: int, opaque_len: int, status: int) -> None:
        cfg = carray(_pointer(opaque, types.int64), 4)
        trees, size, n, op = cfg[0], cfg[1], cfg[2], cfg[3]
        args = carray(_pointer(ins, types.int64), 3)
        half = (size + 1) // 2
        leaves = np.empty(n, dtype=np.int64)
        for t in range(trees):
            tree = carray(_pointer(out + (t * size - 1) * node_size, node_t), size + 1)
            idx = carray(_pointer(args[1] + t * n * 4, types.int32), n)
            vals = carray(_pointer(args[2] + t * n * node_size, node_t), n)
            m = 0
            for k in range(n):
                i = idx[k]
                if 0 <= i < half:  # skipped entries are -1
                    tree[half + i] = vals[k]
                    leaves[m] = half + i
                    m += 1
            update_paths(tree, leaves[:m], op)

    return _cfunc(kernel)
