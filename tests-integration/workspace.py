"""The workspace as the tests see it: its distributions, read from ``packages/*/pyproject.toml``.

The list is never written out by hand: ``tools/release.py`` derives it from the folders, and every
test that walks the distributions asks it here, so a new distribution is tested the day it lands.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def tool(name: str) -> ModuleType:
    """``tools/<name>.py`` as a module, loaded afresh (a test may repoint its globals)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def release_tool(repo: Path = REPO) -> ModuleType:
    """``tools/release.py`` as a module, pointed at ``repo`` (a sandbox copy in some tests)."""
    module = tool("release")
    module.REPO, module.PACKAGES, module.CHANGELOG = repo, repo / "packages", repo / "CHANGELOG.md"
    return module


DISTRIBUTIONS: tuple[str, ...] = tuple(release_tool().distributions())  # the meta-package last
MODULES: tuple[str, ...] = tuple(dist.replace("-", "_") for dist in DISTRIBUTIONS)


def root_conftest(*hooks: str) -> str:
    """A ``conftest.py`` for a small suite in a temporary folder that takes ``hooks`` (names of
    pytest hooks) from the repository's root ``conftest.py``, loaded by path."""
    lines = [
        "import importlib.util",
        "",
        "_spec = importlib.util.spec_from_file_location(",
        f"    'rlu_root_conftest', {str(REPO / 'conftest.py')!r}",
        ")",
        "_root = importlib.util.module_from_spec(_spec)",
        "_spec.loader.exec_module(_root)",
        *(f"{hook} = _root.{hook}" for hook in hooks),
    ]
    return "\n".join(lines) + "\n"
