"""The compiled kernels (numba) of the priority component.

The priority update (checks, liveness and writes in one pass) and the walks of the minimum's
64-ary tree (see ``rlu_replay._minimum``). Imported on first use (``import rlu_replay`` loads no
numba). numba comes with rlu-trees; the kernels are cached on disk like rlu-trees' kernels, so
a fresh process loads machine code instead of compiling again, and processes that share the
cache (Ray shards starting together) take turns with it through rlu-trees' lock
(``rlu_trees._numba_cache``, private to the rlu distributions: rlu-replay pins rlu-trees'
minor version).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import numba
import numpy as np
from rlu_trees import _numba_cache

from rlu_replay._minimum import FAN


def _update(
    ids: np.ndarray,
    priorities: np.ndarray,
    serial: np.ndarray,
    base: np.ndarray,
    epsilon: float,
    out: np.ndarray,
) -> tuple[int, float, int]:  # pragma: no cover - compiled
    """Give the live items among ``ids`` the base ``priority + epsilon``.

    Returns ``(count, largest, bad)``: the live slots are ``out[:count]``, ``largest`` their
    largest new base (0 for none). ``bad`` is -1, or the position of the first identifier < 0 or
    priority that is not finite and >= 0: then nothing is written.
    """
    n = ids.shape[0]
    for k in range(n):
        p = priorities[k]
        if ids[k] < 0 or not (p >= 0.0 and p < math.inf):  # NaN fails both
            return 0, 0.0, k
    capacity = serial.shape[0]
    count = 0
    largest = 0.0
    for k in range(n):
        slot = ids[k] % capacity
        if serial[slot] == ids[k]:
            b = priorities[k] + epsilon
            base[slot] = b
            out[count] = slot
            count += 1
            if b > largest:
                largest = b
    return count, largest, -1


# ------------------------------------------------- the minimum's tree (see rlu_replay._minimum)
_SHIFT = FAN.bit_length() - 1  # log2 of the fan-out (a power of 2)


def _children_min_py(
    p: np.ndarray, filled: int, mins: np.ndarray, offsets: np.ndarray, level: int, entry: int
) -> float:  # pragma: no cover - compiled
    """The minimum over the children of ``entry`` of ``level``: slots, or entries one below."""
    lo = entry << _SHIFT
    best = np.inf
    if level == 0:
        hi = min(lo + FAN, filled)
        for i in range(lo, hi):
            if p[i] < best:
                best = p[i]
    else:
        base = offsets[level - 1]
        hi = min(lo + FAN, offsets[level] - base)
        for i in range(base + lo, base + hi):
            if mins[i] < best:
                best = mins[i]
    return best


def _repair_py(
    p: np.ndarray,
    filled: int,
    mins: np.ndarray,
    offsets: np.ndarray,
    slots: np.ndarray,
    old: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Bring ``mins`` up to date after ``p[slots[k]]`` changed from ``old[k]`` (all written)."""
    levels = offsets.shape[0] - 1
    for k in range(slots.shape[0]):
        child = slots[k]
        before = old[k]
        after = p[child]
        for level in range(levels):
            entry = child >> _SHIFT
            at = offsets[level] + entry
            current = mins[at]
            if after < current:
                value = after  # a smaller child lowers its parent
            elif before == current and after != before:
                # the child may have been the only one at the minimum: read all children
                value = _children_min(p, filled, mins, offsets, level, entry)
            else:
                break  # the parent keeps its value, and so does every entry above it
            mins[at] = value  # if equal, the next level stops: neither rule applies
            child, before, after = entry, current, value


def _rebuild_py(
    p: np.ndarray, filled: int, mins: np.ndarray, offsets: np.ndarray
) -> None:  # pragma: no cover - compiled
    """Every entry from scratch, bottom-up."""
    for level in range(offsets.shape[0] - 1):
        for entry in range(offsets[level + 1] - offsets[level]):
            mins[offsets[level] + entry] = _children_min(p, filled, mins, offsets, level, entry)


def _njit(func: Callable[..., Any]) -> Any:
    try:
        return _numba_cache.njit(func)
    except RuntimeError:  # no writable cache folder: compile in every process
        return _numba_cache.njit(func, cache=False)


# compiled; min_repair and min_rebuild call _children_min by this name
_children_min = _njit(_children_min_py)
#: the minimum's kernels: repair after writes, and rebuild from scratch
min_repair = _njit(_repair_py)
min_rebuild = _njit(_rebuild_py)


def _compile() -> dict[np.dtype[Any], Callable[..., tuple[int, float, int]]]:
    kernel = _njit(_update)
    i64, f64 = np.zeros(1, np.int64), np.zeros(1, np.float64)
    compiled = {}
    # the machine code for exactly these types, resolved once: callers pass only such arrays;
    # priorities come as float64, or as float32 (TD errors of a float32 network) without a copy
    for prio in (f64, np.zeros(1, np.float32)):
        sig = tuple(numba.typeof(a) for a in (i64, prio, i64, f64, 0.0, i64))  # type: ignore[no-untyped-call]  # numba: unannotated
        compiled[prio.dtype] = cast(
            Callable[..., tuple[int, float, int]], cast(Any, kernel).compile(sig)
        )
    return compiled


#: the compiled update, per dtype of the priorities (float64 and float32)
update: dict[np.dtype[Any], Callable[..., tuple[int, float, int]]] = _compile()
