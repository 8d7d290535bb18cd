"""Shared fixtures for the cross-distribution tests."""

from __future__ import annotations

import pytest

_IMPORT_TIMES: dict[str, float] = {}


@pytest.fixture(scope="session")
def import_times() -> dict[str, float]:
    """Import time (seconds) of each distribution in its own fresh venv; printed at the end."""
    return _IMPORT_TIMES


def pytest_terminal_summary(terminalreporter):
    if _IMPORT_TIMES:
        terminalreporter.section("import time in a fresh venv")
        for dist, seconds in sorted(_IMPORT_TIMES.items()):
            terminalreporter.write_line(f"{dist:<16} {seconds * 1000:8.1f} ms")
