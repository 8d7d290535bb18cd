"""Mutation testing of the tree kernels and the replay semantics, with cosmic-ray.

``hatch run mutate:trees`` / ``hatch run mutate:replay`` (see CONTRIBUTING.md). For one
distribution this

1. copies its ``src/`` to ``.mutation/<dist>/src`` (ignored by git): cosmic-ray writes each
   mutant into the file it mutates, so it only ever writes to that copy, never to the work tree;
2. runs the chosen tests once on the unmutated copy (they must pass) and sets the per-mutant
   timeout from that time;
3. lists the mutants (``cosmic-ray init``), keeps the selection below, and runs each one
   through cosmic-ray's ``mutate_and_test``: the tests run in a fresh process, first failure
   stops them, and a run past the timeout is killed;
4. prints killed / survived / timed out per module, then every survivor as
   ``file:line  function  operator`` with the line before and after.

What is mutated (the default; ``--all-operators`` and ``--all-functions`` widen it):

* operators: one well-known replacement per site, as mutmut does (``+``/``-``, ``*``/``/``,
  ``<``/``<=``, ``==``/``!=``, ``and``/``or``, ``not`` added or removed, numbers +-1,
  ``True``/``False``, loops over nothing, ``break``/``continue``, exception types), not
  cosmic-ray's every-operator-into-every-other product (ten times as many mutants, mostly
  duplicates of these);
* never inside type annotations (all modules use ``from __future__ import annotations``: a
  mutated annotation is never evaluated, so it is an equivalent mutant by construction), in
  ``@overload`` stubs (never run), on the axis of ``.shape[0]`` (every array here is 1-d:
  ``[-1]`` is the same axis, ``[1]`` raises on any call), nor on lines marked
  ``# pragma: no mutate``;
* only the functions of ``TARGETS`` (the compiled kernels and the host trees; the buffers and
  the n-step tracer), not the caching and import plumbing around them.

The numba kernels run compiled, as in production, not under ``NUMBA_DISABLE_JIT=1``: with the
JIT off ``typed()`` and the LLVM intrinsics (``_bits``, ``_mass_left_of``, ``_prefetch``) cannot
run at all, and pure-Python integers and floats would not show the mutants' uint64/float64
behaviour. Each mutant's kernels compile into their own numba cache folder, named by the hash of
the mutated source, so that no cached machine code of another mutant (or of the original) is
ever loaded; those folders are deleted after each run.

Tests run with hypothesis derandomized and without its example database, so that a session is
reproducible and no mutant's failing example is replayed against the next one.

A full run is long (rlu-trees: about 570 mutants, each of the kernels' recompiling them; about
1.5 hours on two cores; rlu-replay: about 410 mutants, half an hour): ``--sample N`` runs every
N-th mutant of each function, ``--functions`` or ``--lines`` a few, ``--dry-run`` counts them,
``--max-minutes`` stops starting mutants and ``--resume`` runs what a session left pending.
The session (``.mutation/<dist>/session.sqlite``) is a plain cosmic-ray work database:
``cr-report`` and ``cr-html`` read it too. ``--report`` prints the last run's report again.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"


@dataclass(frozen=True)
class Target:
    """What to mutate in one distribution, and which tests must kill it."""

    package: str  # import name, e.g. rlu_trees
    modules: tuple[str, ...]  # files under src/<package>/
    tests: tuple[str, ...]  # globs under packages/<dist>/tests/
    exclude_tests: tuple[str, ...] = ()  # file names left out of the globs
    deselect: tuple[str, ...] = ()  # node ids (relative to the tests folder) left out
    # functions (qualified names) not mutated, each with the reason
    skip_functions: dict[str, str] = field(default_factory=dict)
    numba_module: str | None = None  # the module whose numba cache is keyed by its hash


TARGETS: dict[str, Target] = {
    "rlu-trees": Target(
        package="rlu_trees",
        modules=("_numba_kernels.py", "_segment_tree.py", "_sum_tree.py"),
        tests=("test_trees*.py", "test_*_mutants.py"),
        exclude_tests=("test_trees_jax.py",),  # the JAX trees: minutes of XLA compiles per run
        deselect=(
            # a subprocess that checks `import rlu_trees` loads no numba: 2.5 s per mutant, and
            # no mutant of these modules changes what is imported
            "test_trees_kernels.py::test_import_does_not_load_numba",
        ),
        skip_functions={
            "typed": "resolves machine code once; a wrong signature fails every call",
            "_fallback_cache_dir": "where numba caches, not what it computes",
            "_jit": "where numba caches, not what it computes",
            "_prefetch_typing": "a cache hint: no effect on any result",
            "_prefetch_typing.codegen": "a cache hint: no effect on any result",
            "_compiled": "lazy import of the kernels",
            "<module>._PREFETCH": "which LLVM intrinsic the cache hint calls",
            "SegmentTree.__repr__": "text only",
        },
        numba_module="_numba_kernels.py",
    ),
    "rlu-replay": Target(
        package="rlu_replay",
        modules=(
            "_buffer.py",
            "_layout.py",
            "_priorities.py",
            "_prioritized.py",
            "_nstep.py",
            "_tracer.py",
        ),
        tests=("test_buffer*.py", "test_tracer*.py", "test_*_mutants.py"),
        skip_functions={"ReplayBuffer.__repr__": "text only"},
    ),
}
ALIASES = {"trees": "rlu-trees", "replay": "rlu-replay"}

# cosmic-ray operators kept by default: one replacement per site (see the module docstring)
REDUCED_OPERATORS = frozenset(
    "core/" + name
    for name in (
        "ReplaceBinaryOperator_Add_Sub",
        "ReplaceBinaryOperator_Sub_Add",
        "ReplaceBinaryOperator_Mul_Div",
        "ReplaceBinaryOperator_Div_Mul",
        "ReplaceBinaryOperator_FloorDiv_Div",
        "ReplaceBinaryOperator_Mod_Div",
        "ReplaceBinaryOperator_Pow_Mul",
        "ReplaceBinaryOperator_LShift_RShift",
        "ReplaceBinaryOperator_RShift_LShift",
        "ReplaceBinaryOperator_BitAnd_BitOr",
        "ReplaceBinaryOperator_BitOr_BitAnd",
        "ReplaceBinaryOperator_BitXor_BitAnd",
        "ReplaceComparisonOperator_Lt_LtE",
        "ReplaceComparisonOperator_LtE_Lt",
        "ReplaceComparisonOperator_Gt_GtE",
        "ReplaceComparisonOperator_GtE_Gt",
        "ReplaceComparisonOperator_Eq_NotEq",
        "ReplaceComparisonOperator_NotEq_Eq",
        "ReplaceComparisonOperator_Is_IsNot",
        "ReplaceComparisonOperator_IsNot_Is",
        "ReplaceUnaryOperator_USub_UAdd",
        "ReplaceUnaryOperator_Delete_Not",
        "ReplaceUnaryOperator_Delete_Invert",
        "AddNot",
        "ReplaceAndWithOr",
        "ReplaceOrWithAnd",
        "ReplaceTrueWithFalse",
        "ReplaceFalseWithTrue",
        "ReplaceBreakWithContinue",
        "ReplaceContinueWithBreak",
        "NumberReplacer",
        "ZeroIterationForLoop",
        "ExceptionReplacer",
    )
)

PRAGMA = re.compile(r"#.*pragma:.*no mutate")


# ---------------------------------------------------------------------------------- source maps


def _is_overload(decorator: ast.expr) -> bool:
    return (isinstance(decorator, ast.Name) and decorator.id == "overload") or (
        isinstance(decorator, ast.Attribute) and decorator.attr == "overload"
    )


class _SourceMap(ast.NodeVisitor):
    """Per line: the enclosing function's qualified name; the spans of type annotations."""

    def __init__(self, source: str) -> None:
        self.function_of: dict[int, str] = {}
        self.annotations: list[tuple[tuple[int, int], tuple[int, int]]] = []
        self.shape_axes: list[tuple[int, int]] = []
        self._stack: list[str] = []
        self.visit(ast.parse(source))

    def _span(self, node: ast.AST) -> None:
        start = (node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = (node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        self.annotations.append((start, end))

    def _scope(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self._stack.append(node.name)
        if not isinstance(node, ast.ClassDef):
            name = ".".join(self._stack)
            if any(_is_overload(d) for d in node.decorator_list):
                name += "@overload"  # a typing stub, never run
            for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                self.function_of[line] = name  # inner functions overwrite: innermost wins
            args = node.args
            for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
                if arg is not None and arg.annotation is not None:
                    self._span(arg.annotation)
            if node.returns is not None:
                self._span(node.returns)
        self.generic_visit(node)
        self._stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scope

    def visit_Subscript(self, node: ast.Subscript) -> None:
        # `a.shape[0]` of the 1-d arrays here: [-1] is the same axis and [1] raises on every
        # call, so a mutated axis number is either equivalent or killed by any test at all
        value, index = node.value, node.slice
        if isinstance(value, ast.Attribute) and value.attr == "shape":
            if isinstance(index, ast.Constant) and isinstance(index.value, int):
                self.shape_axes.append((index.lineno, index.col_offset))
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._span(node.annotation)
        self._module_level(node, [node.target])
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        self._module_level(node, node.targets)
        self.generic_visit(node)

    def _module_level(self, node: ast.stmt, targets: list[ast.expr]) -> None:
        # a module-level constant is named like a function: `<module>._TOP_LEVELS`
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        if not self._stack and names:
            for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                self.function_of[line] = "<module>." + ",".join(names)

    def in_annotation(self, pos: tuple[int, int]) -> bool:
        return any(start <= pos < end for start, end in self.annotations)


# ---------------------------------------------------------------------------------- one test run


def _work_dir(dist: str) -> Path:
    return WORK / dist


def run_tests(dist: str) -> int:
    """The test command of every mutant: the target's tests, in this process, on the copy."""
    target, work = TARGETS[dist], _work_dir(dist)
    src = work / "src"
    cache_root = work / "numba-cache"
    key = "base"
    if target.numba_module is not None:
        code = (src / target.package / target.numba_module).read_bytes()
        key = hashlib.sha256(code).hexdigest()[:16]
    cache = cache_root / key
    original = (cache_root / "original").read_text().strip() if target.numba_module else key
    os.environ["NUMBA_CACHE_DIR"] = str(cache)
    paths = [str(src), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)  # for the tests' subprocesses too
    sys.path.insert(0, str(src))

    import pytest
    from hypothesis import settings

    # the same examples in every run, and no example database carried from one mutant to the next
    settings.register_profile("mutate", database=None, derandomize=True)
    settings.load_profile("mutate")

    module = __import__(target.package)
    if not Path(module.__file__).resolve().is_relative_to(src.resolve()):
        print(f"{target.package} imported from {module.__file__}, not from the copy {src}")
        return 2

    tests_dir = ROOT / "packages" / dist / "tests"
    found = {
        p for g in target.tests for p in tests_dir.glob(g) if p.name not in target.exclude_tests
    }
    # the tests written for earlier survivors run last: the main suite kills most mutants first
    files = sorted(found, key=lambda p: (p.name.endswith("_mutants.py"), p.name))
    args = [str(p) for p in files]
    args += ["-x", "-q", "--tb=short", "-p", "no:cacheprovider", "-p", "no:randomly"]
    args += ["-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT)]
    for node in target.deselect:
        args += ["--deselect", str(tests_dir / node)]
    try:
        return int(pytest.main(args))
    finally:
        if key != original:
            shutil.rmtree(cache, ignore_errors=True)


# ---------------------------------------------------------------------------------- the session


def _sources_hash(dist: str, src: Path) -> str:
    target = TARGETS[dist]
    digest = hashlib.sha256()
    for module in target.modules:
        digest.update((src / target.package / module).read_bytes())
    return digest.hexdigest()


def _prepare(dist: str, resume: bool, dry_run: bool) -> Path:
    """A fresh, unmutated copy of the sources; a new session folder unless resuming."""
    target = TARGETS[dist]
    work = WORK / f"{dist}.dry-run" if dry_run else _work_dir(dist)
    src = ROOT / "packages" / dist / "src"
    lock = work / "pid"
    if lock.exists():
        pid = int(lock.read_text())
        try:
            os.kill(pid, 0)
        except OSError:
            pass  # that run is over
        else:
            raise SystemExit(f"another run of {dist} is in progress (pid {pid}) in {work}")
    if resume:
        if not (work / "session.sqlite").exists():
            raise SystemExit(f"no session to resume for {dist}")
        recorded = (work / "sources.sha256").read_text().strip()
        if recorded != _sources_hash(dist, src):
            raise SystemExit("the sources changed since the session began: start a new run")
        shutil.rmtree(work / "src")
        shutil.rmtree(work / "numba-cache", ignore_errors=True)
    else:
        shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(
        src, work / "src", ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc")
    )
    (work / "sources.sha256").write_text(_sources_hash(dist, src) + "\n")
    lock.write_text(f"{os.getpid()}\n")
    (work / "numba-cache").mkdir()
    key = "base"
    if target.numba_module is not None:
        code = (work / "src" / target.package / target.numba_module).read_bytes()
        key = hashlib.sha256(code).hexdigest()[:16]
    (work / "numba-cache" / "original").write_text(key + "\n")
    return work


def _test_command(dist: str) -> str:
    return shlex.join([sys.executable, str(Path(__file__).resolve()), "--run-tests", dist])


def _config(dist: str, timeout: float) -> str:
    target = TARGETS[dist]
    paths = ", ".join(f'"src/{target.package}/{m}"' for m in target.modules)
    return (
        "[cosmic-ray]\n"
        f"module-path = [{paths}]\n"
        f"timeout = {timeout:.0f}\n"
        "excluded-modules = []\n"
        f"test-command = {_toml_str(_test_command(dist))}\n\n"
        "[cosmic-ray.distributor]\n"
        'name = "local"\n'
    )


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _selection(dist: str, work: Path, args: argparse.Namespace) -> tuple[set[str], Counter[str]]:
    """The job ids to run; and why the others are skipped (reason -> count)."""
    from cosmic_ray.work_db import WorkDB, use_db

    target = TARGETS[dist]
    maps: dict[str, _SourceMap] = {}
    lines: dict[str, list[str]] = {}
    only = set(args.functions.split(",")) if args.functions else None
    only_lines = set(args.lines.split(",")) if args.lines else None
    keep: list[tuple[str, str, tuple[int, int], str]] = []
    skipped: Counter[str] = Counter()
    with use_db(str(work / "session.sqlite"), WorkDB.Mode.open) as db:
        items = list(db.work_items)
    for item in items:
        (m,) = item.mutations
        path = str(m.module_path)
        if path not in maps:
            text = (work / path).read_text(encoding="utf-8")
            maps[path], lines[path] = _SourceMap(text), text.splitlines()
        smap, line = maps[path], tuple(m.start_pos)[0]
        func = smap.function_of.get(line, "<module>")
        if not args.all_operators and m.operator_name not in REDUCED_OPERATORS:
            skipped["operator outside the reduced set"] += 1
        elif smap.in_annotation(tuple(m.start_pos)):
            skipped["inside a type annotation"] += 1
        elif m.operator_name == "core/NumberReplacer" and tuple(m.start_pos) in smap.shape_axes:
            skipped["the axis of a 1-d array's .shape[0]"] += 1
        elif PRAGMA.search(lines[path][line - 1]):
            skipped["# pragma: no mutate"] += 1
        elif only is not None and func not in only:
            skipped["not in --functions"] += 1
        elif only_lines is not None and f"{Path(path).name}:{line}" not in only_lines:
            skipped["not in --lines"] += 1
        elif func.endswith("@overload"):
            skipped["an @overload stub: never run"] += 1
        elif not args.all_functions and func in target.skip_functions:
            skipped[f"{func}: {target.skip_functions[func]}"] += 1
        else:
            keep.append((path, func, tuple(m.start_pos), item.job_id))
    keep.sort()
    if args.sample:
        # every N-th mutant of each function in source order, from its first: proportional to
        # the function's size, at least one per function, and the same sample every run
        by_func: dict[tuple[str, str], list[str]] = {}
        for path, func, _, job in keep:
            by_func.setdefault((path, func), []).append(job)
        chosen: set[str] = set()
        for jobs in by_func.values():
            chosen.update(jobs[:: args.sample])
        skipped["left out of the sample"] = len(keep) - len(chosen)
        return chosen, skipped
    return {job for *_, job in keep}, skipped


def run(dist: str, args: argparse.Namespace) -> int:
    from cosmic_ray.mutating import mutate_and_test
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    started = time.monotonic()
    work = _prepare(dist, args.resume, args.dry_run)
    print(f"[mutate] {dist}: sources copied to {work.relative_to(ROOT)}/src", flush=True)
    if args.resume:
        with use_db(str(work / "session.sqlite"), WorkDB.Mode.open) as db:
            chosen = {item.job_id for item in db.pending_work_items}
        print(f"[mutate] resuming the session: {len(chosen)} mutants pending")
    else:
        (work / "cosmic-ray.toml").write_text(_config(dist, args.timeout or 0))
        cosmic_ray = Path(sys.executable).parent / "cosmic-ray"
        subprocess.run(
            [str(cosmic_ray), "init", "cosmic-ray.toml", "session.sqlite"],
            cwd=work,
            check=True,
            env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"),
        )
        chosen, skipped = _selection(dist, work, args)
        for reason, count in sorted(skipped.items()):
            print(f"[mutate] not run: {count:5d}  {reason}")
    if args.dry_run:
        _print_selection(work, chosen)
        return 0

    t0 = time.monotonic()
    base = subprocess.run(shlex.split(_test_command(dist)), capture_output=True, text=True)
    baseline = time.monotonic() - t0
    if base.returncode != 0:
        print(base.stdout[-4000:], base.stderr[-4000:], sep="\n")
        print(f"[mutate] the tests fail on the unmutated sources (exit {base.returncode})")
        return 2
    timeout = args.timeout or max(90.0, 4 * baseline + 30)  # room for a loaded machine
    print(f"[mutate] baseline: tests pass in {baseline:.1f} s; timeout {timeout:.0f} s per mutant")
    (work / "cosmic-ray.toml").write_text(_config(dist, timeout))
    os.chdir(work)  # cosmic-ray's module paths are relative to the session folder
    with use_db("session.sqlite", WorkDB.Mode.open) as db:
        items = sorted(
            db.work_items,
            key=lambda it: (str(it.mutations[0].module_path), tuple(it.mutations[0].start_pos)),
        )
        skip = WorkResult(worker_outcome=WorkerOutcome.SKIPPED)
        db.set_multiple_results([it.job_id for it in items if it.job_id not in chosen], skip)
        todo = [it for it in items if it.job_id in chosen]
        print(f"[mutate] running {len(todo)} mutants", flush=True)
        deadline = started + args.max_minutes * 60 if args.max_minutes else None
        for n, item in enumerate(todo, 1):
            if deadline is not None and time.monotonic() > deadline:
                print(f"[mutate] --max-minutes reached: {len(todo) - n + 1} mutants left unrun")
                break
            t = time.monotonic()
            result = mutate_and_test(item.mutations, _test_command(dist), timeout)
            db.set_result(item.job_id, result)
            m = item.mutations[0]
            print(
                f"[mutate] {n:4d}/{len(todo)} {_outcome(result):10s} {time.monotonic() - t:5.1f} s"
                f"  {m.module_path.name}:{m.start_pos[0]}  {m.operator_name.removeprefix('core/')}",
                flush=True,
            )
    os.chdir(ROOT)
    seconds = time.monotonic() - started
    spent = work / "wall-seconds"
    total = seconds + (float(spent.read_text()) if args.resume and spent.exists() else 0.0)
    spent.write_text(f"{total:.0f}\n")
    report = _report(dist)
    report += f"\nwall time: {seconds / 60:.1f} min"
    report += f" ({total / 60:.1f} min for the whole session)\n" if args.resume else "\n"
    (work / "report.txt").write_text(report)
    print(report)
    return 0


def _print_selection(work: Path, chosen: set[str]) -> None:
    from cosmic_ray.work_db import WorkDB, use_db

    per_function: Counter[tuple[str, str]] = Counter()
    smaps: dict[str, _SourceMap] = {}
    with use_db(str(work / "session.sqlite"), WorkDB.Mode.open) as db:
        for item in db.work_items:
            if item.job_id in chosen:
                (m,) = item.mutations
                path = str(m.module_path)
                if path not in smaps:
                    smaps[path] = _SourceMap((work / path).read_text(encoding="utf-8"))
                func = smaps[path].function_of.get(m.start_pos[0], "<module>")
                per_function[(Path(path).name, func)] += 1
    for (module, func), count in sorted(per_function.items()):
        print(f"{count:5d}  {module}  {func}")
    print(f"{sum(per_function.values()):5d}  mutants selected")


# ---------------------------------------------------------------------------------- the report


def _outcome(result: object) -> str:
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    worker = result.worker_outcome  # type: ignore[attr-defined]
    test = result.test_outcome  # type: ignore[attr-defined]
    output = result.output or ""  # type: ignore[attr-defined]
    if worker == WorkerOutcome.SKIPPED:
        return "skipped"
    if worker == WorkerOutcome.NO_TEST:
        return "no-test"
    if test == TestOutcome.SURVIVED:
        return "survived"
    if test == TestOutcome.KILLED:
        return "timeout" if output == "timeout" else "killed"
    return "incompetent"


def _changed_lines(diff: str) -> tuple[str, str]:
    before: list[str] = []
    after: list[str] = []
    for ln in diff.splitlines():
        if ln.startswith(("--- ", "+++ ")):  # the headers (and cosmic-ray's "--- mutation diff")
            continue
        if ln.startswith("-") and ln[1:].strip():
            before.append(ln[1:].strip())
        elif ln.startswith("+") and ln[1:].strip():
            after.append(ln[1:].strip())
    return " / ".join(before), " / ".join(after)


def _report(dist: str) -> str:
    from cosmic_ray.work_db import WorkDB, use_db

    work = _work_dir(dist)
    if not (work / "session.sqlite").exists():
        raise SystemExit(f"no session for {dist}: run it first")
    smaps: dict[str, _SourceMap] = {}
    rows = []
    pending = 0
    with use_db(str(work / "session.sqlite"), WorkDB.Mode.open) as db:
        results = dict(db.results)
        for item in db.work_items:
            (m,) = item.mutations
            if item.job_id not in results:
                pending += 1
                continue
            path = str(m.module_path)
            if path not in smaps:
                smaps[path] = _SourceMap((work / path).read_text(encoding="utf-8"))
            func = smaps[path].function_of.get(m.start_pos[0], "<module>")
            rows.append((path, tuple(m.start_pos), func, m.operator_name, results[item.job_id]))
    rows.sort(key=lambda r: (r[0], r[1], r[3]))
    counts: dict[str, Counter[str]] = {}
    for path, _, _, _, res in rows:
        counts.setdefault(Path(path).name, Counter())[_outcome(res)] += 1
    out = [f"mutation testing of {dist} (cosmic-ray; session {work.relative_to(ROOT)})", ""]
    head = (
        f"{'module':22s} {'killed':>7s} {'survived':>9s} {'timeout':>8s} {'other':>6s} {'run':>5s}"
    )
    out += [head + "   score", "-" * (len(head) + 8)]
    for name, c in counts.items():
        other = c["incompetent"] + c["no-test"]
        total = c["killed"] + c["survived"] + c["timeout"] + other
        score = f"{(c['killed'] + c['timeout']) / total:6.1%}" if total else "     -"
        out.append(
            f"{name:22s} {c['killed']:7d} {c['survived']:9d} {c['timeout']:8d} {other:6d} "
            f"{total:5d}   {score}"
        )
    skipped = sum(c["skipped"] for c in counts.values())
    out.append(f"(not run: {skipped} outside the selection, {pending} pending)")
    survivors = [r for r in rows if _outcome(r[4]) == "survived"]
    out += ["", f"survivors ({len(survivors)}):"]
    for path, (line, col), func, op, res in survivors:
        before, after = _changed_lines(res.diff or "")
        out.append(f"  {path}:{line}:{col}  {func}  {op.removeprefix('core/')}")
        out.append(f"      - {before}")
        out.append(f"      + {after}")
    timeouts = [r for r in rows if _outcome(r[4]) == "timeout"]
    if timeouts:
        out += ["", f"timed out ({len(timeouts)}, counted as killed in the score):"]
        for path, (line, col), func, op, _ in timeouts:
            out.append(f"  {path}:{line}:{col}  {func}  {op.removeprefix('core/')}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dist", help="rlu-trees or rlu-replay (or trees, replay)")
    parser.add_argument("--run-tests", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--report", action="store_true", help="print the last run's report")
    parser.add_argument("--functions", help="only these functions (comma-separated, qualified)")
    parser.add_argument("--lines", help="only these lines (comma-separated module.py:line)")
    parser.add_argument(
        "--sample", type=int, metavar="N", help="every N-th mutant of each function (a sample)"
    )
    parser.add_argument("--all-operators", action="store_true", help="every cosmic-ray operator")
    parser.add_argument(
        "--all-functions", action="store_true", help="also the functions TARGETS skips"
    )
    parser.add_argument("--timeout", type=float, help="seconds per mutant (default: from baseline)")
    parser.add_argument("--max-minutes", type=float, help="start no mutant after this many minutes")
    parser.add_argument(
        "--resume", action="store_true", help="run the mutants the last session left pending"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="list the selected mutants per function, run none"
    )
    args = parser.parse_args(argv)
    dist = ALIASES.get(args.dist, args.dist)
    if dist not in TARGETS:
        parser.error(f"unknown target {args.dist!r}; known: {', '.join(TARGETS)}")
    if args.run_tests:
        return run_tests(dist)
    if args.report:
        print(_report(dist))
        return 0
    return run(dist, args)


if __name__ == "__main__":
    sys.exit(main())
