"""rlu_replay.ray: prioritized replay sharded over Ray actors (extra ``ray``).

``ShardedPrioritizedReplay`` starts the shard actors and samples across them; producers add
through ``ReplayWriter``s; ``RateLimiter`` keeps sampling from running ahead of insertion;
``ShardError`` names a shard that died or did not answer. Importing this module without Ray
installed raises an ImportError that says ``pip install "rlu-replay[ray]"``.

Examples
--------
>>> from rlu_replay.ray import RateLimiter
>>> RateLimiter(samples_per_insert=4.0, min_size=100).min_size
100
"""

from rlu_replay.ray._sharded import RateLimiter as RateLimiter
from rlu_replay.ray._sharded import ReplayWriter as ReplayWriter
from rlu_replay.ray._sharded import ShardedPrioritizedReplay as ShardedPrioritizedReplay
from rlu_replay.ray._sharded import ShardError as ShardError

__all__ = ["RateLimiter", "ReplayWriter", "ShardError", "ShardedPrioritizedReplay"]
