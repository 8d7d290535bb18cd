"""Shared fixtures for the cross-distribution tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_IMPORT_TIMES: dict[str, float] = {}


class _ImportTimes(dict[str, float]):
    """``times[module] = seconds`` records the figure in the test's report, which reaches the
    session's summary from a pytest-xdist worker too."""

    def __init__(self, node: pytest.Item) -> None:
        super().__init__()
        self._node = node

    def __setitem__(self, module: str, seconds: float) -> None:
        super().__setitem__(module, seconds)
        self._node.user_properties.append(("import_time", (module, seconds)))


@pytest.fixture
def import_times(request: pytest.FixtureRequest) -> dict[str, float]:
    """Import time (seconds) of each distribution in its own fresh venv; printed at the end."""
    return _ImportTimes(request.node)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, value in report.user_properties:
        if name == "import_time":
            module, seconds = value
            _IMPORT_TIMES[module] = seconds


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documentation site, built once (``mkdocs build --strict``, as ``hatch run docs:build``)
    for every test that reads it."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    return out


@pytest.fixture(scope="session")
def site_pages(site: Path) -> list[Path]:
    """Every HTML page of the built site, in a stable order."""
    return sorted(site.rglob("*.html"))


def pytest_terminal_summary(terminalreporter):
    if _IMPORT_TIMES:
        terminalreporter.section("import time in a fresh venv")
        for dist, seconds in sorted(_IMPORT_TIMES.items()):
            terminalreporter.write_line(f"{dist:<16} {seconds * 1000:8.1f} ms")
