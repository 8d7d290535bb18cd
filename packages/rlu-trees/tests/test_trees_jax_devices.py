"""rlu_trees.jax on several devices: a vmapped batch of trees split over four CPU devices by a
sharded ``jit`` (a fresh process: ``XLA_FLAGS`` sets the device count once per process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("jax")

_SPLIT_TREES = """
import json, re
import jax, jax.numpy as jnp, numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from rlu_trees.jax import JaxMinTree, JaxSumTree

def step(sums, mins, idx, values, key):
    sums, mins = sums.set_values(idx, values), mins.set_values(idx, values)
    return sums, mins, sums.sample(key, 16), mins.root_value

rng = np.random.default_rng(0)
sums = jax.vmap(lambda _: JaxSumTree(1000))(jnp.arange(4))
mins = jax.vmap(lambda _: JaxMinTree(1000))(jnp.arange(4))
idx = jnp.asarray(rng.integers(0, 1000, (4, 64)), jnp.int32)
values = jnp.asarray(rng.random((4, 64)), jnp.float32)
keys = jax.random.split(jax.random.key(0), 4)
split = NamedSharding(Mesh(np.array(jax.devices()), ("d",)), P("d"))
args = (sums, mins, idx, values, keys)
want = jax.jit(jax.vmap(step))(*args)
placed = jax.device_put(args, split)
report = {"devices": len(jax.devices()), "runs": []}

# one sharded run of the step: one device's bits or not, its all-gathers, how it is split
def measure(name, placed):
    jax.clear_caches()
    run = jax.jit(jax.vmap(step))
    got = run(*placed)
    same = all(np.asarray(a).tobytes() == np.asarray(b).tobytes()
               for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(got)))
    text = run.lower(*placed).compile().as_text()
    report["runs"].append({"shardy": name, "same": same,
                           "all_gathers": len(re.findall(r" all-gather\\(", text)),
                           "split": [str(a.sharding.spec) for a in jax.tree.leaves(got[:2])]})

# both of JAX's partitioners: Shardy (the default from JAX 0.7), and GSPMD; on JAX 0.5 to
# 0.7.1 Shardy takes the rule without its list of factors to keep whole. Older JAX has GSPMD
# only (no such option).
known = hasattr(jax.config, "jax_use_shardy_partitioner")
for shardy in (True, False) if known else (None,):
    if known:
        jax.config.update("jax_use_shardy_partitioner", shardy)
    measure(shardy, placed)
# an explicit-axis mesh, where every value's type holds its sharding (JAX 0.7 and later): the
# calls' results were typed replicated, and a vmapped step raised or gathered every tree
if jax.__version_info__ >= (0, 7):
    from jax.sharding import AxisType
    jax.config.update("jax_use_shardy_partitioner", True)
    mesh = jax.make_mesh((4,), ("d",), axis_types=(AxisType.Explicit,))
    with jax.set_mesh(mesh):
        measure("explicit", jax.device_put(args, NamedSharding(mesh, P("d"))))
print(json.dumps(report))
"""


def test_a_batch_of_trees_stays_split_over_devices() -> None:
    """Four trees on four CPU devices (a vmapped batch, sharded by a jit, under both
    partitioners and an explicit-axis mesh): writes and draws
    stay on each tree's device (no all-gather: XLA gathered the whole batch onto every
    device before each custom call) and give the one-device results (a fresh process: the
    device count is read once per process)."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    env["JAX_PLATFORMS"] = "cpu"
    done = subprocess.run(
        [sys.executable, "-c", _SPLIT_TREES], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    import jax

    # Shardy, GSPMD and an explicit-axis mesh; JAX before 0.7: no explicit axes, and before
    # 0.5 GSPMD only
    runs = (3,) if jax.__version_info__ >= (0, 7) else (1, 2)
    assert report["devices"] == 4 and len(report["runs"]) in runs
    for run in report["runs"]:
        assert run["same"] and run["all_gathers"] == 0, run
        assert all(spec.startswith(("PartitionSpec('d'", "P('d'")) for spec in run["split"]), run
