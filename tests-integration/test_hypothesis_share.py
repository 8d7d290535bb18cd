"""``RLU_HYPOTHESIS_SHARE`` (the root conftest): the runs on other Pythons and at the floors give
each property test that share of its examples, at least 10; unset, every example runs.

A small suite goes through the root conftest's hooks in a subprocess; each test writes a line
per example it runs, and the lines are counted.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from pathlib import Path

import pytest
from workspace import root_conftest

CONFTEST = root_conftest("pytest_collection_modifyitems", "pytest_report_header")

SUITE = """
import os

import pytest
from hypothesis import given, settings, strategies as st


def ran(name):
    with open(os.environ["RUNS_LOG"], "a") as log:
        log.write(name + "\\n")


@settings(max_examples=40, database=None)
@given(st.integers(0, 10**9))
def test_settings_outside(x):
    ran("outside")


@given(st.integers(0, 10**9))
@settings(max_examples=40, database=None)
def test_settings_inside(x):
    ran("inside")


@settings(max_examples=12, database=None)
@given(st.integers(0, 10**9))
def test_few(x):
    ran("few")


@pytest.mark.parametrize("k", [0, 1])
@settings(max_examples=80, database=None)
@given(x=st.integers(0, 10**9))
def test_parametrized(k, x):
    ran(f"parametrized-{k}")


def test_plain():
    ran("plain")


class TestInAClass:
    @settings(max_examples=40, database=None)
    @given(st.integers(0, 10**9))
    def test_method(self, x):
        ran("method")
"""


def _run(tmp_path: Path, share: str | None) -> tuple[subprocess.CompletedProcess[str], dict]:
    suite = tmp_path / f"suite-{share}"
    suite.mkdir()
    (suite / "conftest.py").write_text(CONFTEST)
    (suite / "test_suite.py").write_text(SUITE)
    log = suite / "runs.log"
    env = {k: v for k, v in os.environ.items() if k != "RLU_HYPOTHESIS_SHARE"}
    env["RUNS_LOG"] = str(log)
    if share is not None:
        env["RLU_HYPOTHESIS_SHARE"] = share
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist"]
    out = subprocess.run(
        [*command, "--rootdir", str(suite), str(suite)],
        cwd=suite, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    runs = collections.Counter(log.read_text().split()) if log.exists() else {}
    return out, dict(runs)


def test_a_share_gives_each_property_test_that_share_of_its_examples(tmp_path: Path) -> None:
    out, runs = _run(tmp_path, "0.25")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "property tests: 0.25 of their examples, at least 10" in out.stdout
    # 40 -> 10 whichever order the decorators come in, and for a method; 12 -> 10 (the fewest);
    # 80 -> 20 for each parametrized case; a plain test runs once
    expected = {"outside": 10, "inside": 10, "few": 10, "plain": 1, "method": 10}
    assert runs == {**expected, "parametrized-0": 20, "parametrized-1": 20}


def test_unset_every_example_runs(tmp_path: Path) -> None:
    out, runs = _run(tmp_path, None)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "property tests:" not in out.stdout
    expected = {"outside": 40, "inside": 40, "few": 12, "plain": 1, "method": 40}
    assert runs == {**expected, "parametrized-0": 80, "parametrized-1": 80}


@pytest.mark.parametrize("share", ["0", "1.5", "half"])
def test_a_share_outside_0_to_1_stops_the_run(tmp_path: Path, share: str) -> None:
    out, runs = _run(tmp_path, share)
    assert out.returncode != 0
    assert f"RLU_HYPOTHESIS_SHARE must be a number in (0, 1], got {share!r}" in out.stderr
    assert runs == {}
