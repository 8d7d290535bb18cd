"""SampleStream: a learner's endless supply of batches, drawn ahead of use."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from rlu_replay.ray._service import ShardedPrioritizedReplay


class SampleStream:
    """Batches drawn from a [`ShardedPrioritizedReplay`][rlu_replay.ray.ShardedPrioritizedReplay]
    ahead of use.

    Made by [`ShardedPrioritizedReplay.stream`][rlu_replay.ray.ShardedPrioritizedReplay.stream];
    see there for the law of the draws. ``next(stream)`` returns the oldest batch drawn (waiting
    for it if needed) and sends new draws, ``per_call`` batches a call round, so that up to
    ``prefetch`` batches are on their way or ready while the rate limiter allows. When it holds
    sampling back and nothing is on its way, ``next`` polls the shards until it allows, at most
    ``timeout`` seconds, then raises TimeoutError. After a
    [`restore`][rlu_replay.ray.ShardedPrioritizedReplay.restore] of the service, batches drawn
    from the old shards are dropped and drawn again from the new ones.

    Raises
    ------
    ShardError
        From ``next``, when a shard died or did not answer within the service's ``timeout``.
    TimeoutError
        From ``next``, when the rate limiter held sampling back for ``timeout`` seconds.

    Examples
    --------
    See [`ShardedPrioritizedReplay.stream`][rlu_replay.ray.ShardedPrioritizedReplay.stream].
    """

    def __init__(
        self,
        service: ShardedPrioritizedReplay,
        n: int,
        prefetch: int,
        per_call: int,
        gen: np.random.Generator,
        stratified: bool,
        timeout: float,
    ) -> None:
        self._service = service
        self._n = n
        self._prefetch = prefetch
        self._per_call = per_call
        self._gen = gen
        self._stratified = stratified
        self._timeout = timeout
        self._in_flight: deque[tuple[int, tuple[Any, ...]]] = deque()  # (batches, request)
        self._ready: deque[tuple[int, Any]] = deque()  # (generation, batch)

    @property
    def ahead(self) -> int:
        """int: How many batches were drawn or are being drawn and were not returned yet."""
        return len(self._ready) + sum(m for m, _ in self._in_flight)

    def __iter__(self) -> SampleStream:
        return self

    def _fill(self) -> None:
        """Send draws of ``per_call`` batches while they fit in ``prefetch`` and the limiter
        allows (fewer only when nothing is ahead)."""
        service, n = self._service, self._n
        in_flight = sum(m for m, _ in self._in_flight)
        room = self._prefetch - len(self._ready) - in_flight
        while room >= self._per_call or (room > 0 and not self._ready and not self._in_flight):
            m = min(self._per_call, room)
            # the limiter must allow each of the m batches, after the ones before it
            while m > 0 and not service._allowed(n, n * (in_flight + m - 1)):
                m -= 1
            if m == 0:
                return
            self._in_flight.append((m, service._request(n, self._gen, self._stratified, m)))
            in_flight += m
            room -= m

    def __next__(self) -> Any:
        service = self._service
        service._check_updates(send=False)  # answered updates: their figures and errors
        while True:
            generation = service._generation
            # batches drawn before a restore come from shards that are gone
            while self._ready and self._ready[0][0] != generation:
                self._ready.popleft()
            while self._in_flight and self._in_flight[0][1][0] != generation:
                self._in_flight.popleft()
            if self._ready:
                batch = self._ready.popleft()[1]
                self._fill()
                return batch
            self._fill()
            if not self._in_flight:
                service._wait_allowed(self._n, self._timeout)
                continue
            _, request = self._in_flight.popleft()
            batches = service._receive(request)
            self._ready.extend((generation, b) for b in batches[1:])
            self._fill()  # the next draws are on their way while the learner works
            return batches[0]

    def close(self) -> None:
        """Drop the batches drawn ahead (their items count as sampled by their shards)."""
        self._in_flight.clear()
        self._ready.clear()
