"""Smoke run of ``examples/apex_dqn_ray.py`` on a tiny budget, end to end.

The script runs as a user would run it, in a subprocess with its own local Ray: actors,
shards and learner start, a few hundred updates run, and the summary with the throughput is
printed. Learning is checked by test_examples_learn.py, on a larger budget.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "apex_dqn_ray.py"


def test_apex_runs_and_prints_throughput(tmp_path: Path) -> None:
    command = [
        sys.executable, str(EXAMPLE),
        "--seconds", "60",
        "--max-updates", "200",
        "--min-replay", "300",
        "--eval-every", "100",
        "--chunk", "100",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"apex failed:\n{result.stdout}\n{result.stderr}"
    assert "Ape-X DQN, 2 actors, 2 shards" in result.stdout
    assert "transitions stored/s" in result.stdout and "updates/s" in result.stdout
    assert "greedy" in result.stdout
