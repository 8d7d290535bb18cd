"""Each distribution, built as a wheel and installed alone into a fresh virtual environment,
imports, and pulls in exactly the closure of its declared dependencies, nothing more.

The closure is computed here from the installed metadata (packaging's requirement and
marker evaluation), so a dependency that sneaks in (jax under rlu-trees, say) fails the test,
and so does an import that reaches for a library the distribution does not declare.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from landed import LANDED
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
PACKAGES = REPO / "packages"

# Third-party libraries that must never arrive with a distribution, named for a readable
# failure on top of the closure check (which catches any undeclared arrival).
NEVER = {
    "rlu-core": {"numpy", "jax", "numba", "gymnasium", "torch"},
    "rlu-noise": {"jax", "numba", "gymnasium", "torch"},
    "rlu-trees": {"jax", "jaxlib", "gymnasium", "torch"},
    "rlu-serialize": {"numpy", "jax", "numba", "gymnasium", "torch"},
    "rlu-jaxtools": {"numba", "gymnasium", "dm-haiku", "torch"},
    "rlu-quantiles": {"numba", "gymnasium", "dm-haiku", "torch"},
    "rlu-envtools": {"jax", "jaxlib", "dm-control", "mujoco", "numba", "torch"},
    "rlu": {"torch", "dm-haiku"},
}
DISTRIBUTIONS = {dist: NEVER[dist] for dist in (*LANDED, "rlu")}

PROBE = r"""
import importlib, importlib.metadata as md, json, sys, time
before = set(sys.modules)
t0 = time.perf_counter()
importlib.import_module(sys.argv[1])
seconds = time.perf_counter() - t0
new_top = sorted({m.split(".")[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names))
dists = {d.metadata["Name"]: (d.requires or []) for d in md.distributions()}
owners = {k: v for k, v in md.packages_distributions().items()}
print(json.dumps({"seconds": seconds, "new_top": new_top, "dists": dists, "owners": owners}))
"""


def _uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


def _project(dist: str) -> dict:
    return tomllib.loads((PACKAGES / dist / "pyproject.toml").read_text())["project"]


def _local_deps(dist: str) -> set[str]:
    """The rlu distributions that ``dist`` needs, itself included (declared deps and extras)."""
    needed, todo = set(), [dist]
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        for spec in _project(name).get("dependencies", []):
            req = Requirement(spec)
            if not req.name.startswith("rlu-"):
                continue
            todo.append(req.name)
            extras = _project(req.name).get("optional-dependencies", {})
            for extra in req.extras:
                todo.extend(
                    r.name for r in map(Requirement, extras[extra]) if r.name.startswith("rlu-")
                )
    return needed


def _closure(root: str, dists: dict[str, list[str]]) -> set[str]:
    """Canonical names of every distribution that ``root``'s requirements reach."""
    requires = {canonicalize_name(k): v for k, v in dists.items()}
    names: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(canonicalize_name(root), frozenset[str]())]
    while todo:
        item = todo.pop()
        if item in seen:
            continue
        seen.add(item)
        name, extras = item
        names.add(name)
        for spec in requires.get(name, []):
            req = Requirement(spec)
            if req.marker and not any(req.marker.evaluate({"extra": e}) for e in extras or {""}):
                continue
            todo.append((canonicalize_name(req.name), frozenset(req.extras)))
    return names


@pytest.fixture(scope="session")
def wheels(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("wheels")
    for dist in DISTRIBUTIONS:
        for local in _local_deps(dist):
            if not list(out.glob(f"{local.replace('-', '_')}-*.whl")):
                subprocess.run(
                    [
                        _uv(),
                        "build",
                        "--wheel",
                        "--quiet",
                        "--out-dir",
                        str(out),
                        str(PACKAGES / local),
                    ],
                    check=True,
                )
    return {
        dist: next(out.glob(f"{dist.replace('-', '_')}-*.whl"))
        for dist in {d for dist in DISTRIBUTIONS for d in _local_deps(dist)}
    }


@pytest.mark.parametrize("dist", sorted(DISTRIBUTIONS))
def test_installs_alone_with_only_its_declared_dependencies(dist, wheels, tmp_path, import_times):
    venv = tmp_path / "venv"
    subprocess.run([_uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    requirements = [str(wheels[d]) for d in sorted(_local_deps(dist))]
    subprocess.run(
        [
            _uv(),
            "pip",
            "install",
            "--quiet",
            "--compile-bytecode",
            "--python",
            str(python),
            *requirements,
        ],
        check=True,
    )
    module = dist.replace("-", "_")
    probe = subprocess.run(
        [str(python), "-c", PROBE, module], capture_output=True, text=True, check=True
    )
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    installed = {canonicalize_name(name) for name in report["dists"]}
    expected = _closure(dist, report["dists"])

    assert installed == expected, (
        f"{dist} brought {sorted(installed - expected)} beyond its declared dependencies"
        f" and lacks {sorted(expected - installed)}"
    )
    assert not {canonicalize_name(n) for n in DISTRIBUTIONS[dist]} & installed

    owners = report["owners"]
    strays = [
        top
        for top in report["new_top"]
        if not {canonicalize_name(o) for o in owners.get(top, [])} & expected
    ]
    assert not strays, f"import {module} loaded modules of undeclared distributions: {strays}"
    import_times[dist] = report["seconds"]
