"""JAX trees in programs loaded from JAX's persistent compilation cache give the same answers.

JAX 0.5.1 to 0.10.1 load a program holding the trees' CPU custom calls from that cache wrongly:
the call's output is left unwritten (the descent gave uninitialized memory). Checked on 0.5.1,
0.5.3, 0.6.2, 0.7.2, 0.8.2, 0.9.0, 0.9.2, 0.10.0 and 0.10.1; 0.4.36 to 0.4.38, 0.5.0 and 0.10.2
load it right. Found when CI shared one cache between processes: rlu_trees.jax's probe then
reported wrong results, and sampling went wrong. There, while the cache is on, the trees take
the XLA kernels on the CPU (rlu-trees 0.5.3; 0.5.2 kept programs of other processes out of the
cache, but a process still found its own: a hypothesis test re-jitting one operation failed).
Each run below is a fresh process on one cache folder: the first compiles and writes, the second
may load; within a run, the same operation is jitted afresh, which may load what it wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")

from rlu_trees.jax import _cpu  # noqa: E402

RUN = r"""
import json
import jax, jax.numpy as jnp, numpy as np
from rlu_trees.jax import JaxSumTree, cpu_calls

values = jnp.asarray(np.arange(1000) % 7, jnp.float32)  # every 7th leaf empty
masses = jnp.asarray(np.linspace(0.0, 0.999, 257), jnp.float32)

@jax.jit
def run(values, masses):
    tree = JaxSumTree(1 << 12).set_values(jnp.arange(values.shape[0]), values)
    return tree.root_value, tree.inverse_cdf(masses)

root, leaves = run(values, masses)
# the same operation jitted afresh (a new function each time, as a notebook cell run again):
# JAX traces it anew but keeps the trees' inner traces, so the program is the same as before
again = []
for _ in range(3):
    tree = JaxSumTree(1 << 12).set_values(jnp.arange(values.shape[0]), values)
    again.append(np.asarray(jax.jit(lambda t, u: t.inverse_cdf(u))(tree, masses)).tolist())
status = cpu_calls()
print(json.dumps([float(root), np.asarray(leaves).tolist(), again, status.active, status.reason]))
"""


LATE = r"""
import json, sys
import jax, jax.numpy as jnp, numpy as np
from rlu_trees.jax import JaxSumTree

values = jnp.asarray(np.arange(1000) % 7, jnp.float32)
masses = jnp.asarray(np.linspace(0.0, 0.999, 257), jnp.float32)
tree = JaxSumTree(1 << 12).set_values(jnp.arange(values.shape[0]), values)  # before the cache
first = np.asarray(jax.jit(lambda t, u: t.inverse_cdf(u))(tree, masses)).tolist()
jax.config.update("jax_compilation_cache_dir", sys.argv[1])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
again = [
    np.asarray(jax.jit(lambda t, u: t.inverse_cdf(u))(tree, masses)).tolist() for _ in range(4)
]
print(json.dumps([first, again]))
"""


def _brute_force() -> tuple[float, list[int]]:
    """The total of the scripts' values, and the leaf each of their masses lands on."""
    values = np.arange(1000) % 7
    cumulative = np.cumsum(values, dtype=np.float64)
    masses = np.linspace(0.0, 0.999, 257, dtype=np.float32).astype(np.float64)
    # the first leaf whose cumulative sum exceeds u * total (u * total < total)
    leaves = np.searchsorted(cumulative, masses * cumulative[-1], side="right").tolist()
    return float(cumulative[-1]), leaves


def test_a_tree_made_before_the_cache_is_turned_on_answers_right_after(tmp_path: Path):
    # the cache turned on in the process (jax.config) after a tree was made and used: the same
    # operation jitted afresh must not load its programs back wrongly (0.5.1 to 0.10.1 did)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_PERSISTENT_CACHE")}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    out = subprocess.run(
        [sys.executable, "-c", LATE, str(tmp_path / "cache")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    first, again = json.loads(out.stdout.strip().splitlines()[-1])
    _, expected = _brute_force()
    assert first == expected
    for k, other in enumerate(again):
        assert other == expected, f"the operation jitted afresh ({k}) with the cache on differs"


def test_programs_loaded_from_the_persistent_cache_give_the_same_answers(tmp_path: Path):
    total, expected = _brute_force()
    env = {
        **os.environ,
        "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "cache"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }
    for run in range(2):
        out = subprocess.run(
            [sys.executable, "-c", RUN], capture_output=True, text=True, env=env, timeout=300
        )
        assert out.returncode == 0, out.stderr
        root, leaves, again, active, reason = json.loads(out.stdout.strip().splitlines()[-1])
        assert root == total, run
        assert leaves == expected, f"run {run} gave other leaves"
        for k, other in enumerate(again):
            assert other == expected, f"run {run}: the operation jitted afresh ({k}) differs"
        # the custom calls stay in use where JAX can make them and its cache loads them right
        # (they pass the probe each time); else the XLA kernels, and the status says why
        assert active == (_cpu._ffi() is not None and not _cpu._CACHE_LOADS_WRONG), (run, reason)
        if _cpu._CACHE_LOADS_WRONG:
            assert "persistent compilation cache is on" in reason
    assert any((tmp_path / "cache").iterdir()), "JAX wrote nothing to the persistent cache"
