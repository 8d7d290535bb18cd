"""Benchmark: replay of stacked pixel observations, rlu's frame_stack beside cpprb and SB3.

Run from the repository root (``hatch run bench:pixels``)::

    python packages/rlu-replay/benchmarks/bench_pixels.py            # ~6 minutes
    python packages/rlu-replay/benchmarks/bench_pixels.py --quick    # a smoke test

Two workloads, capacity 10^5 transitions, filled with 1.1 x that (the ring wraps around):

* RGB 84 x 84 x 3 frames stacked 3 deep (one frame 21,168 bytes);
* Atari-like 84 x 84 grayscale frames stacked 4 deep (one frame 7,056 bytes).

Episodes of 100 to 1,000 steps (drawn once, the same for everyone); every frame is distinct.
Each step stores one transition (stacked observation, action, reward, the end flag, stacked
next observation), n = 1, by the libraries' memory-saving modes:

* rlu: ``ReplayBuffer(capacity, frame_stack=k)`` (uniform) and ``PrioritizedReplayBuffer`` of
  ``TransitionBatch``es made by ``NStepTracer(n=1)``, stacks as gymnasium's
  ``FrameStackObservation`` makes them (frames on axis 0);
* cpprb: ``ReplayBuffer(..., next_of="obs", stack_compress="obs")``, frames on the last axis
  as it requires, ``on_episode_end()`` after each episode;
* Stable-Baselines3: ``ReplayBuffer(..., optimize_memory_usage=True)`` on the CPU.

Each library runs alone in a fresh process (its own allocator and page-cache state; several
libraries in one process change each other's sampling times through the allocator), and the
processes take turns over the repeats. Printed per library: the growth of the process's
resident memory from just before the buffer is made to just after it is filled, divided by the
capacity (bytes per stored transition), and the median time of ``sample(256)`` (the stacks of
both observations rebuilt), over 50 samples per process and then the median over the repeats.

Goals (issue #26): rlu's bytes per transition <= 1.1 x (one frame + the scalars: a
transition's action, logP, Rn and In, 20 bytes); rlu's (uniform) sample <= 0.5 x the faster
anchor's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np

CAPACITY = 10**5
BATCH = 256
SCALARS = 20  # bytes of A (int64), logP, Rn, In (float32) in rlu's layout
WORKLOADS = {
    "rgb": ("RGB 84×84×3, 3-frame stack", (84, 84, 3), 3),
    "gray": ("Atari-like 84×84 grayscale, 4-frame stack", (84, 84), 4),
}
LIBRARIES = ("rlu", "rlu prioritized", "cpprb", "sb3")
LABELS = {
    "rlu": "rlu ReplayBuffer(frame_stack=k)",
    "rlu prioritized": "rlu PrioritizedReplayBuffer(frame_stack=k)",
    "cpprb": "cpprb ReplayBuffer(next_of, stack_compress)",
    "sb3": "SB3 ReplayBuffer(optimize_memory_usage=True)",
}
MEMORY_GOAL, SPEED_GOAL = 1.1, 0.5


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Stream:
    """Distinct frames, in episodes of 100 to 1,000 steps: the same stream for every library."""

    def __init__(self, frame: tuple[int, ...], k: int, steps: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.pool = rng.integers(0, 256, (64, *frame), dtype=np.uint8)
        self.k, self.steps = k, steps
        lengths = rng.integers(100, 1001, steps // 100 + 2)
        self.ends = set(np.cumsum(lengths).tolist())  # steps after which an episode ends

    def frame(self, i: int) -> np.ndarray:
        out = self.pool[i % len(self.pool)].copy()
        out.reshape(-1)[:8] = np.frombuffer(np.int64(i).tobytes(), np.uint8)  # distinct
        return out

    def __iter__(self) -> Any:
        """(stack, next stack, action, reward, end) per step; stacks on axis 0, padded."""
        window: list[np.ndarray] = []
        i = 0
        for t in range(self.steps):
            if not window:  # a reset: the stack repeats the first frame
                first = self.frame(i)
                i += 1
                window = [first] * self.k
            s = np.stack(window)
            nxt = self.frame(i)
            i += 1
            window = [*window[1:], nxt]
            end = (t + 1) in self.ends
            yield s, np.stack(window), t % 4, 1.0, end
            if end:
                window = []


# ---------------------------------------------------------------------------------- children


def _rlu(kind: str, capacity: int, k: int) -> tuple[Any, Any, Any]:
    from rlu_replay import NStepTracer, PrioritizedReplayBuffer, ReplayBuffer

    cls = PrioritizedReplayBuffer if kind == "rlu prioritized" else ReplayBuffer
    buffer = cls(capacity, random_seed=0, frame_stack=k)
    tracer = NStepTracer(n=1, gamma=0.99)

    def add(s: Any, nxt: Any, a: int, r: float, end: bool) -> None:
        out = tracer.add(s, a, r, end, False, nxt)
        if out is not None:
            buffer.add(out)

    return buffer, add, lambda: buffer.sample(BATCH)


def _cpprb(capacity: int, frame: tuple[int, ...], k: int) -> tuple[Any, Any, Any]:
    import cpprb

    env = {
        "obs": {"shape": (*frame, k), "dtype": np.uint8},
        "act": {"shape": 1, "dtype": np.int64},
        "rew": {},
        "done": {},
    }
    buffer = cpprb.ReplayBuffer(capacity, env_dict=env, next_of="obs", stack_compress="obs")

    def add(s: Any, nxt: Any, a: int, r: float, end: bool) -> None:
        buffer.add(
            obs=np.moveaxis(s, 0, -1),
            next_obs=np.moveaxis(nxt, 0, -1),
            act=a,
            rew=r,
            done=float(end),
        )
        if end:
            buffer.on_episode_end()

    return buffer, add, lambda: buffer.sample(BATCH)


def _sb3(capacity: int, frame: tuple[int, ...], k: int) -> tuple[Any, Any, Any]:
    import gymnasium as gym
    import torch
    from stable_baselines3.common.buffers import ReplayBuffer

    torch.set_num_threads(1)
    space = gym.spaces.Box(0, 255, (k, *frame), np.uint8)
    buffer = ReplayBuffer(
        capacity,
        space,
        gym.spaces.Discrete(4),
        device="cpu",
        optimize_memory_usage=True,
        handle_timeout_termination=False,
    )
    info: list[dict[str, Any]] = [{}]

    def add(s: Any, nxt: Any, a: int, r: float, end: bool) -> None:
        buffer.add(s[None], nxt[None], np.array([a]), np.array([r]), np.array([end]), info)

    return buffer, add, lambda: buffer.sample(BATCH)


def child(library: str, workload: str, capacity: int, samples: int) -> dict[str, Any]:
    """Fill one library's buffer in this fresh process; its memory growth and sample time."""
    _, frame, k = WORKLOADS[workload]
    stream = Stream(frame, k, capacity + capacity // 10)
    # import everything first: the memory measured is the buffer's, not the libraries'
    if library.startswith("rlu"):
        import rlu_core  # noqa: F401
        from rlu_replay import PrioritizedReplayBuffer

        warm = PrioritizedReplayBuffer(8)  # numba compiles its kernels now, not in the buffer
        warm.add(np.zeros(4))
        warm.sample(4)
    elif library == "cpprb":
        import cpprb  # noqa: F401
    else:
        import stable_baselines3  # noqa: F401
        import torch  # noqa: F401
    before = _rss()
    if library.startswith("rlu"):
        buffer, add, sample = _rlu(library, capacity, k)
    elif library == "cpprb":
        buffer, add, sample = _cpprb(capacity, frame, k)
    else:
        buffer, add, sample = _sb3(capacity, frame, k)
    start = time.perf_counter()
    for step in stream:
        add(*step)
    add_us = (time.perf_counter() - start) / stream.steps * 1e6
    grown = _rss() - before
    for _ in range(3):
        sample()
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        batch = sample()
        times.append(time.perf_counter() - t0)
        del batch
    frames = getattr(buffer, "stored_frames", None)
    return {
        "bytes": grown / capacity,
        "sample_us": statistics.median(times) * 1e6,
        "add_us": add_us,
        "frames": frames,
    }


# ---------------------------------------------------------------------------------- parent


def run_child(library: str, workload: str, capacity: int, samples: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", library, workload, str(capacity), str(samples)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="capacity 10^4, 1 repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        library, workload, capacity, samples = args.child
        print(json.dumps(child(library, workload, int(capacity), int(samples))))
        return
    capacity = 10**4 if args.quick else CAPACITY
    repeats = 1 if args.quick else args.repeats
    samples = 10 if args.quick else 50
    print(
        f"# Pixel replay: capacity {capacity:,}, sample {BATCH}, median of {repeats} "
        f"fresh processes per library (taking turns)\n"
    )
    for workload, (title, frame, _) in WORKLOADS.items():
        runs: dict[str, list[dict[str, Any]]] = {lib: [] for lib in LIBRARIES}
        for _ in range(repeats):
            for lib in LIBRARIES:
                runs[lib].append(run_child(lib, workload, capacity, samples))
        frame_bytes = int(np.prod(frame))
        unit = frame_bytes + SCALARS
        rows = {}
        for lib, results in runs.items():
            ok = [r for r in results if "error" not in r]
            if not ok:
                rows[lib] = None
                print(f"{LABELS[lib]}: unavailable ({results[0]['error']})")
                continue
            rows[lib] = {
                key: statistics.median(r[key] for r in ok)
                for key in ("bytes", "sample_us", "add_us")
            }
            rows[lib]["frames"] = ok[-1]["frames"]
        print(f"\n## {title}: one frame {frame_bytes:,} bytes, scalars {SCALARS} bytes")
        print(
            "| library | sample µs | rlu / this (sample) | bytes per transition | "
            "× (frame + scalars) | frames stored | add µs |"
        )
        print("|---|---|---|---|---|---|---|")
        base = rows["rlu"]
        for lib in LIBRARIES:
            row = rows[lib]
            if row is None:
                continue
            frames = "" if row["frames"] is None else f"{row['frames']:,}"
            ratio = "" if base is None else f"{base['sample_us'] / row['sample_us']:.2f}"
            print(
                f"| {LABELS[lib]} | {row['sample_us']:,.0f} | {ratio} | {row['bytes']:,.0f} | "
                f"{row['bytes'] / unit:.2f} | {frames} | {row['add_us']:.0f} |"
            )
        anchors = [rows[a]["sample_us"] for a in ("cpprb", "sb3") if rows[a] is not None]
        if base is not None:  # the goals of this workload, as the table's notes
            memory = base["bytes"] / unit
            met = "met" if memory <= MEMORY_GOAL else "NOT met"
            print(f"\nGoal: rlu bytes / (frame + scalars) = {memory:.2f} (<= {MEMORY_GOAL}): {met}")
            if anchors:
                speed = base["sample_us"] / min(anchors)
                met = "met" if speed <= SPEED_GOAL else "NOT met"
                print(f"Goal: rlu sample / faster anchor = {speed:.2f} (<= {SPEED_GOAL}): {met}")


if __name__ == "__main__":
    main()
