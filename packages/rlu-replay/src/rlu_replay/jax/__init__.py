"""rlu_replay.jax: replay buffers that live inside ``jax.jit``, ``lax.scan`` and ``vmap``.

A buffer's state is one pytree (storage for any pytree of fixed-shape leaves, the counters
and, for prioritized replay, a ``JaxSumTree`` and a ``JaxMinTree``), and pure functions use
it: [`init`][rlu_replay.jax.init] / [`init_uniform`][rlu_replay.jax.init_uniform],
[`add`][rlu_replay.jax.add], [`sample`][rlu_replay.jax.sample] and
[`update_priorities`][rlu_replay.jax.update_priorities]. The semantics are those of
``rlu_replay.PrioritizedReplayBuffer`` (α, β, ε, the largest priority for new items, weights
normalised by the largest, stale updates ignored). Install with
``pip install "rlu-replay[jax]"``; ``import rlu_replay`` alone never loads jax.

Examples
--------
>>> import jax, jax.numpy as jnp
>>> from rlu_replay import jax as rj
>>> state = rj.init({"obs": jnp.zeros(4), "reward": jnp.float32(0)}, capacity=1000)
>>> @jax.jit
... def step(state, key, transitions):
...     state = rj.add(state, transitions)
...     batch, idx, weights = rj.sample(state, key, 32, beta=0.4)
...     td_error = batch["reward"] - 0.5  # a learner's TD errors
...     return rj.update_priorities(state, idx, jnp.abs(td_error))
>>> state = step(state, jax.random.key(0), {"obs": jnp.ones((8, 4)), "reward": jnp.ones(8)})
>>> int(state.size)
8
"""

from rlu_replay.jax._state import PrioritizedReplayState as PrioritizedReplayState
from rlu_replay.jax._state import ReplayState as ReplayState
from rlu_replay.jax._state import Sample as Sample
from rlu_replay.jax._state import add as add
from rlu_replay.jax._state import init as init
from rlu_replay.jax._state import init_uniform as init_uniform
from rlu_replay.jax._state import sample as sample
from rlu_replay.jax._state import update_priorities as update_priorities

__all__ = [
    "PrioritizedReplayState",
    "ReplayState",
    "Sample",
    "add",
    "init",
    "init_uniform",
    "sample",
    "update_priorities",
]
