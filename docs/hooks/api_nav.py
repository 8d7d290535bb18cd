"""mkdocs hook: the API section of the navigation, one page per distribution under packages/.

The list of distributions is not written out in mkdocs.yml: it is read from
``packages/*/pyproject.toml`` when the site builds, so a new distribution needs only its page
``docs/api/<distribution>.md`` (a strict build fails if the page is missing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _distributions() -> list[str]:
    names = sorted(p.parent.name for p in (ROOT / "packages").glob("*/pyproject.toml"))
    return [name for name in names if name != "rlu"]


def on_config(config: Any) -> Any:
    pages = []
    for dist in _distributions():
        page = ROOT / "docs" / "api" / f"{dist}.md"
        if not page.exists():
            raise FileNotFoundError(f"{dist} has no API page: write docs/api/{dist}.md")
        pages.append({dist: f"api/{dist}.md"})
    for item in config["nav"]:
        if isinstance(item, dict) and "API" in item:
            item["API"] = pages
            break
    else:
        config["nav"].append({"API": pages})
    return config
