"""Smoke run of ``examples/dqn_gymnax_scan.py``: seeds under ``vmap``, the loop one ``lax.scan``.

Runs the example as a user would, in a subprocess, on a tiny budget: it must compile the whole
run (gymnax's CartPole, rlu_replay.jax's prioritized buffer, the DQN update) for two seeds,
print each seed's return and write the learning curve. Learning is checked by
test_examples_learn.py.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dqn_gymnax_scan.py"
NEEDED = ("gymnax", "haiku", "optax", "jax", "matplotlib")
MISSING = [m for m in NEEDED if importlib.util.find_spec(m) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"example dependencies missing: {MISSING}")


def test_the_scanned_run_of_two_seeds_reports_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, str(EXAMPLE), "--steps", "2000", "--seeds", "2",
               "--output-dir", str(out)]  # fmt: skip
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"example failed:\n{result.stdout}\n{result.stderr}"
    assert "2 seeds x 2,000 steps in one jit" in result.stdout
    for seed in (0, 1):
        assert f"seed  {seed}:" in result.stdout
    assert "return over seeds: mean" in result.stdout
    assert (out / "learning_curve.png").stat().st_size > 10_000
