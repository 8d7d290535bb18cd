"""The documentation site builds strictly and renders right.

Builds the site (``mkdocs build --strict``, as ``hatch run docs:build`` does) into a temporary
folder and reads the HTML: no Sphinx role is left as literal text (mkdocstrings reads Markdown
cross-references, ``[name][identifier]``, not ``:meth:``), every relative link and image resolves
to a file of the site, the changelog's nested lists stay nested on the changelog page, and the
benchmarks page shows a table and a plot for every results file.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROLE = re.compile(r":(meth|func|class|mod|attr|data|exc|obj):")

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)


def test_no_sphinx_roles_left(site, site_pages):
    found = []
    for page in site_pages:
        for match in ROLE.finditer(page.read_text(encoding="utf-8")):
            found.append(f"{page.relative_to(site)}: {match.group(0)}")
    assert not found, "Sphinx roles rendered as text:\n" + "\n".join(found)


def test_relative_links_resolve(site, site_pages):
    broken = []
    for page in site_pages:
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        for link in parser.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith(("#", "//")) or not parts.path:
                continue
            base = site if parts.path.startswith("/") else page.parent  # 404.html: root-absolute
            target = (base / unquote(parts.path).lstrip("/")).resolve()
            if parts.path.endswith("/") or target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{page.relative_to(site)} -> {link}")
    assert not broken, "links to nothing:\n" + "\n".join(sorted(set(broken)))


def test_changelog_nested_lists_stay_nested(site):
    html = (site / "changelog" / "index.html").read_text(encoding="utf-8")
    item = re.search(r"Where coax was wrong, rlu is right:(.*?)</li>", html, re.DOTALL)
    assert item is not None
    assert "<ul>" in item.group(1), "the items under 'Where coax was wrong' lost their nesting"
    assert not re.search(r"<p>\s*-\s", html), "a list item rendered as a paragraph"


def test_benchmarks_page_shows_every_results_file(site):
    html = (site / "benchmarks" / "index.html").read_text(encoding="utf-8")
    assert "benchmark-results" not in html
    for path in sorted((ROOT / "docs" / "benchmarks").glob("*.json")):
        result = json.loads(path.read_text(encoding="utf-8"))
        assert result["date"] in html
        for index, table in enumerate(result["tables"]):
            if any(r["value"] is not None for r in table["ratios"]):
                svg = site / "benchmarks" / f"{path.stem}-{index + 1}.svg"
                assert svg.is_file() and b"<svg" in svg.read_bytes()[:1000]
                assert f"{path.stem}-{index + 1}.svg" in html


def test_home_page_has_the_demo_and_the_install_table(site):
    html = (site / "index.html").read_text(encoding="utf-8")
    assert "demo-cartpole.gif" in html and "demo-learning-curve.png" in html
    assert "<table>" in html and "rlu-trees" in html
    for guide in ("prioritized-replay", "checkpoints", "environments", "exploration"):
        assert f"guides/{guide}/" in html


def test_a_page_quoting_a_benchmark_table_shows_the_recorded_run(site):
    from workspace import tool

    bench_page = tool("bench_page")
    guide = (ROOT / "docs" / "guides" / "checkpoints.md").read_text(encoding="utf-8")
    quoted = re.findall(r"<!-- benchmark-table (\w+): (.+?) -->", guide)
    assert quoted, "the checkpoints guide quotes no recorded table"
    html = (site / "guides" / "checkpoints" / "index.html").read_text(encoding="utf-8")
    assert "benchmark-table" not in html
    for name, title_start in quoted:
        result = json.loads((ROOT / "docs" / "benchmarks" / f"{name}.json").read_text("utf-8"))
        table = next(t for t in result["tables"] if t["title"].startswith(title_start))
        assert result["date"] in html
        for row in table["rows"]:  # every recorded cell is on the page
            assert all(cell.replace("**", "") in html for cell in row if cell), row
    with pytest.raises(ValueError, match="no recorded serialize table"):
        bench_page.render_table(bench_page.load_results(), "serialize", "No such table")
