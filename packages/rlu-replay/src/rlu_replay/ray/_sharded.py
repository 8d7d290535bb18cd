"""Prioritized replay sharded over Ray actors: the service, its writers and its rate limiter."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

try:
    import ray
    from ray.exceptions import GetTimeoutError, RayActorError
except ImportError as exc:  # pragma: no cover - exercised in an environment without ray
    raise ImportError(
        'rlu_replay.ray needs Ray; install it with: pip install "rlu-replay[ray]"'
    ) from exc

from rlu_replay._checks import (
    Schedule,
    check_bool,
    check_generator,
    check_indices,
    check_int,
    check_optional_int,
    check_priorities,
    check_real,
    check_schedule,
    evaluate_schedule,
)
from rlu_replay._layout import package
from rlu_replay._priorities import importance_weights
from rlu_replay._prioritized import PrioritizedReplayBuffer
from rlu_replay._pytree import flatten, is_transition_batch

_DEFAULT_SHARD_OPTIONS: dict[str, Any] = {"num_cpus": 0, "scheduling_strategy": "SPREAD"}
_MANIFEST = "manifest.json"


class ShardError(RuntimeError):
    """A replay shard died, or did not answer in time.

    Parameters
    ----------
    shard : int
        The shard's number, in ``[0, num_shards)``.
    message : str
        What happened.

    Attributes
    ----------
    shard : int
        The shard's number.

    Examples
    --------
    >>> from rlu_replay.ray import ShardError
    >>> err = ShardError(1, "did not answer within 5 s")
    >>> err.shard, str(err)
    (1, 'replay shard 1 did not answer within 5 s')
    """

    def __init__(self, shard: int, message: str) -> None:
        super().__init__(f"replay shard {shard} {message}")
        self.shard = shard

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_shard_error, (self.shard, str(self)))


def _rebuild_shard_error(shard: int, text: str) -> ShardError:
    err = ShardError(shard, "")
    err.args = (text,)
    return err


class RateLimiter:
    """How far sampling may run ahead of insertion, as Reverb's ``SampleToInsertRatio``.

    Sampling waits until the shards together hold ``min_size`` items, and then while it would
    take the number of items sampled (over all learners) past
    ``samples_per_insert * (inserted - min_size) + error_buffer``, where ``inserted`` counts
    every item ever added. A fast learner therefore cannot replay a slow stream more than
    ``samples_per_insert`` times per item on average. Inserts are never held back by the
    ratio (producers in Ape-X should not stall); they have their own backpressure
    (``ReplayWriter``'s ``max_in_flight``).

    Parameters
    ----------
    samples_per_insert : float, optional
        The ratio; None lets sampling run freely once ``min_size`` is reached.
    min_size : int, optional
        How many items the shards must hold before any sampling (at least 1).
    error_buffer : float, optional
        Slack, in sampled items, around the ratio; default: the batch size of each call, so
        that one batch may always be drawn when the ratio allows it.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If ``samples_per_insert <= 0``, ``min_size < 1`` or ``error_buffer < 0``.

    Examples
    --------
    >>> from rlu_replay.ray import RateLimiter
    >>> limiter = RateLimiter(samples_per_insert=8.0, min_size=1000)
    >>> limiter.allows(n=64, size=500, inserted=500, sampled=0)  # not enough items yet
    False
    >>> limiter.allows(n=64, size=1010, inserted=1010, sampled=0)  # 8 * 10 + 64 >= 64
    True
    >>> limiter.allows(n=64, size=1010, inserted=1010, sampled=128)  # wait for more inserts
    False
    """

    def __init__(
        self,
        samples_per_insert: float | None = None,
        min_size: int = 1,
        error_buffer: float | None = None,
    ) -> None:
        self._spi = (
            None
            if samples_per_insert is None
            else check_real("samples_per_insert", samples_per_insert, low=0.0, low_open=True)
        )
        self._min_size = check_int("min_size", min_size, minimum=1)
        self._error_buffer = (
            None if error_buffer is None else check_real("error_buffer", error_buffer, low=0.0)
        )

    @property
    def samples_per_insert(self) -> float | None:
        """float or None: The target ratio of sampled to inserted items."""
        return self._spi

    @property
    def min_size(self) -> int:
        """int: How many items must be stored before sampling starts."""
        return self._min_size

    @property
    def error_buffer(self) -> float | None:
        """float or None: The slack around the ratio (None: one batch)."""
        return self._error_buffer

    def __repr__(self) -> str:
        return (
            f"RateLimiter(samples_per_insert={self._spi}, min_size={self._min_size}, "
            f"error_buffer={self._error_buffer})"
        )

    def allows(self, n: int, size: int, inserted: int, sampled: int) -> bool:
        """Whether ``n`` more items may be sampled now.

        Parameters
        ----------
        n : int
            The batch size about to be drawn.
        size : int
            How many items the shards hold.
        inserted : int
            How many items were ever added.
        sampled : int
            How many items were ever sampled.

        Returns
        -------
        bool
            True when sampling may go ahead.

        Examples
        --------
        >>> from rlu_replay.ray import RateLimiter
        >>> RateLimiter(min_size=10).allows(n=4, size=10, inserted=10, sampled=10**6)
        True
        """
        if size < self._min_size:
            return False
        if self._spi is None:
            return True
        slack = float(n) if self._error_buffer is None else self._error_buffer
        return sampled + n <= self._spi * (inserted - self._min_size) + slack


class _Shard:
    """The Ray actor behind one shard: a PrioritizedReplayBuffer and a count of sampled items."""

    def __init__(self, shard: int, buffer: PrioritizedReplayBuffer, sampled: int = 0) -> None:
        self._shard = shard
        self._buffer = buffer
        self._sampled = sampled
        warm = PrioritizedReplayBuffer(1)  # load the tree kernels now, not on the first add
        warm.add(np.zeros(1))
        warm.sample(1, rng=0)

    def ready(self) -> bool:
        return True

    def add(self, batch: Any, priorities: Any) -> int:
        self._buffer.add(batch, priorities)
        return self._buffer.inserted

    def stats(self) -> dict[str, float]:
        buffer = self._buffer
        return {
            "total": buffer.total_priority,
            "min": buffer.min_priority,
            "size": len(buffer),
            "inserted": buffer.inserted,
            "sampled": self._sampled,
        }

    def sample(self, u: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray, float]:
        batch, idx, p = self._buffer.sample_at(u)
        self._sampled += len(u)
        return batch, idx, p, self._buffer.min_priority

    def update_priorities(self, idx: np.ndarray, priorities: np.ndarray) -> int:
        return self._buffer.update_priorities(idx, priorities)

    def clear(self) -> None:
        self._buffer.clear()

    def get_state(self) -> dict[str, Any]:
        return {"buffer": self._buffer, "sampled": self._sampled}


_REMOTE_SHARD: Any = None


def _remote_shard() -> Any:
    global _REMOTE_SHARD
    if _REMOTE_SHARD is None:
        _REMOTE_SHARD = ray.remote(max_restarts=0, max_task_retries=0)(_Shard)
    return _REMOTE_SHARD


def _get(calls: list[tuple[int, Any]], timeout: float, what: str) -> list[Any]:
    """``ray.get`` each ``(shard, ref)`` within ``timeout`` seconds in all; name a failing shard."""
    deadline = time.monotonic() + timeout
    out = []
    for shard, ref in calls:
        left = max(0.0, deadline - time.monotonic())
        try:
            out.append(ray.get(ref, timeout=left))
        except RayActorError as exc:
            raise ShardError(shard, f"died during {what} ({type(exc).__name__}): {exc}") from exc
        except GetTimeoutError as exc:
            raise ShardError(shard, f"did not answer {what} within {timeout:g} s") from exc
    return out


def _shard_points(
    totals: np.ndarray, n: int, gen: np.random.Generator, stratified: bool
) -> list[tuple[int, np.ndarray]]:
    """Where ``n`` draws over all shards fall: per shard, points as fractions of its total."""
    if not stratified:  # how many draws each shard gets, then uniform points within it
        counts = gen.multinomial(n, totals / totals.sum())
        return [(k, gen.random(int(c))) for k, c in enumerate(counts) if c > 0]
    edges = np.cumsum(totals)
    points = (np.arange(n) + gen.random(n)) / n * edges[-1]
    shard = np.minimum(np.searchsorted(edges, points, side="right"), len(totals) - 1)
    local = (points - (edges[shard] - totals[shard])) / totals[shard]
    local = np.clip(local, 0.0, np.nextafter(1.0, 0.0))  # rounding must not reach 1
    return [(int(k), local[shard == k]) for k in np.unique(shard)]


class ReplayWriter:
    """A producer's side of a [`ShardedPrioritizedReplay`][rlu_replay.ray.ShardedPrioritizedReplay]: batched, non-blocking adds.

    ``add`` only buffers items in the producer's memory; every ``flush_every`` items they go to
    one shard in a single ``.remote()`` call, the shards taking turns. The writer does not wait
    for that call, except as backpressure: once more than ``max_in_flight`` calls are
    unanswered it waits for the oldest (at most ``timeout`` seconds, then raises
    [`ShardError`][rlu_replay.ray.ShardError]), and so a producer never runs more than ``max_in_flight * flush_every``
    items ahead of the shards. Errors of a call (a shard that died, a batch whose structure
    the shard refuses) are raised by the ``add`` or [`flush`][rlu_replay.ray.ReplayWriter.flush] that collects it.

    Make writers with [`ShardedPrioritizedReplay.writer`][rlu_replay.ray.ShardedPrioritizedReplay.writer]; a writer pickles, so it can be
    passed to Ray tasks and actors (each producer should have its own). Call [`flush`][rlu_replay.ray.ReplayWriter.flush]
    before a producer ends, or its last items stay in its memory.

    Parameters
    ----------
    shards : list of Ray actor handles
        The service's shards.
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
        If ``shards`` is empty or a number is out of range.

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
        shards: list[Any],
        flush_every: int = 256,
        max_in_flight: int = 4,
        timeout: float = 60.0,
        first_shard: int | None = None,
    ) -> None:
        if not isinstance(shards, (list, tuple)) or not shards:
            raise ValueError(f"shards must be a non-empty list of shard handles, got {shards!r}")
        self._shards = list(shards)
        self._flush_every = check_int("flush_every", flush_every, minimum=1)
        self._max_in_flight = check_int("max_in_flight", max_in_flight, minimum=1)
        self._timeout = check_real("timeout", timeout, low=0.0, low_open=True)
        start = check_optional_int("first_shard", first_shard, minimum=0)
        if start is None:
            start = int(np.random.default_rng().integers(len(self._shards)))
        self._next = start % len(self._shards)
        self._pending: list[tuple[list[Any], np.ndarray | None]] = []
        self._pending_items = 0
        self._treedef: Any = None
        self._in_flight: list[tuple[int, Any]] = []
        self._added = 0

    @property
    def added(self) -> int:
        """int: How many items this writer was given (sent or not yet)."""
        return self._added

    @property
    def pending(self) -> int:
        """int: How many items wait in this writer's memory for the next flush."""
        return self._pending_items

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
            disagree on the batch size, or a priority is NaN, infinite or negative.
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
        for path, arr in zip(treedef.paths, arrays, strict=True):
            if arr.ndim == 0 or arr.shape[0] != size:
                raise ValueError(f"batch leaf {path} has shape {arr.shape}; expected ({size}, ...)")
        if self._treedef is not None and treedef != self._treedef:
            raise ValueError(
                "batch has a different structure from this writer's earlier batches: "
                f"{self._treedef.describe_difference(treedef)}"
            )
        prio = None if priorities is None else check_priorities("priorities", priorities, size)
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
        self._next = (shard + 1) % len(self._shards)
        self._in_flight.append((shard, self._shards[shard].add.remote(batch, priorities)))
        self._pending, self._pending_items = [], 0
        if len(self._in_flight) > self._max_in_flight:
            self._collect(len(self._in_flight) - self._max_in_flight)

    def _collect(self, count: int) -> None:
        """Wait for the ``count`` oldest calls in flight and raise their errors."""
        done, self._in_flight = self._in_flight[:count], self._in_flight[count:]
        _get(done, self._timeout, "an add")

    def flush(self) -> None:
        """Send the buffered items and wait until every call of this writer is answered.

        Raises
        ------
        ShardError
            If a shard died or did not answer within ``timeout``.

        Examples
        --------
        See [`ReplayWriter`][rlu_replay.ray.ReplayWriter].
        """
        self._send()
        self._collect(len(self._in_flight))


class ShardedPrioritizedReplay:
    r"""A proportional prioritized replay whose items live in ``num_shards`` Ray actors.

    Each shard is a Ray actor holding a [`PrioritizedReplayBuffer`][rlu_replay.PrioritizedReplayBuffer] of
    ``capacity // num_shards`` items (the first ``capacity % num_shards`` shards one more).
    Producers add through [`ReplayWriter`][rlu_replay.ray.ReplayWriter]s (non-blocking, batched). [`sample`][rlu_replay.ray.ShardedPrioritizedReplay.sample] is
    exactly proportional over the union of the shards: it asks every shard for its total
    priority (in parallel), splits the batch among the shards by a multinomial draw on those
    totals, and has each shard draw its part (in parallel, from uniform numbers this client
    draws, so a seeded ``rng`` replays the same choices). Item ``i`` is so drawn with probability
    ``p_i / \sum_j p_j`` over every stored item, and its importance weight
    ``(N P(i))^{-\beta}`` is computed with the global total and the global count
    ``N``, divided by the largest one over all shards. A sampled item's identifier encodes
    its shard: ``idx = local_idx * num_shards + shard``, and [`update_priorities`][rlu_replay.ray.ShardedPrioritizedReplay.update_priorities] routes
    each priority to the shard that owns it (without waiting for an answer).

    Sampling obeys an optional [`RateLimiter`][rlu_replay.ray.RateLimiter]. [`checkpoint`][rlu_replay.ray.ShardedPrioritizedReplay.checkpoint] writes every shard's
    buffer with ``rlu_serialize.dump``; [`restore`][rlu_replay.ray.ShardedPrioritizedReplay.restore] puts them back, into new actors when
    the old ones died. Every call that waits on a shard waits at most ``timeout`` seconds and
    raises [`ShardError`][rlu_replay.ray.ShardError] naming the shard when it died or did not answer.

    Shards are placed by the options given to ``ray.remote``: by default ``num_cpus=0`` (a
    shard uses little CPU, and takes none from the scheduler's budget of the actors and the
    learner) and ``scheduling_strategy="SPREAD"``, which puts the shards on as many nodes of a
    cluster as there are; pass ``shard_options`` (a dict, or a callable of the shard number
    returning one) for anything else, such as a placement group bundle per shard.

    Parameters
    ----------
    capacity : int
        The most items all shards together hold, at least ``num_shards``.
    num_shards : int, optional
        The number of shard actors, at least 1.
    alpha : float, optional
        The priority exponent of every shard; see ``PrioritizedReplayBuffer``.
    beta : float or callable, optional
        The importance-weight exponent, or a schedule called with [`sample_calls`][rlu_replay.ray.ShardedPrioritizedReplay.sample_calls].
    epsilon : float, optional
        Added to every priority.
    rate_limiter : RateLimiter, optional
        When sampling may go ahead; default: as soon as an item is stored.
    timeout : float, optional
        Seconds to wait for a shard before raising [`ShardError`][rlu_replay.ray.ShardError].
    start_timeout : float, optional
        Seconds to wait for new shard actors to start (here and in [`restore`][rlu_replay.ray.ShardedPrioritizedReplay.restore]): a new
        actor is a new worker process, which imports numpy, numba and rlu-replay first.
    shard_options : dict or callable, optional
        ``ray.remote`` options of the shard actors (merged over the defaults above), or a
        callable ``shard -> dict``.
    random_seed : int, optional
        Seed of this client's random stream (splitting the batch, the uniform numbers).

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If a number is out of range.
    RuntimeError
        If Ray is not initialized (call ``ray.init`` first).

    Examples
    --------
    >>> import numpy as np, ray
    >>> from rlu_replay.ray import RateLimiter, ShardedPrioritizedReplay
    >>> _ = ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
    >>> replay = ShardedPrioritizedReplay(
    ...     capacity=10_000, num_shards=2, rate_limiter=RateLimiter(min_size=8), random_seed=0)
    >>> writer = replay.writer(flush_every=4)  # one call per 4 items, the shards taking turns
    >>> for _ in range(2):
    ...     writer.add({"obs": np.zeros((4, 4), np.float32), "r": np.arange(4.0)})
    >>> writer.flush()
    >>> batch, idx, weights = replay.sample(16)
    >>> batch["obs"].shape, sorted(set((idx % 2).tolist()))  # items from both shards
    ((16, 4), [0, 1])
    >>> replay.update_priorities(idx, np.abs(batch["r"]))  # routed to the owning shards
    >>> replay.close()
    """

    def __init__(
        self,
        capacity: int,
        num_shards: int = 2,
        alpha: float = 0.6,
        beta: float | Schedule = 0.4,
        epsilon: float = 1e-4,
        rate_limiter: RateLimiter | None = None,
        timeout: float = 60.0,
        start_timeout: float = 300.0,
        shard_options: Mapping[str, Any] | Callable[[int], Mapping[str, Any]] | None = None,
        random_seed: int | None = None,
    ) -> None:
        self._num_shards = check_int("num_shards", num_shards, minimum=1)
        self._capacity = check_int("capacity", capacity, minimum=self._num_shards)
        self._alpha = check_real("alpha", alpha, low=0.0, high=1.0)
        self._beta = check_schedule("beta", beta, low=0.0, high=1.0)
        self._epsilon = check_real("epsilon", epsilon, low=0.0)
        if rate_limiter is not None and not isinstance(rate_limiter, RateLimiter):
            raise TypeError(
                f"rate_limiter must be a RateLimiter or None, got {type(rate_limiter).__name__}"
            )
        self._limiter = rate_limiter or RateLimiter()
        self._timeout = check_real("timeout", timeout, low=0.0, low_open=True)
        self._start_timeout = check_real("start_timeout", start_timeout, low=0.0, low_open=True)
        if shard_options is not None and not (
            callable(shard_options) or isinstance(shard_options, Mapping)
        ):
            raise TypeError(
                "shard_options must be a dict, a callable of the shard number or None, "
                f"got {type(shard_options).__name__}"
            )
        self._shard_options = shard_options
        seed = check_optional_int("random_seed", random_seed, minimum=0)
        self._rng = np.random.default_rng(seed)
        if not ray.is_initialized():
            raise RuntimeError(
                "Ray is not initialized: call ray.init() (or ray.init(address=...)) first"
            )
        self._sample_calls = 0
        self._add_calls = 0
        self._updates: list[tuple[int, Any]] = []
        seeds = np.random.SeedSequence(seed).generate_state(self._num_shards)
        self._shards = [
            self._start_shard(
                k,
                PrioritizedReplayBuffer(
                    self._shard_capacity(k), self._alpha, 0.0, self._epsilon, int(seeds[k])
                ),
                0,
            )
            for k in range(self._num_shards)
        ]
        self._wait_ready()

    def _wait_ready(self) -> None:
        calls = [(k, shard.ready.remote()) for k, shard in enumerate(self._shards)]
        _get(calls, self._start_timeout, "its start")

    # ------------------------------------------------------------------ shards

    def _shard_capacity(self, k: int) -> int:
        base, extra = divmod(self._capacity, self._num_shards)
        return base + (1 if k < extra else 0)

    def _options(self, k: int) -> dict[str, Any]:
        given = self._shard_options
        extra = given(k) if callable(given) else (given or {})
        return {**_DEFAULT_SHARD_OPTIONS, **dict(extra)}

    def _start_shard(self, k: int, buffer: PrioritizedReplayBuffer, sampled: int) -> Any:
        return _remote_shard().options(**self._options(k)).remote(k, buffer, sampled)

    @property
    def num_shards(self) -> int:
        """int: The number of shard actors."""
        return self._num_shards

    @property
    def capacity(self) -> int:
        """int: The most items all shards together hold."""
        return self._capacity

    @property
    def shards(self) -> list[Any]:
        """list: The shard actor handles, shard 0 first (e.g. for ``ray.kill`` in a test)."""
        return list(self._shards)

    @property
    def sample_calls(self) -> int:
        """int: How many times [`sample`][rlu_replay.ray.ShardedPrioritizedReplay.sample] has drawn (the step a ``beta`` schedule sees)."""
        return self._sample_calls

    @property
    def beta(self) -> float | Schedule:
        """float or callable: The importance-weight exponent, or its schedule."""
        return self._beta

    @beta.setter
    def beta(self, beta: float | Schedule) -> None:
        self._beta = check_schedule("beta", beta, low=0.0, high=1.0)

    def writer(
        self, flush_every: int = 256, max_in_flight: int = 4, first_shard: int | None = None
    ) -> ReplayWriter:
        """A [`ReplayWriter`][rlu_replay.ray.ReplayWriter] for one producer, with this service's ``timeout``.

        Parameters
        ----------
        flush_every : int, optional
            How many items to gather before one call to a shard.
        max_in_flight : int, optional
            How many calls may be unanswered before the writer waits.
        first_shard : int, optional
            The shard of the first call (default: random); the next ones take turns.

        Returns
        -------
        ReplayWriter
            A new writer (picklable: pass it to a Ray task or actor).

        Examples
        --------
        See [`ReplayWriter`][rlu_replay.ray.ReplayWriter].
        """
        return ReplayWriter(self._shards, flush_every, max_in_flight, self._timeout, first_shard)

    # ------------------------------------------------------------------ reading

    def stats(self) -> list[dict[str, float]]:
        """Each shard's figures: ``size``, ``inserted``, ``sampled``, ``total`` and ``min``.

        Returns
        -------
        list of dict
            One dict per shard, shard 0 first.

        Raises
        ------
        ShardError
            If a shard died or did not answer within ``timeout``.

        Examples
        --------
        >>> import ray
        >>> from rlu_replay.ray import ShardedPrioritizedReplay
        >>> _ = ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
        >>> replay = ShardedPrioritizedReplay(capacity=100, num_shards=2)
        >>> [s["size"] for s in replay.stats()]
        [0, 0]
        >>> replay.close()
        """
        self._check_updates()
        calls = [(k, shard.stats.remote()) for k, shard in enumerate(self._shards)]
        return _get(calls, self._timeout, "a stats query")

    def __len__(self) -> int:
        return int(sum(s["size"] for s in self.stats()))

    def __repr__(self) -> str:
        return f"ShardedPrioritizedReplay(capacity={self._capacity}, num_shards={self._num_shards})"

    def sample(
        self, n: int, rng: Any = None, timeout: float | None = None, *, stratified: bool = False
    ) -> Any:
        """Draw ``n`` items over all shards, with probability proportional to ``p_i``.

        Waits while the rate limiter holds sampling back.

        Parameters
        ----------
        n : int
            How many items to draw, at least 1.
        rng : numpy.random.Generator, int or JAX PRNG key, optional
            Where the randomness comes from; default: this client's stream.
        timeout : float, optional
            Seconds to wait for the rate limiter (default: the service's ``timeout``).
        stratified : bool, optional
            One draw from each of ``n`` equal slices of the total priority of all shards
            together (see ``PrioritizedReplayBuffer.sample``).

        Returns
        -------
        TransitionBatch or Sample
            As ``PrioritizedReplayBuffer.sample``, in a random order (stratified: in the order
            of the cumulative priority); identifiers encode the shard (``idx % num_shards``).

        Raises
        ------
        TimeoutError
            If the rate limiter held sampling back for ``timeout`` seconds.
        ShardError
            If a shard died or did not answer within the service's ``timeout``.
        TypeError, ValueError
            For a bad ``n``, ``rng`` or ``timeout``.

        Examples
        --------
        See [`ShardedPrioritizedReplay`][rlu_replay.ray.ShardedPrioritizedReplay].
        """
        n = check_int("n", n, minimum=1)
        gen = self._rng if rng is None else check_generator("rng", rng)
        stratified = check_bool("stratified", stratified)
        wait = self._timeout if timeout is None else check_real("timeout", timeout, low=0.0)
        beta = evaluate_schedule("beta", self._beta, self._sample_calls, low=0.0, high=1.0)
        deadline = time.monotonic() + wait
        delay = 0.001
        while True:
            stats = self.stats()
            size = int(sum(s["size"] for s in stats))
            inserted = int(sum(s["inserted"] for s in stats))
            sampled = int(sum(s["sampled"] for s in stats))
            totals = np.array([s["total"] for s in stats], dtype=np.float64)
            if self._limiter.allows(n, size, inserted, sampled) and totals.sum() > 0:
                break
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"sampling waited {wait:g} s for the rate limiter ({self._limiter}): "
                    f"{size} items stored, {inserted} inserted, {sampled} sampled"
                )
            time.sleep(delay)
            delay = min(2 * delay, 0.05)
        calls = [
            (k, self._shards[k].sample.remote(u))
            for k, u in _shard_points(totals, n, gen, stratified)
        ]
        parts = _get(calls, self._timeout, "a sample")
        p_min = min(min(s["min"] for s in stats), min(part[3] for part in parts))
        leaves_of = [flatten(part[0])[0] for part in parts]
        treedef = flatten(parts[0][0])[1]
        order = np.arange(n) if stratified else gen.permutation(n)
        leaves = [np.concatenate(column)[order] for column in zip(*leaves_of, strict=True)]
        idx = np.concatenate(
            [part[1] * self._num_shards + k for (k, _), part in zip(calls, parts, strict=True)]
        )[order]
        p = np.concatenate([part[2] for part in parts])[order]
        # (N P(i))^-beta over the largest such weight, N and P against all shards together
        weights = importance_weights(p, p_min, beta)
        self._sample_calls += 1
        return package(treedef.unflatten(leaves), idx, weights)

    # ------------------------------------------------------------------ writing

    def add(self, batch: Any, priorities: Any = None) -> None:
        """Add a batch to the next shard (in turn) and wait until it is stored.

        A convenience for the driver; producers should use a [`writer`][rlu_replay.ray.ShardedPrioritizedReplay.writer].

        Parameters
        ----------
        batch : pytree of arrays
            See ``PrioritizedReplayBuffer.add``.
        priorities : array_like, optional
            See ``PrioritizedReplayBuffer.add``.

        Raises
        ------
        ShardError
            If the shard died or did not answer within ``timeout``.
        ValueError, TypeError
            If the shard refuses the batch (its error, re-raised).

        Examples
        --------
        >>> import numpy as np, ray
        >>> from rlu_replay.ray import ShardedPrioritizedReplay
        >>> _ = ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
        >>> replay = ShardedPrioritizedReplay(capacity=100, num_shards=2)
        >>> replay.add({"x": np.arange(3.0)})
        >>> len(replay)
        3
        >>> replay.close()
        """
        shard = self._add_calls % self._num_shards
        writer = ReplayWriter(self._shards, 1, 1, self._timeout, first_shard=shard)
        writer.add(batch, priorities)
        self._add_calls += 1
        writer.flush()

    def update_priorities(self, idx: Any, priorities: Any) -> None:
        """Send new priorities to the shards that own the items; do not wait for them.

        Items overwritten since they were sampled are skipped (by their shard). A later
        [`sample`][rlu_replay.ray.ShardedPrioritizedReplay.sample] sees the update: Ray runs one client's calls to an actor in order.

        Parameters
        ----------
        idx : 1-d array_like of ints
            Identifiers, as [`sample`][rlu_replay.ray.ShardedPrioritizedReplay.sample] returned them.
        priorities : array_like
            One finite, non-negative priority per identifier (or one for all).

        Raises
        ------
        TypeError, ValueError
            For bad ``idx`` or ``priorities`` (checked here, before anything is sent).
        ShardError
            If an earlier update's shard died (raised here or at the next call).

        Examples
        --------
        See [`ShardedPrioritizedReplay`][rlu_replay.ray.ShardedPrioritizedReplay].
        """
        ids = check_indices("idx", idx)
        prio = check_priorities("priorities", priorities, ids.shape[0])
        owner = ids % self._num_shards
        local = ids // self._num_shards
        for k in np.unique(owner).tolist():
            mask = owner == k
            ref = self._shards[k].update_priorities.remote(local[mask], prio[mask])
            self._updates.append((k, ref))
        if len(self._updates) > 8 * self._num_shards:
            self._check_updates(wait=True)

    def _check_updates(self, wait: bool = False) -> None:
        """Raise the errors of answered priority updates (with ``wait``, of the oldest half)."""
        if not self._updates:
            return
        refs = [ref for _, ref in self._updates]
        count = len(refs) // 2 if wait else 0
        if wait:
            ready, _ = ray.wait(refs, num_returns=count, timeout=self._timeout)
        else:  # whatever is answered already
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        done = {r.hex() for r in ready}
        finished = [(k, r) for k, r in self._updates if r.hex() in done]
        self._updates = [(k, r) for k, r in self._updates if r.hex() not in done]
        if wait and len(finished) < count:
            k = self._updates[0][0]
            raise ShardError(k, f"did not answer a priority update within {self._timeout:g} s")
        _get(finished, self._timeout, "a priority update")

    def clear(self) -> None:
        """Forget every item of every shard (and wait until they have).

        Raises
        ------
        ShardError
            If a shard died or did not answer within ``timeout``.

        Examples
        --------
        >>> import numpy as np, ray
        >>> from rlu_replay.ray import ShardedPrioritizedReplay
        >>> _ = ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
        >>> replay = ShardedPrioritizedReplay(capacity=100, num_shards=2)
        >>> replay.add({"x": np.arange(3.0)})
        >>> replay.clear()
        >>> len(replay)
        0
        >>> replay.close()
        """
        self._check_updates()
        calls = [(k, shard.clear.remote()) for k, shard in enumerate(self._shards)]
        _get(calls, self._timeout, "a clear")

    # ------------------------------------------------------------------ checkpoints

    def checkpoint(self, path: str | Path) -> Path:
        """Write every shard's buffer into the folder ``path`` (made if needed).

        Shard ``k`` goes to ``shard-k.lz4`` (``rlu_serialize.dump``, written atomically) and the
        configuration to ``manifest.json``; the shards' states travel to this process one at a
        time, so a shared file system is not needed. Items added while the checkpoint is
        written may or may not be in it.

        Parameters
        ----------
        path : str or pathlib.Path
            The folder to write.

        Returns
        -------
        pathlib.Path
            The folder.

        Raises
        ------
        ShardError
            If a shard died or did not answer within ``timeout``.

        Examples
        --------
        See [`restore`][rlu_replay.ray.ShardedPrioritizedReplay.restore].
        """
        from rlu_serialize import dump

        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        self._check_updates()
        for k, shard in enumerate(self._shards):
            (state,) = _get([(k, shard.get_state.remote())], self._timeout, "a checkpoint")
            dump(state, folder / f"shard-{k}.lz4")
        manifest = {
            "num_shards": self._num_shards,
            "capacity": self._capacity,
            "sample_calls": self._sample_calls,
        }
        (folder / _MANIFEST).write_text(json.dumps(manifest))
        return folder

    def restore(self, path: str | Path) -> None:
        """Replace every shard by a new actor holding the buffer that [`checkpoint`][rlu_replay.ray.ShardedPrioritizedReplay.checkpoint] wrote.

        The old actors are killed (dead ones are simply replaced); writers made before must be
        made again ([`writer`][rlu_replay.ray.ShardedPrioritizedReplay.writer]), since they hold the old actors.

        Parameters
        ----------
        path : str or pathlib.Path
            A folder written by [`checkpoint`][rlu_replay.ray.ShardedPrioritizedReplay.checkpoint] of a service with as many shards.

        Raises
        ------
        FileNotFoundError
            If the folder or one of its files is missing.
        ValueError
            If the checkpoint has a different number of shards.

        Examples
        --------
        >>> import numpy as np, ray
        >>> from rlu_replay.ray import ShardedPrioritizedReplay
        >>> _ = ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
        >>> replay = ShardedPrioritizedReplay(capacity=100, num_shards=2)
        >>> replay.add({"x": np.arange(5.0)})
        >>> folder = replay.checkpoint("replay-checkpoint")
        >>> replay.clear()
        >>> replay.restore(folder)
        >>> len(replay)
        5
        >>> replay.close()
        """
        from rlu_serialize import load

        folder = Path(path)
        manifest = json.loads((folder / _MANIFEST).read_text())
        if manifest["num_shards"] != self._num_shards:
            raise ValueError(
                f"path holds a checkpoint of {manifest['num_shards']} shards, "
                f"this service has {self._num_shards}"
            )
        states = [load(folder / f"shard-{k}.lz4") for k in range(self._num_shards)]
        self.close()
        self._updates = []
        self._sample_calls = int(manifest["sample_calls"])
        self._shards = [
            self._start_shard(k, state["buffer"], int(state["sampled"]))
            for k, state in enumerate(states)
        ]
        self._wait_ready()

    def close(self) -> None:
        """Kill the shard actors (their items are lost; [`checkpoint`][rlu_replay.ray.ShardedPrioritizedReplay.checkpoint] first to keep them).

        Examples
        --------
        See [`ShardedPrioritizedReplay`][rlu_replay.ray.ShardedPrioritizedReplay].
        """
        for shard in self._shards:
            try:
                ray.kill(shard)
            except Exception:
                pass
        self._updates = []
