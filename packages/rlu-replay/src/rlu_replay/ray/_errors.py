"""ShardError: a shard that died, did not answer, or belongs to a closed service (no Ray needed)."""

from __future__ import annotations

from typing import Any


class ShardError(RuntimeError):
    """A replay shard died, did not answer in time, or its service was closed.

    The message is one line; the Ray error behind it, if any, is chained as ``__cause__``.

    Parameters
    ----------
    shard : int
        The shard's number, in ``[0, num_shards)``.
    message : str
        What happened.
    node : str, optional
        The id of the Ray node the shard ran on, when known.

    Attributes
    ----------
    shard : int
        The shard's number.
    node : str or None
        The Ray node id (hex) the shard ran on.

    Examples
    --------
    >>> from rlu_replay.ray import ShardError
    >>> err = ShardError(1, "did not answer within 5 s")
    >>> err.shard, str(err)
    (1, 'replay shard 1 did not answer within 5 s')
    >>> str(ShardError(0, "died during a sample", node="8f3a1c2b9d0e77aa"))
    'replay shard 0 (node 8f3a1c2b9d0e) died during a sample'
    """

    def __init__(self, shard: int, message: str, node: str | None = None) -> None:
        where = (
            f"replay shard {shard}" if node is None else f"replay shard {shard} (node {node[:12]})"
        )
        super().__init__(f"{where} {message}")
        self.shard = shard
        self.node = node

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.shard, self.node, str(self)))


def _rebuild(shard: int, node: str | None, text: str) -> ShardError:
    err = ShardError(shard, "", node)
    err.args = (text,)
    return err


ShardError.__module__ = "rlu_replay.ray"
