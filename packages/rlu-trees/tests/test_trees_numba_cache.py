"""Processes that share numba's cache folder never load a kernel another process is saving.

numba writes a cache index before the data file it names, so a process loading in between read
whatever that file held before (another signature, an older source, another numba version): CI
saw Ray shards die in ``CompileResult._rebuild`` when they started together. The harness
``numba_cache_race.py`` holds a save open at exactly that point, with stale bytes in the file.
"""

from __future__ import annotations

import importlib.util
import pathlib
from typing import Any

import numba
import numpy as np
import pytest
from rlu_trees import _numba_kernels
from rlu_trees._numba_cache import LockedCache

HARNESS = pathlib.Path(__file__).with_name("numba_cache_race.py")


def load_harness() -> Any:
    spec = importlib.util.spec_from_file_location("numba_cache_race", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


race = load_harness().race


def test_a_tree_loaded_while_its_kernel_is_saved_waits_for_the_save(tmp_path: pathlib.Path) -> None:
    values = np.arange(8.0)
    operation = (
        "t = rlu_trees.SumTree(8)\n"
        "t.set_values(np.arange(8), np.arange(8.0))\n"
        "print(t.partial_reduce(2, 5), t.root_value)\n"
    )
    wrote, read = race(tmp_path, "_numba_kernels.", "import numpy as np, rlu_trees", operation)
    expected = f"{values[2:5].sum()} {values.sum()}\n"
    assert wrote == read == expected


def test_a_jax_kernel_loaded_while_it_is_saved_waits_for_the_save(tmp_path: pathlib.Path) -> None:
    pytest.importorskip("jax")
    setup = "from rlu_trees.jax._cpu_kernels import compile_kernel"
    operation = "print(compile_kernel(('set', 'float64')).address != 0)"
    wrote, read = race(tmp_path, "_cpu_kernels.set_float64", setup, operation)
    assert wrote == read == "True\n"


def test_every_compiled_kernel_locks_its_cache() -> None:
    dispatchers = [
        value
        for value in vars(_numba_kernels).values()
        if isinstance(value, numba.core.dispatcher.Dispatcher)
    ]
    assert len(dispatchers) >= 5
    for dispatcher in dispatchers:
        assert isinstance(dispatcher._cache, LockedCache), dispatcher.py_func.__name__


def test_a_kernel_compiles_again_when_a_file_it_depends_on_changes(tmp_path: pathlib.Path) -> None:
    """numba checks a cached kernel against its own file only: rlu-replay's compiled add calls
    rlu-trees' walks, and loaded old machine code after they changed. A kernel cached with
    ``depends`` compiles again when one of those files changes."""
    import subprocess
    import sys

    (tmp_path / "dep.py").write_text(
        "import numba\n\n@numba.njit(cache=True)\ndef value():\n    return 1\n"
    )
    (tmp_path / "kern.py").write_text(
        "import dep\n"
        "from rlu_trees import _numba_cache\n\n"
        "def _read():\n"
        "    return dep.value() * 10\n\n"
        "read = _numba_cache.njit(_read, depends=(dep.__file__,))\n"
    )
    env = {**__import__("os").environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import kern; print(kern.read())"

    def run() -> str:
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
        )
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout.strip()

    assert run() == "10" and run() == "10"  # compiled, then loaded from the cache
    (tmp_path / "dep.py").write_text(
        "import numba\n\n@numba.njit(cache=True)\ndef value():\n    return 2\n"
    )
    assert run() == "20"
