"""Smoke run of ``examples/dqn_cartpole_jit.py`` (the fully jitted prioritized-DQN update).

Runs the example as a user would, in a subprocess, on a tiny budget: it must train through
the jitted update (JaxSumTree / JaxMinTree inside ``jax.jit``) and print its summary.
Learning is checked by test_examples_learn.py. Skipped where the example's dependencies are missing.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dqn_cartpole_jit.py"
MISSING = [m for m in ("haiku", "optax", "jax", "gymnasium") if importlib.util.find_spec(m) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"example dependencies missing: {MISSING}")


def test_jitted_dqn_runs_on_a_tiny_budget(tmp_path: Path) -> None:
    command = [
        sys.executable,
        str(EXAMPLE),
        "--steps",
        "300",
        "--eval-every",
        "300",
        "--eval-episodes",
        "1",
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"example failed:\n{result.stdout}\n{result.stderr}"
    assert "Summary" in result.stdout
    assert "environment steps   300" in result.stdout
    assert "greedy return" in result.stdout
