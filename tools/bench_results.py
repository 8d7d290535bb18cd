"""Machine-readable results of a benchmark script: what it printed, as JSON.

The benchmark scripts (``packages/*/benchmarks/bench_*.py``) print Markdown: a title line, a
table (``| a | b |`` rows), notes. Run through this recorder, as the ``bench`` hatch scripts do::

    python tools/bench_results.py trees -- python packages/rlu-trees/benchmarks/bench_trees.py

it runs the command, passes its output through, and when the command succeeds writes
``docs/benchmarks/<name>.json`` with the machine (platform, CPU count, load average before and
after), the date, the command line and every printed table: its title, columns, rows and the ratio
column (the first column whose header holds a ``/`` or a ``×``). ``tools/bench_page.py`` renders
the documentation's benchmarks page from these files, so the numbers there are always a script's
own output.
"""

from __future__ import annotations

import datetime
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


def default_path(name: str) -> Path:
    return DEFAULT_DIR / f"{name}.json"


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
    free, tables = parse_tables("".join(printed))
    result = {
        "benchmark": name,
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(command[1:] if Path(command[0]).name.startswith("python") else command),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.machine(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": _load(),
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
