"""Benchmark: rlu-replay beside the prioritized-replay anchors, in one process; Ray ingest.

Run from the repository root (``hatch run bench:replay``)::

    python packages/rlu-replay/benchmarks/bench_replay.py           # all three tables, ~3 minutes
    python packages/rlu-replay/benchmarks/bench_replay.py --quick   # fewer repeats, smoke test

1. The local prioritized-replay loop. Capacity 10^6 CartPole-sized transitions (obs and
   next obs 4 x float32, an int action, a float reward, a done flag), 10^5 of them stored
   before timing. One step = add 4 single transitions, sample 256, update those 256
   priorities. Anchors in the same process: cpprb's PrioritizedReplayBuffer, torchrl's
   TensorDictPrioritizedReplayBuffer, tianshou's PrioritizedReplayBuffer, flashbax's
   prioritised flat buffer (jit, CPU). Repeats are interleaved across implementations and the
   median µs per step is reported, with beside it the median µs of each phase of a step (add:
   the step's adds together, sample, update), timed with ``time.perf_counter`` in a second
   pass of the same steps within each repeat. Goal: rlu <= 0.3x the fastest anchor.
2. The same loop fed by a vector env: one step = ONE add of a batch of 8 transitions (what a
   gymnasium vector env of 8 environments gives per step), sample 256, update 256; same
   capacity and prefill, every anchor fed the same way (one call adding the 8 rows; tianshou,
   whose ReplayBuffer takes one transition a call, through its PrioritizedVectorReplayBuffer of
   8 sub-buffers, ``add(batch, buffer_ids=range(8))``, as its vector collectors do). The ratio
   to the fastest anchor is printed; the goal is the first table's.
3. Ray. Two producer processes (Ray actors) add single transitions for a fixed time while
   the learner (this process) draws batches of 256 and sends their new priorities (without
   waiting): transitions stored per second with rlu's sharded service (2 shards, a
   ReplayWriter per producer flushing every 256 items) against coax's Ape-X pattern (one
   replay actor, one blocking ``ray.get`` per transition and per batch), and the learner's
   batches per second, rlu's learner on ``stream`` (its defaults, 16 batches ahead, 8 a
   call; and 4 ahead, 2 a call) and, for comparison, on
   ``sample``. Goals: ingest >= 50x and learner >= 3x coax's pattern. Without ``--quick``,
   also the driver's peak extra memory while a service of 2^22 items in 4 shards checkpoints
   and restores.

flashbax's step is one fused ``jax.jit`` function (add, sample, update): its µs/step is that
fused step's median; its phase columns time three separately jitted functions (add, sample,
set_priorities), each blocked until ready (``jax.block_until_ready``), so they need not sum to
the fused step. Anchors are bench-only dependencies, never runtime ones; a missing one is
printed as unavailable, with the reason.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Feed = list[dict[str, np.ndarray]]
CAPACITY = 10**6
PREFILL = 10**5
ADDS, BATCH = 4, 256  # the first table: 4 single-transition adds a step
ENVS = 8  # the vector-env table: one add of 8 transitions a step
GOAL = 0.30  # rlu / fastest anchor, first table


class Unavailable(Exception):
    """An anchor that cannot run here; the message says why."""


@dataclass
class Loop:
    """One implementation's step, whole and in its three phases.

    ``add(i)`` makes the adds of step ``i``, ``sample(i)`` samples 256 and returns what
    ``update(i, handle)`` needs to set those 256 priorities. ``step(i)`` is the whole step: the
    three phases in a row, or a fused one (flashbax's single jitted function).
    """

    add: Callable[[int], None]
    sample: Callable[[int], Any]
    update: Callable[[int, Any], None]
    fused: Callable[[int], None] | None = None
    step: Callable[[int], None] = field(init=False)

    def __post_init__(self) -> None:
        if self.fused is not None:
            self.step = self.fused
            return
        add, sample, update = self.add, self.sample, self.update

        def step(i: int) -> None:
            add(i)
            update(i, sample(i))

        self.step = step


def transitions(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        "obs": rng.standard_normal((n, 4)).astype(np.float32),
        "act": rng.integers(2, size=n).astype(np.int64),
        "rew": np.ones(n, np.float32),
        "next_obs": rng.standard_normal((n, 4)).astype(np.float32),
        "done": np.zeros(n, np.bool_),
    }


# ----------------------------------------------------------------------------- local step factories
# Every factory takes ``feed`` (the items added, each a dict of ``rows`` transitions), ``per_step``
# (how many items one step adds, one call each) and ``new`` (rows of 256 new priorities) and
# returns the Loop of a buffer of CAPACITY holding PREFILL transitions. The first table feeds
# items of 1 transition, 4 a step; the vector-env table items of 8 transitions, 1 a step.


def rlu_loop(feed: Feed, per_step: int, new: np.ndarray) -> Loop:
    from rlu_replay import PrioritizedReplayBuffer

    buffer = PrioritizedReplayBuffer(CAPACITY, alpha=0.6, beta=0.4, random_seed=0)
    fill = transitions(np.random.default_rng(1), PREFILL)
    buffer.add(fill, priorities=np.random.default_rng(2).random(PREFILL) + 0.01)
    n = len(feed)

    def add(i: int) -> None:
        for j in range(per_step):
            buffer.add(feed[(i * per_step + j) % n])

    def sample(i: int) -> Any:
        return buffer.sample(BATCH).idx

    def update(i: int, idx: Any) -> None:
        buffer.update_priorities(idx, new[i % len(new)])

    return Loop(add, sample, update)


def cpprb_loop(feed: Feed, per_step: int, new: np.ndarray) -> Loop:
    try:
        from cpprb import PrioritizedReplayBuffer
    except Exception as exc:
        raise Unavailable(f"cpprb import failed: {exc!r}") from exc
    env_dict = {
        "obs": {"shape": 4, "dtype": np.float32},
        "act": {"shape": 1, "dtype": np.int64},
        "rew": {"shape": 1, "dtype": np.float32},
        "next_obs": {"shape": 4, "dtype": np.float32},
        "done": {"shape": 1, "dtype": np.bool_},
    }
    rb = PrioritizedReplayBuffer(CAPACITY, env_dict, alpha=0.6)
    fill = transitions(np.random.default_rng(1), PREFILL)
    rb.add(**fill, priorities=np.random.default_rng(2).random(PREFILL) + 0.01)
    n = len(feed)

    def add(i: int) -> None:
        for j in range(per_step):
            rb.add(**feed[(i * per_step + j) % n])  # an item of 8 rows: one call

    def sample(i: int) -> Any:
        return rb.sample(BATCH, beta=0.4)["indexes"]

    def update(i: int, idx: Any) -> None:
        rb.update_priorities(idx, new[i % len(new)])

    return Loop(add, sample, update)


def tianshou_loop(feed: Feed, per_step: int, new: np.ndarray) -> Loop:
    try:
        from tianshou.data import Batch, PrioritizedReplayBuffer, PrioritizedVectorReplayBuffer
    except Exception as exc:
        raise Unavailable(f"tianshou import failed: {exc!r}") from exc
    rows = len(feed[0]["rew"])
    # tianshou's ReplayBuffer.add takes one transition a call; a vector env's rows go to a
    # PrioritizedVectorReplayBuffer, one sub-buffer per environment, in one add(batch, buffer_ids)
    vector = rows > 1
    if vector:
        rb: Any = PrioritizedVectorReplayBuffer(CAPACITY, rows, alpha=0.6, beta=0.4)
        ids: np.ndarray | None = np.arange(rows)
    else:
        rb = PrioritizedReplayBuffer(CAPACITY, alpha=0.6, beta=0.4)
        ids = None

    def as_batch(t: dict[str, np.ndarray]) -> Any:
        if vector:
            return Batch(
                obs=t["obs"],
                act=t["act"],
                rew=t["rew"],
                terminated=t["done"],
                truncated=np.zeros(rows, np.bool_),
                obs_next=t["next_obs"],
                info=Batch(),
            )
        return Batch(
            obs=t["obs"][0],
            act=t["act"][0],
            rew=t["rew"][0],
            terminated=t["done"][0],
            truncated=False,
            obs_next=t["next_obs"][0],
            info={},
        )

    batches = [as_batch(t) for t in feed]
    fill = transitions(np.random.default_rng(1), PREFILL)
    stacked = Batch(
        obs=fill["obs"],
        act=fill["act"],
        rew=fill["rew"],
        terminated=fill["done"],
        truncated=np.zeros(PREFILL, np.bool_),
        obs_next=fill["next_obs"],
        info=Batch(),
    )
    try:
        if vector:
            for k in range(0, PREFILL, rows):  # one row per sub-buffer a call
                rb.add(stacked[k : k + rows], buffer_ids=ids)
        else:
            rb.add(batches[0])
            for k in range(PREFILL):  # tianshou adds one transition a call
                rb.add(stacked[k])
    except Exception as exc:
        raise Unavailable(f"tianshou add failed: {exc!r}") from exc
    n = len(batches)

    def add(i: int) -> None:
        for j in range(per_step):
            rb.add(batches[(i * per_step + j) % n], buffer_ids=ids)

    def sample(i: int) -> Any:
        return rb.sample(BATCH)[1]

    def update(i: int, idx: Any) -> None:
        rb.update_weight(idx, new[i % len(new)])

    return Loop(add, sample, update)


def torchrl_loop(feed: Feed, per_step: int, new: np.ndarray) -> Loop:
    try:
        import torch
        from tensordict import TensorDict
        from torchrl.data import LazyTensorStorage, TensorDictPrioritizedReplayBuffer
    except Exception as exc:
        raise Unavailable(f"torchrl import failed: {exc!r}") from exc
    torch.set_num_threads(1)
    rb = TensorDictPrioritizedReplayBuffer(
        alpha=0.6,
        beta=0.4,
        storage=LazyTensorStorage(CAPACITY),
        batch_size=BATCH,
        priority_key="td_error",
    )

    def td(t: dict[str, np.ndarray]) -> Any:
        return TensorDict({k: torch.as_tensor(v) for k, v in t.items()}, batch_size=[len(t["rew"])])

    rb.extend(td(transitions(np.random.default_rng(1), PREFILL)))
    tds = [td(t) for t in feed]
    news = [torch.as_tensor(r) for r in new]
    n = len(tds)

    def add(i: int) -> None:
        for j in range(per_step):
            rb.extend(tds[(i * per_step + j) % n])  # an item of 8 rows: one TensorDict of 8

    def sample(i: int) -> Any:
        return rb.sample()

    def update(i: int, sample: Any) -> None:
        sample.set("td_error", news[i % len(news)])
        rb.update_tensordict_priority(sample)

    return Loop(add, sample, update)


def flashbax_loop(feed: Feed, per_step: int, new: np.ndarray) -> Loop:
    try:
        import flashbax as fbx
        import jax
        import jax.numpy as jnp
    except Exception as exc:
        raise Unavailable(f"flashbax/jax import failed: {exc!r}") from exc
    # a flat buffer adds a fixed batch a call: the step's items together, one add of
    # per_step * rows transitions (4 singles as one batch of 4; a vector env's 8 rows)
    width = per_step * len(feed[0]["rew"])
    buffer = fbx.make_prioritised_flat_buffer(
        max_length=CAPACITY,
        min_length=1,
        sample_batch_size=BATCH,
        add_batch_size=width,
        priority_exponent=0.6,
        device="cpu",
    )
    example = {k: jnp.asarray(v[0]) for k, v in feed[0].items()}
    state = buffer.init(example)
    rows = [
        {
            k: jnp.asarray(
                np.concatenate([feed[(i * per_step + j) % len(feed)][k] for j in range(per_step)])
            )
            for k in example
        }
        for i in range(16)
    ]

    @jax.jit
    def fill(state: Any) -> Any:
        return jax.lax.fori_loop(0, PREFILL // width, lambda _, s: buffer.add(s, rows[0]), state)

    state = fill(state)

    # the whole step: one fused jitted function. It returns the sampled transitions and their
    # indices, so that the batch is gathered as every other row gathers it (returning the indices
    # alone lets XLA drop the gather as dead code). Not the sample's probabilities: read after
    # set_priorities has updated the tree in place, they make XLA copy the whole tree each step.
    @functools.partial(jax.jit, donate_argnums=(0,))
    def jstep(state: Any, batch: Any, key: Any, new_p: Any) -> Any:
        state = buffer.add(state, batch)
        sample = buffer.sample(state, key)
        return buffer.set_priorities(state, sample.indices, new_p), (
            sample.experience,
            sample.indices,
        )

    # the phases: three jitted functions, each blocked until ready
    jadd = jax.jit(buffer.add, donate_argnums=(0,))
    jsample = jax.jit(buffer.sample)
    jset = jax.jit(buffer.set_priorities, donate_argnums=(0,))

    keys = list(jax.random.split(jax.random.PRNGKey(0), 16))
    news = [jnp.asarray(r) for r in new]
    box = [state]

    def fused(i: int) -> None:
        box[0], sample = jstep(
            box[0], rows[i % len(rows)], keys[i % len(keys)], news[i % len(news)]
        )
        jax.block_until_ready((box[0], sample))

    def add(i: int) -> None:
        box[0] = jax.block_until_ready(jadd(box[0], rows[i % len(rows)]))

    def sample(i: int) -> Any:
        return jax.block_until_ready(jsample(box[0], keys[i % len(keys)]))

    def update(i: int, sample: Any) -> None:
        box[0] = jax.block_until_ready(jset(box[0], sample.indices, news[i % len(news)]))

    return Loop(add, sample, update, fused=fused)


Factory = Callable[[Feed, int, np.ndarray], Loop]
#: key -> (label in the first table, label in the vector-env table, factory)
ANCHORS: dict[str, tuple[str, str, Factory]] = {
    "cpprb": (
        "cpprb PrioritizedReplayBuffer (C++)",
        "cpprb PrioritizedReplayBuffer (C++), add of 8 rows",
        cpprb_loop,
    ),
    "torchrl": (
        "torchrl TensorDictPrioritizedReplayBuffer (C++ tree)",
        "torchrl TensorDictPrioritizedReplayBuffer (C++ tree), extend of 8",
        torchrl_loop,
    ),
    "tianshou": (
        "tianshou PrioritizedReplayBuffer (numba tree)",
        "tianshou PrioritizedVectorReplayBuffer (numba tree), add of 8 to 8 sub-buffers",
        tianshou_loop,
    ),
    "flashbax": (
        "flashbax prioritised flat buffer (JAX jit, CPU)",
        "flashbax prioritised flat buffer (JAX jit, CPU), add_batch_size 8",
        flashbax_loop,
    ),
}
RLU_LABEL = "**rlu_replay.PrioritizedReplayBuffer**"


def local_table(anchors: list[str], repeats: int, budget_s: float, vector: bool) -> str:
    """One local table: the first (4 single adds a step) or the vector-env one (1 add of 8)."""
    rng = np.random.default_rng(0)
    rows, per_step = (ENVS, 1) if vector else (1, ADDS)
    feed = [transitions(rng, rows) for _ in range(64)]
    new = (rng.random((64, BATCH)) + 0.01).astype(np.float32)
    entries: list[tuple[str, Loop | None, str]] = []

    def build(label: str, factory: Factory) -> None:
        try:
            entries.append((label, factory(feed, per_step, new), ""))
        except Unavailable as exc:
            entries.append((label, None, str(exc)))
        except Exception as exc:  # an anchor whose API moved: say so, keep going
            entries.append((label, None, f"{type(exc).__name__}: {exc}"))

    build(RLU_LABEL, rlu_loop)
    for key in anchors:
        single_label, vector_label, factory = ANCHORS[key]
        build(vector_label if vector else single_label, factory)
    live = [(label, loop) for label, loop, _ in entries if loop is not None]

    inner: dict[str, int] = {}
    for label, loop in live:
        for i in range(10):  # warm up (and compile) the whole step and the phases
            loop.step(i)
            loop.add(i)
            loop.update(i, loop.sample(i))
        t0 = time.perf_counter()
        for i in range(5):
            loop.step(i)
        per = max((time.perf_counter() - t0) / 5, 1e-7)
        inner[label] = int(min(max(budget_s / repeats / per, 3), 3000))

    clock = time.perf_counter
    totals: dict[str, list[float]] = {label: [] for label in inner}
    phases: dict[str, list[tuple[float, float, float]]] = {label: [] for label in inner}
    for _ in range(repeats):  # interleaved: machine noise hits every row alike
        for label, loop in live:
            k, step = inner[label], loop.step
            t0 = clock()
            for i in range(k):  # whole steps, nothing else in the loop: the total
                step(i)
            totals[label].append((clock() - t0) / k * 1e6)
            add, sample, update = loop.add, loop.sample, loop.update
            a = s = u = 0.0
            for i in range(k):  # the same steps again, each phase timed
                t0 = clock()
                add(i)
                t1 = clock()
                handle = sample(i)
                t2 = clock()
                update(i, handle)
                t3 = clock()
                a += t1 - t0
                s += t2 - t1
                u += t3 - t2
            phases[label].append((a / k * 1e6, s / k * 1e6, u / k * 1e6))

    def med(label: str, j: int) -> float:
        return statistics.median(p[j] for p in phases[label])

    results = [
        (
            label,
            statistics.median(totals[label]) if loop is not None else None,
            (med(label, 0), med(label, 1), med(label, 2)) if loop is not None else None,
            why,
        )
        for label, loop, why in entries
    ]
    ours = results[0][1]
    timed = [t for (_, t, _, _) in results[1:] if t is not None]
    fastest = min(timed) if timed else None
    if vector:
        title = (
            f"Vector env ({ENVS} environments): capacity 10^6 ({PREFILL:,} stored), one step = "
            f"add one batch of {ENVS} transitions, sample {BATCH}, update {BATCH} priorities: "
            "median µs per step and per phase"
        )
    else:
        title = (
            f"Capacity 10^6 ({PREFILL:,} stored), one step = add {ADDS} single transitions, "
            f"sample {BATCH}, update {BATCH} priorities: median µs per step and per phase"
        )
    out = [
        title,
        "",
        "| implementation | µs/step | add µs | sample µs | update µs | rlu / this |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, t, ph, why in results:
        if t is None or ph is None:
            out.append(f"| {label} | unavailable: {why[:120]} | | | | |")
            continue
        ratio = f"{ours / t:.2f}" if ours else ""
        cells = " | ".join(f"{x:,.1f}" for x in (t, *ph))
        out.append(f"| {label} | {cells} | {ratio} |")
    notes = []
    if fastest is not None and ours is not None:
        if vector:
            notes.append(f"rlu / fastest anchor = {ours / fastest:.2f}")
        else:
            verdict = "met" if ours <= GOAL * fastest else "NOT met"
            notes.append(
                f"rlu / fastest anchor = {ours / fastest:.2f} (goal <= {GOAL:.2f}: {verdict})"
            )
    adds = f"one add of {ENVS} transitions" if vector else f"the {ADDS} single-transition adds"
    notes.append(
        f"µs/step: median over repeats of whole steps; add ({adds}), sample ({BATCH}) and "
        f"update ({BATCH} priorities): medians of the same steps run again within each repeat, "
        "each phase timed with time.perf_counter, so they need not sum to µs/step."
    )
    if vector and any(label.startswith("tianshou") and t is not None for label, t, _, _ in results):
        notes.append(
            f"tianshou: its ReplayBuffer.add takes one transition a call; the {ENVS} rows go to a "
            f"PrioritizedVectorReplayBuffer of {ENVS} sub-buffers (one per environment, "
            f"{CAPACITY // ENVS:,} each) in one add(batch, buffer_ids=range({ENVS})), as its "
            "vector collectors add them."
        )
    if any(label.startswith("flashbax") and t is not None for label, t, _, _ in results):
        batch_note = (
            f"it adds the {ENVS} rows in one call (add_batch_size {ENVS})"
            if vector
            else f"it adds the step's {ADDS} transitions as one batch of {ADDS} "
            f"(add_batch_size {ADDS}): a flat buffer adds a fixed batch a call"
        )
        notes.append(
            "flashbax: µs/step is the median of its fused step (add, sample, set_priorities in "
            "one jax.jit, returning the sampled transitions and indices); its phases are three "
            "separately jitted functions, each blocked until ready (jax.block_until_ready); "
            f"{batch_note}."
        )
    out += ["", *notes]
    return "\n".join(out)


# ----------------------------------------------------------------------------- Ray ingest


def ray_table(seconds: float, with_memory: bool) -> str:
    import ray
    from rlu_replay import PrioritizedReplayBuffer
    from rlu_replay.ray import ShardedPrioritizedReplay

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)

    @ray.remote(num_cpus=0)
    class CentralReplay:  # coax's Ape-X example: one actor holds the whole buffer
        def __init__(self) -> None:
            self.buffer = PrioritizedReplayBuffer(CAPACITY, random_seed=0)

        def add(self, batch: Any) -> int:
            self.buffer.add(batch)
            return len(self.buffer)

        def sample(self, n: int) -> Any:
            return self.buffer.sample(n)

        def update(self, idx: Any, priorities: Any) -> int:
            return self.buffer.update_priorities(idx, priorities)

        def inserted(self) -> int:
            return self.buffer.inserted

    @ray.remote(num_cpus=1)
    class Producer:
        def __init__(self, seed: int) -> None:
            self.singles = [transitions(np.random.default_rng(seed), 1) for _ in range(64)]

        def run_writer(self, writer: Any, seconds: float) -> int:
            end, i = time.perf_counter() + seconds, 0
            while time.perf_counter() < end:
                writer.add(self.singles[i % 64])
                i += 1
            writer.flush()
            return i

        def run_blocking(self, central: Any, seconds: float) -> int:
            end, i = time.perf_counter() + seconds, 0
            while time.perf_counter() < end:
                ray.get(central.add.remote(self.singles[i % 64]))  # one blocking call each
                i += 1
            return i

    producers = [Producer.remote(s) for s in (1, 2)]
    ray.get([p.__ray_ready__.remote() for p in producers])
    new = np.random.default_rng(9).random(BATCH) + 0.01  # the learner's new priorities
    results = []

    def learn(step: Callable[[], None], refs: list[Any]) -> tuple[int, float]:
        count, t0 = 0, time.perf_counter()
        while True:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            if len(ready) == len(refs):
                break
            try:
                step()
                count += 1
            except (RuntimeError, TimeoutError):
                time.sleep(0.01)
        return count, time.perf_counter() - t0

    def run_rlu(label: str, ahead: tuple[int, int] | None) -> None:
        replay = ShardedPrioritizedReplay(CAPACITY, num_shards=2, random_seed=0)
        replay.add(transitions(np.random.default_rng(0), 256))
        writers = [replay.writer(flush_every=256, first_shard=k) for k in range(2)]
        stream = replay.stream(BATCH, *(ahead or (1, 1)))

        def step() -> None:  # a learner step: a batch, and its new priorities (not waited for)
            batch = next(stream) if ahead else replay.sample(BATCH)
            replay.update_priorities(batch.idx, new)

        t0 = time.perf_counter()
        refs = [p.run_writer.remote(w, seconds) for p, w in zip(producers, writers, strict=True)]
        samples, learn_s = learn(step, refs)
        added = sum(ray.get(refs))
        wall = time.perf_counter() - t0
        stored = sum(s["inserted"] for s in replay.stats()) - 256
        assert stored == added, (stored, added)
        results.append((label, stored / wall, samples / learn_s))
        replay.close()

    shards = "rlu_replay.ray: 2 shards, ReplayWriters"
    run_rlu(f"**{shards}, learner on `stream()` (prefetch=16, per_call=8)**", (16, 8))
    run_rlu(f"{shards}, learner on `stream(prefetch=4)` (per_call=2)", (4, 2))
    run_rlu(f"{shards}, learner on `sample` (two call rounds a batch)", None)

    central = CentralReplay.remote()
    ray.get(central.add.remote(transitions(np.random.default_rng(0), 256)))

    def coax_step() -> None:
        batch = ray.get(central.sample.remote(BATCH))
        central.update.remote(batch.idx, new)

    t0 = time.perf_counter()
    refs = [p.run_blocking.remote(central, seconds) for p in producers]
    samples, learn_s = learn(coax_step, refs)
    added = sum(ray.get(refs))
    wall = time.perf_counter() - t0
    stored = ray.get(central.inserted.remote()) - 256
    assert stored == added, (stored, added)
    coax_label = "coax's Ape-X pattern: 1 replay actor, 1 blocking call per transition and batch"
    results.append((coax_label, stored / wall, samples / learn_s))
    memory = checkpoint_memory() if with_memory else []
    ray.shutdown()

    _, coax_in, coax_learn = results[-1]
    out = [
        f"Ray: 2 producer processes adding single transitions for {seconds:g} s while the learner "
        f"(this process) draws batches of {BATCH} and sends their new priorities",
        "",
        "| implementation | transitions stored / s | × coax | learner batches / s | × coax |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, rate, srate in results:
        out.append(
            f"| {label} | {rate:,.0f} | {rate / coax_in:.1f} | "
            f"{srate:,.1f} | {srate / coax_learn:.1f} |"
        )
    ingest, learner = results[0][1] / coax_in, results[0][2] / coax_learn
    out += [
        "",
        f"rlu / coax's pattern: ingest {ingest:.1f}x (goal >= 50x: "
        f"{'met' if ingest >= 50 else 'NOT met'}), learner {learner:.1f}x (goal >= 3x: "
        f"{'met' if learner >= 3 else 'NOT met'})",
    ]
    return "\n".join(out + memory)


def checkpoint_memory() -> list[str]:
    """The driver's peak extra memory while a big service checkpoints and restores."""
    import tempfile
    import threading

    from rlu_replay.ray import ShardedPrioritizedReplay

    capacity, shards, chunk = 2**22, 4, 2**18
    page = os.sysconf("SC_PAGE_SIZE")

    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page

    def peak_during(action: Callable[[], Any]) -> int:
        base, peak, done = rss(), [0], threading.Event()

        def watch() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], rss() - base)
                time.sleep(0.001)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            action()
        finally:
            done.set()
            watcher.join()
        return peak[0]

    replay = ShardedPrioritizedReplay(capacity, num_shards=shards, random_seed=0)
    batch = transitions(np.random.default_rng(0), chunk)
    for _ in range(capacity // chunk):
        replay.add(batch)
    item_bytes = sum(v[0].nbytes for v in batch.values())
    shard_mib = capacity // shards * (item_bytes + 8 * 5) / 2**20  # items, ids, trees, priorities
    del batch
    gc.collect()
    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        ckpt = peak_during(lambda: replay.checkpoint(folder))
        t1 = time.perf_counter()
        rest = peak_during(lambda: replay.restore(folder))
        t2 = time.perf_counter()
        assert len(replay) == capacity
    replay.close()
    return [
        "",
        f"Checkpoint and restore of {capacity:,} items in {shards} shards (one shard: about "
        f"{shard_mib:,.0f} MiB): the driver's peak extra RSS (sampled every ms) was "
        f"{ckpt / 2**20:,.1f} MiB during checkpoint ({t1 - t0:.1f} s) and {rest / 2**20:,.1f} "
        f"MiB during restore ({t2 - t1:.1f} s); every shard writes and reads its own file.",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke test)")
    parser.add_argument("--anchors", default=",".join(ANCHORS), help="comma-separated anchors")
    parser.add_argument("--skip-ray", action="store_true", help="only the local tables")
    parser.add_argument("--ray-only", action="store_true", help="only the Ray table")
    args = parser.parse_args(argv)
    anchors = [a for a in args.anchors.split(",") if a]
    repeats, budget, seconds = (3, 0.3, 3.0) if args.quick else (9, 2.0, 10.0)
    print(
        f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n"
    )
    if not args.ray_only:
        print(local_table(anchors, repeats, budget, vector=False), flush=True)
        gc.collect()  # the first table's buffers, before the second's
        print()
        print(local_table(anchors, repeats, budget, vector=True), flush=True)
        gc.collect()
    if not args.skip_ray:
        print()
        print(ray_table(seconds, with_memory=not args.quick), flush=True)
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
