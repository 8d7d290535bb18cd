"""The gymnax example on the least budget it accepts (``examples/dqn_gymnax_scan.py``).

Found by trying rlu as a user: with ``--steps 16 --seeds 1`` no episode of CartPole ends, and
the script printed ``nan`` returns among numpy's "Mean of empty slice" warnings. It must say
that no episode ended, warn about nothing, and still write its plot. Learning is checked by
test_examples_learn.py, on a larger budget.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dqn_gymnax_scan.py"
DEPENDENCIES = ("rlu", "haiku", "optax", "jax", "gymnax", "matplotlib")
MISSING = [name for name in DEPENDENCIES if importlib.util.find_spec(name) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"example dependencies missing: {MISSING}")


def test_a_budget_too_short_for_any_episode_says_so(tmp_path: Path) -> None:
    command = [
        sys.executable, "-W", "error::RuntimeWarning", str(EXAMPLE),
        "--steps", "16", "--seeds", "1", "--output-dir", str(tmp_path / "out"),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "RuntimeWarning" not in done.stderr, done.stderr
    assert "nan" not in done.stdout, done.stdout
    assert "seed  0:     0 episodes (none ended)" in done.stdout, done.stdout
    assert "no episode ended in 16 steps per seed" in done.stdout, done.stdout
    assert (tmp_path / "out" / "learning_curve.png").stat().st_size > 0
