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
    "rlu-core": {"jax", "numba", "gymnasium", "pillow", "torch"},  # numpy: for TransitionBatch
    "rlu-noise": {"jax", "numba", "gymnasium", "torch"},
    "rlu-trees": {"jax", "jaxlib", "gymnasium", "torch"},
    "rlu-serialize": {"numpy", "jax", "numba", "gymnasium", "torch"},
    "rlu-jaxtools": {"numba", "gymnasium", "dm-haiku", "torch"},
    "rlu-quantiles": {"numba", "gymnasium", "dm-haiku", "torch"},
    "rlu-envtools": {"jax", "jaxlib", "dm-control", "mujoco", "numba", "torch"},
    "rlu-replay": {"gymnasium", "pillow", "jax", "jaxlib", "ray", "dm-control", "mujoco", "torch"},
    "rlu": {"torch", "dm-haiku", "ray"},
}


def _plugin_extras() -> list[tuple[str, str]]:
    """(distribution, extra) for every extra that has a subpackage of its name to import:
    rlu-trees[jax] brings rlu_trees.jax, rlu-replay[ray] brings rlu_replay.ray."""
    tool, found = release_tool(), []
    for dist in DISTRIBUTIONS:
        src = tool.PACKAGES / dist / "src" / dist.replace("-", "_")
        extras = tool.pyproject(dist)["project"].get("optional-dependencies", {})
        found += [(dist, extra) for extra in extras if (src / extra / "__init__.py").exists()]
    return found


INSTALLS = [(dist, None) for dist in DISTRIBUTIONS] + _plugin_extras()

PROBE = r"""
import importlib, importlib.metadata as md, json, os, sys, sysconfig, time
before = set(sys.modules)
t0 = time.perf_counter()
importlib.import_module(sys.argv[1])
seconds = time.perf_counter() - t0
site = sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]
# What is installed in the venv's site-packages: not what a package puts on sys.path itself
# (Ray adds its vendored ray/thirdparty_files, whose psutil and colorama are Ray's files).
installed = list(md.distributions(path=list(dict.fromkeys(site))))
# Who owns each module: the distribution whose RECORD lists its file (works on every Python,
# with or without top_level.txt, and for modules vendored inside another distribution).
by_file = {
    os.path.realpath(d.locate_file(f)): d.metadata["Name"] for d in installed for f in d.files or ()
}
new_files = {
    name: os.path.realpath(sys.modules[name].__file__)
    for name in set(sys.modules) - before
    if (getattr(sys.modules[name], "__file__", None) or "").startswith(site)
}
owners = {}
for name, path in new_files.items():
    owners.setdefault(name.split(".")[0], set()).add(by_file.get(path, "<no distribution>"))
print(json.dumps({
    "seconds": seconds,
    "new_top": sorted(owners),
    "owners": {top: sorted(names) for top, names in owners.items()},
    "dists": {d.metadata["Name"]: (d.requires or []) for d in installed},
    "versions": {d.metadata["Name"]: d.version for d in installed},
    "editable": sorted(
        d.metadata["Name"] for d in installed
        if json.loads(d.read_text("direct_url.json") or "{}").get("dir_info", {}).get("editable")
    ),
}))
"""

EVERY_NAME = r"""
import json, rlu, rlu.utils
from rlu._names import ALL_NAMES
needs_extra = []
for name in ALL_NAMES:
    try:
        obj = getattr(rlu, name)
    except ImportError as exc:  # an opt-in extra: the error must say what to install
        assert "pip install" in str(exc), exc
        needs_extra.append(name)
        continue
    assert getattr(rlu.utils, name) is obj, name
print(json.dumps(needs_extra))
"""


# rlu-core alone (with numpy and optree, its dependencies): import rlu_core loads neither, and
# TransitionBatch works without gymnasium. Prints the third-party modules each step loaded.
TRANSITION_BATCH = r"""
import json, sys
before = set(sys.modules)
def third_party():
    new = {m.split(".")[0] for m in set(sys.modules) - before}
    return sorted(new - set(sys.stdlib_module_names))
import rlu_core
after_import = third_party()
from rlu_core import TransitionBatch, chunks_pow2
tb = TransitionBatch.from_single(s=[0.0, 1.0], a=1, logp=-0.5, r=2.0, terminated=False, gamma=0.9)
tb = TransitionBatch.concatenate([tb, tb._replace(Rn=tb.Rn * 2), tb])
assert [c.batch_size for c in chunks_pow2(tb)] == [2, 1]
print(json.dumps([after_import, third_party(), tb.Rn.tolist(), tb.In.tolist()]))
"""


def _uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


def _closure(root: str, dists: dict[str, list[str]], extras: frozenset[str]) -> set[str]:
    """Canonical names of every distribution that ``root[extras]``'s requirements reach."""
    requires = {canonicalize_name(k): v for k, v in dists.items()}
    names: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(canonicalize_name(root), extras)]
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


@pytest.mark.parametrize(
    ("dist", "extra"), INSTALLS, ids=[f"{d}[{e}]" if e else d for d, e in INSTALLS]
)
def test_installs_alone_with_only_its_declared_dependencies(
    dist, extra, built, built_versions, tmp_path, import_times
):
    venv = tmp_path / "venv"
    subprocess.run([_uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = str(venv / "bin" / "python")
    install = [_uv(), "pip", "install", "--quiet", "--python", python, "--find-links", str(built)]
    subprocess.run([*install, f"{dist}[{extra}]" if extra else dist], check=True, cwd=tmp_path)

    module = dist.replace("-", "_") + (f".{extra}" if extra else "")
    probe = [python, "-c", PROBE, module]
    subprocess.run(probe, check=True, capture_output=True)  # writes the bytecode caches
    out = subprocess.run(probe, check=True, capture_output=True, text=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    installed = {canonicalize_name(name) for name in report["dists"]}
    expected = _closure(dist, report["dists"], frozenset([extra] if extra else []))

    assert installed == expected, (
        f"{dist} brought {sorted(installed - expected)} beyond its declared dependencies"
        f" and lacks {sorted(expected - installed)}"
    )
    if extra is None:  # an extra brings what it declares, which the closure check covers
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
    import_times[module] = report["seconds"]

    if dist == "rlu-core" and extra is None:  # TransitionBatch, with numpy and optree alone
        out = subprocess.run([python, "-c", TRANSITION_BATCH], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        after_import, after_use, rewards, factors = json.loads(out.stdout)
        assert after_import == ["rlu_core"], "import rlu_core loaded a third-party module"
        assert {"numpy", "optree", "rlu_core"} <= set(after_use)  # and their own helpers
        assert rewards == [2.0, 4.0, 2.0] and factors == [0.9, 0.9, 0.9]
        assert installed == {"rlu-core", "numpy", "optree", "typing-extensions"}

    if dist == "rlu":  # the meta-package serves every name, through rlu and rlu.utils
        out = subprocess.run([python, "-c", EVERY_NAME], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        from rlu._names import ALL_NAMES

        # Only the Ray service waits for an extra (rlu[ray]); everything else loads, the
        # rate limiter and the shard error included (they are plain Python)
        ray_free = {"RateLimiter", "ShardError"}
        ray_names = sorted(
            n for n, owner in ALL_NAMES.items() if owner == "rlu_replay.ray" and n not in ray_free
        )
        assert sorted(json.loads(out.stdout)) == ray_names
