"""Waiting on shard calls.

Every failure becomes a one-line ShardError (or the shard's own refusal).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

try:
    import ray
    from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError
except ImportError as exc:  # pragma: no cover - exercised in an environment without ray
    raise ImportError(
        'rlu_replay.ray needs Ray; install it with: pip install "rlu-replay[ray]"'
    ) from exc

from rlu_replay.ray._errors import ShardError


def node_of(nodes: Sequence[str | None], shard: int) -> str | None:
    return nodes[shard] if shard < len(nodes) else None


def refusal(shard: int, what: str, exc: RayTaskError) -> Exception:
    """The error a shard raised itself (a refused batch, say), as one line of its own type."""
    cause = getattr(exc, "cause", None)
    if not isinstance(cause, Exception):
        return ShardError(shard, f"failed during {what}: {type(exc).__name__}")
    text = f"replay shard {shard} refused {what}: {cause}"
    try:
        err = type(cause)(text)
    except Exception:  # an exception type that takes other arguments
        return cause
    return err


def get(
    calls: Sequence[tuple[int, Any]], timeout: float, what: str, nodes: Sequence[str | None]
) -> list[Any]:
    """``ray.get`` each ``(shard, ref)`` within ``timeout`` seconds in all.

    A shard that died or did not answer raises a one-line ``ShardError`` naming it and its node
    (the Ray error chained as the cause); an error the shard raised itself (a refused batch) is
    raised again as its own type, with a one-line message.
    """
    deadline = time.monotonic() + timeout
    out = []
    for shard, ref in calls:
        left = max(0.0, deadline - time.monotonic())
        try:
            out.append(ray.get(ref, timeout=left))
        except RayActorError as exc:
            raise ShardError(
                shard, f"died during {what} ({type(exc).__name__})", node_of(nodes, shard)
            ) from exc
        except GetTimeoutError as exc:
            raise ShardError(
                shard, f"did not answer {what} within {timeout:g} s", node_of(nodes, shard)
            ) from exc
        except RayTaskError as exc:
            raise refusal(shard, what, exc) from exc
    return out
