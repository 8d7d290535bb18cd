"""``import rlu`` stays light: measured in a fresh interpreter, which modules got imported."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("jax", "jaxlib", "gymnasium", "dm_control", "mujoco", "numba", "torch", "numpy")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return {m.split(".")[0] for m in json.loads(out.stdout.strip().splitlines()[-1])}


def test_import_rlu_loads_no_heavy_library():
    loaded = _modules_after("import rlu, rlu.utils")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    assert not {m for m in loaded if m.startswith("rlu_")}, "no distribution loads before use"


def test_schedule_loads_numpy_but_no_jax():
    loaded = _modules_after("import rlu\nrlu.StepwiseLinearFunction((0, 1.0), (10, 0.0))(5)")
    assert "rlu_noise" in loaded
    assert not loaded & {"jax", "jaxlib", "numba", "gymnasium", "dm_control", "torch"}
    assert not loaded & {"rlu_trees", "rlu_jaxtools", "rlu_envtools", "rlu_serialize"}


def test_core_helper_loads_only_rlu_core():
    loaded = _modules_after("import rlu\nrlu.pretty_repr({'a': 1})")
    assert {m for m in loaded if m.startswith("rlu")} == {"rlu", "rlu_core"}
    assert not loaded & set(HEAVY)


def test_transition_batch_loads_rlu_core_and_numpy_only():
    code = (
        "import rlu, rlu.utils\n"
        "tb = rlu.TransitionBatch.from_single(s=[0.0], a=0, logp=0.0, r=1.0, terminated=False,"
        " gamma=0.9)\n"
        "chunks = list(rlu.utils.chunks_pow2(tb))\n"
        "assert rlu.utils.TransitionBatch.concatenate(chunks) == tb\n"
    )
    loaded = _modules_after(code)
    assert {m for m in loaded if m.startswith("rlu")} == {"rlu", "rlu_core"}
    assert "numpy" in loaded
    assert not loaded & {"gymnasium", "PIL", "jax", "jaxlib", "numba", "dm_control", "torch"}
