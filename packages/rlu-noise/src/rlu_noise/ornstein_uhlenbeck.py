"""Compatibility module: it exists only so that old pickles keep loading.

rlu-noise 0.1.0 defined ``OrnsteinUhlenbeckNoise`` here, and pickles and checkpoints of its
instances record the path ``rlu_noise.ornstein_uhlenbeck.OrnsteinUhlenbeckNoise``. Import it
from ``rlu_noise`` instead.
"""

from rlu_noise._ornstein_uhlenbeck import OrnsteinUhlenbeckNoise as OrnsteinUhlenbeckNoise
