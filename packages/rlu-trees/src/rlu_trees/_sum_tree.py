"""SumTree: a segment tree of non-negative values with weighted sampling (prioritized replay)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from rlu_trees._checks import check_bool, check_int, check_seed, check_unit_array
from rlu_trees._kernel_contract import CHECK_SUM, INT64
from rlu_trees._reducers import IDENTITY, UFUNC
from rlu_trees._segment_tree import SegmentTree

# the compiled ``sample`` for each tree dtype, resolved once (kept out of the instances, so that
# trees stay picklable); see ``_numba_kernels.typed``
_DRAW: dict[np.dtype[Any], Callable[..., bool]] = {}
_EMPTY_OUT = np.empty(0, dtype=INT64)


class SumTree(SegmentTree):
    r"""A sum tree: non-negative values, batched updates and batched weighted sampling.

    ``sample(n)`` draws indices with probability ``values[i] / values.sum()``. Updates and
    draws cost O(log N) each; a batch of draws walks down the tree one level at a time for
    all draws together. Every index returned lies in ``[0, capacity)`` and has a positive
    value, for any ``u`` in ``[0, 1]`` and after any sequence of updates.

    Parameters
    ----------
    capacity : int
        See [`SegmentTree`][rlu_trees.SegmentTree].
    random_seed : int or None, optional
        Seed of the tree's own random stream used by [`sample`][rlu_trees.SumTree.sample]; None
        draws fresh entropy.
    dtype : {numpy.float64, numpy.float32}, optional
        See [`SegmentTree`][rlu_trees.SegmentTree]. Keyword only.

    Raises
    ------
    TypeError
        If ``random_seed`` is not None or an int; see [`SegmentTree`][rlu_trees.SegmentTree] for the
        others.
    ValueError
        If ``random_seed < 0``; see [`SegmentTree`][rlu_trees.SegmentTree] for the others.

    Examples
    --------
    >>> from rlu_trees import SumTree
    >>> tree = SumTree(8, random_seed=13)
    >>> tree.set_values(..., [13, 7, 11, 17, 19, 5, 3, 23])
    >>> tree.root_value
    98.0
    >>> tree.inverse_cdf([0.0, 13 / 98, 0.5, 1.0])
    array([0, 1, 4, 7])
    >>> idx = tree.sample(4)
    >>> idx.shape, bool(((idx >= 0) & (idx < 8)).all())
    ((4,), True)
    """

    # NaN, infinities and negative values are refused (see _kernel_contract)
    _VALUE_CHECK = CHECK_SUM

    def __init__(
        self,
        capacity: int,
        random_seed: int | None = None,
        *,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        state = check_seed("random_seed", random_seed)
        super().__init__(capacity, UFUNC["add"], IDENTITY["add"], dtype=dtype)
        self._random_seed = random_seed
        self._rng_state = state

    @property
    def random_seed(self) -> int | None:
        """The seed of the stream used by [`sample`][rlu_trees.SumTree.sample].

        Assigning to it restarts the stream.
        """
        return self._random_seed

    @random_seed.setter
    def random_seed(self, new_random_seed: int | None) -> None:
        state = check_seed("random_seed", new_random_seed)
        self._rng_state = state
        self._random_seed = new_random_seed

    def _require_mass(self) -> None:
        if not self._tree[1] > 0:
            raise RuntimeError(
                "cannot sample from a SumTree whose values are all zero (root_value == 0); "
                "set some positive values first"
            )

    def sample(self, n: int, stratified: bool = False) -> npt.NDArray[np.int64]:
        """Draw ``n`` indices, each with probability proportional to its value.

        Parameters
        ----------
        n : int
            Number of indices to draw, at least 1.
        stratified : bool, optional
            If True, cut the total mass into ``n`` equal slices and draw one index from each
            (the prioritized-replay paper's scheme: same marginal distribution, lower variance).
            Default False: ``n`` independent draws.

        Returns
        -------
        numpy.ndarray
            int64 array of shape ``(n,)``; every entry is in ``[0, capacity)`` and has a
            positive value.

        Raises
        ------
        TypeError
            If ``n`` is not an int or ``stratified`` is not a bool.
        ValueError
            If ``n < 1``.
        RuntimeError
            If all values are zero, so there is nothing to sample.

        Examples
        --------
        >>> from rlu_trees import SumTree
        >>> tree = SumTree(4, random_seed=0)
        >>> tree.set_values(..., [0.0, 1.0, 0.0, 3.0])
        >>> sorted(set(tree.sample(100).tolist()))
        [1, 3]
        >>> tree.sample(4, stratified=True)
        array([1, 3, 3, 3])
        """
        if type(n) is not int or n < 1:  # the checks, skipped for a plain int >= 1
            n = check_int("n", n, minimum=1)
        if stratified is not False and stratified is not True:
            stratified = check_bool("stratified", stratified)
        out = np.empty(n, dtype=INT64)
        draw = _DRAW.get(self._dtype) if self._use_numba else None
        if draw is None:
            draw = self._sample_kernel()
        # the kernel draws nothing (and leaves the random stream alone) from an all-zero tree
        if not draw(self._tree, self._rng_state, stratified, out):
            self._require_mass()
        return out

    def _sample_kernel(self) -> Callable[..., bool]:
        kernels = self._kernels()
        draw: Callable[..., bool] = kernels.sample
        if not self._use_numba:
            return draw
        # every argument of sample is an array the tree owns (or a bool), so their types are
        # fixed by the dtype: resolve the machine code once
        draw = kernels.typed(kernels.sample, self._tree, self._rng_state, False, _EMPTY_OUT)
        _DRAW[self._dtype] = draw
        return draw

    @overload
    def inverse_cdf(self, u: float | np.floating[Any] | np.integer[Any]) -> int: ...
    @overload
    def inverse_cdf(
        self, u: Sequence[float] | npt.NDArray[np.floating[Any] | np.integer[Any]]
    ) -> npt.NDArray[np.int64]: ...
    def inverse_cdf(
        self,
        u: float
        | np.floating[Any]
        | np.integer[Any]
        | Sequence[float]
        | npt.NDArray[np.floating[Any] | np.integer[Any]],
    ) -> int | npt.NDArray[np.int64]:
        r"""Map numbers ``u`` in ``[0, 1]`` to indices through the cumulative distribution.

        Index ``i`` is returned for ``cumsum[i-1] <= u * total < cumsum[i]``, with
        ``cumsum = numpy.cumsum(values)`` and ``total = root_value``; indices with value 0 are
        never returned, so ``u = 1`` gives the last index with a positive value. This is the
        machinery of [`sample`][rlu_trees.SumTree.sample].

        Parameters
        ----------
        u : float or 1-d array_like of floats
            Numbers in ``[0, 1]``, typically uniform draws.

        Returns
        -------
        int or numpy.ndarray
            An int for a scalar ``u``, else an int64 array of the same length as ``u``.

        Raises
        ------
        TypeError
            If ``u`` is not real numbers.
        ValueError
            If ``u`` is not 0-d or 1-d, or an entry lies outside ``[0, 1]`` (NaN included).
        RuntimeError
            If all values are zero.

        Examples
        --------
        >>> from rlu_trees import SumTree
        >>> tree = SumTree(3)
        >>> tree.set_values(..., [1.0, 0.0, 1.0])
        >>> tree.inverse_cdf(0.5)
        2
        >>> tree.inverse_cdf([0.0, 0.49, 1.0])
        array([0, 0, 2])
        """
        scalar = np.ndim(u) == 0
        arr = check_unit_array("u", u)
        self._require_mass()
        out = np.empty(arr.shape[0], dtype=INT64)
        self._kernels().inverse_cdf(self._tree, arr, out)
        return int(out[0]) if scalar else out
