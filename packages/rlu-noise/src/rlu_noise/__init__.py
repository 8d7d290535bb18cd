"""rlu-noise: exploration noise and schedules for RL agents (numpy only; JAX-aware schedules)."""

from .__about__ import __version__
from .ornstein_uhlenbeck import OrnsteinUhlenbeckNoise
from .schedule import StepwiseLinearFunction

__all__ = ["OrnsteinUhlenbeckNoise", "StepwiseLinearFunction", "__version__"]
