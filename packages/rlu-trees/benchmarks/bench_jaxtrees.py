"""rlu_trees.jax beside flashbax's sum_tree: prioritized-replay steps inside XLA.

One step = ``inverse_cdf(u)`` for B precomputed stratified fractions, then ``set_values`` of
those indices with B precomputed values (no RNG in the timed region), on a tree of N random
positive float32 values.

* Harness A (in-graph): S steps in one ``lax.scan`` inside ``jit``, the tree as the carry.
  The floor is the same scan with an empty body over a carry of the same size; tree work =
  step - floor.
* Harness B (training loop): one jitted step with the tree donated, called S times from
  Python.

flashbax 0.1.3: ``sample`` with query values (vmapped) then ``set_batch_scan`` or
``set_batch_bincount``. rlu's host numba SumTree does the same step from Python (reference).
Figures are medians over ``--repeats`` interleaved runs, in microseconds per step.

    python packages/rlu-trees/benchmarks/bench_jaxtrees.py            # every configuration
    python packages/rlu-trees/benchmarks/bench_jaxtrees.py --quick    # small sizes, to iterate
"""

from __future__ import annotations

import argparse
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


def _timeit(f: Callable[[], Any], steps: int) -> float:
    t = time.perf_counter()
    jax.block_until_ready(f())
    return (time.perf_counter() - t) / steps * 1e6


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

    @jax.jit
    def scan(s: Any, us: jax.Array, news: jax.Array) -> Any:
        return lax.scan(lambda c, x: (step(c, *x), None), s, (us, news))[0]

    @jax.jit
    def floor(s: Any, us: jax.Array, news: jax.Array) -> Any:
        return lax.scan(lambda c, x: (c, None), s, (us, news))[0]

    donated = jax.jit(step, donate_argnums=0)
    jax.block_until_ready((scan(state, us, news), floor(state, us, news)))

    def run_b() -> Any:
        s = jax.tree_util.tree_map(jnp.copy, state)
        s = jax.block_until_ready(donated(s, us[0], news[0]))  # warm, untimed
        t = time.perf_counter()
        for k in range(steps):
            s = donated(s, us[k], news[k])
        jax.block_until_ready(s)
        return (time.perf_counter() - t) / steps * 1e6

    run_b()
    return {
        "A": lambda: _timeit(lambda: scan(state, us, news), steps),
        "floor": lambda: _timeit(lambda: floor(state, us, news), steps),
        "B": run_b,
    }


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


def bench(log2n: int, batch: int, trees: int, steps: int, repeats: int) -> None:
    cfg = _config(log2n, batch, steps, trees)
    label = f"N=2^{log2n}, B={batch}" + (f", vmap over {trees} trees" if trees > 1 else "")
    print(f"\n## {label}  ({steps} steps per run, median of {repeats} interleaved runs)")
    runners: dict[str, dict[str, Callable[[], Any]]] = {}
    runners["rlu JaxSumTree"] = _harnesses(*_rlu_make(cfg, trees), cfg)
    if fbx is not None:
        for mode in ("scan", "bincount"):
            runners[f"flashbax set_batch_{mode}"] = _harnesses(*_fbx_make(cfg, trees, mode), cfg)
    host = _host_run(cfg)
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(repeats):
        for name, hs in runners.items():
            for h, f in hs.items():
                times.setdefault((name, h), []).append(f())
        if host is not None:
            times.setdefault(("rlu SumTree (host, numba)", "B"), []).append(host())
    med = {k: float(np.median(v)) for k, v in times.items()}
    print(f"{'tree':32s} {'A step':>9s} {'A floor':>9s} {'A work':>9s} {'B step':>9s}")
    for name in runners:
        a, fl, b = med[(name, "A")], med[(name, "floor")], med[(name, "B")]
        print(f"{name:32s} {a:9.1f} {fl:9.1f} {a - fl:9.1f} {b:9.1f}")
    if ("rlu SumTree (host, numba)", "B") in med:
        print(
            f"{'rlu SumTree (host, numba)':32s} {'':>9s} {'':>9s} {'':>9s} {med[('rlu SumTree (host, numba)', 'B')]:9.1f}"
        )
    if fbx is not None:
        work = {n: med[(n, "A")] - med[(n, "floor")] for n in runners}
        best_a = min(work[n] for n in runners if n.startswith("flashbax"))
        best_b = min(med[(n, "B")] for n in runners if n.startswith("flashbax"))
        print(
            f"ratio rlu / best flashbax: A work {work['rlu JaxSumTree'] / best_a:.2f}x, "
            f"B step {med[('rlu JaxSumTree', 'B')] / best_b:.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only, to iterate")
    parser.add_argument("--log2n", type=int, help="one configuration: log2 of the capacity")
    parser.add_argument("--batch", type=int, default=256, help="with --log2n: batch size")
    parser.add_argument("--trees", type=int, default=1, help="with --log2n: vmapped trees")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"# bench_jaxtrees: jax {jax.__version__} on {jax.devices()[0].platform}, "
        f"flashbax {'present' if fbx is not None else 'missing'}, load average {load:.2f}"
    )
    if args.log2n is not None:
        configs = [(args.log2n, args.batch, args.trees)]
    elif args.quick:
        configs = [(14, 64, 1), (10, 64, 8)]
    else:
        configs = [(20, 256, 1), (24, 256, 1), (20, 32, 1), (20, 1024, 1), (14, 256, 64)]
    for log2n, batch, trees in configs:
        bench(log2n, batch, trees, args.steps, args.repeats)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n# load average at the end: {load:.2f}")


if __name__ == "__main__":
    main()
