"""Each distribution, built as a wheel and installed alone into a fresh virtual environment,
imports, and pulls in exactly the closure of its declared dependencies, nothing more.

The closure is computed here from the installed metadata (packaging's requirement and
marker evaluation), so a dependency that sneaks in (jax under rlu-trees, say) fails the test,
and so does an import that reaches for a library the distribution does not declare. Installs
go by name with the built wheels as the only source of rlu's own distributions (find-links):
the workspace sources are invisible to these venvs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from workspace import DISTRIBUTIONS, release_tool

pytestmark = pytest.mark.slow


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

PROBE = r"""
import importlib, importlib.metadata as md, inspect, json, sys, sysconfig, time
before = set(sys.modules)
t0 = time.perf_counter()
importlib.import_module(sys.argv[1])
seconds = time.perf_counter() - t0
site = sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]
new_top = sorted({
    name.split(".")[0]
    for name in set(sys.modules) - before
    if (getattr(sys.modules[name], "__file__", None) or "").startswith(site)
})
dists = {d.metadata["Name"]: (d.requires or []) for d in md.distributions()}
# Who owns each top-level module, as md.packages_distributions() says on Python 3.11+: a wheel's
# top_level.txt, else (hatchling writes none) the top names in its RECORD. On 3.10 that function
# reads top_level.txt only, and so misses every hatchling-built wheel.
owners = {}
for d in md.distributions():
    tops = (d.read_text("top_level.txt") or "").split() or [
        f.parts[0] if len(f.parts) > 1 else inspect.getmodulename(f.name) or f.name
        for f in d.files or ()
    ]
    for top in dict.fromkeys(t for t in tops if "." not in t):
        owners.setdefault(top, []).append(d.metadata["Name"])
versions = {d.metadata["Name"]: d.version for d in md.distributions()}
editable = sorted(
    d.metadata["Name"] for d in md.distributions()
    if json.loads(d.read_text("direct_url.json") or "{}").get("dir_info", {}).get("editable")
)
print(json.dumps({"seconds": seconds, "new_top": new_top, "dists": dists,
                  "owners": owners, "versions": versions,
                  "editable": editable}))
"""

EVERY_NAME = r"""
import rlu, rlu.utils
from rlu._names import ALL_NAMES
wrong = [n for n in ALL_NAMES if getattr(rlu.utils, n) is not getattr(rlu, n)]
assert not wrong, wrong
print(len(ALL_NAMES))
"""


def _uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


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
def built_versions(built) -> dict[str, str]:
    """Distribution name -> version, as built (read off the wheel file names)."""
    return {
        wheel.name.split("-")[0].replace("_", "-"): wheel.name.split("-")[1]
        for wheel in built.glob("*.whl")
    }


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    """Wheels and sdists of every distribution, built by tools/release.py (``hatch build``)."""
    out = tmp_path_factory.mktemp("dist")
    release_tool().build(out)
    return out


def test_every_distribution_builds_a_wheel_and_an_sdist(built):
    for dist in DISTRIBUTIONS:
        stem = f"{dist.replace('-', '_')}-"
        assert len(list(built.glob(f"{stem}*.whl"))) == 1, f"no wheel of {dist}"
        assert len(list(built.glob(f"{stem}*.tar.gz"))) == 1, f"no sdist of {dist}"


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_installs_alone_with_only_its_declared_dependencies(
    dist, built, built_versions, tmp_path, import_times
):
    venv = tmp_path / "venv"
    subprocess.run([_uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = str(venv / "bin" / "python")
    install = [_uv(), "pip", "install", "--quiet", "--python", python, "--find-links", str(built)]
    subprocess.run([*install, dist], check=True, cwd=tmp_path)

    module = dist.replace("-", "_")
    probe = [python, "-c", PROBE, module]
    subprocess.run(probe, check=True, capture_output=True)  # writes the bytecode caches
    out = subprocess.run(probe, check=True, capture_output=True, text=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    installed = {canonicalize_name(name) for name in report["dists"]}
    expected = _closure(dist, report["dists"])

    assert installed == expected, (
        f"{dist} brought {sorted(installed - expected)} beyond its declared dependencies"
        f" and lacks {sorted(expected - installed)}"
    )
    assert not {canonicalize_name(n) for n in NEVER[dist]} & installed
    assert not report["editable"], f"editable installs in a fresh venv: {report['editable']}"
    for name, version in report["versions"].items():
        if name.startswith("rlu"):
            assert version == built_versions[name], f"{name} {version} is not the built one"

    owners = report["owners"]
    strays = [
        top
        for top in report["new_top"]
        if not {canonicalize_name(o) for o in owners.get(top, [])} & expected
    ]
    assert not strays, f"import {module} loaded modules of undeclared distributions: {strays}"
    import_times[dist] = report["seconds"]

    if dist == "rlu":  # the meta-package serves every name, through rlu and rlu.utils
        out = subprocess.run([python, "-c", EVERY_NAME], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        from rlu._names import ALL_NAMES

        assert int(out.stdout.strip()) == len(ALL_NAMES)
