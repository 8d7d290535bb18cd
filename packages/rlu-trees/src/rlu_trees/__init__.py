"""rlu-trees: segment trees for prioritized experience replay.

``SumTree`` (weighted sampling), ``MinTree``, ``MaxTree`` and the general ``SegmentTree``, with
batched updates, batched range reductions and compiled (numba) kernels that are loaded on first
use, not on import.

Examples
--------
>>> from rlu_trees import SumTree
>>> tree = SumTree(4, random_seed=1)
>>> tree.set_values(..., [1.0, 2.0, 3.0, 4.0])
>>> tree.partial_reduce(1, 3)
5.0
"""

from rlu_trees.__about__ import __version__ as __version__
from rlu_trees._segment_tree import MaxTree as MaxTree
from rlu_trees._segment_tree import MinTree as MinTree
from rlu_trees._segment_tree import SegmentTree as SegmentTree
from rlu_trees._sum_tree import SumTree as SumTree

__all__ = ["MaxTree", "MinTree", "SegmentTree", "SumTree", "__version__"]
