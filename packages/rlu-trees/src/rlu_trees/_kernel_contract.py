"""The contract between the trees and their kernels, named once.

Both kernel modules, ``rlu_trees._numba_kernels`` (compiled) and
``rlu_trees._numpy_kernels`` (the reference path), take the same storage, the same codes and
return the same statuses; the trees build their calls and read the results through these names.

Storage: ``tree`` is a 1-d array of length ``2 * P`` (``P`` a power of two, ``P >= capacity``)
in heap order. ``tree[1]`` is the root, the children of node ``k`` are ``2 * k`` and
``2 * k + 1``, and leaf ``i`` lives at ``tree[P + i]``; ``tree[0]`` (``UNUSED_SLOT``) is unused.
Index arrays are contiguous 1-d ``INT64`` arrays.

The compiled kernels never read nor write ``tree[UNUSED_SLOT]``: every walk stops at the root,
``tree[1]``. The JAX trees' CPU custom calls rely on it (``rlu_trees.jax._cpu_kernels``): they
store the nodes without that slot and run these kernels on a view that starts one element before
XLA's buffer, where ``tree[0]`` is memory that is not the tree's. ``tests/test_trees_contract.py``
holds every compiled kernel to it.

Reducer codes (the compiled kernels' ``op``; the numpy kernels take a function on arrays
instead): ``ADD``, ``MIN``, ``MAX``.

Value checks (``check``): ``CHECK_NONE`` accepts everything, ``CHECK_NAN`` rejects NaN (every
compiled tree: NaN breaks the comparisons), ``CHECK_SUM`` rejects NaN, infinities and negative
values (SumTree).

Status of the writing kernels, a pair ``(code, k)``: ``(OK, 0)`` on success, ``(BAD_INDEX, k)``
when ``idx[k]`` is out of range, ``(BAD_VALUE, k)`` when ``values[k]`` fails the value check,
``(OVERFLOW, 0)`` when the sum would overflow the dtype. A kernel that returns a status other
than ``OK`` has left ``tree`` exactly as it was.

numba reads these module-level integers as constants when it compiles a kernel, and its on-disk
cache keeps them: a changed value here needs ``_numba_kernels.py`` touched (or numba's cache
cleared) before it reaches the compiled code.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

# the slot of the storage that no compiled kernel reads or writes
UNUSED_SLOT: Final = 0

# reducer codes
ADD: Final = 0
MIN: Final = 1
MAX: Final = 2

# value checks
CHECK_NONE: Final = 0
CHECK_NAN: Final = 1
CHECK_SUM: Final = 2

# status codes of set_values / set_all
OK: Final = 0
BAD_INDEX: Final = 1
BAD_VALUE: Final = 2
OVERFLOW: Final = 3

# the dtype of every index array; builtin dtypes are singletons, so ``arr.dtype is INT64`` is an
# exact and cheap test
INT64: Final = np.dtype(np.int64)

# what the kernels' array arguments hold: the tree's storage (and values of its dtype), positions
Storage = npt.NDArray[np.floating[Any]]
Indices = npt.NDArray[np.int64]
