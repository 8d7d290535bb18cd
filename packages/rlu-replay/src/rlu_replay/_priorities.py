"""The priority component of prioritized replay: one home for proportional prioritization.

Per slot it keeps ``base = priority + epsilon``; a slot's sampling value is ``p = base ** alpha``,
held in a ``SumTree`` (draws) and a ``MinTree`` (the smallest ``p``, for the weights). Writes are
queued and reach both trees in one batched call per tree before the next read, which is where
most of the time of a replay step would otherwise go. New items get the largest ``base`` given
so far (1 before any). ``importance_weights`` is the one formula for the weights, used by the
local buffer and the Ray service alike.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
from rlu_trees import MinTree, SumTree

_update: Callable[..., tuple[int, float, int]] | None = None  # the compiled kernel, once loaded


def _load_kernel() -> Callable[..., tuple[int, float, int]]:
    global _update
    from rlu_replay._kernels import update  # loads numba: on first use, not at import

    _update = update
    return update


def importance_weights(p: np.ndarray, p_min: float, beta: float) -> np.ndarray:
    r"""$w_i = (N P(i))^{-\beta} / \max_j (N P(j))^{-\beta} = (p_{min} / p_i)^{\beta}$.

    ``N`` and the total cancel out, so a caller that combines several buffers passes the
    smallest ``p`` over all of them. The largest possible weight is 1. ``p`` (float64) is
    overwritten with the weights.
    """
    np.divide(p_min, p, out=p)  # at most 1: neither overflows nor divides by zero (p_i > 0)
    np.power(p, beta, out=p)
    return p


class Priorities:
    """Sampling values ``(priority + epsilon) ** alpha`` of ``capacity`` slots, in two trees."""

    def __init__(self, capacity: int, alpha: float, epsilon: float, seed: int) -> None:
        self.capacity = capacity
        self.alpha = alpha
        self.epsilon = epsilon
        self.base = np.zeros(capacity, dtype=np.float64)  # priority + epsilon, per slot
        self.max_base = 1.0
        self.sum_tree = SumTree(capacity, random_seed=seed)
        self._p = self.sum_tree.values  # a read-only view of the leaves, made once
        self.min_tree = MinTree(capacity)
        # slots whose value changed since the trees were last written: ranges of new items
        # (merged while adjacent) or arrays of updated slots; their values are read from
        # ``base`` at the flush, so the order of the entries does not matter
        self._dirty: list[slice | np.ndarray] = []

    # ------------------------------------------------------------------ writing

    def set_new(self, start: int, count: int) -> None:
        """Give slots ``start .. start + count`` (wrapping around) the largest priority so far."""
        cap, value = self.capacity, self.max_base
        stop = start + count
        if stop <= cap:
            self.base[start:stop] = value
            self._mark(start, stop)
        else:
            self.base[start:] = value
            self.base[: stop - cap] = value
            self._mark(start, cap)
            self._mark(0, stop - cap)

    def set_run(self, start: int, base: np.ndarray) -> None:
        """Give slots ``start .. start + len(base)`` (wrapping around) these ``base`` values."""
        cap, count = self.capacity, base.shape[0]
        first = min(count, cap - start)
        self.base[start : start + first] = base[:first]
        self._mark(start, start + first)
        if first < count:
            self.base[: count - first] = base[first:]
            self._mark(0, count - first)
        if count:
            self.max_base = max(self.max_base, float(base.max()))

    def update(self, ids: np.ndarray, priorities: np.ndarray, serial: np.ndarray) -> int:
        """New priorities for the items ``ids`` that still hold their slot (``serial``).

        ``ids`` (int64) and ``priorities`` (float64) are 1-d, C-contiguous and of one length;
        with repeats, the last one wins. Returns how many were applied, or -1 - k when the k-th
        identifier is negative or priority not finite and >= 0 (then nothing is written).
        """
        kernel = _update or _load_kernel()
        slots = np.empty(ids.shape[0], dtype=np.int64)
        count, largest, bad = kernel(ids, priorities, serial, self.base, self.epsilon, slots)
        if bad >= 0:
            return -1 - bad
        if count:
            self.max_base = max(self.max_base, largest)
            self._dirty.append(slots[:count])
            if len(self._dirty) >= 64:
                self.flush()
        return count

    def _mark(self, start: int, stop: int) -> None:
        dirty = self._dirty
        if dirty:
            last = dirty[-1]
            if type(last) is slice and last.stop == start:
                dirty[-1] = slice(last.start, stop)
                return
        dirty.append(slice(start, stop))
        if len(dirty) >= 64:
            self.flush()

    def flush(self) -> None:
        """Write the queued values to both trees: one batched call per tree."""
        if not self._dirty:
            return
        parts = [
            np.arange(d.start, d.stop, dtype=np.int64) if type(d) is slice else d
            for d in self._dirty
        ]
        self._dirty = []
        slots = parts[0] if len(parts) == 1 else np.concatenate(parts)
        values = self.base[slots]
        if self.alpha != 1.0:
            np.power(values, self.alpha, out=values)
        self.sum_tree.set_values(slots, values)
        self.min_tree.set_values(slots, values)

    def reweight(self, alpha: float, size: int) -> None:
        """A new ``alpha``: every one of the ``size`` filled slots gets its new value."""
        self.alpha = alpha
        self._dirty = []
        if size:
            self._mark(0, size)
            self.flush()

    def clear(self, seed: int) -> None:
        """Forget every priority (and the largest one)."""
        self._dirty = []
        self.base[:] = 0.0
        self.max_base = 1.0
        self.sum_tree = SumTree(self.capacity, random_seed=seed)
        self._p = self.sum_tree.values
        self.min_tree = MinTree(self.capacity)

    # ------------------------------------------------------------------ reading

    @property
    def total(self) -> float:
        """The sum of ``p`` over the slots."""
        self.flush()
        return float(self.sum_tree.root_value)

    @property
    def minimum(self) -> float:
        """The smallest ``p`` over the slots (inf for none)."""
        self.flush()
        return float(self.min_tree.root_value)

    def draw(self, n: int, rng: np.random.Generator | None, stratified: bool) -> np.ndarray:
        """``n`` slots drawn in proportion to ``p``: from the tree's own stream, or ``rng``."""
        self.flush()
        if rng is None:
            return self.sum_tree.sample(n, stratified)
        u = rng.random(n)
        if stratified:
            u += np.arange(n)
            u /= n
        return self.at(u)

    def at(self, u: np.ndarray) -> np.ndarray:
        """The slots at fractions ``u`` (in ``[0, 1)``) of the cumulative ``p``."""
        self.flush()
        return np.asarray(self.sum_tree.inverse_cdf(u), dtype=np.int64)

    def values(self, slots: np.ndarray) -> np.ndarray:
        """The sampling values ``p`` of ``slots`` (a new float64 array)."""
        self.flush()
        p: np.ndarray = self._p[slots]
        return p

    def weights(self, slots: np.ndarray, beta: float) -> np.ndarray:
        """The importance weights of ``slots`` within this buffer."""
        return importance_weights(self.values(slots), float(self.min_tree.root_value), beta)

    # ------------------------------------------------------------------ pickling

    def __getstate__(self) -> dict[str, Any]:
        self.flush()
        state = dict(self.__dict__)
        del state["_dirty"], state["_p"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        # a reader may map the arrays read-only (Ray's object store): own copies
        state["sum_tree"], state["min_tree"] = copy.deepcopy((state["sum_tree"], state["min_tree"]))
        state["base"] = np.array(state["base"], dtype=np.float64)
        self.__dict__.update(state, _dirty=[], _p=state["sum_tree"].values)
