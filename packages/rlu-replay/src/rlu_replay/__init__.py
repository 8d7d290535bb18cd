"""rlu-replay: prioritized replay buffers on rlu-trees, and the same sharded over Ray actors.

``ReplayBuffer`` (uniform) and ``PrioritizedReplayBuffer`` (proportional) store any pytree of
arrays in preallocated numpy storage; ``NStepTracer`` turns environment steps into n-step
``TransitionBatch``es. ``rlu_replay.ray`` (extra ``ray``) shards a prioritized replay over Ray
actors. ``import rlu_replay`` loads numpy only: neither ray, nor gymnasium, nor numba.

Examples
--------
>>> import numpy as np
>>> from rlu_replay import PrioritizedReplayBuffer
>>> buffer = PrioritizedReplayBuffer(capacity=100, random_seed=0)
>>> _ = buffer.add({"obs": np.zeros((8, 4), np.float32), "reward": np.ones(8)})
>>> batch, idx, weights = buffer.sample(4)
>>> batch["obs"].shape, weights.shape
((4, 4), (4,))
"""

from rlu_replay.__about__ import __version__ as __version__
from rlu_replay._buffer import ReplayBuffer as ReplayBuffer
from rlu_replay._layout import Sample as Sample
from rlu_replay._prioritized import PrioritizedReplayBuffer as PrioritizedReplayBuffer
from rlu_replay._tracer import NStepTracer as NStepTracer

__all__ = ["NStepTracer", "PrioritizedReplayBuffer", "ReplayBuffer", "Sample", "__version__"]
