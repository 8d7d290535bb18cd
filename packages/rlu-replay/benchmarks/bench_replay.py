"""Benchmark: rlu-replay beside the prioritized-replay anchors, in one process; Ray ingest.

Run from the repository root (``hatch run bench:replay``)::

    python packages/rlu-replay/benchmarks/bench_replay.py           # both tables, ~3-4 minutes
    python packages/rlu-replay/benchmarks/bench_replay.py --quick   # fewer repeats, smoke test

1. The local prioritized-replay loop. Capacity 10^6 CartPole-sized transitions (obs and
   next obs 4 x float32, an int action, a float reward, a done flag), 10^5 of them stored
   before timing. One step = add 4 single transitions, sample 256, update those 256
   priorities. Anchors in the same process: cpprb's PrioritizedReplayBuffer, torchrl's
   TensorDictPrioritizedReplayBuffer, tianshou's PrioritizedReplayBuffer, flashbax's
   prioritised flat buffer (jit, CPU). Repeats are interleaved across implementations and the
   median µs per step is reported. Goal: rlu <= 0.5x the fastest anchor.
2. Ray ingest. Two producer processes (Ray actors) add single transitions for a fixed time
   while the learner (this process) samples batches of 256: transitions stored per second with
   rlu's sharded service (2 shards, a ReplayWriter per producer flushing every 256 items)
   against coax's Ape-X pattern (one replay actor, one blocking ``ray.get`` per transition),
   and the learner's sample rate. Goal: >= 10x coax's pattern.

Anchors are bench-only dependencies, never runtime ones; a missing one is printed as
unavailable, with the reason.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

Step = Callable[[int], Any]
CAPACITY = 10**6
PREFILL = 10**5
ADDS, BATCH = 4, 256


class Unavailable(Exception):
    """An anchor that cannot run here; the message says why."""


def transitions(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        "obs": rng.standard_normal((n, 4)).astype(np.float32),
        "act": rng.integers(2, size=n).astype(np.int64),
        "rew": np.ones(n, np.float32),
        "next_obs": rng.standard_normal((n, 4)).astype(np.float32),
        "done": np.zeros(n, np.bool_),
    }


# ----------------------------------------------------------------------------- local step factories


def rlu_step(singles: list[dict[str, np.ndarray]], new: np.ndarray) -> Step:
    from rlu_replay import PrioritizedReplayBuffer

    buffer = PrioritizedReplayBuffer(CAPACITY, alpha=0.6, beta=0.4, random_seed=0)
    fill = transitions(np.random.default_rng(1), PREFILL)
    buffer.add(fill, priorities=np.random.default_rng(2).random(PREFILL) + 0.01)

    def step(i: int) -> None:
        for j in range(ADDS):
            buffer.add(singles[(i * ADDS + j) % len(singles)])
        sample = buffer.sample(BATCH)
        buffer.update_priorities(sample.idx, new[i % len(new)])

    return step


def cpprb_step(singles: list[dict[str, np.ndarray]], new: np.ndarray) -> Step:
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

    def step(i: int) -> None:
        for j in range(ADDS):
            rb.add(**singles[(i * ADDS + j) % len(singles)])
        batch = rb.sample(BATCH, beta=0.4)
        rb.update_priorities(batch["indexes"], new[i % len(new)])

    return step


def tianshou_step(singles: list[dict[str, np.ndarray]], new: np.ndarray) -> Step:
    try:
        from tianshou.data import Batch, PrioritizedReplayBuffer
    except Exception as exc:
        raise Unavailable(f"tianshou import failed: {exc!r}") from exc
    rb = PrioritizedReplayBuffer(CAPACITY, alpha=0.6, beta=0.4)

    def as_batch(t: dict[str, np.ndarray]) -> Any:
        return Batch(
            obs=t["obs"][0],
            act=t["act"][0],
            rew=t["rew"][0],
            terminated=t["done"][0],
            truncated=False,
            obs_next=t["next_obs"][0],
            info={},
        )

    batches = [as_batch(t) for t in singles]
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
        rb.add(batches[0])
        for k in range(0, PREFILL, 1):  # tianshou adds one transition (or one env row) a call
            rb.add(stacked[k])
    except Exception as exc:
        raise Unavailable(f"tianshou add failed: {exc!r}") from exc

    def step(i: int) -> None:
        for j in range(ADDS):
            rb.add(batches[(i * ADDS + j) % len(batches)])
        _, idx = rb.sample(BATCH)
        rb.update_weight(idx, new[i % len(new)])

    return step


def torchrl_step(singles: list[dict[str, np.ndarray]], new: np.ndarray) -> Step:
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
    tds = [td(t) for t in singles]
    news = [torch.as_tensor(r) for r in new]

    def step(i: int) -> None:
        for j in range(ADDS):
            rb.extend(tds[(i * ADDS + j) % len(tds)])
        sample = rb.sample()
        sample.set("td_error", news[i % len(news)])
        rb.update_tensordict_priority(sample)

    return step


def flashbax_step(singles: list[dict[str, np.ndarray]], new: np.ndarray) -> Step:
    try:
        import flashbax as fbx
        import jax
        import jax.numpy as jnp
    except Exception as exc:
        raise Unavailable(f"flashbax/jax import failed: {exc!r}") from exc
    buffer = fbx.make_prioritised_flat_buffer(
        max_length=CAPACITY,
        min_length=1,
        sample_batch_size=BATCH,
        add_batch_size=ADDS,
        priority_exponent=0.6,
        device="cpu",
    )
    example = {k: jnp.asarray(v[0]) for k, v in singles[0].items()}
    state = buffer.init(example)
    rows = [
        {
            k: jnp.asarray(
                np.concatenate([singles[(i * ADDS + j) % len(singles)][k] for j in range(ADDS)])
            )
            for k in example
        }
        for i in range(16)
    ]

    @jax.jit
    def fill(state: Any) -> Any:
        return jax.lax.fori_loop(0, PREFILL // ADDS, lambda _, s: buffer.add(s, rows[0]), state)

    state = fill(state)

    @functools.partial(jax.jit, donate_argnums=(0,))
    def jstep(state: Any, batch: Any, key: Any, new_p: Any) -> Any:
        state = buffer.add(state, batch)
        sample = buffer.sample(state, key)
        return buffer.set_priorities(state, sample.indices, new_p), sample.indices

    keys = list(jax.random.split(jax.random.PRNGKey(0), 16))
    news = [jnp.asarray(r) for r in new]
    box = [state]

    def step(i: int) -> None:
        box[0], idx = jstep(box[0], rows[i % len(rows)], keys[i % len(keys)], news[i % len(news)])
        idx.block_until_ready()

    return step


ANCHORS: dict[str, tuple[str, Callable[..., Step]]] = {
    "cpprb": ("cpprb PrioritizedReplayBuffer (C++)", cpprb_step),
    "torchrl": ("torchrl TensorDictPrioritizedReplayBuffer (C++ tree)", torchrl_step),
    "tianshou": ("tianshou PrioritizedReplayBuffer (numba tree)", tianshou_step),
    "flashbax": ("flashbax prioritised flat buffer (JAX jit, CPU)", flashbax_step),
}


def local_table(anchors: list[str], repeats: int, budget_s: float) -> str:
    rng = np.random.default_rng(0)
    singles = [transitions(rng, 1) for _ in range(64)]
    new = (rng.random((64, BATCH)) + 0.01).astype(np.float32)
    entries: list[tuple[str, Step | None, str]] = []

    def build(label: str, factory: Callable[[], Step]) -> None:
        try:
            entries.append((label, factory(), ""))
        except Unavailable as exc:
            entries.append((label, None, str(exc)))
        except Exception as exc:  # an anchor whose API moved: say so, keep going
            entries.append((label, None, f"{type(exc).__name__}: {exc}"))

    build("**rlu_replay.PrioritizedReplayBuffer**", lambda: rlu_step(singles, new))
    for key in anchors:
        label, factory = ANCHORS[key]
        build(label, lambda f=factory: f(singles, new))

    inner: dict[str, int] = {}
    for label, step, _ in entries:
        if step is None:
            continue
        for i in range(10):
            step(i)
        t0 = time.perf_counter()
        for i in range(5):
            step(i)
        per = max((time.perf_counter() - t0) / 5, 1e-7)
        inner[label] = int(min(max(budget_s / repeats / per, 3), 3000))
    samples: dict[str, list[float]] = {label: [] for label in inner}
    for _ in range(repeats):  # interleaved: machine noise hits every row alike
        for label, step, _ in entries:
            if step is None:
                continue
            k = inner[label]
            t0 = time.perf_counter()
            for i in range(k):
                step(i)
            samples[label].append((time.perf_counter() - t0) / k * 1e6)
    rows = [
        (label, statistics.median(samples[label]) if step is not None else None, why)
        for label, step, why in entries
    ]
    ours = rows[0][1]
    timed = [t for (_, t, _) in rows[1:] if t is not None]
    fastest = min(timed) if timed else None
    out = [
        f"Capacity 10^6 ({PREFILL:,} stored), one step = add {ADDS} single transitions, "
        f"sample {BATCH}, update {BATCH} priorities: median µs per step",
        "",
        "| implementation | µs/step | rlu / this |",
        "|---|---:|---:|",
    ]
    for label, t, why in rows:
        if t is None:
            out.append(f"| {label} | unavailable: {why[:120]} | |")
        else:
            out.append(
                f"| {label} | {t:,.1f} | {ours / t:.2f} |" if ours else f"| {label} | {t:,.1f} | |"
            )
    if fastest is not None and ours is not None:
        verdict = "met" if ours <= 0.5 * fastest else "NOT met"
        out += ["", f"rlu / fastest anchor = {ours / fastest:.2f} (goal <= 0.50: {verdict})"]
    return "\n".join(out)


# ----------------------------------------------------------------------------- Ray ingest


def ray_table(seconds: float) -> str:
    import ray
    from rlu_replay import PrioritizedReplayBuffer
    from rlu_replay.ray import ShardedPrioritizedReplay

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)

    @ray.remote(num_cpus=0)
    class CentralReplay:  # coax's Ape-X example: one actor holds the whole buffer
        def __init__(self) -> None:
            self.buffer = PrioritizedReplayBuffer(CAPACITY, random_seed=0)

        def add(self, batch: Any) -> int:
            self.buffer.add(batch)
            return len(self.buffer)

        def sample(self, n: int) -> Any:
            return self.buffer.sample(n)

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
    results = []

    def learn(sample: Callable[[], Any], refs: list[Any]) -> tuple[int, float]:
        count, t0 = 0, time.perf_counter()
        while True:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            if len(ready) == len(refs):
                break
            try:
                sample()
                count += 1
            except (RuntimeError, TimeoutError):
                time.sleep(0.01)
        return count, time.perf_counter() - t0

    # rlu: 2 shards, one writer per producer
    replay = ShardedPrioritizedReplay(CAPACITY, num_shards=2, random_seed=0)
    replay.add(transitions(np.random.default_rng(0), 256))
    writers = [replay.writer(flush_every=256, first_shard=k) for k in range(2)]
    t0 = time.perf_counter()
    refs = [p.run_writer.remote(w, seconds) for p, w in zip(producers, writers, strict=True)]
    samples, learn_s = learn(lambda: replay.sample(BATCH), refs)
    added = sum(ray.get(refs))
    wall = time.perf_counter() - t0
    stored = sum(s["inserted"] for s in replay.stats()) - 256
    assert stored == added, (stored, added)
    results.append(
        (
            "**rlu_replay.ray: 2 shards, ReplayWriter (flush every 256)**",
            stored / wall,
            samples / learn_s,
        )
    )
    replay.close()

    central = CentralReplay.remote()
    ray.get(central.add.remote(transitions(np.random.default_rng(0), 256)))
    t0 = time.perf_counter()
    refs = [p.run_blocking.remote(central, seconds) for p in producers]
    samples, learn_s = learn(lambda: ray.get(central.sample.remote(BATCH)), refs)
    added = sum(ray.get(refs))
    wall = time.perf_counter() - t0
    stored = ray.get(central.inserted.remote()) - 256
    results.append(
        (
            "coax's Ape-X pattern: 1 replay actor, 1 blocking call per transition",
            stored / wall,
            samples / learn_s,
        )
    )
    ray.shutdown()

    ours, coax = results[0][1], results[1][1]
    out = [
        f"Ray ingest: 2 producer processes adding single transitions for {seconds:g} s while the "
        f"learner samples batches of {BATCH}",
        "",
        "| implementation | transitions stored / s | learner samples / s | × coax |",
        "|---|---:|---:|---:|",
    ]
    for label, rate, srate in results:
        out.append(f"| {label} | {rate:,.0f} | {srate:,.1f} | {rate / coax:.1f} |")
    verdict = "met" if ours >= 10 * coax else "NOT met"
    out += ["", f"rlu / coax's pattern = {ours / coax:.1f}x (goal >= 10x: {verdict})"]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke test)")
    parser.add_argument("--anchors", default=",".join(ANCHORS), help="comma-separated anchors")
    parser.add_argument("--skip-ray", action="store_true", help="only the local table")
    args = parser.parse_args(argv)
    anchors = [a for a in args.anchors.split(",") if a]
    repeats, budget, seconds = (3, 0.3, 3.0) if args.quick else (9, 2.0, 10.0)
    print(
        f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n"
    )
    print(local_table(anchors, repeats, budget), flush=True)
    if not args.skip_ray:
        print()
        print(ray_table(seconds), flush=True)
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
