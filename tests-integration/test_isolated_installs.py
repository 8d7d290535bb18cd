"""Each distribution, built as a wheel and installed alone into a fresh virtual environment,
imports, and pulls in exactly the closure of its declared dependencies, nothing more.

The closure is computed here from the installed metadata (packaging's requirement and
marker evaluation), so a dependency that sneaks in (jax under rlu-trees, say) fails the test,
and so does an import that reaches for a library the distribution does not declare.
"""

from __future__ import annotations

import importlib.util
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
import importlib, importlib.metadata as md, json, sys, sysconfig, time
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
def built(tmp_path_factory) -> Path:
    """Wheels and sdists of every distribution, built by tools/release.py (``hatch build``)."""
    spec = importlib.util.spec_from_file_location("release_tool", REPO / "tools" / "release.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path_factory.mktemp("dist")
    tool.build(out)
    return out


@pytest.fixture(scope="session")
def wheels(built) -> dict[str, Path]:
    return {wheel.name.split("-")[0].replace("_", "-"): wheel for wheel in built.glob("*.whl")}


def _fresh_venv(path: Path) -> Path:
    subprocess.run([_uv(), "venv", "--quiet", "--python", sys.executable, str(path)], check=True)
    return path / "bin" / "python"


def test_every_distribution_builds_a_wheel_and_an_sdist(built):
    for dist in (*LANDED, "rlu"):
        stem = f"{dist.replace('-', '_')}-"
        assert len(list(built.glob(f"{stem}*.whl"))) == 1, f"no wheel of {dist}"
        assert len(list(built.glob(f"{stem}*.tar.gz"))) == 1, f"no sdist of {dist}"


def test_meta_installs_from_built_wheels_only_and_serves_every_name(built, tmp_path):
    python = _fresh_venv(tmp_path / "venv")
    # rlu's own distributions come from the local wheels only (find-links); the workspace
    # sources are not visible to this venv.
    subprocess.run(
        [
            _uv(),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(python),
            "--find-links",
            str(built),
            "rlu",
        ],
        check=True,
        cwd=tmp_path,
    )
    landed = sorted(d.replace("-", "_") for d in LANDED)
    code = (
        "import sys, rlu, rlu.utils, importlib.metadata as md\n"
        "from rlu._names import ALL_NAMES\n"
        "names = [n for n, owner in ALL_NAMES.items() if owner in sys.argv[1:]]\n"
        "missing = [n for n in names if getattr(rlu.utils, n) is not getattr(rlu, n)]\n"
        "assert not missing, missing\n"
        "urls = [d.read_text('direct_url.json') or '' for d in md.distributions()"
        " if d.metadata['Name'].startswith('rlu')]\n"
        "assert not any('editable' in u for u in urls), urls\n"
        "print(len(names))\n"
    )
    out = subprocess.run(
        [str(python), "-c", code, *landed], capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    from rlu._names import ALL_NAMES

    assert int(out.stdout.strip()) == sum(owner in landed for owner in ALL_NAMES.values())


@pytest.mark.parametrize("dist", sorted(DISTRIBUTIONS))
def test_installs_alone_with_only_its_declared_dependencies(dist, wheels, tmp_path, import_times):
    python = _fresh_venv(tmp_path / "venv")
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
