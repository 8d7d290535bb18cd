"""What the migration page and the guides say about themselves holds.

- The migration page opens with the differences that change results, each with what to do, before
  the table of exception classes; it does not paste the changelog (whose rlu-core 0.1.0 entry,
  "merge_dicts raises ValueError", contradicts what merge_dicts does since 0.2.0); it says that
  files holding coax objects still need coax importable.
- A page that says every code block on it runs in the test suite has no block marked
  ``<!-- skip -->`` (test_docs_guides.py skips those).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MIGRATING = DOCS / "migrating.md"

# The differences that change what a coax program computes, as the page's bold lead-ins name them.
RESULT_CHANGES = [
    "`quantile_cos_embedding` uses the indices i = 0, …, n − 1",
    "`SumTree.sample` draws other indices for the same seed",
    "`argmax` and `argmin` break ties with other draws",
    "`OrnsteinUhlenbeckNoise` clips the action, not the noise",
    "`OrnsteinUhlenbeckNoise` refuses an action of another shape",
    "`make_dmc` reports dm_control's time limit as truncation",
]


def _sections(text: str) -> dict[str, str]:
    """The body of each ``## `` section of a page, by its title."""
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return {title.strip(): body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_migration_page_leads_with_the_differences_that_change_results():
    text = MIGRATING.read_text(encoding="utf-8")
    titles = list(_sections(text))
    assert titles[0] == "Differences that change results"
    assert titles.index("Differences that change results") < titles.index(
        "Exceptions: `except` clauses written for coax still catch"
    )
    first = _sections(text)["Differences that change results"]
    for lead in RESULT_CHANGES:
        assert f"**{lead}" in first, f"the migration page's first section lacks: {lead}"


def test_migration_page_does_not_paste_the_changelog():
    text = MIGRATING.read_text(encoding="utf-8")
    assert "--8<--" not in text
    assert "raises ValueError naming the duplicate key" not in text
    merge = next(line for line in text.splitlines() if "`merge_dicts` and duplicate keys" in line)
    assert "as in coax" in merge
    assert "](changelog.md)" in text  # the full list is one click away


def test_migration_page_says_coax_objects_need_coax():
    section = _sections(MIGRATING.read_text(encoding="utf-8"))["Checkpoints written by coax"]
    flat = " ".join(section.split())
    assert "load with `rlu.load` or `loads` unchanged" in flat
    assert "holds coax objects" in flat and "still needs coax importable" in flat


PAGES = [*sorted((DOCS / "guides").glob("*.md")), DOCS / "scaling-out-on-ray.md"]


@pytest.mark.parametrize("page", PAGES, ids=[page.stem for page in PAGES])
def test_every_block_runs_only_where_no_block_is_skipped(page):
    text = " ".join(page.read_text(encoding="utf-8").split())
    if re.search(r"[Ee]very code block on this page runs", text):
        assert "<!-- skip -->" not in text, f"{page.name} skips a block yet says every block runs"
