"""Shared helpers for the rlu-serialize tests."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run_python(code: str, *, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter and return the finished process."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


@pytest.fixture
def python_runner():
    return run_python
