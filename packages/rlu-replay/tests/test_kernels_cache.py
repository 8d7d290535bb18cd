"""The priority kernels' numba cache, shared by processes that start together (Ray shards).

Found in CI: shards starting together died loading ``min_repair``'s cached code while another
process was saving it (numba writes a kernel's index before the data file it names). rlu-trees'
harness ``numba_cache_race.py`` holds such a save open, with stale bytes in the file.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

# rlu-trees' harness: a process loading a kernel while another saves it (see its docstring)
CACHE_RACE = Path(__file__).parents[2] / "rlu-trees" / "tests" / "numba_cache_race.py"


@pytest.mark.skipif(not CACHE_RACE.exists(), reason="needs the repository's rlu-trees tests")
def test_a_minimum_loaded_while_its_kernel_is_saved_waits_for_the_save(tmp_path):
    setup = "import numpy as np\nfrom rlu_replay._minimum import BlockMinimum"
    operation = (
        "p = np.array([3.0, 1.0, 2.0, 0.0])\n"
        "m = BlockMinimum(4)\n"
        "m.rebuild(p, filled=3)\n"
        "old = p[[1]].copy()\n"
        "p[1] = 5.0\n"
        "m.repair(p, 3, np.array([1]), old)\n"
        "print(m.value)\n"
    )
    spec = importlib.util.spec_from_file_location("numba_cache_race", CACHE_RACE)
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    wrote, read = harness.race(tmp_path, "_kernels.", setup, operation)
    assert wrote == read == f"{min(2.0, 5.0)}\n"  # the minimum of p[:3] = [3, 5, 2]


def test_every_kernel_of_the_minimum_and_the_update_locks_its_cache():
    from rlu_replay import _kernels
    from rlu_trees._numba_cache import LockedCache

    for name in ("_children_min", "min_repair", "min_rebuild"):
        assert isinstance(getattr(_kernels, name)._cache, LockedCache), name
