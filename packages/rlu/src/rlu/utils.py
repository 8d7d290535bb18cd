"""Drop-in replacement for ``coax.utils``: replace ``coax.utils`` by ``rlu.utils``.

Holds the 52 documented names of ``coax.utils`` and its undocumented ``chunks_pow2``, plus the
vocabulary classes and ``TransitionBatch``; each loads from its own distribution on first use.
"""

from __future__ import annotations

from rlu._lazy import lazy_module
from rlu._names import ALL_NAMES

__all__ = sorted(ALL_NAMES)
__getattr__, __dir__ = lazy_module(__name__, ALL_NAMES)
