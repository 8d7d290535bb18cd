"""Machine-readable results of a benchmark script: what it printed, as JSON.

The benchmark scripts (``packages/*/benchmarks/bench_*.py``) print Markdown: a title line, a
table (``| a | b |`` rows), notes. Run through this recorder, as the ``bench`` hatch scripts do::

    python tools/bench_results.py trees -- python packages/rlu-trees/benchmarks/bench_trees.py

it runs the command, passes its output through, and when the command succeeds writes
``docs/benchmarks/<name>.json`` with the machine (platform, CPU model and count, load average
before and after), the date, the command line with its arguments, the versions of rlu's
distributions and the git commit they were run from, the versions of the anchors the benchmark
uses, and every printed table: its title, columns, rows and the ratio column (the first column
whose header holds a ``/`` or a ``×``). Colour codes (ANSI escapes), log lines of the libraries
(torchrl's ``[torchrl][INFO]``, ...) and the scripts' own load-average lines are left out of the
recorded text: the load is recorded once, in ``machine``. ``tools/bench_page.py`` renders the
documentation's benchmarks page from these files, so the numbers there are always a script's own
output.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = ROOT / "docs" / "benchmarks"


#: The anchors (and the libraries they run on) whose versions each benchmark records; a
#: benchmark not named here records every one of ``OTHER_ANCHORS`` that is installed.
ANCHORS = {
    "trees": [
        "coax",
        "cpprb",
        "flashbax",
        "torchrl",
        "tianshou",
        "jax",
        "jaxlib",
        "numba",
        "numpy",
    ],
    "jaxtrees": ["flashbax", "jax", "jaxlib", "numba", "numpy"],
    "jaxreplay": ["flashbax", "jax", "jaxlib", "numba", "numpy"],
    "replay": [
        "cpprb",
        "torchrl",
        "tensordict",
        "torch",
        "tianshou",
        "flashbax",
        "jax",
        "jaxlib",
        "ray",
        "numba",
        "numpy",
    ],
    "pixels": ["cpprb", "stable-baselines3", "torch", "gymnasium", "numpy"],
    "serialize": [
        "cloudpickle",
        "lz4",
        "joblib",
        "numpy",
        "safetensors",
        "orbax-checkpoint",
        "jax",
    ],
}
OTHER_ANCHORS = sorted({name for names in ANCHORS.values() for name in names} | {"safetensors"})

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
#: A library's log line: ``2026-12-05 04:18:25,453 [torchrl][INFO] ...``, ``INFO:root:...``,
#: ``[2026-12-05 04:18:25] WARNING ...``, ``W1205 04:18:25.453 ...`` (absl).
LOG_LINE = re.compile(
    r"^\s*(\[?\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d\S*\]?\s.*"
    r"\b(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\b"
    r"|\[?(DEBUG|INFO|WARNING|ERROR|CRITICAL)\]?[: ]"
    r"|[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ )"
)
#: A load-average clause, at the start of a line or after a comma: the load is in ``machine``.
LOAD_CLAUSE = re.compile(r"(^|,)\s*#?\s*(machine )?load average\b[^,]*(?=,|$)", re.IGNORECASE)


def default_path(name: str) -> Path:
    return DEFAULT_DIR / f"{name}.json"


def clean_line(line: str) -> str | None:
    """A printed line as the page may show it, or None when it is a log or load-average line.

    Colour codes go; a library's log line goes; a load-average clause goes (the recorder keeps
    the load in ``machine``), and with it the line when nothing else is left.
    """
    line = ANSI.sub("", line).rstrip()
    if LOG_LINE.match(line):
        return None
    if re.search(r"load average", line, re.IGNORECASE):
        line = LOAD_CLAUSE.sub("", line).rstrip(" ,.")
        if not line.strip(" #:,.-"):
            return None
    return line


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else ``platform.processor()``, else ''."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Hardware", "cpu model") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor()


def versions(names: list[str]) -> dict[str, str | None]:
    """Each distribution's installed version, None when it is not installed."""
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def rlu_versions() -> dict[str, str | None]:
    """The version of every distribution of this repository (``packages/*``), as its sources
    say (``__about__.py``): the bench environment installs them editable, and an editable
    install's metadata keeps the version it was installed at, whatever was bumped since."""
    names = sorted(
        p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").is_file()
    )
    found = versions(names)
    for name in names:
        about = ROOT / "packages" / name / "src" / name.replace("-", "_") / "__about__.py"
        said = re.search(r'^__version__ = "([^"]+)"', about.read_text(encoding="utf-8"), re.M)
        if said:
            found[name] = said[1]
    return found


def git_commit() -> dict[str, Any]:
    """The commit checked out and whether tracked files differ from it (None: no git)."""

    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(
                ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
            )
        except (OSError, subprocess.CalledProcessError):
            return None
        return proc.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "uncommitted_changes": None if status is None else bool(status)}


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else []


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def parse_ratio(cell: str) -> float | None:
    """The number in a ratio cell (``0.42``, ``3.1x``, ``**1.50**``), or None."""
    match = re.search(r"-?\d[\d,]*(?:\.\d+)?", cell.replace("*", ""))
    if match is None or "unavailable" in cell:
        return None
    return float(match.group(0).replace(",", ""))


def parse_tables(text: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Split printed Markdown into free lines and tables (title, columns, rows, notes)."""
    lines = text.splitlines()
    free: list[str] = []
    tables: list[dict[str, Any]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        is_header = (
            line.lstrip().startswith("|")
            and i + 1 < len(lines)
            and re.fullmatch(r"\s*\|(\s*:?-+:?\s*\|)+\s*", lines[i + 1]) is not None
        )
        if not is_header:
            free.append(line)
            i += 1
            continue
        # the title: the last non-empty free line before the table
        title = ""
        while free and not free[-1].strip():
            free.pop()
        if free:
            title = free.pop().strip().lstrip("#").strip()
        columns = _cells(line)
        rows = []
        i += 2
        while i < len(lines) and lines[i].lstrip().startswith("|"):
            rows.append(_cells(lines[i]))
            i += 1
        notes = []
        if i < len(lines) and not lines[i].strip():
            j = i + 1
            while j < len(lines) and lines[j].strip() and not lines[j].lstrip().startswith("|"):
                if j + 1 < len(lines) and lines[j + 1].lstrip().startswith("|"):
                    break  # the title of the next table
                notes.append(lines[j].strip())
                j += 1
            i = j
        tables.append({"title": title, "columns": columns, "rows": rows, **ratios(columns, rows)})
        tables[-1]["notes"] = notes
    return [line for line in free if line.strip()], tables


def is_ratio_column(header: str) -> bool:
    """``rlu / this``, ``rlu / this (B)``, ``× coax``: yes; ``µs/step``, ``stored / s``: no."""
    return "×" in header or re.fullmatch(r"[\w.]+ / [\w.]+( \(.*\))?", header.strip()) is not None


def ratios(columns: list[str], rows: list[list[str]]) -> dict[str, Any]:
    """The table's ratio column (the first one, see ``is_ratio_column``) and its values."""
    index = next((k for k, c in enumerate(columns) if k > 0 and is_ratio_column(c)), None)
    if index is None:
        return {"ratio_column": None, "ratios": []}
    return {
        "ratio_column": columns[index],
        "ratios": [
            {"label": row[0], "value": parse_ratio(row[index])} for row in rows if index < len(row)
        ],
    }


def record(name: str, command: list[str], path: Path | None = None) -> int:
    """Run ``command``, echo its output, and write its results as JSON when it succeeds."""
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = _load()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # echo the tables as they are printed
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, encoding="utf-8", env=env)
    assert proc.stdout is not None
    printed = []
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        printed.append(line)
    if proc.wait() != 0:
        return proc.returncode
    load_after = _load()
    kept = [clean_line(line) for line in "".join(printed).splitlines()]
    free, tables = parse_tables("\n".join(line for line in kept if line is not None))
    shown = [Path(command[0]).name if Path(command[0]).name.startswith("python") else command[0]]
    result = {
        "benchmark": name,
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        # without the interpreter, as the files of earlier runs have it; "argv" has it all
        "command": " ".join(command[1:] if Path(command[0]).name.startswith("python") else command),
        "argv": shown + command[1:],
        "machine": {
            "platform": platform.platform(),
            "processor": platform.machine(),
            "cpu_model": cpu_model(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": load_after,
        },
        "rlu": {"versions": rlu_versions(), **git_commit()},
        "anchors": {
            k: v
            for k, v in versions(ANCHORS.get(name, OTHER_ANCHORS)).items()
            if name in ANCHORS or v is not None
        },
        "text": free,
        "tables": tables,
    }
    out = path or default_path(name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"results written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        raise SystemExit("usage: python tools/bench_results.py NAME -- COMMAND [ARGS...]")
    raise SystemExit(record(sys.argv[1], sys.argv[3:]))
