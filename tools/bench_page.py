"""The documentation's benchmarks page, rendered from the benchmark scripts' JSON results.

Each ``docs/benchmarks/<name>.json`` is what ``tools/bench_results.py`` recorded of a benchmark
script's run (``hatch run bench:<name>`` records every run): the machine, the date, the command and
every table it printed, with a ratio column. This module turns them into Markdown (one section per
file, every table with its rows as printed, the run it comes from) and one PNG bar plot of the
ratios per table. The docs build runs it through ``docs/hooks/benchmarks.py``; nothing on the page
is typed by hand.

``python tools/bench_page.py`` prints the Markdown, to check a results file.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "benchmarks"

#: Section titles and the order of the known benchmarks; any other file comes after them.
TITLES = {
    "trees": "rlu-trees: the prioritized-replay inner loop",
    "jaxtrees": "rlu-trees JAX trees: inside jax.jit",
    "replay": "rlu-replay: the local loop and Ray ingest",
    "serialize": "rlu-serialize: checkpoints",
}


def load_results(folder: Path = RESULTS) -> list[dict[str, Any]]:
    """Every results file in ``folder``, the known benchmarks first."""
    files = sorted(folder.glob("*.json"))
    order = list(TITLES)
    files.sort(key=lambda p: (order.index(p.stem) if p.stem in order else len(order), p.stem))
    results = []
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        data.setdefault("benchmark", path.stem)
        results.append(data)
    return results


def plot_name(result: dict[str, Any], index: int) -> str:
    return f"{result['benchmark']}-{index + 1}.png"


def _plain(label: str) -> str:
    return re.sub(r"[*`]", "", label)


def render_plot(table: dict[str, Any]) -> bytes | None:
    """A horizontal bar plot of the table's ratios (PNG bytes), or None without ratios."""
    points = [(_plain(r["label"]), r["value"]) for r in table.get("ratios", [])]
    points = [(label, value) for label, value in points if value is not None]
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [label for label, _ in points][::-1]
    values = [value for _, value in points][::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(points) + 1.1), dpi=100)
    colors = ["#3f51b5" if label.startswith("rlu") else "#9e9e9e" for label in labels]
    ax.barh(range(len(values)), values, color=colors)
    ax.set_yticks(range(len(values)), labels, fontsize=8)
    ax.axvline(1.0, color="black", linewidth=0.8)
    positive = [v for v in values if v > 0]
    if positive and len(positive) == len(values) and max(positive) / min(positive) > 50:
        ax.set_xscale("log")  # ratios over several orders of magnitude
    for y, value in enumerate(values):
        ax.text(value, y, f" {value:g}", va="center", fontsize=8)
    ax.set_xlabel(table.get("ratio_column") or "ratio", fontsize=9)
    ax.set_title(_plain(table.get("title", ""))[:100], fontsize=9)
    ax.margins(x=0.15)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _run_line(result: dict[str, Any]) -> str:
    machine = result.get("machine", {})
    before = machine.get("load_average_before") or []
    after = machine.get("load_average_after") or []
    load = ""
    if before:
        load = f", load average {before[0]:.2f}"
        if after:
            load += f" before, {after[0]:.2f} after"
    mode = ""
    if result.get("quick"):
        mode = " Reduced run (`--quick`): fewer repeats than the default."
    return (
        f"Run of {result.get('date', 'unknown date')}: `{result.get('command', '?')}` on "
        f"{machine.get('platform', '?')}, {machine.get('cpu_count', '?')} CPUs, Python "
        f"{machine.get('python', '?')}{load}.{mode}"
    )


def render_markdown(results: list[dict[str, Any]], image_dir: str = "benchmarks") -> str:
    """The sections of the page, one per results file; images under ``image_dir``."""
    out: list[str] = []
    for result in results:
        name = result["benchmark"]
        out += [f"## {TITLES.get(name, name)}", "", _run_line(result), ""]
        text = [line for line in result.get("text", []) if not line.startswith("results written")]
        if text:
            out += ["```text", *text, "```", ""]
        for index, table in enumerate(result.get("tables", [])):
            out += [f"### {table.get('title') or f'Table {index + 1}'}", ""]
            columns = table["columns"]
            out.append("| " + " | ".join(columns) + " |")
            out.append("|---|" + "---:|" * (len(columns) - 1))
            out += ["| " + " | ".join(row) + " |" for row in table["rows"]]
            out.append("")
            out += [f"{note}  " for note in table.get("notes", [])]
            if table.get("notes"):
                out.append("")
            if any(r.get("value") is not None for r in table.get("ratios", [])):
                out += [
                    f"![{table.get('ratio_column')}: {name}, table {index + 1}]"
                    f"({image_dir}/{plot_name(result, index)})",
                    "",
                ]
    return "\n".join(out)


def render_plots(results: list[dict[str, Any]]) -> dict[str, bytes]:
    """File name → PNG bytes, one plot per table that has ratios."""
    plots = {}
    for result in results:
        for index, table in enumerate(result.get("tables", [])):
            png = render_plot(table)
            if png is not None:
                plots[plot_name(result, index)] = png
    return plots


if __name__ == "__main__":
    print(render_markdown(load_results()))
