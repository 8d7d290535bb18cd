"""ReplayWriter: a producer's batched, non-blocking adds to a sharded replay."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import ray
from ray.exceptions import GetTimeoutError, RayActorError

from rlu_replay._checks import check_int, check_optional_int, check_priorities, check_real
from rlu_replay._pytree import flatten, is_transition_batch
from rlu_replay.ray._calls import get
from rlu_replay.ray._errors import ShardError


@dataclass
class Binding:
    """What a writer needs of its service: the directory, and the shards of one generation."""

    directory: Any
    generation: int
    shards: list[Any]
    nodes: list[str | None]


@dataclass
class _Call:
    shard: int
    generation: int
    ref: Any
    batch: Any
    priorities: np.ndarray | None


class ReplayWriter:
    """A producer's side of a sharded replay: batched, non-blocking adds.

    The replay is a [`ShardedPrioritizedReplay`][rlu_replay.ray.ShardedPrioritizedReplay].
    ``add`` only buffers items in the producer's memory; every ``flush_every`` items they go to
    one shard in a single ``.remote()`` call, the shards taking turns. The writer does not wait
    for that call, except as backpressure: once more than ``max_in_flight`` calls are
    unanswered it waits for the oldest (at most ``timeout`` seconds, then raises
    [`ShardError`][rlu_replay.ray.ShardError]), and so a producer never runs more than
    ``max_in_flight * flush_every`` items ahead of the shards. Errors of a call (a shard that
    died, a batch that does not fit the service's layout) are raised by the ``add`` or
    [`flush`][rlu_replay.ray.ReplayWriter.flush] that collects it; a refused batch is stored
    nowhere.

    **Restores.** A writer outlives a
    [`restore`][rlu_replay.ray.ShardedPrioritizedReplay.restore] of its service: when a call
    finds its shard gone, the writer asks the service's directory for the current shards; if
    the service was restored, it re-binds to the new shards and sends them again every call
    the old ones never answered (it keeps each unanswered call's items for that, at most
    ``max_in_flight`` calls). A shard that died without a restore, or a service that was
    closed, raises [`ShardError`][rlu_replay.ray.ShardError].

    Make writers with
    [`ShardedPrioritizedReplay.writer`][rlu_replay.ray.ShardedPrioritizedReplay.writer];
    a writer pickles, so it can be passed to Ray tasks and actors (each producer should have
    its own). Call [`flush`][rlu_replay.ray.ReplayWriter.flush] before a producer ends, or its
    last items stay in its memory.

    Parameters
    ----------
    binding : Binding
        The service's directory and shards (given by ``ShardedPrioritizedReplay.writer``).
    flush_every : int, optional
        How many items to gather before sending them (at least 1).
    max_in_flight : int, optional
        How many sent calls may be unanswered (at least 1).
    timeout : float, optional
        Seconds to wait for a shard before raising [`ShardError`][rlu_replay.ray.ShardError].
    first_shard : int, optional
        The shard the first flush goes to (default: chosen at random).

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If a number is out of range.

    Examples
    --------
    >>> import numpy as np, ray
    >>> from rlu_replay.ray import ShardedPrioritizedReplay
    >>> _ = ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
    >>> replay = ShardedPrioritizedReplay(capacity=1000, num_shards=2)
    >>> writer = replay.writer(flush_every=4)
    >>> for i in range(10):
    ...     writer.add({"x": np.array([float(i)])})
    >>> writer.flush()  # 10 items sent in 3 calls; wait until all are stored
    >>> len(replay), writer.added
    (10, 10)
    >>> replay.close()
    """

    def __init__(
        self,
        binding: Binding,
        flush_every: int = 256,
        max_in_flight: int = 4,
        timeout: float = 60.0,
        first_shard: int | None = None,
    ) -> None:
        if not isinstance(binding, Binding) or not binding.shards:
            raise TypeError(
                "binding must be the Binding of a ShardedPrioritizedReplay: make writers with "
                f"ShardedPrioritizedReplay.writer(), got {type(binding).__name__}"
            )
        self._binding = binding
        self._flush_every = check_int("flush_every", flush_every, minimum=1)
        self._max_in_flight = check_int("max_in_flight", max_in_flight, minimum=1)
        self._timeout = check_real("timeout", timeout, low=0.0, low_open=True)
        start = check_optional_int("first_shard", first_shard, minimum=0)
        if start is None:
            start = int(np.random.default_rng().integers(len(binding.shards)))
        self._next = start % len(binding.shards)
        self._pending: list[tuple[list[Any], np.ndarray | None]] = []
        self._pending_items = 0
        self._treedef: Any = None
        self._in_flight: list[_Call] = []
        self._added = 0
        self._rebinds = 0

    @property
    def added(self) -> int:
        """int: How many items this writer was given (sent or not yet)."""
        return self._added

    @property
    def pending(self) -> int:
        """int: How many items wait in this writer's memory for the next flush."""
        return self._pending_items

    @property
    def rebinds(self) -> int:
        """int: How many times this writer moved to a restored service's new shards."""
        return self._rebinds

    def __getstate__(self) -> dict[str, Any]:
        if self._pending or self._in_flight:
            raise RuntimeError(
                f"cannot pickle a ReplayWriter with {self._pending_items} items buffered and "
                f"{len(self._in_flight)} calls unanswered: call flush() first"
            )
        state = dict(self.__dict__)
        state["_treedef"] = None
        return state

    def add(self, batch: Any, priorities: Any = None) -> None:
        """Buffer a batch of items; send what is buffered once there are ``flush_every``.

        Parameters
        ----------
        batch : pytree of arrays
            Items stacked on a leading axis; see ``PrioritizedReplayBuffer.add``.
        priorities : array_like, optional
            One priority per item; default: the shard's largest priority so far.

        Raises
        ------
        ValueError
            If the batch's structure differs from this writer's earlier batches, the leaves
            disagree on the batch size, or a priority is NaN, infinite or negative; or (from
            the shard, for a batch sent earlier) a leaf does not fit the service's layout.
        TypeError
            (From the shard) a leaf whose dtype cannot be cast to the service's layout.
        ShardError
            If a shard died or did not answer within ``timeout``.

        Examples
        --------
        See [`ReplayWriter`][rlu_replay.ray.ReplayWriter].
        """
        if is_transition_batch(batch):
            batch = batch._replace(W=None, idx=None)
        leaves, treedef = flatten(batch)
        arrays = [np.asarray(leaf) for leaf in leaves]
        if not arrays or arrays[0].ndim == 0:
            raise ValueError("batch must hold array leaves with a leading batch axis")
        size = arrays[0].shape[0]
        if self._treedef is not None:
            if treedef != self._treedef:
                raise ValueError(
                    "batch has a different structure from this writer's earlier batches: "
                    f"{self._treedef.describe_difference(treedef)}"
                )
            treedef = self._treedef  # the same structure, whose leaf paths are made already
        for i, arr in enumerate(arrays):
            if arr.ndim == 0 or arr.shape[0] != size:
                path = treedef.paths[i]
                raise ValueError(f"batch leaf {path} has shape {arr.shape}; expected ({size}, ...)")
        prio = None if priorities is None else check_priorities("priorities", priorities, n=size)
        if self._pending and (prio is None) != (self._pending[0][1] is None):
            self._send()  # items with and without priorities go in separate calls
        self._treedef = treedef
        self._pending.append((arrays, prio))
        self._pending_items += size
        self._added += size
        if self._pending_items >= self._flush_every:
            self._send()

    def _send(self) -> None:
        if not self._pending:
            return
        columns = zip(*(arrays for arrays, _ in self._pending), strict=True)
        leaves = [np.concatenate(column) for column in columns]
        prios = [p for _, p in self._pending]
        priorities: np.ndarray | None = None
        if prios[0] is not None:
            priorities = np.concatenate([p for p in prios if p is not None])
        batch = self._treedef.unflatten(leaves)
        shard = self._next
        self._next = (shard + 1) % len(self._binding.shards)
        self._pending, self._pending_items = [], 0
        self._submit(shard, batch, priorities)
        if len(self._in_flight) > self._max_in_flight:
            self._collect(len(self._in_flight) - self._max_in_flight)

    def _submit(self, shard: int, batch: Any, priorities: np.ndarray | None) -> None:
        b = self._binding
        ref = b.shards[shard].add.remote(batch, priorities)
        self._in_flight.append(_Call(shard, b.generation, ref, batch, priorities))

    def _collect(self, count: int) -> None:
        """Wait for the ``count`` oldest calls in flight and raise their errors."""
        while count > 0 and self._in_flight:
            call = self._in_flight.pop(0)
            count -= 1
            try:
                get([(call.shard, call.ref)], self._timeout, "an add", self._binding.nodes)
            except ShardError as err:
                if not isinstance(err.__cause__, RayActorError):
                    raise
                if call.generation == self._binding.generation and not self._rebind(call.shard):
                    raise
                # the service was restored: the new shard gets the items the old one never stored
                self._submit(call.shard, call.batch, call.priorities)
                count += 1

    def _rebind(self, shard: int) -> bool:
        """Move to the current shards if the service was restored; False if it was not."""
        b = self._binding
        closed = (
            "is gone: its service was closed (or its driver ended); "
            "make a writer of a running service"
        )
        try:
            answer: tuple[int, list[Any], list[str | None], bool] = ray.get(
                b.directory.current.remote(), timeout=self._timeout
            )
        except (RayActorError, GetTimeoutError) as exc:
            raise ShardError(shard, closed, b.nodes[shard]) from exc
        generation, shards, nodes, was_closed = answer
        if was_closed:
            raise ShardError(shard, closed, b.nodes[shard])
        if generation == b.generation:
            return False
        self._binding = Binding(b.directory, generation, shards, nodes)
        self._rebinds += 1
        return True

    def flush(self) -> None:
        """Send the buffered items and wait until every call of this writer is answered.

        Raises
        ------
        ShardError
            If a shard died or did not answer within ``timeout``.
        ValueError, TypeError
            If a shard refused a batch of this writer (see
            [`add`][rlu_replay.ray.ReplayWriter.add]).

        Examples
        --------
        See [`ReplayWriter`][rlu_replay.ray.ReplayWriter].
        """
        self._send()
        self._collect(len(self._in_flight))
