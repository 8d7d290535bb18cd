"""mkdocs hook: the benchmarks page, from the JSON the benchmark scripts write.

``docs/benchmarks.md`` holds the prose and the marker ``<!-- benchmark-results -->``; this hook
replaces the marker by ``tools/bench_page.py``'s rendering of ``docs/benchmarks/*.json`` and adds
its bar plots to the site as ``benchmarks/<name>-<table>.svg`` (generated, never committed). Other
pages may quote one recorded table (``QUOTE`` below), so their figures are the last run's too.
"""

from __future__ import annotations

import re
from typing import Any

from hook_tools import tool
from mkdocs.structure.files import File

MARKER = "<!-- benchmark-results -->"
#: A page quotes one recorded table: ``<!-- benchmark-table serialize: Weights -->`` is replaced
#: by the first table of ``docs/benchmarks/serialize.json`` whose title starts with "Weights".
QUOTE = re.compile(r"<!-- benchmark-table (\w+): (.+?) -->")


def _bench_page() -> Any:
    return tool("bench_page")


def on_files(files: Any, config: Any) -> Any:
    page = _bench_page()
    for name, svg in page.render_plots(page.load_results()).items():
        files.append(File.generated(config, f"benchmarks/{name}", content=svg))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if page.file.src_uri != "benchmarks.md":
        if "<!-- benchmark-table " not in markdown:
            return markdown
        bench = _bench_page()
        results = bench.load_results()
        return QUOTE.sub(lambda m: bench.render_table(results, m[1], m[2]), markdown)
    if MARKER not in markdown:
        raise ValueError(f"docs/benchmarks.md lost its marker {MARKER}")
    bench = _bench_page()
    return markdown.replace(MARKER, bench.render_markdown(bench.load_results()))
