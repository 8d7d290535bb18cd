"""Fuzzing restricted loads: a sandboxed runner and a summary of what happened.

``Runner`` loads each case of ``fuzz_cases`` in a child forked from a long-lived worker
interpreter (this file run with ``--worker``), under an address-space limit, in a working
directory that must stay empty (``fuzz_cases.MARKER``), and classifies the outcome
(``Outcome``): anything but ``CorruptedDataError`` / ``LoadRefusedError``, a signal, a
hang, a file in the working directory, an import outside numpy and JAX, a placeholder in
the result or memory past the documented bound is a violation. ``Summary`` counts outcomes
and lists violations.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import pickle
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lz4.frame
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # fuzz_cases, beside this file
from fuzz_cases import (
    ALLOWED_IMPORTS,
    FUZZ_MAX_BYTES,
    GROWTH,
    MIB,
    RUNNER,
    SLACK,
    Case,
    compress,
    generate,
    jax_array_pickle,
    jax_module,
)

_AS_HEADROOM = 2 << 30  # a child's address space: what it had at fork plus this


@dataclass
class Outcome:
    """What loading one case did.

    ``outcome`` is ``loaded``, the exception's class name, ``signal <NAME>``, ``hang`` or
    ``exit <status>``; ``violations`` lists every broken promise.
    """

    case: Case
    outcome: str
    message: str = ""
    violations: list[str] = field(default_factory=list)
    extra_rss: int = 0  # bytes of memory the load added (peak RSS of the child, less its start)
    bound: int = 0  # bytes of memory the load may add
    seconds: float = 0.0
    content_size: int = 0
    output: str = ""


def content_size(data: bytes, cap: int) -> int:
    """Bytes of content the frame in ``data`` decompresses to (as far as it does, up to ``cap``)."""
    decompressor = lz4.frame.LZ4FrameDecompressor()
    total = 0
    rest: bytes = data
    try:
        while not decompressor.eof and total <= cap:
            out = decompressor.decompress(rest, max_length=MIB)
            rest = b""
            total += len(out)
            if not out and decompressor.needs_input:
                break
    except (RuntimeError, ValueError, EOFError):
        pass
    return total


def memory_bound(content: int, max_bytes: int) -> int:
    """Memory a restricted load may add: the content and the objects built from it."""
    content = min(content, max_bytes + MIB)
    return content + min(GROWTH * content, max_bytes) + SLACK


class Runner:
    """Loads cases in forked children of long-lived worker interpreters and classifies them.

    Parameters
    ----------
    max_bytes : int or None
        ``max_bytes`` for each load (``None``: the library default, 4 GiB).
    timeout : float
        Seconds a load may take before it is killed and reported as a hang.
    workers : int
        Worker interpreters running cases side by side.
    noise : int
        Bytes of peak memory allowed on top of the bound and of a trivial load's peak.
    """

    def __init__(
        self,
        max_bytes: int | None = FUZZ_MAX_BYTES,
        timeout: float = 20.0,
        workers: int | None = None,
        noise: int = 8 * MIB,
    ) -> None:
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self.noise = noise
        self._dir = Path(tempfile.mkdtemp(prefix="rlu-fuzz-"))
        self._pool: list[_Worker] = []

    def __enter__(self) -> Runner:
        started: list[_Worker | None] = [None] * self.workers

        def start(number: int) -> None:
            started[number] = _Worker(self._dir, number)

        threads = [threading.Thread(target=start, args=(i,)) for i in range(self.workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self._pool = [worker for worker in started if worker is not None]
        if len(self._pool) != self.workers:
            self.close()
            raise RuntimeError(f"a fuzz worker did not start; see the logs in {self._dir}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers and remove the run's directory."""
        for worker in self._pool:
            worker.stop()
        self._pool.clear()
        shutil.rmtree(self._dir, ignore_errors=True)

    @property
    def baselines(self) -> list[dict[str, int]]:
        """Each worker's memory baselines: a trivial load's peak (and a JAX load's)."""
        return [worker.baseline for worker in self._pool]

    def run(self, cases: Iterable[Case]) -> list[Outcome]:
        """Load every case; return the outcomes in the order of ``cases``."""
        todo: queue.Queue[tuple[int, Case] | None] = queue.Queue()
        items = list(cases)
        for item in enumerate(items):
            todo.put(item)
        results: list[Outcome | None] = [None] * len(items)

        def drain(worker: _Worker) -> None:
            while True:
                try:
                    item = todo.get_nowait()
                except queue.Empty:
                    return
                if item is None:
                    return
                index, case = item
                results[index] = self._run_one(worker, case)

        threads = [threading.Thread(target=drain, args=(w,)) for w in self._pool]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return [r for r in results if r is not None]

    def _run_one(self, worker: _Worker, case: Case) -> Outcome:
        max_bytes = self.max_bytes if case.max_bytes == RUNNER else case.max_bytes
        assert max_bytes is None or isinstance(max_bytes, int)
        effective = _library_max_bytes() if max_bytes is None else max_bytes
        timeout = case.timeout or self.timeout
        content = content_size(case.data, effective + 2 * MIB)
        report = worker.run(case, max_bytes, timeout)
        return _classify(case, report, content, effective, timeout, worker.baseline, self.noise)


def _library_max_bytes() -> int:
    import rlu_serialize  # what loads need, imported once here (numpy too), not in each child

    return int(rlu_serialize.RESTRICTED_MAX_BYTES)


class _Worker:
    """One worker interpreter (this file run with ``--worker``) and the pipes to it."""

    def __init__(self, root: Path, number: int) -> None:
        self.root = root
        self.number = number
        self.baseline: dict[str, int] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        marker_dir = self.root / f"cwd-{self.number}"
        marker_dir.mkdir(exist_ok=True)
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        env.setdefault("JAX_PLATFORMS", "cpu")
        self.log = open(self.root / f"worker-{self.number}.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(marker_dir), str(self.root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else b""
        if not line:
            raise RuntimeError(f"fuzz worker failed to start; see {self.log.name}")
        self.baseline = json.loads(line)

    def run(self, case: Case, max_bytes: int | None, timeout: float) -> dict[str, Any]:
        spec = {"size": len(case.data), "max_bytes": max_bytes, "timeout": timeout}
        spec.update(via_file=case.via_file, trusted=case.trusted, without=list(case.without))
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        try:
            self.proc.stdin.write(json.dumps(spec).encode() + b"\n" + case.data)
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except BrokenPipeError:
            line = b""
        if line:
            result: dict[str, Any] = json.loads(line)
            return result
        self.stop()
        self.start()
        return {"worker_died": True}

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(OSError):
            if self.proc.stdin:
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()
        self.proc = None


def _classify(
    case: Case,
    report: dict[str, Any],
    content: int,
    max_bytes: int,
    timeout: float,
    baseline: dict[str, int],
    noise: int,
) -> Outcome:
    """The outcome of one case, and every promise it broke."""
    result = Outcome(case, "?", content_size=content, seconds=report.get("seconds", 0.0))
    violations = result.violations
    child = report.get("child")
    result.output = report.get("output", "")
    if report.get("worker_died"):
        result.outcome = "worker died"
        violations.append("the worker interpreter died")
        return result
    if report.get("hung"):
        result.outcome = "hang"
        violations.append(f"hang: still running after {timeout:g} s (killed)")
    elif report.get("signal"):
        result.outcome = f"signal {report['signal']}"
        violations.append(f"killed by {report['signal']}")
    elif child is None:
        result.outcome = f"exit {report.get('status')}"
        violations.append(f"exited with status {report.get('status')} and no report")
    if child is not None:
        if result.outcome == "?":
            result.outcome = child["outcome"]
        result.message = child.get("message", "")
        if not child.get("documented", False):
            violations.append(f"undocumented exception {child['qualname']}: {result.message}")
        if child.get("strange"):
            violations.append(f"the loaded object holds {child['strange']}")
        imported = [m for m in child.get("new_modules", []) if _forbidden_module(m)]
        if imported:
            violations.append("imported " + ", ".join(imported[:10]))
        calls = child.get("import_calls", [])
        if calls:
            violations.append("ran import statements for " + ", ".join(sorted(set(calls))[:10]))
    if report.get("files"):
        violations.append(f"created files (code ran): {report['files']}")
    if child is not None and "rss_before" in child and child.get("peak"):
        allowance = max(baseline.get("plain", 0), baseline.get("numpy", 0))
        if child.get("jax_started"):
            allowance = max(allowance, baseline.get("jax", 0))
        result.extra_rss = child["peak"] - child["rss_before"]
        result.bound = memory_bound(content, max_bytes) + allowance + noise
        if result.extra_rss > result.bound:
            violations.append(
                f"memory over bound: peak +{result.extra_rss / MIB:.1f} MiB > "
                f"{result.bound / MIB:.1f} MiB for {content} bytes of content"
            )
    return result


def _forbidden_module(name: str) -> bool:
    return name.split(".")[0] not in ALLOWED_IMPORTS


# -- summary ---------------------------------------------------------------------------------


@dataclass
class Summary:
    """Counts of outcomes (overall and per generator) and the violations."""

    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, outcomes: Iterable[Outcome]) -> None:
        self.outcomes.extend(outcomes)

    @property
    def counts(self) -> collections.Counter[str]:
        return collections.Counter(o.outcome for o in self.outcomes)

    @property
    def violations(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.violations]

    def table(self) -> str:
        """A text table: outcome classes by generator, then the violations."""
        kinds = sorted({o.case.kind.split(":")[0] for o in self.outcomes})
        by = collections.Counter((o.outcome, o.case.kind.split(":")[0]) for o in self.outcomes)
        width = max([len(k) for k in self.counts] + [7])
        head = f"{'outcome':<{width}}  {'total':>7}" + "".join(f"  {k:>16}" for k in kinds)
        lines = [head, "-" * len(head)]
        for outcome, count in self.counts.most_common():
            cells = "".join(f"  {by[outcome, k]:>16}" for k in kinds)
            lines.append(f"{outcome:<{width}}  {count:>7}{cells}")
        lines.append("-" * len(head))
        rate = len(self.outcomes) / self.seconds if self.seconds else 0.0
        lines.append(
            f"{len(self.outcomes)} cases in {self.seconds:.1f} s ({rate:.1f}/s), "
            f"{len(self.violations)} with violations"
        )
        peak = max(self.outcomes, key=lambda o: o.extra_rss, default=None)
        if peak is not None:
            lines.append(
                f"largest memory added by a load: {peak.extra_rss / MIB:.1f} MiB "
                f"(bound {peak.bound / MIB:.1f} MiB, {peak.case.kind}, {peak.outcome})"
            )
        slowest = max(self.outcomes, key=lambda o: o.seconds, default=None)
        if slowest is not None:
            lines.append(f"slowest load: {slowest.seconds:.2f} s ({slowest.case.kind})")
        for outcome in self.violations:
            lines.append("")
            lines.append(describe(outcome))
        return "\n".join(lines)


def describe(outcome: Outcome, limit: int = 240) -> str:
    """A violation, with the case's bytes (or their start) for a repro."""
    data = outcome.case.data
    shown = data.hex() if len(data) <= limit else data[:limit].hex() + f"... ({len(data)} bytes)"
    lines = [
        f"VIOLATION [{outcome.case.kind}] outcome {outcome.outcome}: "
        + "; ".join(outcome.violations),
        f"  message: {outcome.message[:300]}",
        f"  case: {shown}",
    ]
    if outcome.output:
        lines.append(f"  output: {outcome.output[:200]!r}")
    return "\n".join(lines)


def run_fuzz(
    n: int,
    seed_: int = 0,
    runner: Runner | None = None,
    progress: Callable[[Summary], None] | None = None,
) -> Summary:
    """Generate ``n`` cases and run them; return the summary."""
    summary = Summary()
    start = time.monotonic()
    with contextlib.ExitStack() as stack:
        if runner is None:
            runner = stack.enter_context(Runner())
        for batch in generate(n, seed_):
            summary.add(runner.run(batch))
            summary.seconds = time.monotonic() - start
            if progress is not None:
                progress(summary)
    summary.seconds = time.monotonic() - start
    return summary


_VIOLATION_KINDS = (
    "hang",
    "killed by",
    "exited with",
    "undocumented exception",
    "the loaded object holds",
    "imported",
    "ran import",
    "created files",
    "memory over bound",
    "the worker",
)


def _signature(outcome: Outcome) -> tuple[str, frozenset[str]]:
    """An outcome and the kinds of its violations (what a smaller repro must keep)."""
    kinds = {k for v in outcome.violations for k in _VIOLATION_KINDS if v.startswith(k)}
    return outcome.outcome, frozenset(kinds)


def minimize(runner: Runner, outcome: Outcome, budget: int = 200) -> Case:
    """A smaller case with the same outcome and violations: chunks of its pickle removed."""
    try:
        content = bytes(lz4.frame.decompress(outcome.case.data))
    except RuntimeError:
        return outcome.case
    target = _signature(outcome)
    best = content
    chunk = max(1, len(best) // 2)
    runs = 0
    while chunk >= 1 and runs < budget:
        start, shrunk = 0, False
        while start < len(best) and runs < budget:
            trial = best[:start] + best[start + chunk :]
            case = dataclasses.replace(outcome.case, data=compress(trial))
            runs += 1
            if _signature(runner.run([case])[0]) == target:
                best, shrunk = trial, True
            else:
                start += chunk
        if not shrunk:
            chunk //= 2
    return dataclasses.replace(outcome.case, data=compress(best))


# -- the worker and its children ----------------------------------------------------------------


def _rss() -> int:
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak() -> int:
    """Peak resident memory of this process so far (VmHWM), in bytes."""
    with open("/proc/self/status") as file:
        for line in file:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _vm_size() -> int:
    with open("/proc/self/statm") as file:
        return int(file.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _strange(obj: Any, limit: int = 2_000_000) -> str | None:
    """The first object in ``obj`` (walked through its containers) that is not plain data."""
    plain = (type(None), bool, int, float, complex, str, bytes, bytearray, slice, range)
    containers = (list, tuple, set, frozenset, collections.deque)
    types = {bool, int, float, complex, str, bytes}
    jax = sys.modules.get("jax")
    stack, seen = [obj], set()
    while stack and len(seen) < limit:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        kind = type(item)
        if kind in plain:
            continue
        if kind in containers:
            stack.extend(item)
        elif kind in (dict, collections.OrderedDict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif kind is np.ndarray or isinstance(item, (np.dtype, np.generic)):
            if getattr(item, "dtype", item).hasobject:
                return f"an object dtype ({kind.__module__}.{kind.__qualname__})"
        elif isinstance(item, type) and (item in types or issubclass(item, np.generic)):
            if item is np.object_:
                return "numpy.object_"
        elif jax is not None and isinstance(item, jax.Array):
            continue
        else:
            return f"a {kind.__module__}.{kind.__qualname__}"
    return None


class _ImportSpy:
    """Records imports that code outside ``ALLOWED_IMPORTS`` starts while it is installed.

    An import that numpy or JAX starts (and everything it imports in turn) is theirs, and so
    is one made while JAX is on the stack (its plugin discovery runs ``importlib.metadata``);
    an import statement run by anything else during a load is code the pickle ran.
    """

    def __init__(self) -> None:
        import builtins

        self.calls: list[str] = []
        self._builtins = builtins
        self._real = builtins.__import__
        self._inside = 0  # depth of imports started by allowed code

    def __enter__(self) -> _ImportSpy:
        real, calls = self._real, self.calls

        def spy(name: str, *args: Any, **kwargs: Any) -> Any:
            caller = str(sys._getframe(1).f_globals.get("__name__", ""))
            if self._inside or not _forbidden_module(caller) or _under_jax():
                self._inside += 1
                try:
                    return real(name, *args, **kwargs)
                finally:
                    self._inside -= 1
            calls.append(f"{name} (from {caller or '?'})")
            return real(name, *args, **kwargs)

        self._builtins.__import__ = spy
        return self

    def __exit__(self, *exc: object) -> None:
        self._builtins.__import__ = self._real


def _under_jax() -> bool:
    """Whether a frame of JAX is on the stack."""
    frame = sys._getframe(2)
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).split(".")[0] in ("jax", "jaxlib"):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _child(data: bytes, spec: dict[str, Any], result_fd: int, out_fd: int, cwd: str) -> None:
    """Load one case in this forked child and write a JSON report to ``result_fd``."""
    import resource

    import rlu_serialize  # what loads need, imported once here (numpy too), not in each child

    status = 3
    try:
        os.setpgid(0, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.chdir(cwd)
        cap = _vm_size() + _AS_HEADROOM
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        kwargs = {} if spec["max_bytes"] is None else {"max_bytes": spec["max_bytes"]}
        path = spec.get("path")
        for name in spec.get("without", ()):  # as if not installed: importing it fails
            sys.modules[name] = None  # type: ignore[assignment]
        report: dict[str, Any] = {}
        before = set(sys.modules)
        jax_before = _jax_started()
        report["rss_before"] = _rss()
        with _ImportSpy() as spy:
            try:
                trusted = bool(spec.get("trusted"))
                if path:
                    obj = rlu_serialize.load(path, trusted=trusted, **kwargs)
                else:
                    obj = rlu_serialize.loads(data, trusted=trusted, **kwargs)
            except BaseException as err:  # every exception is classified
                report["peak"] = _peak()
                report["outcome"] = type(err).__name__
                report["qualname"] = f"{type(err).__module__}.{type(err).__qualname__}"
                report["documented"] = isinstance(
                    err, (rlu_serialize.CorruptedDataError, rlu_serialize.LoadRefusedError)
                )
                report["message"] = _text(err)
                del err
            else:
                report["peak"] = _peak()  # before the harness's own walk of the result
                report.update(outcome="loaded", documented=True, qualname="")
                report["message"] = f"a {type(obj).__name__}"
                report["strange"] = _strange(obj)
                del obj  # freeing it is part of the load (a deep nest can crash here)
        report["import_calls"] = spy.calls
        report["new_modules"] = sorted(set(sys.modules) - before)
        report["jax_started"] = _jax_started() and not jax_before
        payload = json.dumps(report).encode()
        while payload:
            payload = payload[os.write(result_fd, payload) :]
        status = 0
    finally:
        os._exit(status)


def _text(err: BaseException) -> str:
    try:
        return str(err)[:500]
    except Exception:  # its str() failed
        return "<unprintable>"


def _jax_started() -> bool:
    """Whether a JAX backend has been initialized in this process."""
    bridge = sys.modules.get("jax._src.xla_bridge")
    return bool(getattr(bridge, "_backends", None))


def _run_in_child(data: bytes, spec: dict[str, Any], cwd: str, scratch: str) -> dict[str, Any]:
    """Fork a child that loads ``data``; wait for it (killing it at the timeout); report."""
    if spec.get("via_file"):
        spec["path"] = os.path.join(scratch, "case.lz4")
        with open(spec["path"], "wb") as file:
            file.write(data)
    read_fd, write_fd = os.pipe()
    output = tempfile.TemporaryFile(dir=scratch)
    sys.stdout.flush()
    sys.stderr.flush()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_fd)
        _child(data, spec, write_fd, output.fileno(), cwd)
    os.close(write_fd)
    chunks, hung = [], False
    deadline = start + spec["timeout"]
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            hung = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            break
        ready, _, _ = select.select([read_fd], [], [], remaining)
        if ready:
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    _, status, usage = os.wait4(pid, 0)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)  # anything the load started
    os.close(read_fd)
    report: dict[str, Any] = {"seconds": time.monotonic() - start, "maxrss": usage.ru_maxrss * 1024}
    if hung:
        report["hung"] = True
    elif os.WIFSIGNALED(status):
        report["signal"] = signal.Signals(os.WTERMSIG(status)).name
    else:
        report["status"] = os.WEXITSTATUS(status)
    if chunks and not hung:
        with contextlib.suppress(ValueError):
            report["child"] = json.loads(b"".join(chunks))
    output.seek(0)
    report["output"] = output.read(400).decode("utf-8", "replace")
    output.close()
    files = os.listdir(cwd)
    if files:
        report["files"] = sorted(files)
        for name in files:
            path = os.path.join(cwd, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
    return report


def _added(report: dict[str, Any]) -> int:
    """Memory a load in a child added at its peak (its VmHWM less its RSS at the start)."""
    child = report.get("child", {})
    return int(child.get("peak", report["maxrss"]) - child.get("rss_before", 0))


def _worker_main(cwd: str, root: str) -> None:
    """Serve cases from stdin: a JSON line of options, then the case's bytes."""
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    source = sys.stdin.buffer
    scratch = tempfile.mkdtemp(dir=root, prefix="scratch-")
    # What loads need is imported once here (numpy already is), not again in each child.
    import rlu_serialize._restricted

    with contextlib.suppress(ImportError):
        import ml_dtypes  # noqa: F401
    jax_module()

    trivial = compress(pickle.dumps({"a": [1, 2.0]}, protocol=4))
    spec = {"max_bytes": FUZZ_MAX_BYTES, "timeout": 60.0}
    baseline: dict[str, int] = {}
    for name, data in [("plain", trivial), ("numpy", rlu_serialize.dumps(np.arange(10)))]:
        report = _run_in_child(data, dict(spec), cwd, scratch)
        baseline[name] = _added(report)
    if jax_module() is not None:  # a JAX array: the child starts a backend
        report = _run_in_child(compress(jax_array_pickle()), dict(spec), cwd, scratch)
        baseline["jax"] = _added(report)
    out.write(json.dumps(baseline).encode() + b"\n")
    while True:
        header = source.readline()
        if not header:
            return
        spec = json.loads(header)
        data = source.read(spec["size"])
        out.write(json.dumps(_run_in_child(data, spec, cwd, scratch)).encode() + b"\n")


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    _worker_main(sys.argv[2], sys.argv[3])
