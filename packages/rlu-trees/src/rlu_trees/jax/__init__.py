"""rlu_trees.jax: functional segment trees that run inside ``jax.jit``, ``lax.scan`` and ``vmap``.

``JaxSumTree`` (weighted sampling with an explicit PRNG key), ``JaxMinTree``, ``JaxMaxTree``
and the general ``JaxSegmentTree``: pytrees with static capacity and reducer, so that a
whole prioritized-replay update compiles into one function. ``cpu_calls()`` says whether the
compiled CPU kernels serve them here. Install with
``pip install "rlu-trees[jax]"``; ``import rlu_trees`` alone never loads jax.

Examples
--------
>>> import jax
>>> from rlu_trees.jax import JaxSumTree
>>> tree = JaxSumTree(4).set_values(..., [1.0, 2.0, 3.0, 4.0])
>>> float(tree.partial_reduce(1, 3))
5.0
>>> tree.sample(jax.random.key(0), 3).shape
(3,)
"""

from rlu_trees.jax._cpu import CpuCalls as CpuCalls
from rlu_trees.jax._cpu import cpu_calls as cpu_calls
from rlu_trees.jax._debug import debug_checks as debug_checks
from rlu_trees.jax._trees import JaxMaxTree as JaxMaxTree
from rlu_trees.jax._trees import JaxMinTree as JaxMinTree
from rlu_trees.jax._trees import JaxSegmentTree as JaxSegmentTree
from rlu_trees.jax._trees import JaxSumTree as JaxSumTree

__all__ = [
    "CpuCalls",
    "JaxMaxTree",
    "JaxMinTree",
    "JaxSegmentTree",
    "JaxSumTree",
    "cpu_calls",
    "debug_checks",
]
