"""rlu_replay.jax beside flashbax's prioritised buffers: replay inside XLA, on the CPU.

(``JAX_PLATFORMS=cuda`` runs it on a GPU: ``packages/rlu-trees/benchmarks/gpu_jaxtrees.sh``.)

Capacity 10^6 CartPole-sized transitions (obs and next obs 4 x float32, an int32 action, a
float32 reward and discount); the adds start from an empty buffer, the whole step from a full
one (every step overwrites the oldest items). Every operation is jitted with the
buffer state donated (written in place), as a training loop holds it; figures are medians over
``--repeats`` runs interleaved across the rows, in microseconds per call (or per step).

0. The floor: a donated call that gives the state back unchanged (no goal), what every
   one-call row below pays; the least a one-call add can cost, into any state and into
   rlu's; and rlu's uniform buffer adding 1 and 2 transitions (a state of one array, no
   trees), beside flashbax's adds.
1. Adds: one call adds B transitions (B = 1, 8, 128), rlu's ``add`` beside flashbax's
   prioritised flat buffer (``add_batch_size=B``); the same inside a ``lax.scan``.
2. flashbax's prioritised trajectory buffer adding T time steps per call (T = 2, 8; its slow
   path, flashbax issue #62) beside rlu adding T transitions.
3. The whole step: add 8, sample 256, update their 256 priorities; S steps in one ``lax.scan``
   inside ``jit`` (per step), and one donated call per step from Python. Each step's sample, the
   items with their identifiers, is an output (inside the scan: summed into one per-step number
   that the scan returns), so that the items are read, as a training loop reads them.
4. 64 buffers of 2^14 (one per seed, each full) under ``vmap``: the same step, one donated
   call.

Goal: rlu / flashbax <= 0.3 in every row (issue #20).

    python packages/rlu-replay/benchmarks/bench_jaxreplay.py            # ~3 minutes
    python packages/rlu-replay/benchmarks/bench_jaxreplay.py --quick    # smaller, to iterate
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import jax.numpy as jnp
import numpy as np
from rlu_replay import jax as rj

try:
    import flashbax as fbx
except ImportError:  # pragma: no cover - the bench environment has it
    fbx = None

CAPACITY = 1_000_000
# the step rows start from a full buffer: every step then overwrites its oldest 8 items, and
# the state stays the same while it is timed (from 100,000 stored, as before 2026-12-06 22:30
# UTC, the timed steps filled it as they went, and the figures depended on how many a run made)
PREFILL = CAPACITY
BATCH = 256
GOAL = 0.3
ITEM = {
    "obs": jnp.zeros(4, jnp.float32),
    "action": jnp.int32(0),
    "reward": jnp.float32(0),
    "discount": jnp.float32(0),
    "next_obs": jnp.zeros(4, jnp.float32),
}


def transitions(rng: np.random.Generator, *lead: int) -> dict[str, jax.Array]:
    return {
        "obs": jnp.asarray(rng.standard_normal((*lead, 4)), jnp.float32),
        "action": jnp.asarray(rng.integers(2, size=lead), jnp.int32),
        "reward": jnp.ones(lead, jnp.float32),
        "discount": jnp.full(lead, 0.99, jnp.float32),
        "next_obs": jnp.asarray(rng.standard_normal((*lead, 4)), jnp.float32),
    }


# ------------------------------------------------------------------ runners
# A runner times `calls` calls of a donated jitted function over prepared inputs and returns
# the µs per call. Each keeps its own state in a box (donation consumes the old one).


class Runner:
    def __init__(self, state: Any, call: Callable[..., Any], inputs: list[Any], per: int = 1):
        self.box = [jax.block_until_ready(state)]
        self.call, self.inputs, self.per = call, inputs, per
        self.run(3)  # compile and warm up

    def run(self, calls: int) -> float:
        call, inputs, box = self.call, self.inputs, self.box
        t0 = time.perf_counter()
        for i in range(calls):
            box[0] = call(box[0], *inputs[i % len(inputs)])
        jax.block_until_ready(box[0])
        return (time.perf_counter() - t0) / calls / self.per * 1e6


def _first(out: Any) -> Any:
    return out[0] if isinstance(out, tuple) else out


def _rlu_state(capacity: int, prefill: int) -> Any:
    state = rj.init(ITEM, capacity, alpha=0.6, epsilon=1e-4)
    chunk = transitions(np.random.default_rng(1), min(prefill, 10_000))
    add = jax.jit(rj.add, donate_argnums=0)
    for _ in range(prefill // min(prefill, 10_000) if prefill else 0):
        state = add(state, chunk)
    return state


def _fbx_flat(width: int, capacity: int, prefill: int) -> tuple[Any, Any]:
    buffer = fbx.make_prioritised_flat_buffer(
        max_length=capacity,
        min_length=1,
        sample_batch_size=BATCH,
        add_batch_size=width,
        priority_exponent=0.6,
        device="cpu",
    )
    state = buffer.init(ITEM)
    if prefill:
        rows = transitions(np.random.default_rng(1), width)

        @jax.jit
        def fill(state: Any) -> Any:
            return jax.lax.fori_loop(0, prefill // width, lambda _, s: buffer.add(s, rows), state)

        state = fill(state)
    return buffer, state


def _fbx_trajectory(capacity: int) -> Any:
    """flashbax's prioritised trajectory buffer, one environment adding time steps."""
    return fbx.make_prioritised_trajectory_buffer(
        add_batch_size=1,
        sample_batch_size=BATCH,
        sample_sequence_length=2,
        period=1,
        min_length_time_axis=2,
        max_size=capacity,
        priority_exponent=0.6,
        device="cpu",
    )


SCAN = 100  # steps of one lax.scan in the in-graph harnesses


def _scan_of(f: Callable[..., Any]) -> Callable[..., Any]:
    """``SCAN`` calls of ``f(state, *x)`` (state first, returned first) in one donated scan."""

    def run(state: Any, *xs: Any) -> Any:
        def body(s: Any, x: Any) -> tuple[Any, Any]:
            out = f(s, *x)
            s, extra = (out[0], out[1]) if isinstance(out, tuple) else (out, None)
            return s, None if extra is None else _kept(extra)

        # the per-step numbers come back too: what no output depends on, XLA does not compute
        return jax.lax.scan(body, state, xs)

    return _wrap(jax.jit(run, donate_argnums=0))


def _kept(extra: Any) -> jax.Array:
    """A number that depends on every array of a step's sample (the items, their identifiers),
    so that XLA reads them all, as a training loop would, instead of dropping what is unused."""
    return sum(
        (jnp.sum(leaf).astype(jnp.float32) for leaf in jax.tree_util.tree_leaves(extra)),
        jnp.float32(0),
    )


def add_rows(quick: bool, in_scan: bool) -> list[tuple[str, Callable[[], Runner]]]:
    rng = np.random.default_rng(0)
    cap = 2**16 if quick else CAPACITY
    rows: list[tuple[str, Callable[[], Runner]]] = []
    for width in (1, 8, 128):
        if in_scan:
            inputs = [(transitions(rng, SCAN, width),) for _ in range(2)]
        else:
            inputs = [(transitions(rng, width),) for _ in range(16)]
        per = SCAN if in_scan else 1

        def call(add: Callable[..., Any]) -> Callable[..., Any]:
            return _scan_of(add) if in_scan else jax.jit(add, donate_argnums=0)

        def rlu(inputs: Any = inputs, per: int = per) -> Runner:
            return Runner(rj.init(ITEM, cap), call(rj.add), inputs, per=per)

        def flat(width: int = width, inputs: Any = inputs, per: int = per) -> Runner:
            buffer, state = _fbx_flat(width, cap, 0)
            return Runner(state, call(buffer.add), inputs, per=per)

        rows.append((f"rlu_replay.jax add, B = {width}", rlu))
        rows.append((f"flashbax prioritised flat buffer add, add_batch_size = {width}", flat))
    return rows


def trajectory_rows(quick: bool) -> list[tuple[str, Callable[[], Runner]]]:
    rng = np.random.default_rng(0)
    cap = 2**16 if quick else CAPACITY
    rows: list[tuple[str, Callable[[], Runner]]] = []
    for steps in (2, 8):
        flat_batches = [(transitions(rng, steps),) for _ in range(16)]
        time_batches = [(transitions(rng, 1, steps),) for _ in range(16)]

        def rlu(batches: Any = flat_batches) -> Runner:
            return Runner(rj.init(ITEM, cap), jax.jit(rj.add, donate_argnums=0), batches)

        def traj(batches: Any = time_batches) -> Runner:
            buffer = _fbx_trajectory(cap)
            return Runner(buffer.init(ITEM), jax.jit(buffer.add, donate_argnums=0), batches)

        rows.append((f"rlu_replay.jax add, B = {steps}", rlu))
        rows.append((f"flashbax prioritised trajectory buffer add, {steps} time steps", traj))
    return rows


def _rlu_step(state: Any, batch: Any, key: Any, new_p: Any) -> tuple[Any, Any]:
    state = rj.add(state, batch)
    sample = rj.sample(state, key, BATCH, 0.4)
    return rj.update_priorities(state, sample.idx, new_p), (sample.batch, sample.idx)


def _fbx_step(buffer: Any) -> Callable[..., Any]:
    def step(state: Any, batch: Any, key: Any, new_p: Any) -> tuple[Any, Any]:
        state = buffer.add(state, batch)
        sample = buffer.sample(state, key)
        return buffer.set_priorities(state, sample.indices, new_p), (
            sample.experience,
            sample.indices,
        )

    return step


def step_rows(quick: bool) -> list[tuple[str, Callable[[], Runner]]]:
    rng = np.random.default_rng(0)
    cap, prefill = (2**16, 2**16) if quick else (CAPACITY, PREFILL)
    scan_len = SCAN
    per_call = [
        (transitions(rng, 8), jax.random.key(i), jnp.asarray(rng.random(BATCH) + 0.01, jnp.float32))
        for i in range(16)
    ]
    stacked = [
        (
            transitions(rng, scan_len, 8),
            jax.random.split(jax.random.key(100 + i), scan_len),
            jnp.asarray(rng.random((scan_len, BATCH)) + 0.01, jnp.float32),
        )
        for i in range(2)
    ]

    def scanned(step: Callable[..., Any]) -> Callable[..., Any]:
        return _scan_of(step)

    def donated(step: Callable[..., Any]) -> Callable[..., Any]:
        return jax.jit(step, donate_argnums=0)

    def rlu_scan() -> Runner:
        return Runner(_rlu_state(cap, prefill), scanned(_rlu_step), stacked, per=scan_len)

    def rlu_call() -> Runner:
        return Runner(_rlu_state(cap, prefill), _wrap(donated(_rlu_step)), per_call)

    def fbx_scan() -> Runner:
        buffer, state = _fbx_flat(8, cap, prefill)
        return Runner(state, scanned(_fbx_step(buffer)), stacked, per=scan_len)

    def fbx_call() -> Runner:
        buffer, state = _fbx_flat(8, cap, prefill)
        return Runner(state, _wrap(donated(_fbx_step(buffer))), per_call)

    return [
        ("rlu_replay.jax, 100 steps in one lax.scan (µs per step)", rlu_scan),
        ("flashbax prioritised flat buffer, 100 steps in one lax.scan (µs per step)", fbx_scan),
        ("rlu_replay.jax, one donated call per step", rlu_call),
        ("flashbax prioritised flat buffer, one donated call per step", fbx_call),
    ]


def _wrap(f: Callable[..., Any]) -> Callable[..., Any]:
    """The state out of a function that returns ``(state, extra)``."""

    def call(state: Any, *args: Any) -> Any:
        return _first(f(state, *args))

    return call


def floor_rows(quick: bool) -> list[tuple[str, Callable[[], Runner]]]:
    """A donated call that gives the state back unchanged: what any call costs; and a real
    add into a state of one array (no goal).

    The cost grows with the number of arrays a call takes and gives back, whatever their
    size: two more rows time a call of 1 and of 16 small arrays for the scale. Two pairs put
    the least any add called from Python can cost (one donated array and the batch, given
    back unchanged: XLA runs nothing) beside flashbax's add of one transition and of two time
    steps. Two more put the least an add into rlu's prioritized state can cost beside them:
    the state (its three arrays, as issue #20 asks for storage, a sum tree and a min tree)
    and the batch, given back unchanged. The last two pairs put a real add into a state of
    one array beside the same two: rlu's uniform buffer, whose state is a pytree of one array,
    written in place, with no trees. A prioritized state of one array would cost about as
    much, plus its trees' work.
    """
    cap = 2**16 if quick else CAPACITY
    same = jax.jit(lambda state, x: jax.tree_util.tree_map(lambda a: a, state), donate_argnums=0)
    inputs = [(jnp.zeros(()),)]
    # the shapes alone, to count arrays (nothing allocated)
    rlu_state = jax.eval_shape(lambda: rj.init(ITEM, cap))
    fbx_state = jax.eval_shape(lambda: _fbx_flat(1, cap, 0)[1])

    def arrays(state: Any) -> int:
        return len(jax.tree_util.tree_leaves(state))

    def rlu() -> Runner:
        return Runner(rj.init(ITEM, cap), same, inputs)

    def flat() -> Runner:
        return Runner(_fbx_flat(1, cap, 0)[1], same, inputs)

    def small(count: int) -> Callable[[], Runner]:
        return lambda: Runner([jnp.zeros(1000, jnp.float32) for _ in range(count)], same, inputs)

    rng = np.random.default_rng(0)

    def least(state: Callable[[], Any], batches: list[Any]) -> Callable[[], Runner]:
        """The ``state`` and the batch, given back unchanged: no add into that state called
        from Python can cost less (for one small array: no add into any state can)."""
        return lambda: Runner(state(), same, batches)

    def one_array() -> jax.Array:
        return jnp.zeros(1000, jnp.float32)

    def prioritized() -> Any:
        return rj.init(ITEM, cap)

    def fbx_add(width: int) -> Runner:
        buffer, state = _fbx_flat(width, cap, 0)
        batches = [(transitions(rng, width),) for _ in range(16)]
        return Runner(state, jax.jit(buffer.add, donate_argnums=0), batches)

    def fbx_steps(steps: int) -> Runner:
        buffer = _fbx_trajectory(cap)
        batches = [(transitions(rng, 1, steps),) for _ in range(16)]
        return Runner(buffer.init(ITEM), jax.jit(buffer.add, donate_argnums=0), batches)

    def uniform(batches: list[Any]) -> Callable[[], Runner]:
        """rlu's uniform buffer adding each batch: a state of one array, written in place."""
        return lambda: Runner(
            rj.init_uniform(ITEM, cap), jax.jit(rj.add, donate_argnums=0), batches
        )

    one = [(transitions(rng, 1),) for _ in range(16)]
    two = [(transitions(rng, 2),) for _ in range(16)]  # as rlu takes them: 2 transitions
    return [
        (f"rlu_replay.jax state ({arrays(rlu_state)} arrays), returned unchanged", rlu),
        (f"flashbax prioritised flat buffer state ({arrays(fbx_state)} arrays), unchanged", flat),
        ("for the scale: 1 array of 1,000 float32, returned unchanged", small(1)),
        ("for the scale: 16 arrays of 1,000 float32, returned unchanged", small(16)),
        (
            "the least an add of 1 can cost: 1 donated array and the batch, unchanged",
            least(one_array, one),
        ),
        ("flashbax prioritised flat buffer add, add_batch_size = 1", lambda: fbx_add(1)),
        (
            "the least an add of 2 time steps can cost: 1 donated array and the batch",
            least(one_array, two),
        ),
        ("flashbax prioritised trajectory buffer add, 2 time steps", lambda: fbx_steps(2)),
        (
            f"the least an add of 1 into rlu_replay.jax's state ({arrays(rlu_state)} arrays) "
            "can cost: it and the batch, unchanged",
            least(prioritized, one),
        ),
        ("flashbax prioritised flat buffer add, add_batch_size = 1", lambda: fbx_add(1)),
        (
            f"the least an add of 2 into rlu_replay.jax's state ({arrays(rlu_state)} arrays) "
            "can cost: it and the batch, unchanged",
            least(prioritized, two),
        ),
        ("flashbax prioritised trajectory buffer add, 2 time steps", lambda: fbx_steps(2)),
        ("rlu_replay.jax uniform buffer (1 array, no trees): add of 1", uniform(one)),
        ("flashbax prioritised flat buffer add, add_batch_size = 1", lambda: fbx_add(1)),
        ("rlu_replay.jax uniform buffer (1 array, no trees): add of 2", uniform(two)),
        ("flashbax prioritised trajectory buffer add, 2 time steps", lambda: fbx_steps(2)),
    ]


def vmap_rows(quick: bool) -> list[tuple[str, Callable[[], Runner]]]:
    rng = np.random.default_rng(0)
    seeds, cap = (8 if quick else 64), 2**14
    inputs = [
        (
            transitions(rng, seeds, 8),
            jax.random.split(jax.random.key(i), seeds),
            jnp.asarray(rng.random((seeds, BATCH)) + 0.01, jnp.float32),
        )
        for i in range(8)
    ]
    # full, as the single buffer's step is: a buffer filling up as it is timed would make the
    # time depend on how many calls a row's budget gives it (its working set grows)
    fill = transitions(np.random.default_rng(1), cap)

    def rlu() -> Runner:
        state = jax.vmap(lambda _: rj.add(rj.init(ITEM, cap), fill))(jnp.arange(seeds))
        return Runner(state, _wrap(jax.jit(jax.vmap(_rlu_step), donate_argnums=0)), inputs)

    def flat() -> Runner:
        buffer = fbx.make_prioritised_flat_buffer(
            max_length=cap,
            min_length=1,
            sample_batch_size=BATCH,
            add_batch_size=8,
            priority_exponent=0.6,
            device="cpu",
        )
        chunks = jax.tree_util.tree_map(lambda x: x.reshape(cap // 8, 8, *x.shape[1:]), fill)

        def build(_: Any) -> Any:
            state = buffer.init(ITEM)
            return jax.lax.fori_loop(
                0,
                cap // 8,
                lambda k, s: buffer.add(s, jax.tree_util.tree_map(lambda c: c[k], chunks)),
                state,
            )

        state = jax.jit(jax.vmap(build))(jnp.arange(seeds))
        step = jax.jit(jax.vmap(_fbx_step(buffer)), donate_argnums=0)
        return Runner(state, _wrap(step), inputs)

    return [
        (f"rlu_replay.jax, {seeds} full buffers of 2^14 under vmap", rlu),
        (f"flashbax prioritised flat buffer, {seeds} full buffers of 2^14 under vmap", flat),
    ]


# ------------------------------------------------------------------ tables


def table(
    title: str,
    rows: list[tuple[str, Callable[[], Runner]]],
    repeats: int,
    budget_s: float,
    unit: str = "µs/call",
    goal: bool = True,
) -> list[float]:
    """Build the runners, time them interleaved, print the table; the ratios, rlu over flashbax
    (none for a table without a goal)."""
    built = []
    for label, make in rows:
        try:
            built.append((label, make(), ""))
        except Exception as exc:  # an anchor whose API moved: say so, keep going
            built.append((label, None, f"{type(exc).__name__}: {exc}"))
    # timings by row, not by label: the same anchor may stand beside two of rlu's rows
    calls = {}
    for k, (_, runner, _) in enumerate(built):
        if runner is not None:
            per = max(runner.run(5), 0.5)
            calls[k] = int(min(max(budget_s / repeats / (per * 1e-6 * runner.per), 5), 20_000))
    times: dict[int, list[float]] = {k: [] for k in calls}
    for _ in range(repeats):
        for k, (_, runner, _) in enumerate(built):
            if runner is not None:
                times[k].append(runner.run(calls[k]))
    medians = {k: statistics.median(v) for k, v in times.items()}
    print(title)
    print()
    print(f"| implementation | {unit} | rlu / this |")
    print("|---|---:|---:|")
    ratios = []
    for k in range(0, len(built), 2):
        (rlu_label, _, rlu_why), (fbx_label, _, fbx_why) = built[k], built[k + 1]
        ours, theirs = medians.get(k), medians.get(k + 1)
        print(f"| **{rlu_label}** | {_fmt(ours, rlu_why)} | 1.00 |")
        ratio = ours / theirs if ours is not None and theirs is not None else None
        shown = "—" if ratio is None else f"{ratio:.2f}"
        print(f"| {fbx_label} | {_fmt(theirs, fbx_why)} | {shown} |")
        if ratio is not None:
            ratios.append(ratio)
    print()
    if ratios and goal:
        met = "met" if max(ratios) <= GOAL else "NOT met"
        print(f"rlu / flashbax: {', '.join(f'{r:.2f}' for r in ratios)} (goal <= {GOAL}: {met})")
    print()
    return ratios if goal else []


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def _fmt(value: float | None, why: str) -> str:
    if value is None:
        return f"— ({why})" if why else "—"
    return f"{value:,.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller buffers, fewer repeats")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--budget", type=float, default=6.0, help="seconds per row, all repeats")
    args = parser.parse_args()
    if fbx is None:
        raise SystemExit("flashbax is not installed: run `hatch run bench:jaxreplay`")
    repeats = 3 if args.quick else args.repeats
    budget = 1.5 if args.quick else args.budget
    load = os.getloadavg()
    print(
        f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"jax {jax.__version__} on {jax.devices()[0].platform}, flashbax {_version('flashbax')}, "
        "load average "
        f"before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print()
    cap = "2^16" if args.quick else "10^6"
    table(
        f"The floor of a call (capacity {cap}): median µs of one jitted, donated call that "
        "returns the state unchanged (what every one-call row pays), and of rlu's uniform add, "
        "a state of one array (no goal)",
        floor_rows(args.quick),
        repeats,
        budget,
        goal=False,
    )
    ratios = table(
        f"Adds into an empty buffer of {cap}: median µs per call (one jitted, donated add "
        "called from Python)",
        add_rows(args.quick, in_scan=False),
        repeats,
        budget,
    )
    ratios += table(
        f"Adds into an empty buffer of {cap}: median µs per add, {SCAN} adds in one lax.scan",
        add_rows(args.quick, in_scan=True),
        repeats,
        budget,
        unit="µs/add",
    )
    ratios += table(
        f"flashbax's trajectory buffer adding time steps (capacity {cap}): median µs per call",
        trajectory_rows(args.quick),
        repeats,
        budget,
    )
    ratios += table(
        f"Whole step (add 8, sample 256, update 256), capacity {cap}, full: median µs per step",
        step_rows(args.quick),
        repeats,
        budget,
        unit="µs/step",
    )
    ratios += table(
        "Many buffers under vmap (one per seed), the same step, one donated call: median µs "
        "per call",
        vmap_rows(args.quick),
        repeats,
        budget,
    )
    print(
        f"rlu / flashbax in every row: at most {max(ratios):.2f} (goal <= {GOAL}: "
        f"{'met' if max(ratios) <= GOAL else 'NOT met'})"
    )
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
