"""rlu_replay.ray: prioritized replay sharded over Ray actors (extra ``ray``).

``ShardedPrioritizedReplay`` starts the shard actors and samples across them (``stream`` for a
learner that must not wait); producers add through ``ReplayWriter``s; ``RateLimiter`` keeps
sampling from running ahead of insertion; ``ShardError`` names a shard that died or did not
answer. ``RateLimiter`` and ``ShardError`` import without Ray; the other names, used without Ray
installed, raise an ImportError that says ``pip install "rlu-replay[ray]"``.

Examples
--------
>>> from rlu_replay.ray import RateLimiter
>>> RateLimiter(samples_per_insert=4.0, min_size=100).min_size
100
"""

from typing import TYPE_CHECKING, Any

from rlu_replay.ray._errors import ShardError as ShardError
from rlu_replay.ray._limiter import RateLimiter as RateLimiter

if TYPE_CHECKING:
    from rlu_replay.ray._service import ShardedPrioritizedReplay as ShardedPrioritizedReplay
    from rlu_replay.ray._stream import SampleStream as SampleStream
    from rlu_replay.ray._writer import ReplayWriter as ReplayWriter

__all__ = ["RateLimiter", "ReplayWriter", "SampleStream", "ShardError", "ShardedPrioritizedReplay"]

_HOMES = {
    "ShardedPrioritizedReplay": "rlu_replay.ray._service",
    "ReplayWriter": "rlu_replay.ray._writer",
    "SampleStream": "rlu_replay.ray._stream",
}


def __getattr__(name: str) -> Any:
    """The names that need Ray, imported on first use (an ImportError names the extra)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'rlu_replay.ray' has no attribute {name!r}")
    import importlib

    try:
        import ray  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f'rlu_replay.ray.{name} needs Ray; install it with: pip install "rlu-replay[ray]"'
        ) from exc
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
