"""Benchmark rlu_serialize against the anchors, side by side in one process.

Workload: a replay-buffer checkpoint (float32 observations and priorities plus
a little Python state), 256 MB by default. Anchors:

* coax-style bytes: ``lz4.frame.compress(cloudpickle.dumps(obj))`` and
  ``cloudpickle.loads(lz4.frame.decompress(s))``
* coax-style file: ``cloudpickle.dumps`` written through ``lz4.frame.open``,
  read back with ``cloudpickle.load`` from ``lz4.frame.open``
* joblib with lz4 compression (``joblib.dump(obj, path, compress="lz4")``)
* bare ``lz4.frame.compress`` / ``decompress`` of the same pickle bytes

A second table puts rlu's restricted loads (``trusted=False``, rlu's own pickle machine)
and signed checkpoints (``key=...``, HMAC-SHA256) beside rlu's ordinary, trusted loads and
dumps of the same run.

Every operation is repeated (interleaved, so load from other processes hits all
alike) and the median is reported. Peak extra memory of the file operations is
measured in fresh subprocesses (Linux: peak RSS reset through
/proc/self/clear_refs, then VmHWM; elsewhere ru_maxrss). For loads, "extra" is
the peak beyond the loaded payload itself.

Then, unless ``--no-formats`` is given, ``bench_formats.py``'s tables on the same machine and
payload size: rlu beside safetensors, numpy and orbax on model weights and on pixel frames, and
asynchronous checkpoints (see that script).

Run from the repository root:

    python packages/rlu-serialize/benchmarks/bench_serialize.py [--mb 256] [--repeat 5]

Needs: rlu-serialize, numpy, joblib (lz4 and cloudpickle come with rlu-serialize); the formats
tables also use safetensors and orbax-checkpoint where installed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import cloudpickle
import lz4.frame
import numpy as np
import rlu_serialize

OBS_DIM = 64
KEY = bytes(range(32))  # the signing key of the signed rows


def make_payload(megabytes: int, seed: int = 0) -> dict:
    """A replay-buffer checkpoint of about ``megabytes`` MB, built chunk by chunk."""
    rows = megabytes * 10**6 // (4 * (OBS_DIM + 1))
    rng = np.random.default_rng(seed)
    obs = np.empty((rows, OBS_DIM), dtype=np.float32)
    priorities = np.ones(rows, dtype=np.float32)  # new transitions get the max priority
    step = 1 << 14
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        # pixel-like observations: 32 grey levels scaled to [0, 1]
        obs[start:stop] = rng.integers(0, 32, size=(stop - start, OBS_DIM), dtype=np.uint8)
        obs[start:stop] *= 8.0 / 255.0
        if start < rows // 2:  # the older half has been replayed: heavy-tailed priorities
            priorities[start:stop] = rng.pareto(2.0, size=stop - start)
    state = {
        "step": 1_234_567,
        "episode": 8_910,
        "rng_state": rng.bit_generator.state,
        "config": {"gamma": 0.99, "alpha": 0.6, "beta": 0.4, "capacity": rows},
        "episode_returns": [float(x) for x in rng.normal(size=1000)],
    }
    return {"observations": obs, "priorities": priorities, "state": state}


def payload_bytes(obj: dict) -> int:
    return obj["observations"].nbytes + obj["priorities"].nbytes


# -- the operations ---------------------------------------------------------------


def coax_dumps(obj):
    return lz4.frame.compress(cloudpickle.dumps(obj))


def coax_loads(s):
    return cloudpickle.loads(lz4.frame.decompress(s))


def coax_dump(obj, path):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with lz4.frame.open(path, "wb") as f:
        f.write(cloudpickle.dumps(obj))


def coax_load(path):
    with lz4.frame.open(path, "rb") as f:
        return cloudpickle.load(f)


def rlu_dump_not_durable(obj, path):
    rlu_serialize.dump(obj, path, durable=False)


def rlu_loads_restricted(s):
    return rlu_serialize.loads(s, trusted=False)


def rlu_load_restricted(path):
    return rlu_serialize.load(path, trusted=False)


def rlu_dump_signed(obj, path):
    rlu_serialize.dump(obj, path, key=KEY)


def rlu_load_signed(path):
    return rlu_serialize.load(path, key=KEY)


def joblib_dump(obj, path):
    import joblib

    joblib.dump(obj, path, compress="lz4")


def joblib_load(path):
    import joblib

    return joblib.load(path)


# -- timing -------------------------------------------------------------------------


def time_once(fn, *args):
    start, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return time.perf_counter() - start, time.process_time() - cpu, result


def run_timings(obj, workdir: str, repeat: int) -> tuple[dict, dict]:
    raw = cloudpickle.dumps(obj)  # the bytes bare lz4 compresses
    bare = lz4.frame.compress(raw)
    paths = {
        name: os.path.join(workdir, f"{name}.lz4")
        for name in ("coax", "joblib", "rlu", "fast", "signed")
    }
    ops = {
        "coax-style bytes/dump": (coax_dumps, obj),
        "coax-style file/dump": (coax_dump, obj, paths["coax"]),
        "joblib lz4 file/dump": (joblib_dump, obj, paths["joblib"]),
        "bare lz4.frame bytes/dump": (lz4.frame.compress, raw),
        "rlu bytes/dump": (rlu_serialize.dumps, obj),
        "rlu file/dump": (rlu_serialize.dump, obj, paths["rlu"]),
        "rlu file, durable=False/dump": (rlu_dump_not_durable, obj, paths["fast"]),
        "rlu file, signed/dump": (rlu_dump_signed, obj, paths["signed"]),
    }
    outputs = {"coax-style bytes/dump": coax_dumps(obj), "rlu bytes/dump": rlu_serialize.dumps(obj)}
    coax_dump(obj, paths["coax"])
    joblib_dump(obj, paths["joblib"])
    rlu_serialize.dump(obj, paths["rlu"])
    rlu_dump_not_durable(obj, paths["fast"])
    rlu_dump_signed(obj, paths["signed"])
    ops.update(
        {
            "coax-style bytes/load": (coax_loads, outputs["coax-style bytes/dump"]),
            "coax-style file/load": (coax_load, paths["coax"]),
            "joblib lz4 file/load": (joblib_load, paths["joblib"]),
            "bare lz4.frame bytes/load": (lz4.frame.decompress, bare),
            "rlu bytes/load": (rlu_serialize.loads, outputs["rlu bytes/dump"]),
            "rlu file/load": (rlu_serialize.load, paths["rlu"]),
            "rlu file, durable=False/load": (rlu_serialize.load, paths["fast"]),
            "rlu bytes, restricted/load": (rlu_loads_restricted, outputs["rlu bytes/dump"]),
            "rlu file, restricted/load": (rlu_load_restricted, paths["rlu"]),
            "rlu file, signed/load": (rlu_load_signed, paths["signed"]),
        }
    )
    times: dict[str, list[float]] = {name: [] for name in ops}
    cpu_times: dict[str, list[float]] = {name: [] for name in ops}
    for round_ in range(repeat):
        for name, (fn, *args) in ops.items():
            elapsed, cpu, result = time_once(fn, *args)
            del result
            times[name].append(elapsed)
            cpu_times[name].append(cpu)
        print(f"  round {round_ + 1}/{repeat} done", file=sys.stderr, flush=True)
    sizes = {
        "coax-style bytes": len(outputs["coax-style bytes/dump"]),
        "coax-style file": os.path.getsize(paths["coax"]),
        "joblib lz4 file": os.path.getsize(paths["joblib"]),
        "bare lz4.frame bytes": len(bare),
        "rlu bytes": len(outputs["rlu bytes/dump"]),
        "rlu file": os.path.getsize(paths["rlu"]),
        "rlu file, durable=False": os.path.getsize(paths["fast"]),
    }
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    medians.update({f"cpu:{name}": statistics.median(ts) for name, ts in cpu_times.items()})
    return medians, sizes


# -- memory, in subprocesses -----------------------------------------------------

_CHILD = r"""
import json, os, resource, sys
sys.path.insert(0, {bench_dir!r})
import bench_serialize as b
import joblib, rlu_serialize

def rss_kib(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None

def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False

op, path, mb = {op!r}, {path!r}, {mb!r}
rlu_serialize.loads(rlu_serialize.dumps({{"warm": [1]}}))  # imports done before measuring
obj = b.make_payload(mb) if op.endswith("dump") else None
can_reset = reset_peak()
before = rss_kib("VmRSS") if can_reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
fn = (
    getattr(b, op)
    if op.startswith(("coax", "joblib")) or op.count("_") > 1
    else getattr(rlu_serialize, op.split("_")[1])
)
result = fn(obj, path) if op.endswith("dump") else fn(path)
peak = rss_kib("VmHWM") if can_reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"extra_bytes": (peak - before) * 1024, "reset": can_reset}}))
"""


def measure_peak(op: str, path: str, megabytes: int) -> int:
    code = _CHILD.format(
        bench_dir=os.path.dirname(os.path.abspath(__file__)), op=op, path=path, mb=megabytes
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])["extra_bytes"]


def run_memory(workdir: str, megabytes: int, payload: int) -> dict:
    peaks = {}
    for label, prefix in (
        ("coax-style file", "coax"),
        ("joblib lz4 file", "joblib"),
        ("rlu file", "rlu"),
    ):
        path = os.path.join(workdir, f"mem-{prefix}.lz4")
        peaks[f"{label}/dump"] = measure_peak(f"{prefix}_dump", path, megabytes)
        # the loaded payload itself is not "extra"
        peaks[f"{label}/load"] = measure_peak(f"{prefix}_load", path, megabytes) - payload
        if prefix == "rlu":
            peaks["rlu file, restricted/load"] = (
                measure_peak("rlu_load_restricted", path, megabytes) - payload
            )
        os.remove(path)
        print(f"  memory of {label} measured", file=sys.stderr, flush=True)
    return peaks


# -- report -------------------------------------------------------------------------


def report(
    medians: dict, sizes: dict, peaks: dict, payload: int, repeat: int, load: tuple[float, float]
) -> str:
    def rate(name):
        return payload / medians[name] / 1e6

    rows = [
        ("coax-style bytes", "coax-style bytes"),
        ("coax-style file", "coax-style file"),
        ("joblib lz4 file", "coax-style file"),
        ("bare lz4.frame bytes", "coax-style bytes"),
        ("rlu bytes", "coax-style bytes"),
        ("rlu file", "coax-style file"),
        ("rlu file, durable=False", "coax-style file"),
    ]
    lines = [
        f"Payload {payload / 1e6:.0f} MB (float32 observations and priorities + Python state), "
        f"median of {repeat} interleaved runs, {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}, lz4 {lz4.__version__}, "
        f"cloudpickle {cloudpickle.__version__}.",
        f"Machine load average before / after: {load[0]:.1f} / {load[1]:.1f}.",
        "",
        f"Dump and load of the {payload / 1e6:.0f} MB payload: speed, CPU time, peak memory "
        "and compression ratio",
        "",
        "| method | dump MB/s | × coax | dump CPU s | load MB/s | × coax | load CPU s "
        "| peak extra RSS dump | peak extra RSS load | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, anchor in rows:
        dump_speedup = medians[f"{anchor}/dump"] / medians[f"{label}/dump"]
        load_speedup = medians[f"{anchor}/load"] / medians[f"{label}/load"]
        mem = ("—", "—")
        if f"{label}/dump" in peaks:
            mem = tuple(
                f"{peaks[f'{label}/{op}'] / 1e6:.0f} MB ({peaks[f'{label}/{op}'] / payload:.2f}×)"
                for op in ("dump", "load")
            )
        lines.append(
            f"| {label} | {rate(label + '/dump'):.0f} | {dump_speedup:.2f} | "
            f"{medians[f'cpu:{label}/dump']:.2f} | {rate(label + '/load'):.0f} | "
            f"{load_speedup:.2f} | {medians[f'cpu:{label}/load']:.2f} | {mem[0]} | {mem[1]} | "
            f"{payload / sizes[label]:.4f} |"
        )
    lines += [
        "",
        "Speed-ups compare bytes with coax-style bytes and files with coax-style files; "
        "CPU s is the process CPU time of one run (all threads). rlu's `dump` fsyncs the "
        "file before it returns (on disk, not only in the page cache), coax's does not: the "
        "file goals compare like with like, `dump(durable=False)` with coax.",
        "",
        "Restricted and signed loads: rlu's restricted loads (trusted=False) and signed "
        "checkpoints (key=...) beside rlu's ordinary ones, same run",
        "",
        "| method | dump MB/s | load MB/s | × rlu trusted load | load CPU s "
        "| peak extra RSS load |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, anchor in (
        ("rlu bytes, restricted", "rlu bytes"),
        ("rlu file, restricted", "rlu file"),
        ("rlu file, signed", "rlu file"),
    ):
        dump = f"{rate(label + '/dump'):.0f}" if f"{label}/dump" in medians else "—"
        peak = peaks.get(f"{label}/load")
        mem = "—" if peak is None else f"{peak / 1e6:.0f} MB ({peak / payload:.2f}×)"
        lines.append(
            f"| {label} | {dump} | {rate(label + '/load'):.0f} | "
            f"{medians[f'{anchor}/load'] / medians[f'{label}/load']:.2f} | "
            f"{medians[f'cpu:{label}/load']:.2f} | {mem} |"
        )
    goals = [
        (
            "rlu bytes dump ≥ 1.5× coax-style bytes",
            medians["coax-style bytes/dump"] / medians["rlu bytes/dump"] >= 1.5,
        ),
        (
            "rlu file dump(durable=False) ≥ 1.5× coax-style file (neither fsyncs)",
            medians["coax-style file/dump"] / medians["rlu file, durable=False/dump"] >= 1.5,
        ),
        (
            "rlu bytes load ≥ 1.3× coax-style bytes",
            medians["coax-style bytes/load"] / medians["rlu bytes/load"] >= 1.3,
        ),
        (
            "rlu file load ≥ 1.3× coax-style file",
            medians["coax-style file/load"]
            / max(medians["rlu file/load"], medians["rlu file, durable=False/load"])
            >= 1.3,
        ),
        ("rlu file dump peak extra ≤ 0.25× payload", peaks["rlu file/dump"] <= 0.25 * payload),
        ("rlu file load peak extra ≤ 0.25× payload", peaks["rlu file/load"] <= 0.25 * payload),
        (
            "rlu bytes ratio ≥ coax-style bytes ratio",
            sizes["rlu bytes"] <= sizes["coax-style bytes"],
        ),
        (
            "rlu bytes restricted load ≥ 0.8× rlu bytes load",
            medians["rlu bytes/load"] / medians["rlu bytes, restricted/load"] >= 0.8,
        ),
        (
            "rlu file restricted load ≥ 0.8× rlu file load",
            medians["rlu file/load"] / medians["rlu file, restricted/load"] >= 0.8,
        ),
    ]
    lines.append("")
    lines += [f"- {'met' if ok else 'NOT met'}: {text}" for text, ok in goals]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=256, help="payload size in MB (default 256)")
    parser.add_argument(
        "--repeat", type=int, default=5, help="timed runs per operation (default 5)"
    )
    parser.add_argument(
        "--dir", default=None, help="directory for the files (default: a temporary one)"
    )
    parser.add_argument(
        "--formats-repeat",
        type=int,
        default=15,
        help="interleaved repeats of bench_formats.py's tables (default 15)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the subprocess memory runs")
    parser.add_argument(
        "--no-formats",
        action="store_true",
        help="skip bench_formats.py's tables (rlu beside safetensors, numpy and orbax)",
    )
    args = parser.parse_args(argv)
    if args.mb < 1 or args.repeat < 1:
        parser.error("--mb and --repeat must be positive")
    workdir = tempfile.mkdtemp(prefix="rlu-bench-", dir=args.dir)
    try:
        load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"building a {args.mb} MB payload ...", file=sys.stderr, flush=True)
        obj = make_payload(args.mb)
        payload = payload_bytes(obj)
        medians, sizes = run_timings(obj, workdir, args.repeat)
        del obj
        peaks = {} if args.no_memory else run_memory(workdir, args.mb, payload)
        if args.no_memory:
            peaks = {k: float("nan") for k in ("rlu file/dump", "rlu file/load")}
        load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(report(medians, sizes, peaks, payload, args.repeat, (load_before, load_after)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if not args.no_formats:  # the file formats JAX users checkpoint with, same process
        print(flush=True)
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import bench_formats

        repeat = str(args.formats_repeat)
        return bench_formats.main(["--mb", str(args.mb), "--repeat", repeat])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
