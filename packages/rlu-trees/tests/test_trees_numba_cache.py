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
