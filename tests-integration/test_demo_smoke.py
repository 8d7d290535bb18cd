"""Smoke run of the demo: ``examples/dqn_cartpole.py`` on a tiny budget, end to end.

The script runs as a user would run it, in a subprocess, and must train, write its
checkpoint, learning curve and GIF, reload the checkpoint and print the summary. Learning
is checked by test_examples_learn.py, on a larger budget: a few hundred steps learn nothing.
A second run with the same seed must repeat the first to the bit (same machine, same versions).
The test is skipped where the demo's own dependencies (dm-haiku, optax, matplotlib, tqdm,
gymnasium[classic-control]) are not installed.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[1] / "examples" / "dqn_cartpole.py"
DEMO_DEPENDENCIES = (
    "rlu",
    "haiku",
    "optax",
    "jax",
    "gymnasium",
    "pygame",
    "matplotlib",
    "tqdm",
    "PIL",
)
MISSING = [name for name in DEMO_DEPENDENCIES if importlib.util.find_spec(name) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"demo dependencies missing: {MISSING}")


def _run_demo(workdir: Path) -> tuple[Path, str]:
    """Run the demo on a tiny budget in ``workdir``; return its output folder and its stdout."""
    output_dir = workdir / "out"
    command = [
        sys.executable,
        str(DEMO),
        "--steps", "400",
        "--eval-every", "200",
        "--eval-episodes", "2",
        "--seed", "3",
        "--output-dir", str(output_dir),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"demo failed:\n{result.stdout}\n{result.stderr}"
    return output_dir, result.stdout


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Run the demo once on a tiny budget; return its output folder and its stdout."""
    return _run_demo(tmp_path_factory.mktemp("demo"))


def test_prints_output_dir_batch_and_summary(demo_run: tuple[Path, str]) -> None:
    output_dir, stdout = demo_run
    assert str(output_dir.resolve()) in stdout
    assert "TransitionBatch(" in stdout
    assert "Summary" in stdout
    for row in ("environment steps", "wall time", "evaluation (reloaded)", "files written"):
        assert row in stdout, row


def test_checkpoint_reloads(demo_run: tuple[Path, str]) -> None:
    import rlu

    output_dir, _ = demo_run
    checkpoint = rlu.load(output_dir / "dqn_cartpole.pkl.lz4")
    assert {"params", "greedy_action", "step"} <= set(checkpoint)
    assert 0 < checkpoint["step"] <= 400


def test_learning_curve_is_a_png(demo_run: tuple[Path, str]) -> None:
    from PIL import Image

    output_dir, _ = demo_run
    with Image.open(output_dir / "learning_curve.png") as png:
        assert png.format == "PNG"
        assert png.width > 100 and png.height > 100


def test_gif_is_animated(demo_run: tuple[Path, str]) -> None:
    from PIL import Image

    output_dir, _ = demo_run
    with Image.open(output_dir / "cartpole.gif") as gif:
        assert gif.format == "GIF"
        assert gif.n_frames > 1


def test_log_file_written(demo_run: tuple[Path, str]) -> None:
    output_dir, _ = demo_run
    assert "greedy evaluation return" in (output_dir / "train.log").read_text()


def test_same_seed_gives_the_same_run(
    demo_run: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Same machine, same versions, same seed: the same run, to the bit (README, docs/index.md).

    A second process runs the same command; its learning curve (every training episode's return
    and end step, every evaluation: the PNG), its log and the trained parameters must be those
    of the first. Across CPUs and XLA builds they may differ; that is not tested here.
    """
    import jax
    import numpy as np
    import rlu

    first, first_stdout = demo_run
    second, second_stdout = _run_demo(tmp_path_factory.mktemp("demo-again"))
    png = "learning_curve.png"
    assert (first / png).read_bytes() == (second / png).read_bytes(), "learning curves differ"
    log = [(out / "train.log").read_text().replace(str(out), "OUT") for out in (first, second)]
    assert log[0] == log[1]
    rows = ("environment steps", "checkpoint", "evaluation (reloaded)")
    summary = [
        [line for line in stdout.splitlines() if line.startswith(rows)]
        for stdout in (first_stdout, second_stdout)
    ]
    assert len(summary[0]) == len(rows) and summary[0] == summary[1]
    params = [rlu.load(out / "dqn_cartpole.pkl.lz4")["params"] for out in (first, second)]
    leaves, structure = zip(*map(jax.tree_util.tree_flatten, params), strict=True)
    assert structure[0] == structure[1]
    for a, b in zip(*leaves, strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b)), "trained parameters differ"
