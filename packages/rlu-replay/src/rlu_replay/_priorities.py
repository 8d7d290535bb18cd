"""The priority component of prioritized replay: one home for proportional prioritization.

Per slot it keeps ``base = priority + epsilon``; a slot's sampling value is ``p = base ** alpha``,
held in a ``SumTree`` (draws), whose leaves a ``BlockMinimum`` reads for the smallest ``p`` (the
weights). Writes are queued and reach both in one batched call each before the next read,
which is where most of the time of a replay step would otherwise go. New items get the largest
``base`` given so far (1 before any). ``importance_weights`` is the one formula for the
weights, used by the local buffer and the Ray service alike.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
from rlu_trees import SumTree

from rlu_replay._minimum import BlockMinimum

# the compiled kernel of ``update``, per dtype of the priorities; loaded on first use
_update: dict[np.dtype[Any], Callable[..., tuple[int, float, int]]] | None = None

_QUEUE = 1024  # slots whose new values wait for the next batched write of the trees
# new slots are queued as ``start + _RAMP[:count]``; a run as long as _RAMP is written at once
_RAMP = np.arange(_QUEUE // 2, dtype=np.int64)


def _load_kernel() -> dict[np.dtype[Any], Callable[..., tuple[int, float, int]]]:
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
    """Sampling values ``(priority + epsilon) ** alpha`` of ``capacity`` slots, and their min."""

    def __init__(self, capacity: int, alpha: float, epsilon: float, seed: int) -> None:
        self.capacity = capacity
        self.alpha = alpha
        self.epsilon = epsilon
        self.base = np.zeros(capacity, dtype=np.float64)  # priority + epsilon, per slot
        self.max_base = 1.0
        self.sum_tree = SumTree(capacity, random_seed=seed)
        self._p = self.sum_tree.values  # a read-only view of the leaves, made once
        self.smallest = BlockMinimum(capacity)  # the smallest p over the filled slots
        self.filled = 0  # slots [0, filled) have been given a value: the ring fills from 0
        # slots whose value changed since the trees were last written, ``_queue[:_queued]``;
        # their values are read from ``base`` when the trees are written, so a slot queued
        # twice gets its latest value and the order does not matter
        self._queue = np.empty(_QUEUE, dtype=np.int64)
        self._queued = 0

    # ------------------------------------------------------------------ writing

    def set_new(self, start: int, count: int) -> None:
        """Give slots ``start .. start + count`` (wrapping around) the largest priority so far."""
        if count == 1 and self._queued < _QUEUE:  # one new item: the common case
            self.base[start] = self.max_base
            self._queue[self._queued] = start
            self._queued += 1
            if start >= self.filled:
                self.filled = start + 1
            return
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

        ``ids`` (int64) and ``priorities`` (float64 or float32) are 1-d, C-contiguous and of one
        length; with repeats, the last one wins. Returns how many were applied, or -1 - k when
        the k-th identifier is negative or priority not finite and >= 0 (then nothing is
        written).
        """
        kernel = (_update or _load_kernel())[priorities.dtype]
        n = ids.shape[0]
        if n > _QUEUE:  # too many to queue: the trees are written now
            slots = np.empty(n, dtype=np.int64)
            count, largest, bad = kernel(ids, priorities, serial, self.base, self.epsilon, slots)
            if count:
                self._write(slots[:count])
        else:
            if self._queued + n > _QUEUE:
                self.flush()
            q = self._queued  # the kernel writes the live slots to the queue's free end
            count, largest, bad = kernel(
                ids, priorities, serial, self.base, self.epsilon, self._queue[q:]
            )
            self._queued = q + count
        if bad >= 0:
            return -1 - bad
        if largest > self.max_base:
            self.max_base = largest
        return count

    def _mark(self, start: int, stop: int) -> None:
        """Queue slots ``start .. stop``, or write a long run at once; they count as filled."""
        if stop > self.filled:  # the ring fills from slot 0 up
            self.filled = stop
        count = stop - start
        if count == 1 and self._queued < _QUEUE:  # one new item: the common case
            self._queue[self._queued] = start
            self._queued += 1
            return
        if count >= _RAMP.shape[0]:
            self.flush()
            self._write(np.arange(start, stop, dtype=np.int64))
            return
        if self._queued + count > _QUEUE:
            self.flush()
        q = self._queued
        np.add(_RAMP[:count], start, out=self._queue[q : q + count])
        self._queued = q + count

    def flush(self) -> None:
        """Write the queued values to the sum tree, and repair the minimum."""
        if self._queued:
            queued, self._queued = self._queued, 0
            self._write(self._queue[:queued])

    def _write(self, slots: np.ndarray) -> None:
        values = self.base[slots]
        if self.alpha != 1.0:
            np.power(values, self.alpha, out=values)
        old = self._p[slots]
        self.sum_tree.set_values(slots, values)
        self.smallest.repair(self._p, self.filled, slots, old)

    def reweight(self, alpha: float, size: int) -> None:
        """A new ``alpha``: every one of the ``size`` filled slots gets its new value."""
        self.alpha = alpha
        self._queued = 0
        if size:
            values = self.base[:size] ** alpha
            self.sum_tree.set_values(np.arange(size, dtype=np.int64), values)
            self.smallest.rebuild(self._p, self.filled)

    def clear(self, seed: int) -> None:
        """Forget every priority (and the largest one)."""
        self._queued = 0
        self.base[:] = 0.0
        self.max_base = 1.0
        self.sum_tree = SumTree(self.capacity, random_seed=seed)
        self._p = self.sum_tree.values
        self.smallest = BlockMinimum(self.capacity)
        self.filled = 0

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
        return self.smallest.value

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
        return importance_weights(self.values(slots), self.smallest.value, beta)

    # ------------------------------------------------------------------ pickling

    def __getstate__(self) -> dict[str, Any]:
        self.flush()
        state = dict(self.__dict__)
        del state["_queue"], state["_queued"], state["_p"], state["smallest"]  # made again
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        min_tree = state.pop("min_tree", None)  # rlu-replay 0.4 and before kept a MinTree
        if "filled" not in state:  # there, the filled slots are its finite leaves
            state["filled"] = 0 if min_tree is None else int(np.isfinite(min_tree.values).sum())
        # a reader may map the arrays read-only (Ray's object store): own copies
        sum_tree = state["sum_tree"] = copy.deepcopy(state["sum_tree"])
        state["base"] = np.array(state["base"], dtype=np.float64)
        smallest = BlockMinimum(state["capacity"])
        smallest.rebuild(sum_tree.values, state["filled"])
        queue = np.empty(_QUEUE, dtype=np.int64)
        self.__dict__.update(state, smallest=smallest, _queue=queue, _queued=0, _p=sum_tree.values)
