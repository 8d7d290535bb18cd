"""The documentation site's furniture: the pages and features around the content.

Builds the site strictly into a temporary folder (as ``test_docs_site.py`` does) and reads it: the
changelog has a page of its own, the API index and the meta-package's page list every public name
with a link to its entry, every API page shows its distribution's version, the light/dark toggle
and the previous/next links are on, the hook scripts are not published, console examples carry
the classes that ``docs/assets/copy-without-prompts.js`` reads and every page loads that script,
API pages are boosted in the search index and the benchmarks page is not, and no page loads a
font from the web.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import sys
from pathlib import Path

import pytest
from workspace import DISTRIBUTIONS, release_tool

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ROOT / "packages"

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings")


def _version(dist: str) -> str:
    tool = release_tool()
    return str(tool.fmt(tool.read_version(dist)))


def _public_modules(dist: str) -> list[str]:
    top = PACKAGES / dist / "src" / dist.replace("-", "_")
    modules = []
    for init in sorted(top.rglob("__init__.py")):
        parts = init.parent.relative_to(top.parent).parts
        if not any(part.startswith("_") for part in parts):
            modules.append(".".join(parts))
    return modules


def _public_names() -> list[tuple[str, str]]:
    """(module, name) for every name in the ``__all__`` of every distribution's public modules."""
    found = []
    for dist in DISTRIBUTIONS:
        if dist == "rlu":
            continue
        for module in _public_modules(dist):
            for name in importlib.import_module(module).__all__:
                if name != "__version__":
                    found.append((module, name))
    return found


def _html(site: Path, page: str) -> str:
    return (site / page / "index.html").read_text(encoding="utf-8")


def _linked_names(html: str) -> dict[str, list[str]]:
    """Link text (a name in code) -> the hrefs of the links that show it."""
    links: dict[str, list[str]] = {}
    link = re.compile(r'<a [^>]*href="([^"]*)"[^>]*>\s*<code>([^<]+)</code>\s*</a>')
    for href, text in link.findall(html):
        links.setdefault(text, []).append(href)
    return links


def test_changelog_has_a_page_in_the_navigation(site):
    html = _html(site, "changelog")
    headings = re.findall(r"^## (.+)$", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), re.M)
    assert headings
    for heading in headings:
        assert heading.split(" (")[0] in html, f"changelog page lacks {heading!r}"
    assert 'href="changelog/"' in (site / "index.html").read_text(encoding="utf-8")


def test_api_index_links_every_public_name(site):
    links = _linked_names(_html(site, "api"))
    missing = []
    for module, name in _public_names():
        hrefs = links.get(name, [])
        # A name with an entry links to it (#module.name, or the entry of the object it
        # re-exports); a name described only in a page's prose links to that page.
        if not any("#" in h and h.endswith(f".{name}") or "#" not in h for h in hrefs):
            missing.append(f"{module}.{name}")
    assert not missing, "API index lacks a link for: " + ", ".join(missing)
    import rlu

    assert set(rlu.__all__) <= set(links), set(rlu.__all__) - set(links)


def test_meta_package_page_lists_what_rlu_exports_and_where_it_lives(site):
    import rlu
    import rlu.utils
    from rlu._names import ALL_NAMES

    html = _html(site, "api/rlu")
    links = _linked_names(html)
    assert rlu.utils.__all__ == rlu.__all__ == sorted(ALL_NAMES)
    for name, owner in ALL_NAMES.items():
        assert name in links, f"api/rlu lacks {name}"
        assert any(h.endswith(f"#{owner}.{name}") for h in links[name]), (name, links[name])
        row = re.search(rf"<code>{name}</code></a></td>\s*<td><code>([\w.]+)</code>", html)
        assert row and row.group(1) == owner, (name, owner)


def test_every_api_page_shows_its_version_linked_to_the_changelog(site):
    changelog = _html(site, "changelog")
    for dist in DISTRIBUTIONS:
        html = _html(site, f"api/{dist}")
        version = _version(dist)
        assert f"Version {version}" in html, f"api/{dist} does not show version {version}"
        anchor = re.search(r'href="\.\./\.\./changelog/#([^"]+)"', html)
        assert anchor, f"api/{dist}: no link to its changelog entry"
        assert f'id="{anchor.group(1)}"' in changelog, anchor.group(1)


def test_light_dark_toggle_and_previous_next_links(site):
    html = _html(site, "guides/checkpoints")
    assert html.count('data-md-component="palette"') == 1
    assert 'data-md-color-scheme="slate"' in html and 'data-md-color-scheme="default"' in html
    assert len(re.findall(r'<label class="md-header__button md-icon" [^>]*for="__palette_', html))
    assert "md-footer__link--prev" in html and "md-footer__link--next" in html


def test_hook_scripts_are_not_published(site):
    assert not (site / "hooks").exists()
    assert not list(site.rglob("*.py"))


def test_copy_button_script_and_the_classes_it_reads(site):
    script = site / "assets" / "copy-without-prompts.js"
    assert script.is_file() and "data-copy" in script.read_text(encoding="utf-8")
    for page in sorted(site.rglob("*.html")):
        assert "assets/copy-without-prompts.js" in page.read_text(encoding="utf-8"), page
    html = _html(site, "api/rlu-trees")
    # Pygments' console lexer: prompts are class gp, output class go.
    assert '<span class="gp">&gt;&gt;&gt; </span>' in html
    assert '<span class="go">' in html
    assert "content.code.copy" in html  # the theme's copy button is on


def test_search_ranks_api_pages_above_the_benchmarks_page(site):
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    docs = index["docs"]
    api = [d for d in docs if d["location"].startswith("api/")]
    bench = [d for d in docs if d["location"].startswith("benchmarks/")]
    assert api and bench
    assert all(d.get("boost", 1) > 1 for d in api)
    assert all(d.get("boost", 1) <= 1 for d in bench)
    entry = [d for d in api if d["location"] == "api/rlu-trees/#rlu_trees.SumTree"]
    assert entry and entry[0]["title"] == "SumTree", "no search entry titled SumTree"
    # The search splits words at dots, so the query's second word matches that title.
    words = [w for w in re.split(index["config"]["separator"], "rlu_trees.SumTree") if w]
    assert words == ["rlu_trees", "SumTree"], words


def test_no_font_is_fetched_from_the_web(site):
    for page in sorted(site.rglob("*.html")):
        html = page.read_text(encoding="utf-8")
        assert "fonts.googleapis.com" not in html and "fonts.gstatic.com" not in html, page


def test_tables_keep_names_whole(site):
    css = (site / "assets" / "extra.css").read_text(encoding="utf-8")
    rule = re.search(r"\.md-typeset table code,\s*\.md-typeset table a\s*\{([^}]*)\}", css)
    assert rule and "word-break: normal" in rule.group(1)
    assert "assets/extra.css" in (site / "index.html").read_text(encoding="utf-8")


def test_hook_reads_the_same_names_as_the_packages():
    """The hook parses ``__all__`` with ast; the modules agree with what it reads."""
    hook = ast.parse((ROOT / "docs" / "hooks" / "api_nav.py").read_text(encoding="utf-8"))
    assert any(isinstance(n, ast.FunctionDef) and n.name == "on_page_markdown" for n in hook.body)
    sys.path.insert(0, str(ROOT / "docs" / "hooks"))
    try:
        api_nav = importlib.import_module("api_nav")
    finally:
        sys.path.pop(0)
    read = {(e.module, e.name) for d in api_nav._distributions() for e in api_nav._public_names(d)}
    assert read == set(_public_names())
