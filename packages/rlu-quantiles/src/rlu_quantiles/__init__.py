"""rlu-quantiles: quantile fractions and their cosine embedding for distributional RL.

``quantiles`` gives fixed, equally spaced fractions (QR-DQN style), ``quantiles_uniform``
random sorted fractions (IQN style) and ``quantile_cos_embedding`` the cosine features an
implicit quantile network feeds its fractions through. Depends on JAX only.
"""

from rlu_quantiles.__about__ import __version__ as __version__
from rlu_quantiles._cos_embedding import quantile_cos_embedding as quantile_cos_embedding
from rlu_quantiles._quantile_fractions import quantiles as quantiles
from rlu_quantiles._quantile_fractions import quantiles_uniform as quantiles_uniform

__all__ = ["__version__", "quantile_cos_embedding", "quantiles", "quantiles_uniform"]
