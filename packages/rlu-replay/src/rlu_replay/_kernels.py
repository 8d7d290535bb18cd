"""The compiled kernel (numba) of a priority update: checks, liveness and writes in one pass.

Imported on the first ``update_priorities`` (``import rlu_replay`` loads no numba). numba comes
with rlu-trees; the kernel is cached on disk like rlu-trees' kernels, so a fresh process loads
machine code instead of compiling again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import numba
import numpy as np


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


def _compile() -> Callable[..., tuple[int, float, int]]:
    try:
        kernel = numba.njit(cache=True, nogil=True)(_update)
    except RuntimeError:  # no writable cache folder: compile in every process
        kernel = numba.njit(cache=False, nogil=True)(_update)
    i64, f64 = np.zeros(1, np.int64), np.zeros(1, np.float64)
    # the machine code for exactly these types, resolved once: callers pass only such arrays
    sig = tuple(numba.typeof(a) for a in (i64, f64, i64, f64, 0.0, i64))  # type: ignore[no-untyped-call]  # numba: unannotated
    return cast(Callable[..., tuple[int, float, int]], cast(Any, kernel).compile(sig))


update: Callable[..., tuple[int, float, int]] = _compile()
