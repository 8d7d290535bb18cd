"""rlu_trees.jax beside flashbax's sum_tree: prioritized-replay steps inside XLA.

One step = ``inverse_cdf(u)`` for B precomputed stratified fractions, then ``set_values`` of
those indices with B precomputed values (no RNG in the timed region), on a tree of N random
positive float32 values.

* Harness A (in-graph): S steps in one ``lax.scan`` inside ``jit``, the tree as the carry.
  The floor is the same scan with an empty body over a carry of the same size; tree work =
  step - floor.
* Harness B (training loop): one jitted step with the tree donated, called S times from
  Python. The S inputs are split into separate arrays before the clock starts (slicing
  ``us[k]`` in the loop would add two dispatches per step to every tree alike); the floor
  row is the same loop over a donated step that does nothing.

On the CPU, rlu's trees run each walk as one custom call into the host trees' compiled
kernels; ``--xla-kernels`` times the XLA kernels instead (what GPUs and TPUs run).

flashbax 0.1.3: ``sample`` with query values (vmapped) then ``set_batch_scan`` or
``set_batch_bincount``. rlu's host numba SumTree does the same step from Python (reference).
Figures are medians over ``--repeats`` interleaved runs, in microseconds per step. For rlu
the benchmark also counts the copies of the node array inside the scan loop of the
optimized HLO (0: the updates write in place).

    python packages/rlu-trees/benchmarks/bench_jaxtrees.py            # every configuration
    python packages/rlu-trees/benchmarks/bench_jaxtrees.py --quick    # small sizes, to iterate
    python packages/rlu-trees/benchmarks/bench_jaxtrees.py --log2n 20 --batch 256 --trees 1
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from rlu_trees.jax import JaxSumTree

try:
    from flashbax.buffers import sum_tree as fbx
except ImportError:  # pragma: no cover - bench env only
    fbx = None
try:
    from rlu_trees import SumTree as HostSumTree
except ImportError:  # pragma: no cover
    HostSumTree = None


def _timeit(f: Callable[[Any], Any], state: Any, steps: int) -> float:
    """Time ``f(copy of state)`` per step; the copy is made before the clock starts."""
    fresh = jax.block_until_ready(jax.tree_util.tree_map(jnp.copy, state))
    t = time.perf_counter()
    jax.block_until_ready(f(fresh))
    return (time.perf_counter() - t) / steps * 1e6


def _ratio(x: float) -> str:
    """Two decimals, or two significant digits below 0.1 (a tiny ratio never prints as 0.00)."""
    return f"{x:.2f}" if x >= 0.1 else f"{x:.2g}"


def _config(log2n: int, batch: int, steps: int, trees: int, seed: int = 0) -> dict[str, Any]:
    n = 1 << log2n
    rng = np.random.default_rng(seed)
    shape = (trees, n) if trees > 1 else (n,)
    values = rng.uniform(0.01, 1.0, shape).astype(np.float32)
    us = ((np.arange(batch) + rng.uniform(size=(steps, batch))) / batch).astype(np.float32)
    news = rng.uniform(0.01, 1.0, (steps, batch)).astype(np.float32)
    if trees > 1:
        us = np.broadcast_to(us[:, None], (steps, trees, batch)).copy()
        news = np.broadcast_to(news[:, None], (steps, trees, batch)).copy()
    return {"n": n, "values": values, "us": jnp.asarray(us), "news": jnp.asarray(news)}


def _rlu_make(cfg: dict[str, Any], trees: int) -> tuple[Any, Callable[..., Any]]:
    n = cfg["n"]

    def build(v: jax.Array) -> JaxSumTree:
        return JaxSumTree(n, dtype=np.float32).set_values(..., v)

    def step(tree: JaxSumTree, u: jax.Array, v: jax.Array) -> JaxSumTree:
        return tree.set_values(tree.inverse_cdf(u), v)

    if trees > 1:
        return jax.jit(jax.vmap(build))(cfg["values"]), jax.vmap(step)
    return build(jnp.asarray(cfg["values"])), step


def _fbx_make(cfg: dict[str, Any], trees: int, mode: str) -> tuple[Any, Callable[..., Any]]:
    assert fbx is not None
    n = cfg["n"]
    setter = fbx.set_batch_scan if mode == "scan" else fbx.set_batch_bincount

    def build(v: jax.Array) -> Any:
        return fbx.set_batch_bincount(fbx.init(n), jnp.arange(n), v)

    def step(state: Any, u: jax.Array, v: jax.Array) -> Any:
        idx = jax.vmap(fbx.sample, in_axes=(None, None, 0))(state, None, u)
        return setter(state, idx, v)

    if trees > 1:
        return jax.jit(jax.vmap(build))(cfg["values"]), jax.vmap(step)
    return jax.jit(build)(jnp.asarray(cfg["values"])), step


def _harnesses(
    state: Any, step: Callable[..., Any], cfg: dict[str, Any]
) -> dict[str, Callable[[], Any]]:
    us, news = cfg["us"], cfg["news"]
    steps = us.shape[0]

    # the carry is donated (each run gets a fresh copy, made untimed), so that no run copies
    # the tree before its loop. At N = 2^24 the empty scan still costs about 90 us per step
    # on the CPU (not understood yet): compare the A steps there as well
    @functools.partial(jax.jit, donate_argnums=0)
    def scan(s: Any, us: jax.Array, news: jax.Array) -> Any:
        return lax.scan(lambda c, x: (step(c, *x), None), s, (us, news))[0]

    @functools.partial(jax.jit, donate_argnums=0)
    def floor(s: Any, us: jax.Array, news: jax.Array) -> Any:
        return lax.scan(lambda c, x: (c, None), s, (us, news))[0]

    donated = jax.jit(step, donate_argnums=0)
    copy = functools.partial(jax.tree_util.tree_map, jnp.copy)
    jax.block_until_ready((scan(copy(state), us, news), floor(copy(state), us, news)))
    # the inputs of every step are separate arrays before the clock starts: slicing us[k]
    # inside the loop would add two dispatches per step to every tree alike
    u_list = [us[k] for k in range(steps)]
    v_list = [news[k] for k in range(steps)]

    def run_b(f: Callable[..., Any]) -> float:
        s = jax.tree_util.tree_map(jnp.copy, state)
        s = jax.block_until_ready(f(s, u_list[0], v_list[0]))  # warm, untimed
        t = time.perf_counter()
        for k in range(steps):
            s = f(s, u_list[k], v_list[k])
        jax.block_until_ready(s)
        return (time.perf_counter() - t) / steps * 1e6

    run_b(donated)
    return {
        "A": lambda: _timeit(lambda s: scan(s, us, news), state, steps),
        "floor": lambda: _timeit(lambda s: floor(s, us, news), state, steps),
        "B": lambda: run_b(donated),
    }


def node_copies(state: Any, step: Callable[..., Any], cfg: dict[str, Any]) -> int:
    """Copies of an array as large as the tree inside the loop of the scan (0: in place)."""
    us, news = cfg["us"], cfg["news"]
    scan = jax.jit(lambda s, us, news: lax.scan(lambda c, x: (step(c, *x), None), s, (us, news))[0])
    hlo = scan.lower(state, us, news).compile().as_text()
    sizes = {str(leaf.size) for leaf in jax.tree_util.tree_leaves(state)}
    count = 0
    for computation in hlo.split("\n\n"):
        if computation.startswith("ENTRY"):
            continue  # the copy of the (not donated) input before the loop
        for line in computation.splitlines():
            if " copy(" in line:
                shape = line.split("=", 1)[1].split("{", 1)[0].strip()
                dims = shape[shape.find("[") + 1 : shape.find("]")].split(",")
                if dims and dims[-1] in sizes:
                    count += 1
    return count


def _host_run(cfg: dict[str, Any]) -> Callable[[], float] | None:
    if HostSumTree is None or cfg["values"].ndim > 1:
        return None
    try:
        tree = HostSumTree(cfg["n"], random_seed=0, dtype=np.float32)
        tree.set_values(..., cfg["values"])
        us = np.asarray(cfg["us"], dtype=np.float64)
        news = np.asarray(cfg["news"], dtype=np.float32)
        tree.set_values(tree.inverse_cdf(us[0]), news[0])  # compile / load the kernels
    except Exception as exc:
        print(f"  (host numba tree skipped: {type(exc).__name__}: {exc})")
        return None

    def run() -> float:
        t = time.perf_counter()
        for k in range(us.shape[0]):
            tree.set_values(tree.inverse_cdf(us[k]), news[k])
        return (time.perf_counter() - t) / us.shape[0] * 1e6

    return run


def bench(
    log2n: int,
    batch: int,
    trees: int,
    steps: int,
    repeats: int,
    modes: tuple[str, ...],
    scan_repeats: int | None = None,
) -> None:
    cfg = _config(log2n, batch, steps, trees)
    label = f"N=2^{log2n}, B={batch}" + (f", vmap over {trees} trees" if trees > 1 else "")
    print(f"\n## {label}  ({steps} steps per run, median of {repeats} interleaved runs)")
    runners: dict[str, dict[str, Callable[[], Any]]] = {}
    rlu_state, rlu_step = _rlu_make(cfg, trees)
    runners["rlu JaxSumTree"] = _harnesses(rlu_state, rlu_step, cfg)
    if fbx is not None:
        for mode in modes:
            runners[f"flashbax set_batch_{mode}"] = _harnesses(*_fbx_make(cfg, trees, mode), cfg)
    # the floor of harness B: a donated step that does nothing, called the same way
    runners["floor (empty step)"] = _harnesses(rlu_state, lambda s, u, v: s, cfg)
    host = _host_run(cfg)
    times: dict[tuple[str, str], list[float]] = {}
    for r in range(repeats):
        for name, hs in runners.items():
            if name.endswith("set_batch_scan") and scan_repeats is not None and r >= scan_repeats:
                continue  # very slow on a GPU: fewer runs
            for h, f in hs.items():
                times.setdefault((name, h), []).append(f())
        if host is not None:
            times.setdefault(("rlu SumTree (host, numba)", "B"), []).append(host())
    med = {k: float(np.median(v)) for k, v in times.items()}
    work = {n: med[(n, "A")] - med[(n, "floor")] for n in runners}
    rlu_work, rlu_b = work["rlu JaxSumTree"], med[("rlu JaxSumTree", "B")]
    # A Markdown table (tools/bench_results.py reads it); µs per step, ratios rlu / this row
    print(f"\nµs per step, {label}\n")
    print("| tree | A step | A floor | A work | B step | rlu / this (A work) | rlu / this (B) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in runners:
        a, fl, b = med[(name, "A")], med[(name, "floor")], med[(name, "B")]
        ratio_a = _ratio(rlu_work / work[name]) if work[name] > 0 and "floor" not in name else ""
        ratio_b = _ratio(rlu_b / b) if "floor" not in name else ""
        print(f"| {name} | {a:.1f} | {fl:.1f} | {a - fl:.1f} | {b:.1f} | {ratio_a} | {ratio_b} |")
    if ("rlu SumTree (host, numba)", "B") in med:
        host_b = med[("rlu SumTree (host, numba)", "B")]
        print(f"| rlu SumTree (host, numba) | | | | {host_b:.1f} | | {rlu_b / host_b:.2f} |")
    copies = node_copies(rlu_state, rlu_step, cfg)
    print(f"\nrlu: copies of the node array inside the scan loop (optimized HLO): {copies}")
    flash = [n for n in runners if n.startswith("flashbax")]
    if flash:
        best_a = min(flash, key=lambda n: work[n])
        best_b = min(flash, key=lambda n: med[(n, "B")])
        print(
            f"ratio rlu / best flashbax: A work {rlu_work / work[best_a]:.2f}x "
            f"({best_a[9:]}), B step {rlu_b / med[(best_b, 'B')]:.2f}x "
            f"({best_b[9:]})  (goal <= 0.50)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only, to iterate")
    parser.add_argument("--log2n", type=int, help="one configuration: log2 of the capacity")
    parser.add_argument("--batch", type=int, default=256, help="with --log2n: batch size")
    parser.add_argument("--trees", type=int, default=1, help="with --log2n: vmapped trees")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--modes",
        default="scan,bincount",
        help="flashbax setters to run, comma-separated (scan, bincount; empty: none)",
    )
    parser.add_argument(
        "--scan-repeats", type=int, help="at most this many runs of flashbax set_batch_scan"
    )
    parser.add_argument(
        "--xla-kernels",
        action="store_true",
        help="rlu: the XLA kernels on the CPU too, instead of the compiled custom calls",
    )
    args = parser.parse_args()
    from rlu_trees.jax import _cpu

    if args.xla_kernels:
        _cpu.ENABLED = False  # taken by each tree when it is made: set before any is
    modes = tuple(m for m in args.modes.split(",") if m)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    where = jax.devices()[0].platform
    calls = _cpu.ENABLED and _cpu.available() and where == "cpu"
    kernels = "level loops" if where == "cpu" else "levels unrolled"  # the lowering XLA gets
    kernels = "compiled custom calls" if calls else "XLA kernels, " + kernels
    print(
        f"# bench_jaxtrees: rlu's {kernels}, "
        f"jax {jax.__version__} on {where}, "
        f"flashbax {'present' if fbx is not None else 'missing'}, load average {load:.2f}"
    )
    if args.log2n is not None:
        configs = [(args.log2n, args.batch, args.trees)]
    elif args.quick:
        configs = [(14, 64, 1), (10, 64, 8)]
    else:
        configs = [(20, 256, 1), (24, 256, 1), (20, 32, 1), (20, 1024, 1), (14, 256, 64)]
    for log2n, batch, trees in configs:
        bench(log2n, batch, trees, args.steps, args.repeats, modes, args.scan_repeats)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n# load average at the end: {load:.2f}")


if __name__ == "__main__":
    main()
