"""The documentation's benchmarks page, rendered from the benchmark scripts' JSON results.

Each ``docs/benchmarks/<name>.json`` is what ``tools/bench_results.py`` recorded of a benchmark
script's run (``hatch run bench:<name>`` records every run): the machine, the date, the command,
the versions and every table it printed, with its ratio columns. This module turns them into the
page's sections (one per file: the run it comes from, then every table with its rows as printed
and what its columns mean) and one SVG bar plot per table, with a panel per ratio column. The
docs build runs it through ``docs/hooks/benchmarks.py``; nothing on the page is typed by hand.

Files recorded before the recorder kept the CPU model, the versions and the commit say so
("not recorded in this run"); colour codes, library log lines and load-average lines in them are
dropped here as the recorder now drops them.

``python tools/bench_page.py`` prints the page's Markdown, to check a results file.
"""

from __future__ import annotations

import html
import importlib.util
import io
import json
import re
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "benchmarks"
NOT_RECORDED = "not recorded in this run"

#: Section titles and the order of the known benchmarks; any other file comes after them.
TITLES = {
    "trees": "rlu-trees: the prioritized-replay inner loop",
    "jaxtrees": "rlu-trees JAX trees: inside jax.jit",
    "replay": "rlu-replay: the local loop and Ray ingest",
    "jaxreplay": "rlu-replay inside jax.jit: rlu_replay.jax beside flashbax",
    "pixels": "rlu-replay from pixels: each frame stored once, beside cpprb and SB3",
    "serialize": "rlu-serialize: checkpoints",
}

#: Short titles (headings and plot titles) for tables whose printed title starts so.
SHORT_TITLES = {
    ("trees", "N = 2^20: median µs per call"): "Full rebuild and partial_reduce, N = 2^20",
    ("replay", "Capacity 10^6"): "Local loop, 4 single adds a step",
    ("replay", "Vector env"): "Vector env, one add of 8 a step",
    ("replay", "Ray:"): "Ray: ingest and learner",
    ("jaxreplay", "The floor of a call"): "The floor of a call",
    ("jaxreplay", "Adds into an empty buffer of 10^6: median µs per call"): "Adds, one call each",
    ("jaxreplay", "Adds into an empty buffer of 10^6: median µs per add"): "Adds inside lax.scan",
    ("jaxreplay", "flashbax's trajectory buffer"): "flashbax's trajectory buffer adds",
    ("jaxreplay", "Whole step"): "Whole step: add 8, sample 256, update 256",
    ("jaxreplay", "Many buffers under vmap"): "64 buffers under vmap",
    ("pixels", "RGB"): "RGB 84×84×3, 3-frame stack",
    ("pixels", "Atari-like"): "Grayscale 84×84, 4-frame stack",
}

#: What each column holds, per benchmark; shown under each table for the columns it has.
COLUMNS: dict[str, dict[str, str]] = {
    "trees": {
        "µs/step": "median time of one step (draw B indices in proportion to the values, then "
        "write B new values at those indices), in microseconds, over repeats interleaved "
        "across the rows",
        "rlu / this": "rlu's µs/step (the first row) divided by this row's: below 1, rlu is faster",
        "rlu µs": "rlu's median time of one call, in microseconds",
        "coax µs": "coax.utils.SumTree's median time of the same call, in microseconds",
        "coax / rlu": "coax µs divided by rlu µs: how many times faster rlu is",
    },
    "jaxtrees": {
        "A step": "harness A (in-graph): the run's steps (100 by default) in one `lax.scan` "
        "inside `jax.jit`, the tree as the carry; median µs per step over the interleaved runs",
        "A floor": "the same scan with an empty body over a carry of the same size (µs per "
        "step): the cost of the loop itself",
        "A work": "A step minus A floor: the tree's own work inside the compiled loop",
        "B step": "harness B (training loop): one jitted step with the tree donated, called "
        "once per step from Python; median µs per step. The floor row's B step is a donated "
        "step that does nothing; the host row is rlu's numba SumTree doing the same step from "
        "Python",
        "rlu / this (A work)": "rlu JaxSumTree's A work divided by this row's: below 1, rlu is "
        "faster",
        "rlu / this (B)": "rlu JaxSumTree's B step divided by this row's: below 1, rlu is faster",
    },
    "replay": {
        "µs/step": "median time of one whole step (the adds, sample 256, update 256 "
        "priorities), in microseconds, over repeats interleaved across the rows",
        "add µs": "median time of the step's adds alone (same steps run again within each "
        "repeat, timed with time.perf_counter)",
        "sample µs": "median time of sampling 256 transitions",
        "update µs": "median time of updating the 256 sampled priorities",
        "rlu / this": "rlu's µs/step (the first row) divided by this row's: below 1, rlu is faster",
        "transitions stored / s": "transitions the 2 producer processes added, counted in the "
        "buffer afterwards, divided by the wall time of the run",
        "learner batches / s": "batches of 256 the learner (the benchmark's own process) "
        "received, each followed by sending their new priorities without waiting, divided by "
        "the time it ran while the producers added",
        "× coax": "the column to its left divided by the same column of coax's pattern (the "
        "last row): above 1, faster than coax's way",
    },
    "jaxreplay": {
        "µs/call": "median time of one call of a jitted function with the buffer state donated, "
        "called from Python and blocked until ready, in microseconds, over repeats interleaved "
        "across the rows; JAX's own cost of a call (the floor table) is in every such row",
        "µs/add": "median time of one add inside a `lax.scan` of 100 adds (one jitted, donated "
        "call), divided by 100",
        "µs/step": "median time of one step: inside a `lax.scan` of 100 steps divided by 100, "
        "or one donated call per step from Python",
        "rlu / this": "rlu's time (the row above) divided by this row's: below 1, rlu is faster",
    },
    "pixels": {
        "sample µs": "median time of sample(256) with both observations' stacks, in "
        "microseconds: the median over 50 samples in each fresh process, then over the "
        "processes (each library runs alone in its own, the libraries taking turns)",
        "rlu / this (sample)": "rlu ReplayBuffer's sample µs (the first row) divided by this "
        "row's: below 1, rlu is faster",
        "bytes per transition": "growth of the process's resident memory from just before the "
        "buffer is made to just after it is filled (1.1x its capacity of 10^5 transitions), "
        "divided by the capacity",
        "× (frame + scalars)": "bytes per transition divided by one new frame plus 20 bytes "
        "(action, logP, Rn, In): 1 is each frame stored once and nothing else",
        "frames stored": "distinct frames rlu holds at the end (stored_frames)",
        "add µs": "mean time to store one transition while filling (rlu through NStepTracer), "
        "in microseconds; on this machine, writing to fresh memory dominates it",
    },
    "serialize": {
        "dump MB/s": "payload bytes divided by the median time to write the checkpoint "
        "(bytes: to a bytes object; file: to a file), in MB per second",
        "load MB/s": "payload bytes divided by the median time to read it back",
        "× coax": "coax-style time divided by this row's, for the operation of the column to "
        "its left: bytes rows against coax-style bytes, file rows against coax-style file; "
        "above 1, faster",
        "dump CPU s": "process CPU time (all threads) of one dump, median",
        "load CPU s": "process CPU time (all threads) of one load, median",
        "peak extra RSS dump": "peak resident memory of a fresh process during one dump to a "
        "file, above what it held before (the payload built), in MB and as a fraction of the "
        "payload",
        "peak extra RSS load": "peak resident memory of a fresh process during one load from a "
        "file, above what it held before and beyond the loaded payload itself, in MB and as a "
        "fraction of the payload",
        "ratio": "payload bytes divided by checkpoint bytes (compression ratio)",
        "× rlu trusted load": "rlu's ordinary (trusted) load time, of the same kind (bytes or "
        "file), divided by this row's load time: above 1, faster than the trusted load",
        "save MB/s": "payload bytes divided by the median time to save them to a file (page "
        "cache; the disk is synced between operations, untimed), in MB per second",
        "file MiB": "size of the file (or folder) a save wrote",
        "best save MB/s": "payload bytes divided by the shortest of the repeated saves: the "
        "cost when this virtual machine's memory does not get in the way",
        "best load MB/s": "payload bytes divided by the shortest of the repeated loads",
        "rlu save / this": "rlu's save MB/s divided by this row's, like with like (rlu's durable "
        "dump for safetensors + fsync, dump(durable=False) for the rest): above 1, rlu is faster",
        "rlu load / this": "rlu's load MB/s divided by this row's: above 1, rlu is faster",
        "blocked ms": "median time the calling thread (the training loop) waits in the save call",
        "best blocked ms": "the shortest of those waits over the repeats",
        "complete ms": "median time from the save call until the file is complete",
        "blocked / rlu synchronous dump": "this row's blocked ms divided by that of rlu's "
        "synchronous dump: below 1, the loop is blocked for less",
    },
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


def _recorder() -> Any:
    """tools/bench_results.py, for its line cleaning and ratio-column test."""
    spec = importlib.util.spec_from_file_location(
        "bench_results", Path(__file__).with_name("bench_results.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RECORDER = _recorder()


def plot_name(result: dict[str, Any], index: int) -> str:
    return f"{result['benchmark']}-{index + 1}.svg"


def _plain(label: str) -> str:
    return re.sub(r"[*`]", "", label)


def _inline(text: str) -> str:
    """Markdown's ``**bold**`` and ``code`` in a cell, as HTML; everything else escaped."""
    out = html.escape(text, quote=False)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


def clean_text(lines: list[str]) -> list[str]:
    """Printed lines without colour codes, library log lines and load-average clauses."""
    kept = [RECORDER.clean_line(line) for line in lines]
    return [line for line in kept if line and not line.startswith("results written")]


def _is_log_title(title: str) -> bool:
    return RECORDER.clean_line(title) is None


def short_title(result: dict[str, Any], table: dict[str, Any], index: int) -> str:
    """A heading that fits a phone: the table's title up to its colon, or a known short one."""
    title = _plain(table.get("title") or "")
    if not title or _is_log_title(title):
        return f"Table {index + 1}"
    for (bench, prefix), short in SHORT_TITLES.items():
        if bench == result["benchmark"] and title.startswith(prefix):
            return short
    title = re.sub(r"^µs per (step|call),\s*", "", title).split(":")[0].strip()
    if len(title) > 48:
        title = title[:47].rsplit(" ", 1)[0] + "…"
    return title


def _number(cell: str) -> float | None:
    match = re.fullmatch(r"\s*\**(-?\d[\d,]*(?:\.\d+)?)\**\s*", cell)
    return float(match.group(1).replace(",", "")) if match else None


def ratio_columns(table: dict[str, Any]) -> list[dict[str, Any]]:
    """Every ratio column of a table: its header, the column before it and its values.

    A ratio printed as 0 (``0.00``: below 0.005) is recomputed from the table's own times when
    one of its columns gives every other printed ratio of that column (``rlu / this (A work)``
    from the ``A work`` column); ``recomputed`` names that column. One that cannot be is None.
    """
    columns, rows = table["columns"], table["rows"]
    out = []
    for k, header in enumerate(columns):
        if k == 0 or not RECORDER.is_ratio_column(header):
            continue
        values = [
            RECORDER.parse_ratio(row[k]) if k < len(row) and row[k].strip() else None
            for row in rows
        ]
        decimals = [
            len(m.group(1)) if k < len(row) and (m := re.search(r"\.(\d+)", row[k])) else 0
            for row in rows
        ]
        recomputed = None
        if any(v == 0 for v in values):
            values, recomputed = _recompute(columns, rows, k, values, decimals)
        out.append(
            {
                "header": header,
                "before": columns[k - 1],
                "labels": [_plain(row[0]) for row in rows],
                "values": [None if v == 0 else v for v in values],
                "recomputed": recomputed,
            }
        )
    return out


def _recompute(
    columns: list[str],
    rows: list[list[str]],
    k: int,
    values: list[float | None],
    decimals: list[int],
) -> tuple[list[float | None], str | None]:
    ref = next((i for i, v in enumerate(values) if v == 1.0), None)
    if ref is None:
        return values, None
    for j, header in enumerate(columns):
        if j == 0 or j == k or RECORDER.is_ratio_column(header):
            continue
        cells = [_number(row[j]) if j < len(row) else None for row in rows]
        base = cells[ref]
        if not base:
            continue
        for orientation in ("ref/this", "this/ref"):
            fresh: list[float | None] = []
            for value, cell, d in zip(values, cells, decimals, strict=True):
                if value is None:
                    fresh.append(None)
                    continue
                if not cell:
                    break
                calc = base / cell if orientation == "ref/this" else cell / base
                if abs(calc - value) > 0.5 * 10**-d + 0.02 * value + 1e-9:
                    break
                fresh.append(calc if value == 0 else value)
            else:
                if all(v is None or v > 0 for v in fresh):
                    return fresh, header
    return values, None


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 0.1:
        return f"{value:.2f}"
    return f"{value:.2g}"


def axis_label(header: str, before: str) -> str:
    """What a ratio axis shows, and which way is better."""
    match = re.fullmatch(r"rlu / this(?: \((.*)\))?", header)
    if match:
        what = f", {match.group(1)}" if match.group(1) else ""
        return f"rlu time / this row's time{what}\n(ratio; lower is better for rlu)"
    if header == "× coax":
        return f"{before}: this row / coax's way\n(ratio; higher is faster)"
    if header == "coax / rlu":
        return "coax time / rlu time\n(ratio; higher is better for rlu)"
    if header == "× rlu trusted load":
        return "rlu trusted load time / this load's time\n(ratio; higher is faster)"
    return f"{header} (ratio)"


def render_plot(table: dict[str, Any], title: str = "", fmt: str = "svg") -> bytes | None:
    """Bar plots of the table's ratio columns (SVG bytes, one panel each), or None without.

    ``fmt="png"`` draws the same plot 420 pixels wide, a phone's width, to look at it.
    """
    panels = []
    for column in ratio_columns(table):
        points = [
            (label, value)
            for label, value in zip(column["labels"], column["values"], strict=True)
            if value is not None
        ]
        if points:
            panels.append((column, points))
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.fonttype"] = "path"  # the same glyphs on every browser, no fonts
    matplotlib.rcParams["svg.hashsalt"] = "rlu-benchmarks"  # stable ids: reproducible files
    width = 5.0  # inches: 360 pt, drawn at 420 px wide on a phone with 10-11 pt text still legible
    heights = []
    wrapped = []
    for _, points in panels:
        labels = [textwrap.wrap(label, 58) or [""] for label, _ in points]
        wrapped.append(labels)
        heights.append(sum(0.42 + 0.17 * len(lines) for lines in labels) + 0.9)
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(width, sum(heights) + 0.45),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for ax, (column, points), labels in zip(axes[:, 0], panels, wrapped, strict=True):
        values = [value for _, value in points]
        # one rule for every plot: log scale when the values span more than 10x, else linear
        log = max(values) / min(values) > 10
        y, ys = 0.0, []
        for lines in labels[::-1]:
            ys.append(y)
            y += 1.0 + 0.4 * len(lines)
        ys = ys[::-1]
        # rlu's rows blue, the anchors' grey; a "coax / rlu" column is all rlu's speed-ups
        ours = column["header"] == "coax / rlu"
        colors = [
            "#3f51b5" if ours or label.startswith("rlu") else "#9e9e9e" for label, _ in points
        ]
        if log:
            ax.set_xscale("log")
            low, high = min(values + [1.0]) / 2.5, max(values + [1.0]) * 4
            left = low
        else:
            low, high = 0.0, max(values + [1.0]) * 1.3
            left = 0.0
        ax.barh(ys, [v - left for v in values], left=left, height=0.8, color=colors, zorder=2)
        ax.set_xlim(low, high)
        ax.set_ylim(-0.7, y - 0.1)
        ax.axvline(1.0, color="black", linewidth=0.8, zorder=1)
        for yy, value, lines in zip(ys, values, labels, strict=True):
            ax.text(value, yy, f" {_fmt(value)}", va="center", fontsize=10)
            ax.text(
                0.0,
                yy + 0.45,
                "\n".join(lines),
                transform=ax.get_yaxis_transform(),
                va="bottom",
                ha="left",
                fontsize=9.5,
                zorder=3,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 0.5},
            )
        ax.set_yticks([])
        ax.tick_params(axis="x", labelsize=9.5)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.set_xlabel(axis_label(column["header"], column["before"]), fontsize=10)
    if title:
        fig.suptitle(title, fontsize=12, x=0.02, ha="left")
    fig.tight_layout(h_pad=1.2)
    buffer = io.BytesIO()
    if fmt == "svg":
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    else:
        fig.savefig(buffer, format=fmt, dpi=420 / width)
    plt.close(fig)
    return buffer.getvalue()


def _versions(found: dict[str, str | None] | None) -> str:
    if not found:
        return NOT_RECORDED
    return ", ".join(f"{name} {version or '(not installed)'}" for name, version in found.items())


def _load(values: list[float] | None) -> str:
    return " / ".join(f"{x:.2f}" for x in values) if values else NOT_RECORDED


def run_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    """The run a section comes from, as (what, value) rows; what a file lacks says so."""
    machine = result.get("machine", {})
    argv = result.get("argv")
    command = " ".join(argv) if argv else result.get("command")
    if command:
        command = f"<code>{html.escape(command)}</code>"
        words = argv[2:] if argv else result.get("command", "").split()[1:]
        if not words:
            command += " (no arguments: the default run)"
        if result.get("quick") or "--quick" in words:
            command += " (reduced run: fewer repeats than the default)"
    rlu = result.get("rlu") or {}
    if rlu.get("commit"):
        commit = f"<code>{rlu['commit'][:12]}</code>"
        if rlu.get("uncommitted_changes"):
            commit += ", with uncommitted changes to tracked files"
    else:
        commit = NOT_RECORDED
    cpus = machine.get("cpu_count")
    cpu = machine.get("cpu_model") or f"model {NOT_RECORDED}"
    return [
        ("Date", html.escape(result.get("date", NOT_RECORDED))),
        ("Command", command or NOT_RECORDED),
        ("CPU", html.escape(f"{cpu}, {cpus} logical CPUs" if cpus else cpu)),
        (
            "System",
            html.escape(
                f"{machine.get('platform', NOT_RECORDED)}, Python {machine.get('python', '?')}"
            ),
        ),
        (
            "Load average (1, 5, 15 min)",
            f"before {_load(machine.get('load_average_before'))}, "
            f"after {_load(machine.get('load_average_after'))}",
        ),
        ("rlu versions", html.escape(_versions(rlu.get("versions")))),
        ("rlu commit", commit),
        ("Anchors' versions", html.escape(_versions(result.get("anchors")))),
    ]


def _html_table(columns: list[str], rows: list[list[str]]) -> list[str]:
    out = ['<div class="bench-scroll" markdown="0">', "<table>", "<thead><tr>"]
    out += [f"<th>{_inline(c)}</th>" for c in columns]
    out += ["</tr></thead>", "<tbody>"]
    for row in rows:
        cells = [*row, *[""] * (len(columns) - len(row))]
        out.append(
            "<tr>"
            + "".join(
                f"<td>{_inline(cell)}</td>" if k == 0 else f'<td class="num">{_inline(cell)}</td>'
                for k, cell in enumerate(cells)
            )
            + "</tr>"
        )
    out += ["</tbody>", "</table>", "</div>", ""]
    return out


def _definitions(result: dict[str, Any], columns: list[str]) -> list[str]:
    known = {**COLUMNS.get(result["benchmark"], {})}
    seen, out = set(), []
    for header in columns[1:]:
        if header in seen or header not in known:
            continue
        seen.add(header)
        out.append(f"- `{header}`: {known[header]}.")
    return ["Columns:", "", *out, ""] if out else []


def _ray_learner(table: dict[str, Any]) -> list[str]:
    """The Ray table's learner figures, said in words from the table's own numbers."""
    columns, rows = table["columns"], table["rows"]
    if "learner batches / s" not in columns or "transitions stored / s" not in columns:
        return []
    ingest, learner = columns.index("transitions stored / s"), columns.index("learner batches / s")
    coax = next((r for r in rows if _plain(r[0]).startswith("coax")), None)
    rlu = [r for r in rows if _plain(r[0]).startswith("rlu")]
    if coax is None or not rlu:
        return []
    out = [
        "What the Ray table measures: two producer processes add single transitions for the "
        "run's time while the learner, the benchmark's own process, draws batches of 256 and "
        "sends their new priorities back without waiting. `transitions stored / s` is the "
        "producers' rate; `learner batches / s` is how many batches the learner received per "
        "second meanwhile. coax's pattern is one replay actor and one blocking call per "
        f"transition and per batch: {coax[ingest]} transitions and {coax[learner]} batches a "
        "second in this run. rlu's learner, from the same table:",
        "",
    ]
    base = _number(coax[learner])
    for row in rlu:
        rate = _number(row[learner])
        times = f"{rate / base:.1f}× coax's" if rate is not None and base else "no ratio"
        out.append(
            f"- {row[0].replace('**', '').removeprefix('rlu_replay.ray: ')}: {row[learner]} "
            "batches a "
            f"second ({times}), while the producers stored {row[ingest]} transitions a second."
        )
    return [*out, ""]


def _panel_name(column: dict[str, Any]) -> str:
    header = column["header"]
    return f"{column['before']} {header}" if header.startswith("×") else header


def render_markdown(results: list[dict[str, Any]], image_dir: str = "benchmarks") -> str:
    """The sections of the page, one per results file; images under ``image_dir``."""
    out: list[str] = []
    for result in results:
        name = result["benchmark"]
        out += [f"## {TITLES.get(name, name)}", ""]
        out += ['<div class="bench-scroll bench-run" markdown="0">', "<table>", "<tbody>"]
        out += [f"<tr><th>{what}</th><td>{value}</td></tr>" for what, value in run_rows(result)]
        out += ["</tbody>", "</table>", "</div>", ""]
        text = clean_text(result.get("text", []))
        if text:
            out += ["What the script printed besides its tables:", "", "```text", *text, "```", ""]
        for index, table in enumerate(result.get("tables", [])):
            title = _plain(table.get("title") or "")
            short = short_title(result, table, index)
            out += [f"### {short}", ""]
            if title and not _is_log_title(title) and title != short:
                out += [title, ""]
            out += _html_table(table["columns"], table["rows"])
            notes = clean_text(table.get("notes", []))
            out += [f"{note}  " for note in notes]
            if notes:
                out.append("")
            out += _definitions(result, table["columns"])
            out += _ray_learner(table)
            columns = ratio_columns(table)
            for column in columns:
                if column["recomputed"]:
                    fixed = [
                        f"{label} {_fmt(value)}"
                        for label, value, row in zip(
                            column["labels"], column["values"], table["rows"], strict=True
                        )
                        if value is not None
                        and RECORDER.parse_ratio(row[table["columns"].index(column["header"])]) == 0
                    ]
                    out += [
                        f"The plot's `{column['header']}` bars for ratios printed as 0.00 "
                        f"(below 0.005) are recomputed from the `{column['recomputed']}` "
                        f"column: {', '.join(fixed)}.",
                        "",
                    ]
            if any(v is not None for c in columns for v in c["values"]):
                out += [
                    f"![Plot of {', '.join(_panel_name(c) for c in columns)}: {short}]"
                    f"({image_dir}/{plot_name(result, index)})",
                    "",
                ]
    return "\n".join(out)


def render_table(results: list[dict[str, Any]], name: str, title_start: str) -> str:
    """One recorded table, for a page that quotes it: the table, its notes and its run.

    Parameters
    ----------
    results : list of dict
        What ``load_results`` returned.
    name : str
        The benchmark (``serialize``, ...).
    title_start : str
        How the table's title starts (the first table whose title does is taken).

    Raises
    ------
    ValueError
        If no recorded table matches: a page must never quote a table that is gone.
    """
    for result in results:
        if result["benchmark"] != name:
            continue
        for table in result.get("tables", []):
            if (table.get("title") or "").startswith(title_start):
                machine = result.get("machine", {})
                cpu = machine.get("cpu_model") or "a CPU whose model is not recorded"
                out = [_plain(table["title"]), "", *_html_table(table["columns"], table["rows"])]
                out += [f"{note}  " for note in clean_text(table.get("notes", []))]
                out += [
                    "",
                    f"Recorded by `hatch run bench:{name}` on {result.get('date', NOT_RECORDED)} "
                    f"({cpu}, {machine.get('cpu_count', '?')} logical CPUs).",
                    "",
                ]
                return "\n".join(out)
    raise ValueError(f"no recorded {name} table has a title starting with {title_start!r}")


def render_plots(results: list[dict[str, Any]]) -> dict[str, bytes]:
    """File name → SVG bytes, one plot per table that has ratios."""
    plots = {}
    for result in results:
        for index, table in enumerate(result.get("tables", [])):
            title = f"{result['benchmark']} — {short_title(result, table, index)}"
            svg = render_plot(table, title)
            if svg is not None:
                plots[plot_name(result, index)] = svg
    return plots


if __name__ == "__main__":
    print(render_markdown(load_results()))
