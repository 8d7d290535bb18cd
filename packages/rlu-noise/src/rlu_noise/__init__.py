"""rlu-noise: exploration noise and schedules for RL agents (numpy only; JAX-aware schedules)."""

from rlu_noise.__about__ import __version__ as __version__
from rlu_noise._ornstein_uhlenbeck import OrnsteinUhlenbeckNoise as OrnsteinUhlenbeckNoise
from rlu_noise._schedule import StepwiseLinearFunction as StepwiseLinearFunction

__all__ = ["OrnsteinUhlenbeckNoise", "StepwiseLinearFunction", "__version__"]
