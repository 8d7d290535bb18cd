"""ShardedPrioritizedReplay: a proportional prioritized replay whose items live in Ray actors."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from rlu_replay._buffer import ReplayBuffer
from rlu_replay._checks import (
    Schedule,
    check_bool,
    check_generator,
    check_indices,
    check_instance_or_none,
    check_int,
    check_mapping_or_callable,
    check_optional_int,
    check_priorities,
    check_real,
    check_schedule,
    check_schedule_at,
)
from rlu_replay._layout import package
from rlu_replay._priorities import importance_weights
from rlu_replay._pytree import flatten
from rlu_replay.ray._calls import get
from rlu_replay.ray._errors import ShardError
from rlu_replay.ray._limiter import RateLimiter
from rlu_replay.ray._shard import Directory, Shard, same_layout
from rlu_replay.ray._writer import Binding, ReplayWriter

if TYPE_CHECKING:
    from rlu_replay.ray._stream import SampleStream

ShardOptions = Mapping[str, Any] | Callable[[int], Mapping[str, Any]] | None
_MANIFEST = "manifest.json"
_SEND_UPDATES_AT = 8192  # queued priority updates (items) sent without waiting for a draw
_ACTORS: dict[str, Any] = {}  # the Ray actor classes, made on first use


def _actor(cls: type) -> Any:
    if cls.__name__ not in _ACTORS:
        _ACTORS[cls.__name__] = ray.remote(max_restarts=0, max_task_retries=0)(cls)
    return _ACTORS[cls.__name__]


def shard_points(
    totals: np.ndarray, n: int, gen: np.random.Generator, stratified: bool
) -> list[np.ndarray]:
    """Where ``n`` draws over all shards fall: per shard, points as fractions of its total."""
    k = len(totals)
    if not stratified:  # how many draws each shard gets, then uniform points within it
        counts = gen.multinomial(n, totals / totals.sum())
        return [gen.random(int(c)) for c in counts]
    edges = np.cumsum(totals)
    points = (np.arange(n) + gen.random(n)) / n * edges[-1]
    shard = np.minimum(np.searchsorted(edges, points, side="right"), k - 1)
    local = (points - (edges[shard] - totals[shard])) / totals[shard]
    local = np.clip(local, 0.0, np.nextafter(1.0, 0.0))  # rounding must not reach 1
    return [local[shard == j] for j in range(k)]


class ShardedPrioritizedReplay:
    r"""A proportional prioritized replay whose items live in ``num_shards`` Ray actors.

    Each shard is a Ray actor holding a
    [`PrioritizedReplayBuffer`][rlu_replay.PrioritizedReplayBuffer] of ``capacity // num_shards``
    items (the first ``capacity % num_shards`` shards one more), built in the actor's own process.
    Producers add through [`ReplayWriter`][rlu_replay.ray.ReplayWriter]s (non-blocking, batched).

    **One layout.** The layout of the items (structure, dtypes, trailing shapes) is the same in
    every shard: declared by ``example``, or fixed by the first batch stored anywhere (a small
    directory actor holds it; each shard asks it once). Every shard then applies the local
    buffer's dtype policy: ``same_kind`` casts accepted, other batches refused whole, with an
    error naming the leaf, raised by the writer that sent them.

    **Sampling.** [`sample`][rlu_replay.ray.ShardedPrioritizedReplay.sample] is exactly
    proportional over the union of the shards: it asks every shard for its total priority (in
    parallel), splits the batch among the shards by a multinomial draw on those totals, and has
    each shard draw its part (in parallel, from uniform numbers this client draws, so a seeded
    ``rng`` replays the same choices). Item ``i`` is so drawn with probability
    $p_i / \sum_j p_j$ over every stored item, and its importance weight $(N P(i))^{-\beta}$
    is computed with the global total and count ``N``, divided by the largest one over all
    shards. A learner that must not wait uses
    [`stream`][rlu_replay.ray.ShardedPrioritizedReplay.stream] instead: the same draw, with
    several requests in flight and one call round per batch. A sampled item's identifier
    encodes its shard: ``idx = local_idx * num_shards + shard``, and
    [`update_priorities`][rlu_replay.ray.ShardedPrioritizedReplay.update_priorities] routes each
    priority to the shard that owns it (without waiting for an answer).

    **Placement.** A shard takes ``num_cpus=0`` (it uses little CPU, and takes none from the
    scheduler's budget of the actors and the learner), and the shards take the nodes alive
    when they start in turn: shard ``k`` on the ``k % len(nodes)``-th node (by node id), by a
    node affinity (a node that dies before its shard started fails that start: a
    ``ShardError``, and nothing changes; try again). So the shards
    are spread over as many nodes as there are, on a cluster, and over the surviving ones
    after a [`restore`][rlu_replay.ray.ShardedPrioritizedReplay.restore]. ``shard_options``
    (a dict, or a callable of the shard number returning one) is merged over that, e.g. a
    ``scheduling_strategy`` of a placement-group bundle, or resources a shard must have.
    [`nodes`][rlu_replay.ray.ShardedPrioritizedReplay.nodes] says where each shard runs. The
    directory runs on this process's node.

    **Failures.** Every call that waits on a shard waits at most ``timeout`` seconds and raises
    [`ShardError`][rlu_replay.ray.ShardError] naming the shard and its node when it died or did
    not answer. [`checkpoint`][rlu_replay.ray.ShardedPrioritizedReplay.checkpoint] has every
    shard write its own file; [`restore`][rlu_replay.ray.ShardedPrioritizedReplay.restore] starts
    new shards (on the nodes alive) that read them, then replaces the old ones; writers made
    before re-bind to the new shards by themselves.

    Parameters
    ----------
    capacity : int
        The most items all shards together hold, at least ``num_shards``.
    num_shards : int, optional
        The number of shard actors, at least 1.
    alpha : float, optional
        The priority exponent of every shard; see ``PrioritizedReplayBuffer``.
    beta : float or callable, optional
        The importance-weight exponent, or a schedule called with
        [`sample_calls`][rlu_replay.ray.ShardedPrioritizedReplay.sample_calls].
    epsilon : float, optional
        Added to every priority.
    rate_limiter : RateLimiter, optional
        When sampling may go ahead; default: as soon as an item is stored.
    timeout : float, optional
        Seconds to wait for a shard before raising [`ShardError`][rlu_replay.ray.ShardError].
    start_timeout : float, optional
        Seconds to wait for new shard actors to start (here and in
        [`restore`][rlu_replay.ray.ShardedPrioritizedReplay.restore]): a new actor is a new
        worker process, which imports numpy, numba and rlu-replay first.
    shard_options : dict or callable, optional
        ``ray.remote`` options of the shard actors (merged over the defaults above), or a
        callable ``shard -> dict``.
    random_seed : int, optional
        Seed of this client's random stream (splitting the batch, the uniform numbers).
    example : pytree of arrays, optional
        A batch (of any size, 0 included) whose layout every shard stores; see
        ``PrioritizedReplayBuffer``. Default: the first batch stored fixes it.
    frame_stack, frame_axis, frame_leaves : optional
        Observations stacked from frames, each frame stored once in each shard; see
        ``ReplayBuffer``. A writer sends ``flush_every`` items of its stream to one shard, the
        shards taking turns, so each shard stores a few frames again at the start of each such
        run (a stack's worth per environment): the larger ``flush_every``, the fewer.

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
    >>> writer.add({"obs": np.zeros((4, 4), np.int32), "r": np.arange(4.0)})  # int into float: cast
    >>> writer.add({"obs": np.zeros((4, 3), np.float32), "r": np.arange(4.0)})  # another shape
    >>> writer.flush()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: replay shard ... refused an add: batch leaf ['obs'] has shape (4, 3), ...
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
        shard_options: ShardOptions = None,
        random_seed: int | None = None,
        *,
        example: Any = None,
        frame_stack: int | None = None,
        frame_axis: int | None = 0,
        frame_leaves: Sequence[str] | None = None,
    ) -> None:
        self._num_shards = check_int("num_shards", num_shards, minimum=1)
        self._capacity = check_int("capacity", capacity, minimum=self._num_shards)
        self._alpha = check_real("alpha", alpha, low=0.0, high=1.0)
        self._beta = check_schedule("beta", beta, low=0.0, high=1.0)
        self._epsilon = check_real("epsilon", epsilon, low=0.0)
        limiter = check_instance_or_none(
            "rate_limiter", rate_limiter, cls=RateLimiter, what="a RateLimiter"
        )
        self._limiter = limiter or RateLimiter()
        self._timeout = check_real("timeout", timeout, low=0.0, low_open=True)
        self._start_timeout = check_real("start_timeout", start_timeout, low=0.0, low_open=True)
        self._shard_options: ShardOptions = check_mapping_or_callable(
            "shard_options", shard_options, what="a callable of the shard number"
        )
        seed = check_optional_int("random_seed", random_seed, minimum=0)
        self._frames: dict[str, Any] = {
            "frame_stack": frame_stack,
            "frame_axis": frame_axis,
            "frame_leaves": frame_leaves,
        }
        # checked as the shards' buffers check them (the example's fit included), at once
        self._example = ReplayBuffer(1, example=example, **self._frames).example
        self._rng = np.random.default_rng(seed)
        if not ray.is_initialized():
            raise RuntimeError(
                "Ray is not initialized: call ray.init() (or ray.init(address=...)) first"
            )
        self._sample_calls = 0
        self._add_calls = 0
        self._updates: list[tuple[int, Any]] = []  # update calls sent, not yet answered
        self._queued: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(num_shards)]
        self._queued_items = 0
        self._seeds = [
            int(s) for s in np.random.SeedSequence(seed).generate_state(self._num_shards)
        ]
        here = ray.get_runtime_context().get_node_id()
        self._directory = (
            _actor(Directory)
            .options(
                num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)
            )
            .remote(self._example)
        )
        self._shards: list[Any] = []
        self._nodes: list[str | None] = []
        self._known: list[dict[str, Any]] = []  # each shard's latest figures
        self._generation = 0
        self._install(self._start_shards())

    # ------------------------------------------------------------------ shards

    def _shard_capacity(self, k: int) -> int:
        base, extra = divmod(self._capacity, self._num_shards)
        return base + (1 if k < extra else 0)

    def _options(self, k: int, nodes: list[str]) -> dict[str, Any]:
        given = self._shard_options
        extra = dict(given(k) if callable(given) else (given or {}))
        options: dict[str, Any] = {"num_cpus": 0, **extra}
        if "scheduling_strategy" not in extra and nodes:  # the shards take the nodes in turn
            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(
                nodes[k % len(nodes)], soft=False
            )
        return options

    def _start_shards(self, files: list[str] | None = None) -> list[Any]:
        """New shard actors on the nodes alive now in turn (unless ``shard_options`` place them)."""
        listed: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
        nodes = sorted(n["NodeID"] for n in listed if n.get("Alive"))
        return [
            self._start_shard(k, nodes, None if files is None else files[k])
            for k in range(self._num_shards)
        ]

    def _start_shard(self, k: int, nodes: list[str], restore_from: str | None) -> Any:
        return (
            _actor(Shard)
            .options(**self._options(k, nodes))
            .remote(
                k,
                self._shard_capacity(k),
                self._alpha,
                self._epsilon,
                self._seeds[k],
                self._example,
                self._directory,
                restore_from,
                self._frames,
            )
        )

    def _install(self, shards: list[Any]) -> None:
        """Wait for new shards, check they agree on the layout, and make them the current ones.

        Nothing changes (and the new shards are killed) if they do not start or disagree.
        """
        try:
            calls = list(enumerate(shard.ready.remote() for shard in shards))
            infos = get(calls, self._start_timeout, "its start", [])
            examples = [i["example"] for i in infos if i["example"] is not None]
            if self._example is not None:
                examples.insert(0, self._example)
            for k, info in enumerate(infos):
                if info["example"] is not None and not same_layout(examples[0], info["example"]):
                    raise ValueError(
                        f"shard {k} of the checkpoint stores another layout than "
                        + ("the service's example" if self._example is not None else "shard 0")
                    )
            example = examples[0] if examples else None
            generation = int(
                ray.get(
                    self._directory.replace.remote(shards, [i["node"] for i in infos], example),
                    timeout=self._timeout,
                )
            )
        except BaseException:
            for shard in shards:
                ray.kill(shard)
            raise
        old, self._shards = self._shards, shards
        self._nodes = [i["node"] for i in infos]
        self._known = [i["stats"] for i in infos]
        self._generation = generation
        self._updates = []  # calls and queued updates for the old shards' items: dropped
        self._queued = [[] for _ in shards]
        self._queued_items = 0
        for shard in old:
            ray.kill(shard)

    def _learn(self, k: int, stats: dict[str, Any]) -> None:
        """Keep the newer of what is known of shard ``k`` and ``stats``."""
        if stats["version"] > self._known[k]["version"]:
            self._known[k] = stats

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
    def nodes(self) -> list[str]:
        """list of str: The id (hex) of the Ray node each shard runs on, shard 0 first."""
        return [str(n) for n in self._nodes]

    @property
    def sample_calls(self) -> int:
        """int: How many batches were drawn (by ``sample`` and streams).

        That count is the step a ``beta`` schedule sees.
        """
        return self._sample_calls

    @property
    def beta(self) -> float | Schedule:
        """float or callable: The importance-weight exponent, or its schedule."""
        return self._beta

    @beta.setter
    def beta(self, beta: float | Schedule) -> None:
        self._beta = check_schedule("beta", beta, low=0.0, high=1.0)

    @property
    def example(self) -> Any:
        """pytree or None: A batch of no items with the service's layout; None until it is fixed.

        Asks the service's directory (one call).

        Examples
        --------
        >>> import numpy as np, ray
        >>> from rlu_replay.ray import ShardedPrioritizedReplay
        >>> _ = ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
        >>> replay = ShardedPrioritizedReplay(capacity=100, num_shards=2)
        >>> replay.example is None
        True
        >>> replay.add({"x": np.zeros((3, 2), np.float32)})
        >>> replay.example["x"].shape, replay.example["x"].dtype
        ((0, 2), dtype('float32'))
        >>> replay.close()
        """
        return ray.get(self._directory.example.remote(), timeout=self._timeout)

    def writer(
        self, flush_every: int = 256, max_in_flight: int = 4, first_shard: int | None = None
    ) -> ReplayWriter:
        """A [`ReplayWriter`][rlu_replay.ray.ReplayWriter] for one producer.

        The writer uses this service's ``timeout``.

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
        binding = Binding(self._directory, self._generation, list(self._shards), list(self._nodes))
        return ReplayWriter(binding, flush_every, max_in_flight, self._timeout, first_shard)

    # ------------------------------------------------------------------ reading

    def _stats_round(self) -> list[dict[str, Any]]:
        """Every shard's figures (after the queued updates, and the errors of answered ones)."""
        self._check_updates()
        calls = [(k, shard.stats.remote()) for k, shard in enumerate(self._shards)]
        stats = get(calls, self._timeout, "a stats query", self._nodes)
        for k, s in enumerate(stats):
            self._learn(k, s)
        return stats

    def stats(self) -> list[dict[str, float]]:
        """Each shard's figures: ``size``, ``inserted``, ``sampled``, ``total`` and ``min``.

        With ``frame_stack``, also ``frames``: the distinct frames the shard stores.
        One call to every shard, in parallel.

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
        keys: tuple[str, ...] = ("size", "inserted", "sampled", "total", "min")
        if self._frames["frame_stack"] is not None:
            keys += ("frames",)
        return [{key: s[key] for key in keys} for s in self._stats_round()]

    def __len__(self) -> int:
        """How many items the shards hold now: one call to every shard, in parallel (about a
        millisecond on one machine); raises ``ShardError`` like ``stats``."""
        return int(sum(s["size"] for s in self.stats()))

    def __repr__(self) -> str:
        return f"ShardedPrioritizedReplay(capacity={self._capacity}, num_shards={self._num_shards})"

    def _allowed(self, n: int, in_flight: int) -> bool:
        """Whether the limiter lets ``n`` items be drawn once ``in_flight`` more are counted."""
        known = self._known
        size = int(sum(s["size"] for s in known))
        inserted = int(sum(s["inserted"] for s in known))
        sampled = int(sum(s["sampled"] for s in known)) + in_flight
        total = float(sum(s["total"] for s in known))
        return total > 0 and self._limiter.allows(n, size, inserted, sampled)

    def _wait_allowed(self, n: int, wait: float) -> None:
        """Poll shards until the rate limiter lets ``n`` items be drawn, or raise TimeoutError."""
        deadline = time.monotonic() + wait
        delay = 0.001
        while True:
            self._stats_round()  # sends the queued updates first
            if self._allowed(n, 0):
                return
            if time.monotonic() >= deadline:
                known = self._known
                raise TimeoutError(
                    f"sampling waited {wait:g} s for the rate limiter ({self._limiter}): "
                    f"{sum(s['size'] for s in known)} items stored, "
                    f"{sum(s['inserted'] for s in known)} inserted, "
                    f"{sum(s['sampled'] for s in known)} sampled"
                )
            time.sleep(delay)
            delay = min(2 * delay, 0.05)

    def _request(
        self, n: int, gen: np.random.Generator, stratified: bool, batches: int
    ) -> tuple[Any, ...]:
        """Send ``batches`` draws of ``n`` items to every shard (one call each), each draw split
        by the totals known now; the priority updates queued for a shard go first, in its call."""
        totals = np.array([s["total"] for s in self._known], dtype=np.float64)
        per_batch = [shard_points(totals, n, gen, stratified) for _ in range(batches)]
        counts = np.array([[len(u) for u in points] for points in per_batch])  # (batch, shard)
        calls = [
            (k, shard.sample.remote(np.concatenate([p[k] for p in per_batch]), self._take(k)))
            for k, shard in enumerate(self._shards)
        ]
        orders = [np.arange(n) if stratified else gen.permutation(n) for _ in range(batches)]
        return self._generation, calls, counts, orders

    def _receive(self, request: tuple[Any, ...]) -> list[Any]:
        """The batches of a request sent by ``_request``: waits for the shards' answers."""
        _, calls, counts, orders = request
        parts = get(calls, self._timeout, "a sample", self._nodes)
        for k, part in enumerate(parts):
            self._learn(k, part[3])
        # every shard answered with its figures after its draws: one consistent smallest p
        p_min = min(part[3]["min"] for part in parts)
        drawn = [k for k, part in enumerate(parts) if part[0] is not None]
        treedef = flatten(parts[drawn[0]][0])[1]
        flat = {k: flatten(parts[k][0])[0] for k in drawn}
        ends = np.cumsum(counts, axis=0)  # per shard, where each batch's draws end
        out = []
        for b, order in enumerate(orders):
            cuts = [(k, slice(ends[b, k] - counts[b, k], ends[b, k])) for k in drawn]
            cuts = [(k, cut) for k, cut in cuts if cut.start < cut.stop]
            leaves = [
                np.concatenate([flat[k][j][cut] for k, cut in cuts])[order]
                for j in range(len(flat[drawn[0]]))
            ]
            idx = np.concatenate([parts[k][1][cut] * self._num_shards + k for k, cut in cuts])
            p = np.concatenate([parts[k][2][cut] for k, cut in cuts])[order]
            beta = check_schedule_at("beta", self._beta, step=self._sample_calls, low=0.0, high=1.0)
            # (N P(i))^-beta over the largest such weight, N and P against all shards together
            weights = importance_weights(p, p_min, beta)
            self._sample_calls += 1
            out.append(package(treedef.unflatten(leaves), idx[order], weights))
        return out

    def sample(
        self, n: int, rng: Any = None, timeout: float | None = None, *, stratified: bool = False
    ) -> Any:
        """Draw ``n`` items over all shards, with probability proportional to $p_i$.

        Two call rounds: every shard's figures, then the draw. Waits while the rate limiter
        holds sampling back. A learner that samples in a loop is faster with
        [`stream`][rlu_replay.ray.ShardedPrioritizedReplay.stream].

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
        self._wait_allowed(n, wait)
        return self._receive(self._request(n, gen, stratified, 1))[0]

    def stream(
        self,
        n: int,
        prefetch: int = 16,
        per_call: int | None = None,
        rng: Any = None,
        timeout: float | None = None,
        *,
        stratified: bool = False,
    ) -> SampleStream:
        """An endless iterator of batches of ``n`` items, drawn ahead of use.

        Each call round draws ``per_call`` batches at once (one call to every shard, which
        first applies the priority updates queued for it), and up to ``prefetch`` batches are
        on their way or ready, so the learner rarely waits and Ray's cost of a call is shared
        by several batches. Every draw is split among the shards by their totals as last
        reported (every shard answers every call with its figures). When nothing changes
        between draws the law is exactly that of
        [`sample`][rlu_replay.ray.ShardedPrioritizedReplay.sample]; otherwise a batch sees the
        priorities, items and totals of when it was drawn, up to ``prefetch`` batches earlier
        (so the updates of the last batches may not be in it yet), as with any prefetching
        replay.

        Parameters
        ----------
        n : int
            Items per batch, at least 1.
        prefetch : int, optional
            Batches drawn ahead of use, at least 1.
        per_call : int, optional
            Batches drawn per call round, between 1 and ``prefetch``; default: half of
            ``prefetch`` (at least 1), so that one call round is on its way while the batches
            of the other are used.
        rng : numpy.random.Generator, int or JAX PRNG key, optional
            Where the randomness comes from; default: this client's stream.
        timeout : float, optional
            Seconds ``next`` waits for the rate limiter (default: the service's ``timeout``).
        stratified : bool, optional
            As in [`sample`][rlu_replay.ray.ShardedPrioritizedReplay.sample], per batch.

        Returns
        -------
        SampleStream
            Iterate it (``next(stream)``) for batches as ``sample`` returns them.

        Raises
        ------
        TypeError, ValueError
            For a bad argument.

        Examples
        --------
        >>> import numpy as np, ray
        >>> from rlu_replay.ray import ShardedPrioritizedReplay
        >>> _ = ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
        >>> replay = ShardedPrioritizedReplay(capacity=1000, num_shards=2, random_seed=0)
        >>> replay.add({"x": np.arange(100.0)})
        >>> stream = replay.stream(32, prefetch=4, per_call=2)
        >>> for _, batch in zip(range(3), stream):
        ...     replay.update_priorities(batch.idx, np.abs(batch.batch["x"]))
        >>> batch.batch["x"].shape, stream.ahead, replay.sample_calls  # 2 batches a call
        ((32,), 3, 4)
        >>> replay.close()
        """
        from rlu_replay.ray._stream import SampleStream

        n = check_int("n", n, minimum=1)
        prefetch = check_int("prefetch", prefetch, minimum=1)
        per_call = (
            min(4, prefetch) if per_call is None else check_int("per_call", per_call, minimum=1)
        )
        if per_call > prefetch:
            raise ValueError(f"per_call must be at most prefetch ({prefetch}), got {per_call}")
        gen = self._rng if rng is None else check_generator("rng", rng)
        stratified = check_bool("stratified", stratified)
        wait = self._timeout if timeout is None else check_real("timeout", timeout, low=0.0)
        return SampleStream(self, n, prefetch, per_call, gen, stratified, wait)

    # ------------------------------------------------------------------ writing

    def add(self, batch: Any, priorities: Any = None) -> None:
        """Add a batch to the next shard (in turn) and wait until it is stored.

        A convenience for the driver; producers should use a
        [`writer`][rlu_replay.ray.ShardedPrioritizedReplay.writer].

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
            If the shard refuses the batch (it does not fit the service's layout).

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
        writer = self.writer(1, 1, first_shard=shard)
        writer.add(batch, priorities)
        self._add_calls += 1
        writer.flush()

    def update_priorities(self, idx: Any, priorities: Any) -> None:
        """New priorities for sampled items, for the shards that own them; nothing waits.

        The updates are queued here and travel with this client's next call to each shard (a
        draw, a stats query, a checkpoint), or on their own once 8192 items are queued; Ray
        runs one client's calls to an actor in order, so this client's next draw sees them.
        Items overwritten since they were sampled are skipped (by their shard).

        Parameters
        ----------
        idx : 1-d array_like of ints
            Identifiers, as [`sample`][rlu_replay.ray.ShardedPrioritizedReplay.sample] returned
            them.
        priorities : array_like
            One finite, non-negative priority per identifier (or one for all).

        Raises
        ------
        TypeError, ValueError
            For bad ``idx`` or ``priorities`` (checked here, before anything is sent).
        ShardError
            If an earlier update's shard died (raised at a later call).

        Examples
        --------
        See [`ShardedPrioritizedReplay`][rlu_replay.ray.ShardedPrioritizedReplay].
        """
        ids = check_indices("idx", idx)
        prio = check_priorities("priorities", priorities, n=ids.shape[0])
        owner = ids % self._num_shards
        local = ids // self._num_shards
        for k in np.unique(owner).tolist():
            mask = owner == k
            self._queued[k].append((local[mask], prio[mask]))
        self._queued_items += ids.shape[0]
        if self._queued_items >= _SEND_UPDATES_AT:
            self._send_updates()

    def _take(self, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The priority updates queued for shard ``k``, as one pair of arrays (or None)."""
        queued = self._queued[k]
        if not queued:
            return None
        self._queued[k] = []
        self._queued_items -= sum(len(ids) for ids, _ in queued)
        if len(queued) == 1:
            return queued[0]
        return np.concatenate([q[0] for q in queued]), np.concatenate([q[1] for q in queued])

    def _send_updates(self) -> None:
        """Send the queued priority updates, one call per shard, without waiting."""
        for k, shard in enumerate(self._shards):
            update = self._take(k)
            if update is not None:
                self._updates.append((k, shard.update_priorities.remote(*update)))
        if len(self._updates) > 8 * self._num_shards:
            self._check_updates(wait=True)

    def _check_updates(self, wait: bool = False, send: bool = True) -> None:
        """Send queued updates (``send``); raise the errors of answered ones (``wait``: of the
        oldest half, waiting for them)."""
        if send and any(self._queued):
            self._send_updates()
        if not self._updates:
            return
        refs = [ref for _, ref in self._updates]
        count = len(refs) // 2 if wait else 0
        if wait:
            ready, _ = ray.wait(refs, num_returns=count, timeout=self._timeout)
        else:  # whatever is answered already
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        done = set(ready)
        finished = [(k, r) for k, r in self._updates if r in done]
        self._updates = [(k, r) for k, r in self._updates if r not in done]
        if wait and len(finished) < count:
            k = self._updates[0][0]
            raise ShardError(
                k, f"did not answer a priority update within {self._timeout:g} s", self._nodes[k]
            )
        answers = get(finished, self._timeout, "a priority update", self._nodes)
        for (k, _), stats in zip(finished, answers, strict=True):
            self._learn(k, stats)

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
        for k, stats in enumerate(get(calls, self._timeout, "a clear", self._nodes)):
            self._learn(k, stats)

    # ------------------------------------------------------------------ checkpoints

    def checkpoint(self, path: str | Path) -> Path:
        """Have every shard write its buffer into the folder ``path`` (made if needed).

        Each shard writes its own file (``rlu_serialize.dump``, atomic), all shards at once;
        nothing of the items passes through this process. ``manifest.json`` (written last, by
        an atomic rename) names the files; files of an earlier checkpoint in the folder are
        removed once it is written, so an interrupted checkpoint leaves the earlier one whole.
        On a cluster, ``path`` must be on a file system every node sees (as Ray's own
        checkpoints). Items added while the checkpoint is written may or may not be in it.

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
        folder = Path(path).absolute()
        folder.mkdir(parents=True, exist_ok=True)
        self._check_updates()
        token = uuid.uuid4().hex[:12]
        names = [f"shard-{k}-{token}.lz4" for k in range(self._num_shards)]
        calls = [
            (k, shard.checkpoint.remote(str(folder / name)))
            for k, (shard, name) in enumerate(zip(self._shards, names, strict=True))
        ]
        for k, stats in enumerate(get(calls, self._timeout, "a checkpoint", self._nodes)):
            self._learn(k, stats)
        manifest = {
            "format": 2,
            "num_shards": self._num_shards,
            "capacity": self._capacity,
            "sample_calls": self._sample_calls,
            "shards": names,
        }
        tmp = folder / f".{_MANIFEST}.{token}"
        tmp.write_text(json.dumps(manifest))
        os.replace(tmp, folder / _MANIFEST)
        for old in folder.glob("shard-*.lz4"):
            if old.name not in names:
                old.unlink(missing_ok=True)
        return folder

    def restore(self, path: str | Path) -> None:
        """Replace every shard by a new actor that reads what
        [`checkpoint`][rlu_replay.ray.ShardedPrioritizedReplay.checkpoint] wrote.

        The new shards start (on the nodes alive, as placed by ``shard_options``) and each
        reads its own file; once all have, and they agree on the layout, they replace the old
        ones, which are killed (dead ones are simply dropped). If anything fails, the service
        stays as it was. The service is then as at the checkpoint: items added since are gone.
        Writers made before keep working: they re-bind to the new shards and send again the
        calls the old shards never answered (see [`ReplayWriter`][rlu_replay.ray.ReplayWriter]);
        streams drop their draws in flight and draw again.

        Parameters
        ----------
        path : str or pathlib.Path
            A folder written by ``checkpoint`` of a service with as many shards and as large a
            capacity.

        Raises
        ------
        FileNotFoundError
            If the folder or one of its files is missing.
        ValueError
            If the checkpoint has another number of shards or capacity, or another layout
            than the service's ``example``.
        ShardError
            If a new shard did not start within ``start_timeout``.

        Examples
        --------
        >>> import numpy as np, ray
        >>> from rlu_replay.ray import ShardedPrioritizedReplay
        >>> _ = ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
        >>> replay = ShardedPrioritizedReplay(capacity=100, num_shards=2)
        >>> replay.add({"x": np.arange(5.0)})
        >>> folder = replay.checkpoint("replay-checkpoint")
        >>> writer = replay.writer(flush_every=1)
        >>> replay.clear()
        >>> replay.restore(folder)
        >>> len(replay)
        5
        >>> writer.add({"x": np.ones(1)})  # a writer made before the restore still works
        >>> writer.flush()
        >>> len(replay)
        6
        >>> replay.close()
        >>> import shutil; shutil.rmtree(folder)
        """
        folder = Path(path).absolute()
        manifest = json.loads((folder / _MANIFEST).read_text())
        if manifest["num_shards"] != self._num_shards:
            raise ValueError(
                f"path holds a checkpoint of {manifest['num_shards']} shards, "
                f"this service has {self._num_shards}"
            )
        if manifest["capacity"] != self._capacity:
            raise ValueError(
                f"path holds a checkpoint of capacity {manifest['capacity']}, "
                f"this service has {self._capacity}"
            )
        names = manifest.get("shards") or [f"shard-{k}.lz4" for k in range(self._num_shards)]
        files = [folder / name for name in names]
        for file in files:
            if not file.is_file():
                raise FileNotFoundError(f"the checkpoint's file {file} is missing")
        self._install(self._start_shards([str(file) for file in files]))
        self._sample_calls = int(manifest["sample_calls"])

    def close(self) -> None:
        """Kill the shard actors and the directory (items are lost; checkpoint first to keep them).

        Shards that died already are skipped; without Ray running (``ray.shutdown``) there is
        nothing left to close.

        Raises
        ------
        RuntimeError
            Naming the actors that could not be killed (after trying every one).

        Examples
        --------
        See [`ShardedPrioritizedReplay`][rlu_replay.ray.ShardedPrioritizedReplay].
        """
        self._updates = []
        if not ray.is_initialized():
            return
        try:  # writers that ask from now on learn that the service was closed
            ray.get(self._directory.close.remote(), timeout=self._timeout)
        except Exception:  # a directory that is gone tells them as much
            pass
        failed = []
        named = [(f"shard {k}", s) for k, s in enumerate(self._shards)]
        for name, actor in [*named, ("the directory", self._directory)]:
            try:
                ray.kill(actor)
            except Exception as exc:  # reported below, after trying every actor
                failed.append(f"{name} ({type(exc).__name__}: {exc})")
        if failed:
            raise RuntimeError(f"could not kill {', '.join(failed)}")
