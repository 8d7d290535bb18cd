"""SegmentTree, MinTree and MaxTree: batched updates and batched range reductions."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from types import EllipsisType, ModuleType
from typing import Any, ClassVar, SupportsIndex, overload

import numpy as np
import numpy.typing as npt

from rlu_trees import _numpy_kernels
from rlu_trees._checks import (
    check_callable,
    check_dtype,
    check_index_array,
    check_int,
    check_lookup,
    check_ranges,
    check_real,
    check_value_array,
)
from rlu_trees._kernel_contract import (
    BAD_INDEX,
    BAD_VALUE,
    CHECK_NAN,
    CHECK_NONE,
    CHECK_SUM,
    INT64,
    OK,
    OVERFLOW,
    Storage,
)
from rlu_trees._reducers import CODE, FUNCTIONS, IDENTITY, UFUNC

_numba_kernels: ModuleType | None = None


def _compiled() -> ModuleType:
    """Import the numba kernels on first use (keeps ``import rlu_trees`` cheap)."""
    global _numba_kernels
    if _numba_kernels is None:
        from rlu_trees import _numba_kernels as module

        _numba_kernels = module
    return _numba_kernels


# reducers the compiled kernels know (see _reducers): reducer -> (code, identity element)
_KNOWN_REDUCERS: dict[Any, tuple[int, float]] = {
    function: (CODE[name], IDENTITY[name]) for function, name in FUNCTIONS.items()
}
# Python functions that have a ufunc twin, which the numpy kernels take instead
_ARRAY_REDUCERS: dict[Any, np.ufunc] = {
    **{f: UFUNC[name] for f, name in FUNCTIONS.items() if not isinstance(f, np.ufunc)},
    operator.mul: np.multiply,
}

# bits of ``ndarray.flags.num``: C-contiguous, aligned, writeable
_PLAIN_ARRAY = 0x1 | 0x100 | 0x400
# the compiled ``set_values`` for each tree dtype and plain arrays (exactly the types numba would
# infer for them), resolved once; kept out of the instances so that trees stay picklable
_WRITE: dict[np.dtype[Any], Callable[..., tuple[int, int]]] = {}


def _array_reducer(
    reducer: Callable[[Any, Any], Any], dtype: np.dtype[np.floating[Any]]
) -> _numpy_kernels.Reducer:
    """Turn any binary reducer into a function on arrays that returns ``dtype`` arrays."""
    if isinstance(reducer, np.ufunc):
        return reducer
    if reducer in _ARRAY_REDUCERS:
        return _ARRAY_REDUCERS[reducer]
    elementwise = np.frompyfunc(reducer, 2, 1)

    def apply(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return np.asarray(elementwise(a, b), dtype=dtype)

    return apply


def _hashable(x: object) -> bool:
    try:
        hash(x)
    except TypeError:
        return False
    return True


class SegmentTree:
    r"""A segment tree: batched point updates and batched range reductions in O(log N).

    The leaves hold ``capacity`` values; every inner node holds ``reducer`` applied to its two
    children, so the root holds the reduction of all values. The levels are binary: level 0 is
    the root and level ``height - 1`` holds the values. Sums, minima and maxima (``numpy.add``,
    ``numpy.minimum``, ``numpy.maximum``, ``operator.add``, ``min``, ``max`` with their identity
    as ``init_value``) run in compiled numba kernels; any other reducer runs in plain numpy.

    Parameters
    ----------
    capacity : int
        Number of values the tree holds, at least 1.
    reducer : callable
        An associative binary function ``(float, float) -> float``, e.g. ``numpy.add``.
    init_value : float
        The identity element of ``reducer``: 0 for add, 1 for multiply, ``inf`` for minimum,
        ``-inf`` for maximum. Leaves start at this value, and an empty range reduces to it.
    dtype : {numpy.float64, numpy.float32}, optional
        Storage type; float32 halves the memory. Keyword only.

    Raises
    ------
    TypeError
        If ``capacity`` is not an int, ``reducer`` is not callable, ``init_value`` is not a
        real number, or ``dtype`` is not a dtype.
    ValueError
        If ``capacity < 1`` or ``dtype`` is not float64/float32.

    Notes
    -----
    ``values`` and ``tree[level]`` are read-only views of the storage: they change when the
    tree changes, and writing through them is refused, so the inner nodes cannot go stale.

    Examples
    --------
    >>> import numpy as np
    >>> from rlu_trees import SegmentTree
    >>> tree = SegmentTree(8, np.add, 0.0)
    >>> tree.set_values(..., [13, 7, 11, 17, 19, 5, 3, 23])
    >>> tree.root_value
    98.0
    >>> tree.height
    4
    >>> tree[1]
    array([48., 50.])
    >>> float(tree[2, 3])
    26.0
    >>> tree.partial_reduce(2, 5)
    47.0
    """

    # the value check the compiled kernels apply to this class's values (see _kernel_contract)
    _VALUE_CHECK: ClassVar[int] = CHECK_NAN

    def __init__(
        self,
        capacity: int,
        reducer: Callable[[Any, Any], Any],
        init_value: float,
        *,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        capacity = check_int("capacity", capacity, minimum=1)
        reducer = check_callable("reducer", reducer)
        init = check_real("init_value", init_value)
        dt = check_dtype("dtype", dtype)

        self._capacity = capacity
        self._reducer = reducer
        self._init_value = init
        self._dtype = dt
        self._height = (capacity - 1).bit_length() + 1
        self._tree: Storage = np.full(2 << (self._height - 1), init, dtype=dt)

        known = _KNOWN_REDUCERS.get(reducer) if _hashable(reducer) else None
        if known is not None and known[1] == init:
            self._op: int | None = known[0]
            self._check = self._VALUE_CHECK
        else:
            self._op = None
            self._check = CHECK_NONE
        # compiled kernels whenever the reducer is one they know; the numpy reference otherwise
        self._use_numba = self._op is not None

    # ------------------------------------------------------------------ properties

    @property
    def capacity(self) -> int:
        """Number of values (leaves) the tree holds."""
        return self._capacity

    @property
    def reducer(self) -> Callable[[Any, Any], Any]:
        """The binary function combining two children into their parent."""
        return self._reducer

    @property
    def init_value(self) -> float:
        """The identity element of the reducer; the value of leaves never set."""
        return self._init_value

    @property
    def dtype(self) -> np.dtype[np.floating[Any]]:
        """Storage dtype (float64 or float32)."""
        return self._dtype

    @property
    def height(self) -> int:
        r"""Number of binary levels, ``ceil(log2(capacity)) + 1`` (5 for capacity 14)."""
        return self._height

    @property
    def root_value(self) -> float:
        """The reduction of all values, ``functools.reduce(reducer, values, init_value)``."""
        return float(self._tree[1])

    @property
    def values(self) -> npt.NDArray[np.floating[Any]]:
        """The ``capacity`` values at the leaves, as a read-only view."""
        half = self._tree.shape[0] // 2
        view = self._tree[half : half + self._capacity]
        view.flags.writeable = False
        return view

    @overload
    def __getitem__(
        self, lookup: SupportsIndex | tuple[SupportsIndex]
    ) -> npt.NDArray[np.floating[Any]]: ...
    @overload
    def __getitem__(
        self, lookup: tuple[SupportsIndex, int | np.integer[Any]]
    ) -> np.floating[Any]: ...
    @overload
    def __getitem__(
        self,
        lookup: tuple[
            SupportsIndex,
            slice | Sequence[int] | npt.NDArray[np.integer[Any] | np.bool_],
        ],
    ) -> npt.NDArray[np.floating[Any]]: ...
    def __getitem__(self, lookup: SupportsIndex | tuple[Any, ...]) -> Any:
        """``tree[level]``: the nodes of one binary level; ``tree[level, index]``: some of them.

        Level ``level`` (negative counts from the leaves) holds ``min(2**level, capacity)``
        nodes, as in coax. The result is a read-only view (or a copy, for fancy ``index``).
        A level that is not an int in ``[-height, height)`` raises ``IndexError``.
        """
        level, index = check_lookup("level", lookup, height=self._height)
        start = 1 << level
        view = self._tree[start : start + min(start, self._capacity)]
        view.flags.writeable = False
        return view[index[0]] if index else view

    def __repr__(self) -> str:
        levels = "".join(f"\n  level={lv} : {self[lv]!r}" for lv in range(self._height))
        return f"{type(self).__name__}({levels})"

    # ------------------------------------------------------------------ operations

    def _kernels(self) -> ModuleType:
        if self._use_numba:
            return _numba_kernels if _numba_kernels is not None else _compiled()
        return _numpy_kernels

    def _reduce_arg(self) -> int | _numpy_kernels.Reducer:
        if self._op is not None and self._use_numba:
            return self._op
        return _array_reducer(self._reducer, self._dtype)

    def set_values(
        self,
        idx: SupportsIndex | Sequence[int] | npt.NDArray[np.integer[Any]] | EllipsisType | None,
        values: npt.ArrayLike,
    ) -> None:
        """Set some or all of the values and repair the nodes above them.

        Parameters
        ----------
        idx : int, 1-d sequence/array of ints, Ellipsis or None
            Positions to write; negative positions count from the end. ``...`` (Python's
            Ellipsis, meaning all indices, as in ``tree.set_values(..., values)``) or None write
            all ``capacity`` values. With repeated positions the last write wins, as in
            ``numpy`` assignment.
        values : float or 1-d array_like of floats
            New values, one per position (shape ``(len(idx),)``, or ``(capacity,)`` for ``...``),
            or a single number for all of them.

        Raises
        ------
        IndexError
            If a position lies outside ``[-capacity, capacity)``.
        TypeError
            If ``idx`` is not integer or ``values`` is not real numbers.
        ValueError
            If the shapes differ, or a value is rejected: NaN for every compiled tree; NaN,
            infinite or negative values, or a total that overflows the dtype, for a SumTree.
            A rejected call leaves the tree exactly as it was.

        Examples
        --------
        >>> from rlu_trees import MaxTree
        >>> tree = MaxTree(5)
        >>> tree.set_values([0, 3, 3], [2.0, 9.0, 4.0])
        >>> tree.values
        array([  2., -inf, -inf,   4., -inf])
        >>> tree.root_value
        4.0
        """
        if (
            self._use_numba
            and type(idx) is np.ndarray
            and type(values) is np.ndarray
            and idx.dtype is INT64
            and values.dtype is self._dtype
            and idx.ndim == 1
            and idx.shape == values.shape
            and idx.flags.num & _PLAIN_ARRAY == _PLAIN_ARRAY
            and values.flags.num & _PLAIN_ARRAY == _PLAIN_ARRAY
        ):
            # the prioritized-replay loop: plain arrays go straight to the compiled kernel
            write = _WRITE.get(self._dtype) or self._write_kernel()
            status = write(self._tree, self._capacity, idx, values, self._op, self._check)
            if status[0]:
                self._raise_for_status(status, idx, values)
            return
        kernels = self._kernels()
        reduce_arg = self._reduce_arg()
        if idx is None or idx is Ellipsis:
            vals = check_value_array("values", values, n=self._capacity, dtype=self._dtype)
            status = kernels.set_all(
                self._tree,
                self._capacity,
                vals,
                reduce_arg,
                self._check,
                self._overflow_limit(),
            )
            self._raise_for_status(status, None, vals)
            return
        index = check_index_array("idx", idx)
        vals = check_value_array("values", values, n=index.shape[0], dtype=self._dtype)
        status = kernels.set_values(
            self._tree, self._capacity, index, vals, reduce_arg, self._check
        )
        if status[0]:
            self._raise_for_status(status, index, vals)

    def _write_kernel(self) -> Callable[..., tuple[int, int]]:
        kernels = self._kernels()
        plain_idx, plain_values = np.empty(0, INT64), np.empty(0, self._dtype)
        args = (self._tree, self._capacity, plain_idx, plain_values, self._op, self._check)
        write: Callable[..., tuple[int, int]] = kernels.typed(kernels.set_values, *args)
        _WRITE[self._dtype] = write
        return write

    def _overflow_limit(self) -> float:
        # largest accepted total for a full rewrite: the dtype's maximum less a margin far
        # above the rounding of the inner sums
        return float(np.finfo(self._dtype).max) * (1.0 - 1e-6)

    def _raise_for_status(
        self,
        status: tuple[int, int],
        index: npt.NDArray[np.integer[Any]] | None,
        vals: npt.NDArray[np.floating[Any]],
    ) -> None:
        code, k = status
        if code == OK:
            return
        if code == BAD_INDEX and index is not None:
            cap = self._capacity
            raise IndexError(
                f"idx[{k}] = {int(index[k])} is out of range for capacity {cap}; "
                f"expected -{cap} <= idx < {cap}"
            )
        if code == BAD_VALUE:
            where = f"values[{k}] = {vals[k]!r}"
            if self._check == CHECK_SUM:
                raise ValueError(
                    f"{where} is not allowed: {type(self).__name__} takes finite, "
                    "non-negative values"
                )
            raise ValueError(f"{where} is not allowed: NaN breaks the tree's comparisons")
        if code == OVERFLOW:
            raise ValueError(
                f"these values would make the total overflow {self._dtype}; "
                "use smaller values or dtype=float64"
            )
        raise RuntimeError(f"unexpected kernel status {status}")  # pragma: no cover

    @overload
    def partial_reduce(
        self, start: int | np.integer[Any] = 0, stop: int | np.integer[Any] | None = None
    ) -> float: ...
    @overload
    def partial_reduce(
        self,
        start: Sequence[int] | npt.NDArray[np.integer[Any]],
        stop: int | np.integer[Any] | Sequence[int] | npt.NDArray[np.integer[Any]] | None = None,
    ) -> npt.NDArray[np.floating[Any]]: ...
    @overload
    def partial_reduce(
        self,
        start: int | np.integer[Any] | Sequence[int] | npt.NDArray[np.integer[Any]],
        stop: Sequence[int] | npt.NDArray[np.integer[Any]],
    ) -> npt.NDArray[np.floating[Any]]: ...
    def partial_reduce(
        self,
        start: int | np.integer[Any] | Sequence[int] | npt.NDArray[np.integer[Any]] = 0,
        stop: int | np.integer[Any] | Sequence[int] | npt.NDArray[np.integer[Any]] | None = None,
    ) -> float | npt.NDArray[np.floating[Any]]:
        """Reduce the values over ranges ``[start, stop)``, many ranges at once.

        Equivalent to ``functools.reduce(reducer, values[start:stop], init_value)`` for each
        pair, in O(log N) per range.

        Parameters
        ----------
        start : int or 1-d array_like of ints, optional
            First position of each range (inclusive), default 0. Negative counts from the end.
        stop : int or 1-d array_like of ints, optional
            End of each range (exclusive), default ``capacity``. Negative counts from the end.
            ``start`` and ``stop`` broadcast against each other.

        Returns
        -------
        float or numpy.ndarray
            A float when both ``start`` and ``stop`` are scalars, else an array of the tree's
            dtype with one result per range. An empty range (``start == stop``) gives
            ``init_value``.

        Raises
        ------
        TypeError
            If ``start`` or ``stop`` is not integer.
        ValueError
            If ``start`` and ``stop`` do not broadcast to a common 1-d shape.
        IndexError
            If a bound lies outside ``[-capacity, capacity]`` or a range has ``start > stop``.

        Examples
        --------
        >>> from rlu_trees import MinTree
        >>> tree = MinTree(8)
        >>> tree.set_values(..., [13, 7, 11, 17, 19, 5, 3, 23])
        >>> tree.partial_reduce(1, 5)
        7.0
        >>> tree.partial_reduce([0, 2, 7], [8, 4, 8])
        array([ 3., 11., 23.])
        """
        scalar = np.ndim(start) == 0 and (stop is None or np.ndim(stop) == 0)
        starts, stops = check_ranges("start and stop", (start, stop), capacity=self._capacity)
        out = np.empty(starts.shape[0], dtype=self._dtype)
        self._kernels().partial_reduce(
            self._tree, starts, stops, self._reduce_arg(), self._dtype.type(self._init_value), out
        )
        return float(out[0]) if scalar else out


class MinTree(SegmentTree):
    """A [`SegmentTree`][rlu_trees.SegmentTree] reducing with ``numpy.minimum`` (identity ``+inf``).

    See [`SegmentTree`][rlu_trees.SegmentTree] for the parameters (``capacity``; ``dtype``, keyword
    only), the errors and the operations.

    Examples
    --------
    >>> from rlu_trees import MinTree
    >>> tree = MinTree(4)
    >>> tree.root_value
    inf
    >>> tree.set_values([1, 2], [0.5, 0.25])
    >>> tree.root_value
    0.25
    """

    def __init__(self, capacity: int, *, dtype: npt.DTypeLike = np.float64) -> None:
        super().__init__(capacity, UFUNC["min"], IDENTITY["min"], dtype=dtype)


class MaxTree(SegmentTree):
    """A [`SegmentTree`][rlu_trees.SegmentTree] reducing with ``numpy.maximum`` (identity ``-inf``).

    See [`SegmentTree`][rlu_trees.SegmentTree] for the parameters (``capacity``; ``dtype``, keyword
    only), the errors and the operations.

    Examples
    --------
    >>> from rlu_trees import MaxTree
    >>> tree = MaxTree(4)
    >>> tree.set_values(..., [3.0, 1.0, 4.0, 1.5])
    >>> tree.root_value
    4.0
    >>> tree.partial_reduce(-2)
    4.0
    """

    def __init__(self, capacity: int, *, dtype: npt.DTypeLike = np.float64) -> None:
        super().__init__(capacity, UFUNC["max"], IDENTITY["max"], dtype=dtype)
