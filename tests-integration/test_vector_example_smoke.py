"""Smoke runs of ``examples/dqn_cartpole_vector.py``: prioritized DQN on a vector environment.

The script runs on a tiny budget, as a user would run it (a subprocess, 8 CartPole environments
in a gymnasium ``AsyncVectorEnv``), and must train, evaluate and print its summary; ``main`` is
called as a function in a fresh interpreter and must return the final evaluation it printed.
Learning is checked by test_examples_learn.py, on a larger budget. The tests are skipped where
the example's own dependencies (dm-haiku, optax, gymnasium) are not installed.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dqn_cartpole_vector.py"
DEPENDENCIES = ("rlu", "haiku", "optax", "jax", "gymnasium")
MISSING = [name for name in DEPENDENCIES if importlib.util.find_spec(name) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"example dependencies missing: {MISSING}")

STEPS = 2_048  # 256 vector steps of 8 environments


def run(command: list[str], cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    assert "deadlock" not in result.stderr, result.stderr  # JAX's warning about os.fork()
    return result.stdout


def figure(label: str, stdout: str) -> list[int]:
    """The integers of a summary row, commas removed: ``environment steps  2,048 of ...``."""
    match = re.search(rf"^\s*{label}\s+(.*)$", stdout, re.MULTILINE)
    assert match is not None, f"no {label!r} row in:\n{stdout}"
    return [int(x.replace(",", "")) for x in re.findall(r"\d[\d,]*", match.group(1))]


@pytest.fixture(scope="module")
def script_stdout(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The output of one run of the script on a tiny budget."""
    workdir = tmp_path_factory.mktemp("vector")
    command = [
        sys.executable,
        str(EXAMPLE),
        "--steps", str(STEPS),
        "--eval-every", "1024",
        "--eval-episodes", "2",
        "--seed", "3",
    ]  # fmt: skip
    return run(command, workdir)


def test_trains_evaluates_and_summarises(script_stdout: str) -> None:
    assert "training on 8 environments" in script_stdout
    assert len(re.findall(r"greedy evaluation", script_stdout)) == 2  # at 1,024 and 2,048
    steps, budget, num_envs, episodes = figure("environment steps", script_stdout)
    assert steps == budget == STEPS and num_envs == 8 and episodes > 0
    updates, batch_size = figure("updates", script_stdout)
    assert updates > 0 and batch_size > 0
    assert re.search(r"final evaluation\s+\d+\.\d ± \d+\.\d over 2 episodes", script_stdout)


def test_reset_steps_are_not_stored(script_stdout: str) -> None:
    # every finished episode is followed by a reset step (gymnasium's next-step autoreset),
    # which the tracer skips; the last steps of each environment (at most n - 1 = 2 each) wait
    # for their n-step return, and the reset steps of the episodes that ended in the last
    # vector step (at most 8) were never taken
    steps, *_, episodes = figure("environment steps", script_stdout)
    stored, n = figure("transitions stored", script_stdout)
    assert n == 3
    assert steps - episodes - 2 * 8 <= stored <= steps - episodes + 8
    assert episodes > 3 * 8  # random play ends many episodes: storing reset steps would show


def test_main_returns_the_final_evaluation(tmp_path: Path) -> None:
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('example', {str(EXAMPLE)!r})\n"
        "example = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(example)\n"
        "result = example.main(['--steps', '1024', '--eval-every', '1024', "
        "'--eval-episodes', '2', '--seed', '1'])\n"
        "print('returned', type(result).__name__, result)\n"
    )
    stdout = run([sys.executable, "-c", code], tmp_path)
    returned = re.search(r"^returned float ([\d.]+)$", stdout, re.MULTILINE)
    printed = re.search(r"final evaluation\s+([\d.]+)", stdout)
    assert returned is not None and printed is not None, stdout
    assert 0.0 < float(returned.group(1)) <= 500.0
    assert f"{float(returned.group(1)):.1f}" == printed.group(1)
