"""rlu: the utility layer of reinforcement learning in JAX.

Every public name of the rlu distributions is reachable here (``rlu.SumTree``) and in
``rlu.utils``, the drop-in replacement for ``coax.utils``. Names are imported from their
own distribution the first time they are used, so ``import rlu`` loads none of jax,
gymnasium, dm_control or numba.
"""

from __future__ import annotations

from rlu.__about__ import __version__ as __version__
from rlu._lazy import lazy_module
from rlu._names import ALL_NAMES

__all__ = sorted(ALL_NAMES)
__getattr__, __dir__ = lazy_module(__name__, ALL_NAMES, submodules=("utils",))
