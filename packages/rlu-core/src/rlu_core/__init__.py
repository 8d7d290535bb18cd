"""rlu-core: dependency-free helpers of rlu (the ``coax.utils`` drop-in) and its vocabulary ABCs."""

from .__about__ import __version__
from .pretty import pretty_print, pretty_repr

__all__ = [
    "__version__",
    "pretty_print",
    "pretty_repr",
]
