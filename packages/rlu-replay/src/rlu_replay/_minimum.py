"""The smallest sampling value over a buffer's filled slots, for the importance weights.

A ``MinTree`` of its own would hold a second copy of every slot's value and, at each write,
load a leaf and a few nodes that nothing else touches: cache misses in every replay step.
Instead the minimum is a 64-ary tree *over the sum tree's leaves*: level 0 holds the minimum of
each block of 64 slots, each level above the minimum of 64 entries below, and the last level
one entry, the minimum of all. After leaves change, each changed slot walks up while it
changes its parent: a smaller value lowers the parent at once; the old minimum of a block
growing makes that block read its 64 children again (about one write in 64). The walks stop
early, as most writes change nothing above their block.

Slots ``[0, filled)`` count; slots beyond (never written since the buffer was made or cleared)
do not, whatever their leaf holds. The kernels are compiled (numba) on first use.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FAN = 64  # children per entry (a power of 2), for the kernels (rlu_replay._kernels) too
_kernels: Any = None  # rlu_replay._kernels, imported on first use (it loads numba)


def _load() -> Any:
    global _kernels
    from rlu_replay import _kernels as kernels

    _kernels = kernels
    return kernels


class BlockMinimum:
    """The minimum of ``p[:filled]`` for an array ``p`` of ``capacity`` values owned elsewhere.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([3.0, 1.0, 2.0, 0.0])
    >>> minimum = BlockMinimum(4)
    >>> minimum.rebuild(p, filled=3)  # slot 3 is not filled: its 0.0 does not count
    >>> minimum.value
    1.0
    >>> old = p[[1]].copy()
    >>> p[1] = 5.0
    >>> minimum.repair(p, 3, np.array([1]), old)
    >>> minimum.value
    2.0
    """

    def __init__(self, capacity: int) -> None:
        sizes = []
        n = capacity
        while True:
            n = -(-n // FAN)
            sizes.append(n)
            if n == 1:
                break
        self._offsets = np.cumsum([0, *sizes]).astype(np.int64)
        self._mins = np.full(int(self._offsets[-1]), np.inf)

    @property
    def value(self) -> float:
        """The minimum over the filled slots (inf for none)."""
        return float(self._mins[-1])

    def repair(self, p: np.ndarray, filled: int, slots: np.ndarray, old: np.ndarray) -> None:
        """``p[slots]`` changed from ``old`` (float64, one per slot; repeats allowed)."""
        (_kernels or _load()).min_repair(p, filled, self._mins, self._offsets, slots, old)

    def rebuild(self, p: np.ndarray, filled: int) -> None:
        """Forget everything and read ``p[:filled]`` again."""
        (_kernels or _load()).min_rebuild(p, filled, self._mins, self._offsets)
