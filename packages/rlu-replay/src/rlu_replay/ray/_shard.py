"""The Ray actors of a sharded replay: one per shard, and the service's directory.

A shard is a ``PrioritizedReplayBuffer`` built in the actor's own process (from numbers, or from
its checkpoint file), used through its public methods; every answer carries the shard's
figures, so a client learns them without asking. The directory holds what every writer and
shard must agree on: the layout of the items (fixed by the first add anywhere, or declared), and
the current shard handles with a generation number that a restore increases.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import ray

from rlu_replay._buffer import ReplayBuffer
from rlu_replay._layout import Layout
from rlu_replay._prioritized import PrioritizedReplayBuffer


def same_layout(a: Any, b: Any) -> bool:
    """Whether two example batches describe the same layout (structure, dtypes, shapes)."""
    la, lb = Layout.of(a)[0], Layout.of(b)[0]
    return (la.treedef, la.transition_batch, la.dtypes, la.shapes) == (
        lb.treedef,
        lb.transition_batch,
        lb.dtypes,
        lb.shapes,
    )


class Directory:
    """The service's shared facts: the items' layout and the current shards."""

    def __init__(self, example: Any) -> None:
        self._example = example
        self._generation = 0
        self._shards: list[Any] = []
        self._nodes: list[str | None] = []
        self._closed = False

    def claim(self, example: Any) -> Any:
        """The service's layout: the first one claimed wins, and every shard takes it."""
        if self._example is None:
            self._example = example
        return self._example

    def example(self) -> Any:
        return self._example

    def replace(self, shards: list[Any], nodes: list[str | None], example: Any) -> int:
        """New shards (at the start, or after a restore): a new generation."""
        self._generation += 1
        self._shards, self._nodes = shards, nodes
        if example is not None:
            self._example = example
        return self._generation

    def current(self) -> tuple[int, list[Any], list[str | None], bool]:
        """The generation, the shards and their nodes, and whether the service was closed."""
        return self._generation, self._shards, self._nodes, self._closed

    def close(self) -> None:
        """The service is closing: writers that ask from now on are told so."""
        self._closed = True


class Shard:
    """One shard: a prioritized buffer, how many items were sampled from it, and its call count."""

    def __init__(
        self,
        shard: int,
        capacity: int,
        alpha: float,
        epsilon: float,
        seed: int,
        example: Any,
        directory: Any,
        restore_from: str | None = None,
        frames: dict[str, Any] | None = None,
    ) -> None:
        self._shard = shard
        self._directory = directory
        self._version = 0  # calls answered: orders the figures a client receives
        self._frames = frames or {}
        if restore_from is not None:
            from rlu_serialize import load

            state = load(restore_from)
            self._buffer: PrioritizedReplayBuffer = state["buffer"]
            self._sampled = int(state["sampled"])
        else:
            self._buffer = PrioritizedReplayBuffer(
                capacity, alpha, 0.0, epsilon, seed, example=example, **self._frames
            )
            self._sampled = 0
        self._declared = self._buffer.example is not None
        self._params = (capacity, alpha, epsilon, seed)
        warm = PrioritizedReplayBuffer(1)  # load the tree kernels now, not on the first add
        warm.add(np.zeros(1))
        warm.sample(1, rng=0)

    def ready(self) -> dict[str, Any]:
        """Where the shard runs, its layout (None if not fixed yet) and its figures."""
        return {
            "node": ray.get_runtime_context().get_node_id(),
            "example": self._buffer.example,
            "stats": self.stats(),
        }

    def stats(self) -> dict[str, Any]:
        self._version += 1
        buffer = self._buffer
        return {
            "version": self._version,
            "size": len(buffer),
            "inserted": buffer.inserted,
            "sampled": self._sampled,
            "total": buffer.total_priority,
            "min": buffer.min_priority,
            "frames": buffer.stored_frames,
        }

    def add(self, batch: Any, priorities: Any) -> dict[str, Any]:
        if not self._declared:  # the service's layout: the first add anywhere fixed it
            example = Layout.of(batch)[0].example()
            # a layout the frame arguments refuse is refused here, never claimed for all
            ReplayBuffer(1, example=example, **self._frames)
            claimed = ray.get(self._directory.claim.remote(example))
            capacity, alpha, epsilon, seed = self._params
            self._buffer = PrioritizedReplayBuffer(
                capacity, alpha, 0.0, epsilon, seed, example=claimed, **self._frames
            )
            self._declared = True
        self._buffer.add(batch, priorities)  # refused whole if it does not fit the layout
        return self.stats()

    def sample(
        self, u: np.ndarray, updates: tuple[np.ndarray, np.ndarray] | None = None
    ) -> tuple[Any, Any, Any, dict[str, Any]]:
        """Apply the client's queued priority updates, then draw at the points ``u``."""
        if updates is not None:
            self._buffer.update_priorities(*updates)
        if not len(u):  # nothing to draw here: the figures only
            return None, None, None, self.stats()
        batch, idx, p = self._buffer.sample_at(u)
        self._sampled += len(u)
        return batch, idx, p, self.stats()

    def update_priorities(self, idx: np.ndarray, priorities: np.ndarray) -> dict[str, Any]:
        self._buffer.update_priorities(idx, priorities)
        return self.stats()

    def clear(self) -> dict[str, Any]:
        self._buffer.clear()
        return self.stats()

    def checkpoint(self, path: str) -> dict[str, Any]:
        """Write this shard's buffer to ``path`` (atomically, by ``rlu_serialize.dump``)."""
        from rlu_serialize import dump

        dump({"buffer": self._buffer, "sampled": self._sampled}, path)
        return self.stats()
