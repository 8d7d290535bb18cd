"""Type checkers see through the lazy meta-package: real signatures, unknown names reported.

A user script that reaches every name through ``rlu`` / ``rlu.utils`` is checked with mypy and
pyright as a user's IDE would. Each deliberate mistake must be reported on its own line, and
the correct lines must pass, so the stubs can neither hide errors nor invent them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

USER_SCRIPT = """\
import rlu
import rlu.utils

tree = rlu.SumTree(capacity=8)
total: float = tree.root_value
merged: dict[str, int] = rlu.utils.merge_dicts({"a": 1}, {"b": 2})
schedule = rlu.StepwiseLinearFunction((0, 1.0), (10, 0.1))
data = rlu.dumps({"tree": tree})
rlu.SumTre(8)  # line 9: a misspelt name
rlu.SumTree("big")  # line 10: a wrong argument type
rlu.utils.pretty_repr(1, indent="two")  # line 11: no such keyword / wrong type
rlu.utils.no_such_function()  # line 12: not in rlu.utils
single = rlu.TransitionBatch.from_single([0.0], 0, 0.0, 1.0, False, 0.9)
size: int = rlu.utils.TransitionBatch.concatenate([single, single]).batch_size
rlu.TransitionBatch.concatenate(size)  # line 15: an int is not a sequence of batches
"""
ERROR_LINES = {9, 10, 11, 12, 15}


def _script(tmp_path: Path) -> Path:
    path = tmp_path / "user_script.py"
    path.write_text(USER_SCRIPT)
    return path


def test_mypy_reports_each_mistake_and_nothing_else(tmp_path: Path) -> None:
    script = _script(tmp_path)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--config-file=",
            str(script),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    lines = {int(m) for m in re.findall(r"user_script\.py:(\d+): error", out.stdout)}
    assert lines == ERROR_LINES, out.stdout
    assert 'has no attribute "SumTre"' in out.stdout


def test_pyright_reports_each_mistake_and_nothing_else(tmp_path: Path) -> None:
    pyright = shutil.which("pyright")
    if pyright is None:
        pytest.skip("pyright is not installed: pip install 'pyright[nodejs]'")
    script = _script(tmp_path)
    (tmp_path / "pyrightconfig.json").write_text(
        json.dumps({"typeCheckingMode": "strict", "pythonVersion": "3.10"})
    )
    out = subprocess.run(
        [pyright, "--outputjson", "--pythonpath", sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    report = json.loads(out.stdout)
    errors = [d for d in report["generalDiagnostics"] if d["severity"] == "error"]
    lines = {d["range"]["start"]["line"] + 1 for d in errors}
    assert lines == ERROR_LINES, json.dumps(errors, indent=1)


def test_meta_stubs_match_the_name_table() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "meta_stubs.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
