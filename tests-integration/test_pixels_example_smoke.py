"""Smoke run of ``examples/dqn_pixels.py`` (prioritized DQN from stacked frames, each stored once).

Runs the example as a user would, in a subprocess, on a tiny budget: it must render CartPole,
stack its frames, train from the buffer and report the buffer's memory. The frames it stored
must be about one per transition, where stacks stored whole would take eight (two stacks of
four); learning is not asserted: CartPole from pixels needs tens of thousands of steps on a
CPU, beyond the suite's budget (the example's docstring says what a full run reaches).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dqn_pixels.py"
MISSING = [
    m
    for m in ("haiku", "optax", "jax", "gymnasium", "pygame")
    if importlib.util.find_spec(m) is None
]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"example dependencies missing: {MISSING}")


def test_pixel_dqn_runs_and_stores_each_frame_once(tmp_path: Path) -> None:
    command = [sys.executable, str(EXAMPLE), "--steps", "300", "--eval-every", "300",
               "--eval-episodes", "1"]  # fmt: skip
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"example failed:\n{result.stdout}\n{result.stderr}"
    assert "best greedy return" in result.stdout
    found = re.search(r"replay: ([\d,]+) transitions, ([\d,]+) frames stored", result.stdout)
    assert found is not None, result.stdout
    transitions, frames = (int(x.replace(",", "")) for x in found.groups())
    assert transitions > 250  # 300 steps, less the last n - 1 of the open episode
    assert frames <= 1.2 * transitions  # about one frame each, where whole stacks take 8
    ratio = float(re.search(r"\(ratio ([\d.]+)\)", result.stdout).group(1))
    assert ratio <= 0.15, result.stdout
