"""Every example that learns is run on a fixed, small budget, and must have learned.

The smoke tests beside this file check that the examples run and write what they should
(for the jitted, the Ape-X and the gymnax examples, whose smoke runs repeated these on a
smaller budget, the tests here check their summaries and plots too); these check that the
agent they train is better than chance, so a change that breaks learning while the code still
runs fails the suite. A random policy scores about 22 on
CartPole-v1 (always pushing one way: about 9). Budgets are counted in environment steps or
learner updates, never in seconds, so a slow or busy CPU changes the run time, not the
result. Each budget and threshold was chosen from runs over several seeds (written beside
each test): every seed tried cleared its threshold with a margin, and each test runs the seed
that did worst.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MISSING = [m for m in ("haiku", "optax", "jax", "gymnasium") if importlib.util.find_spec(m) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"example dependencies missing: {MISSING}")
RANDOM_POLICY = 22.0


def run(script: str, *args: str, cwd: Path, timeout: float = 600) -> str:
    command = [sys.executable, str(EXAMPLES / script), *args]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def number_after(label: str, text: str) -> float:
    match = re.search(rf"{label}\s+(-?[\d.]+)", text)
    assert match is not None, f"no {label!r} in:\n{text}"
    return float(match.group(1))


def test_host_per_dqn_learns(tmp_path: Path) -> None:
    # 10,000 steps, seeds 0-5: the reloaded checkpoint scored 447, 369, 297, 302, 259 and 302
    # on fresh episodes (seeds 1-3 reached the target after 2,000 steps and stopped)
    stdout = run(
        "dqn_cartpole.py",
        "--steps", "10000",
        "--eval-every", "1000",
        "--eval-episodes", "5",
        "--target-return", "300",
        "--no-gif",
        "--seed", "4",
        "--output-dir", str(tmp_path / "out"),
        cwd=tmp_path,
    )  # fmt: skip
    reloaded = number_after(r"evaluation \(reloaded\)", stdout)
    assert reloaded >= 150.0 > 6 * RANDOM_POLICY, stdout


def test_jitted_per_dqn_learns(tmp_path: Path) -> None:
    # 8,000 steps, seeds 0-3: best greedy evaluation 145, 168, 207 and 285 (with the buffer of
    # rlu_replay.jax; 482, 135, 342 and 342 with the example's own buffer before)
    stdout = run(
        "dqn_cartpole_jit.py",
        "--steps", "8000",
        "--eval-every", "1000",
        "--eval-episodes", "5",
        "--target-return", "300",
        "--seed", "1",
        cwd=tmp_path,
    )  # fmt: skip
    best = number_after("best greedy return", stdout)
    assert best >= 100.0 > 4 * RANDOM_POLICY, stdout
    # what its smoke run checked, before it was folded in here: the summary, with its step count
    assert "Summary" in stdout and 1000 <= number_after("environment steps", stdout) <= 8000


def test_vector_env_per_dqn_learns(tmp_path: Path) -> None:
    # 20,000 environment steps over 8 CartPole environments in an AsyncVectorEnv, seeds 0-15:
    # the best parameters scored 267, 375, 337, 346, 254, 342, 263, 333, 265, 244, 298, 341,
    # 283, 362, 287 and 402 on 10 fresh episodes (half of the seeds reached the target after
    # 4,000-8,000 steps and stopped)
    stdout = run(
        "dqn_cartpole_vector.py",
        "--steps", "20000",
        "--eval-every", "2000",
        "--eval-episodes", "10",
        "--target-return", "300",
        "--seed", "9",
        cwd=tmp_path,
    )  # fmt: skip
    final = number_after("final evaluation", stdout)
    assert final >= 150.0 > 6 * RANDOM_POLICY, stdout


def test_apex_dqn_on_ray_learns(tmp_path: Path) -> None:
    # Ape-X is asynchronous (which parameters an actor holds depends on timing), so runs of one
    # seed differ; the actors' pacing ties environment steps to learner updates, so the budget
    # is in updates. 4,000 updates, seeds 0-3: final greedy return (10 episodes) 405, 135, 118
    # and 489; every periodic evaluation after 1,000 updates was at least 107.
    pytest.importorskip("ray")
    stdout = run(
        "apex_dqn_ray.py",
        "--seconds", "1200",
        "--max-updates", "4000",
        "--eval-every", "500",
        "--target-return", "300",
        "--seed", "2",
        cwd=tmp_path,
    )  # fmt: skip
    summary = stdout.split("\nApe-X DQN", 1)[1]
    final = number_after("greedy return", summary)
    assert final >= 75.0 > 3 * RANDOM_POLICY, stdout
    # what its smoke run checked, before it was folded in here: the summary's throughput lines
    assert summary.startswith(", 2 actors, 2 shards"), stdout
    assert "transitions stored/s" in summary and "updates/s" in summary, stdout


def test_scanned_gymnax_dqn_learns(tmp_path: Path) -> None:
    # 20,000 steps per seed, 4 seeds in one vmap, keys 0-3: mean returns over the 4 seeds 167,
    # 175, 143 and 175, the lowest single seed 99.8 (key 2, run here); 16 seeds of key 0: 130
    # to 214
    missing = [m for m in ("gymnax", "matplotlib") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"example dependencies missing: {missing}")
    stdout = run(
        "dqn_gymnax_scan.py",
        "--steps", "20000",
        "--seeds", "4",
        "--seed", "2",
        "--output-dir", str(tmp_path / "out"),
        cwd=tmp_path,
    )  # fmt: skip
    mean = number_after("return over seeds: mean", stdout)
    lowest = number_after("lowest", stdout)
    assert mean >= 100.0 > 4 * RANDOM_POLICY, stdout
    assert lowest >= 50.0 > 2 * RANDOM_POLICY, stdout
    # what its smoke run checked, before it was folded in here: one line per seed, the plot
    assert "4 seeds x 20,000 steps in one jit" in stdout
    for seed in range(4):
        assert f"seed  {seed}:" in stdout
    assert (tmp_path / "out" / "learning_curve.png").stat().st_size > 10_000
