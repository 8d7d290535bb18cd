"""`hatch test`'s worker groups hold: tests that must share a worker (one Ray, one docs build, a
module's costly fixture) get one, under the pytest and pytest-xdist installed here.

pytest 9.2 silently undid xdist's groups (pytest-dev/pytest-xdist#1386): every test was dealt on
its own, a Ray started per worker and the docs were built twice, and nothing failed. This runs a
small suite through the root conftest's grouping on two workers and reads where each test ran.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest
from workspace import root_conftest

CONFTEST = root_conftest("pytest_collection_modifyitems")

SHARED = """
import os
import pytest

@pytest.fixture(scope="module")
def costly():
    with open(os.environ["BUILT_LOG"], "a") as log:
        log.write("built\\n")
    return 1

@pytest.mark.parametrize("i", range(6))
def test_shares_the_fixture(costly, i):
    assert costly == 1
"""

FREE = """
import pytest

@pytest.mark.parametrize("i", range(8))
def test_alone(i):
    pass
"""

RAY_LIKE = """
import pytest

@pytest.mark.parametrize("i", range(4))
def test_would_start_ray(i):
    pass
"""


def test_groups_share_a_worker_and_a_module_fixture_is_built_once(tmp_path):
    pytest.importorskip("xdist")
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_shared.py").write_text(textwrap.dedent(SHARED))
    (tmp_path / "test_free.py").write_text(textwrap.dedent(FREE))
    (tmp_path / "test_ray_like.py").write_text(textwrap.dedent(RAY_LIKE))
    built = tmp_path / "built.log"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-v",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-o",
            "addopts=",
            str(tmp_path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "BUILT_LOG": str(built), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ran = re.findall(r"\[(gw\d+)\][^\n]*?PASSED (\S+)", proc.stdout)
    assert len(ran) == 18, proc.stdout
    workers: dict[str, set[str]] = {}
    for worker, nodeid in ran:
        workers.setdefault(nodeid.split("::")[0], set()).add(worker)
        if nodeid.startswith(("test_ray_like.py", "test_shared.py")):
            assert re.search(r"@(ray|test_shared\.py)$", nodeid), nodeid  # the group's mark
        else:
            assert "@" not in nodeid, nodeid
    assert len(workers["test_ray_like.py"]) == 1 and len(workers["test_shared.py"]) == 1
    assert built.read_text() == "built\n"  # once, not once per worker
