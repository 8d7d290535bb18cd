"""Every Python code block of the guides (docs/guides/*.md), the home page and the Ray page runs.

A page's ```python blocks run in order in one fresh namespace, in a temporary directory (files a
guide writes land there), as a reader who copies them one after the other would run them. A block
that cannot run here (it needs a cluster, say) is marked with the line ``<!-- skip -->`` right
above its fence; use it sparingly. The Ray page starts (or joins) a local Ray with two CPUs and
leaves it running for the tests that share it; it is skipped where Ray is not installed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDES = [
    ROOT / "docs" / "index.md",
    *sorted((ROOT / "docs" / "guides").glob("*.md")),
    ROOT / "docs" / "scaling-out-on-ray.md",
]
NEEDS = {"scaling-out-on-ray": "ray"}  # a page's extra import: the page is skipped without it
FENCE = re.compile(r"(?P<skip><!-- skip -->\s*\n)?```python\n(?P<code>.*?)\n```", re.DOTALL)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of every ```python block not marked ``<!-- skip -->``."""
    return [
        (text.count("\n", 0, m.start("code")) + 1, m.group("code"))
        for m in FENCE.finditer(text)
        if not m.group("skip")
    ]


def test_the_guides_exist():
    names = {page.stem for page in GUIDES}
    assert {"prioritized-replay", "checkpoints", "environments", "exploration"} <= names
    assert {"index", "scaling-out-on-ray"} <= names
    assert all(page.is_file() for page in GUIDES)


def test_fence_extraction():
    text = "a\n```python\nx = 1\n```\n<!-- skip -->\n```python\nray.init()\n```\n```text\nno\n```\n"
    assert python_blocks(text) == [(3, "x = 1")]


@pytest.mark.parametrize("page", GUIDES, ids=[page.stem for page in GUIDES])
def test_guide_code_runs(page, tmp_path, monkeypatch):
    if page.stem in NEEDS:
        pytest.importorskip(NEEDS[page.stem])
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    assert blocks, f"{page.name} has no python code block"
    namespace: dict[str, object] = {"__name__": f"guide_{page.stem.replace('-', '_')}"}
    for line, code in blocks:
        compiled = compile(code, f"{page.relative_to(ROOT)}:{line}", "exec")
        exec(compiled, namespace)  # the guide's own code
