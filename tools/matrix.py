# /// script
# requires-python = ">=3.11"
# dependencies = ["packaging>=23", "uv>=0.5"]
# ///
"""CI's test runs beyond ``hatch test``: the other supported Pythons, and the dependency floors.

Usage (from the repository root; ``.ci/run`` runs both after ``hatch test``)::

    hatch run tools/matrix.py pythons [3.10 3.12 ...]  # every distribution's tests on other Pythons
    hatch run tools/matrix.py floors [rlu-trees ...]    # each distribution at its declared floors

``pythons`` runs every distribution's tests (``packages/*/tests``) on each Python that the
distributions declare (their ``Programming Language :: Python :: 3.X`` classifiers, which must
agree with each other and with ``requires-python``), except 3.11, where ``hatch test`` runs the
whole suite. Per Python: one fresh venv with every distribution installed editable with all its
extras, the test dependencies, everything at its latest; one pytest session, on one pytest-xdist
worker per CPU grouped as in ``hatch test``. A requirement that an
environment marker keeps off that Python (dm-control on 3.13) is reported, the tests that need it
(``NEEDS`` below: those using its fixture, and a few by id) are deselected, and a file in
``tools/ci_checks/`` checks instead that the feature fails with an ImportError that says why.
The Ray service's behaviour tests and the numba cache's lock tests (``MAIN_AND_FLOORS_ONLY``
below) are left to ``hatch test`` and the floors, but for a few that run the service end to end
on every Python (``ON_EVERY_PYTHON``).

``floors`` runs each distribution's tests on Python 3.11 in a fresh venv holding it with all its
extras, the sibling distributions it depends on or its tests import, and the test dependencies,
installed with ``uv pip install --resolution lowest-direct`` and every floor held by a constraint
(``name==X.*`` for ``name>=X``; as wheels): each third-party dependency of those distributions
sits at the lowest version its ``pyproject.toml`` admits (``X`` itself, or its post-release where
only that exists: mujoco 2.3.1.post1), and the test dependencies at the floors of the root
``hatch-test`` environment; what lands above a floor, and a requirement without a floor, fail the
step. pytest, and jax for the tests that handle JAX arrays beside a distribution that does not
depend on it, come at their latest versions compatible with those floors.

``pythons`` passes on JAX's persistent compilation cache (``.ci/run`` makes one for the run),
except to a Python whose JAX loads rlu-trees' custom calls from it wrongly (0.5.1 to 0.10.1,
3.10's today), where rlu-trees would take its XLA kernels instead and leave the calls untested;
``floors`` compiles afresh. Both steps give each property test a quarter of the examples its
``@settings`` asks for (at least 10; ``RLU_HYPOTHESIS_SHARE``, the root ``conftest.py``): they
check that the code works with another interpreter or other dependency versions, where every
code path still runs, and ``hatch test`` draws every example on Python 3.11.

Interpreters are looked up in ``$(pyenv root)/versions/X.Y.*``, then with ``uv python find``,
then as ``pythonX.Y`` on PATH; nothing is downloaded, and a missing one stops the run with what to
install. Both commands print what they install and run, and end with one line of totals.
Under ``CI=true`` a skipped test fails (the root ``conftest.py``), as in ``hatch test``.
"""

from __future__ import annotations

import argparse
import functools
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import tomllib
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from uv import find_uv_bin

REPO = Path(__file__).resolve().parents[1]
PACKAGES = REPO / "packages"
MAIN_PYTHON = "3.11"  # `hatch test` runs the whole suite there; the floors are tested there too

# Tests of how the Ray service behaves (layouts across writers, the learner's stream, restores,
# a 3-node cluster): about 2.5 minutes a run, and what they exercise is Ray's and the service's,
# not the Python version's. `hatch test` and the floors run them; on the other Pythons the rest
# of the Ray tests (test_ray.py: the sampling law, writers, a dead shard, a restore) stand in.
MAIN_AND_FLOORS_ONLY = (
    "packages/rlu-replay/tests/test_ray_service.py",
    "packages/rlu-replay/tests/test_ray_cluster.py",
    "packages/rlu-replay/tests/test_ray.py",
    "packages/rlu-replay/tests/test_ray_frames.py",
    # Processes racing for numba's cache (about 25 s a run, compiling in fresh caches): what they
    # exercise is numba's cache files and flock, the same on every Python.
    "packages/rlu-trees/tests/test_trees_numba_cache.py",
    "packages/rlu-replay/tests/test_kernels_cache.py",
)
# ... except these, which run on every Python: the Ray-sharded service end to end (shards
# started, a writer's items sampled through them, priorities routed back, a pickled writer
# refused), and the imports with and without Ray. What the service guarantees under load,
# restores and node deaths depends on Ray's version, not Python's: the floors run it at Ray's.
ON_EVERY_PYTHON = tuple(
    f"packages/rlu-replay/tests/test_ray.py::{name}"
    for name in (
        "test_transition_batches_get_w_and_idx",
        "test_priority_updates_go_to_the_owning_shard",
        "test_a_writer_with_buffered_items_refuses_to_be_pickled",
        "test_import_rlu_replay_loads_neither_ray_nor_gymnasium_nor_numba",
        "test_without_ray_the_limiter_and_error_import_and_the_rest_names_the_extra",
    )
)

# Test dependencies of packages/*/tests beyond the distributions' own requirements (numpy comes
# with gymnasium and dm-haiku). Their specifiers, and so their floors, are the root pyproject's
# [tool.hatch.envs.hatch-test] ones.
TEST_DEPS = ("cloudpickle", "dm-haiku", "gymnasium", "hypothesis")
# pytest 9.2's structured node ids undo pytest-xdist's groups (--dist loadgroup marks a group
# by rewriting the node id, which 9.2 ignores: pytest-dev/pytest-xdist#1386): every group would
# be dealt test by test, a Ray per worker. Held below 9.2 until xdist follows.
PYTEST = "pytest<9.2"
# Installed at their latest after the floors: pytest (below 9.2, above) and pytest-xdist (hatch
# supplies them to hatch-test), and jax for the tests of rlu-core, rlu-noise and rlu-serialize
# that handle JAX arrays.
LATEST_TEST_DEPS = (PYTEST, "pytest-xdist", "jax", "jaxlib")
# One pytest-xdist worker per CPU, grouped as in `hatch test` (the root conftest.py).
XDIST = ("-n", "auto", "--dist", "loadgroup")
# The share of its examples each property test draws here (the root conftest.py); `hatch test`
# draws them all. Property tests were about a quarter of a run's test time on Python 3.12.
HYPOTHESIS_SHARE = "0.25"

# Where an environment marker keeps a third-party distribution off the Python under test, the
# tests that need it are deselected: those that use its fixtures (tools/ci_checks/
# without_fixture.py) and those listed by id; the CHECKS file then runs instead.
NEEDS = {
    "dm-control": {
        "fixtures": ("dm_suite",),
        "tests": (
            "packages/rlu-envtools/tests/test_envtools_imports.py"
            "::test_unusable_gl_backend_is_explained",
        ),
    },
}
CHECKS = {"dm-control": "tools/ci_checks/test_without_dm_control.py"}

SUMMARY_RE = re.compile(r"(\d+) (passed|failed|errors?|skipped|deselected|xfailed|xpassed)")


# -- the repository ---------------------------------------------------------------------------


@functools.cache
def _load_release_tool():
    import importlib.util

    spec = importlib.util.spec_from_file_location("release_tool", REPO / "tools" / "release.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def distributions() -> list[str]:
    """The distributions under packages/ (tools/release.py's list), the meta-package last."""
    return _load_release_tool().distributions()


def project(dist: str) -> dict:
    with open(PACKAGES / dist / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def hatch_test() -> dict:
    with open(REPO / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["hatch"]["envs"]["hatch-test"]


def requirements(dist: str, extras: Iterable[str]) -> list[Requirement]:
    """What ``dist`` requires, with ``extras`` (environment markers not evaluated)."""
    meta = project(dist)
    reqs = [Requirement(r) for r in meta.get("dependencies", [])]
    for extra in extras:
        reqs += [Requirement(r) for r in meta.get("optional-dependencies", {})[extra]]
    return reqs


def closure(dists: Iterable[str]) -> dict[str, list[str]]:
    """``dists`` and the sibling distributions they reach, each with all its extras."""
    local = set(distributions())
    todo, found = list(dists), {}
    while todo:
        dist = todo.pop()
        if dist in found:
            continue
        found[dist] = sorted(project(dist).get("optional-dependencies", {}))
        todo += [r.name for r in requirements(dist, found[dist]) if r.name in local]
    return found


IMPORT_RE = re.compile(
    r"""(?:^\s*(?:import|from)\s+|importorskip\(\s*["'])(rlu(?:_[a-z]+)?)\b""", re.M
)


def imported_by_tests(dist: str) -> set[str]:
    """The workspace distributions that ``packages/<dist>/tests`` import (or importorskip)."""
    by_module = {d.replace("-", "_"): d for d in distributions()}
    found = set()
    for path in (PACKAGES / dist / "tests").rglob("*.py"):
        found |= {by_module[m] for m in IMPORT_RE.findall(path.read_text()) if m in by_module}
    return found


def third_party(found: dict[str, list[str]]) -> list[tuple[str, Requirement]]:
    """(owner, requirement) for every requirement of ``found`` outside the workspace."""
    local = {canonicalize_name(d) for d in distributions()}
    return [
        (dist, req)
        for dist, extras in found.items()
        for req in requirements(dist, extras)
        if canonicalize_name(req.name) not in local
    ]


def declared_pythons() -> list[str]:
    """The Python versions every distribution declares; they must agree with each other."""
    seen = {}
    for dist in distributions():
        meta = project(dist)
        versions = sorted(
            (
                c.rsplit(":: ", 1)[1]
                for c in meta.get("classifiers", [])
                if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
            ),
            key=Version,
        )
        floor = re.fullmatch(r">=\s*(3\.\d+)", meta.get("requires-python", ""))
        if not versions or floor is None or versions[0] != floor[1]:
            raise SystemExit(
                f"packages/{dist}/pyproject.toml: requires-python "
                f"{meta.get('requires-python')!r} and the Python classifiers {versions} disagree"
            )
        seen[dist] = versions
    if len({tuple(v) for v in seen.values()}) != 1:
        raise SystemExit(f"the distributions declare different Pythons: {seen}")
    return next(iter(seen.values()))


# -- tools ------------------------------------------------------------------------------------


def uv(*args: str, env: dict[str, str] | None = None) -> None:
    cmd = [find_uv_bin(), *args]
    print("$ uv " + " ".join(args), flush=True)
    subprocess.run(cmd, check=True, env=env)


def find_python(version: str) -> str:
    """An interpreter for ``version`` ("3.10"), found on this machine, never downloaded."""
    candidates = []
    pyenv = shutil.which("pyenv")
    root = os.environ.get("PYENV_ROOT") or (
        subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
        if pyenv
        else str(Path.home() / ".pyenv")
    )
    found = glob.glob(os.path.join(root, "versions", f"{version}.*", "bin", "python"))
    found = [p for p in found if re.fullmatch(r"\d+\.\d+\.\d+", Path(p).parents[1].name)]
    candidates += sorted(found, key=lambda p: Version(Path(p).parents[1].name), reverse=True)
    out = subprocess.run(
        [find_uv_bin(), "python", "find", "--no-project", "--system", version],
        capture_output=True,
        text=True,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )
    candidates += out.stdout.strip().splitlines()
    candidates += [p for p in [shutil.which(f"python{version}")] if p]
    for python in candidates:
        probe = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return python
    raise SystemExit(
        f"no Python {version} on this machine (looked in {root}/versions/{version}.*, with "
        f"`uv python find {version}`, and for python{version} on PATH); install it, e.g. "
        f"`pyenv install {version}` or `uv python install {version}`, and run again"
    )


def make_venv(python: str, where: Path) -> str:
    uv("venv", "--quiet", "--python", python, str(where))
    return str(where / "bin" / "python")


def editables(found: dict[str, list[str]]) -> list[str]:
    args = []
    for dist, extras in sorted(found.items()):
        path = f"packages/{dist}" + (f"[{','.join(extras)}]" if extras else "")
        args += ["-e", path]
    return args


# JAX releases that load programs holding rlu-trees' CPU custom calls from the persistent
# compilation cache wrongly: where the cache is on, rlu-trees takes its XLA kernels instead, so a
# run with the cache would not test the custom calls there (rlu_trees/jax/_cpu.py)
CACHE_LOADS_WRONG = (Version("0.5.1"), Version("0.10.2"))


def jax_cache_tests_everything(pins: list[str]) -> bool:
    """Whether JAX's persistent compilation cache (``.ci/run`` sets one) may serve the runs of a
    venv holding ``pins`` (``name==version``, as `installed` gives them): not where its JAX is
    one of ``CACHE_LOADS_WRONG`` (without jax, nothing is compiled)."""
    low, high = CACHE_LOADS_WRONG
    jax = [Version(v) for n, _, v in (pin.partition("==") for pin in pins) if n == "jax"]
    return not any(low <= version < high for version in jax)


def pytest(
    python: str, paths: Sequence[str], extra: Sequence[str] = (), jax_cache: bool = True
) -> dict[str, int]:
    """Run pytest in the venv of ``python`` from the repository root; return its totals. Without
    ``jax_cache``, JAX's persistent compilation cache is not passed on."""
    venv_bin = str(Path(python).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HATCH_", "PYTHON"))}
    if not jax_cache:
        env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env.update({k: str(v) for k, v in hatch_test().get("env-vars", {}).items()})
    env["PYTHONPATH"] = str(REPO / "tools" / "ci_checks")  # the without_fixture plugin
    env["RLU_HYPOTHESIS_SHARE"] = HYPOTHESIS_SHARE
    env.update(VIRTUAL_ENV=str(Path(venv_bin).parent), PATH=venv_bin + os.pathsep + env["PATH"])
    cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *XDIST, *extra, *paths]
    print("$ " + " ".join(["python", *cmd[1:]]), flush=True)
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    last = ""
    for line in proc.stdout:
        print(line, end="", flush=True)
        if line.strip():
            last = line
    counts = {"passed": 0, "failed": 0}
    for n, what in SUMMARY_RE.findall(last):
        what = "errors" if what.startswith("error") else what
        counts[what] = counts.get(what, 0) + int(n)
    if proc.wait() != 0 and counts["failed"] + counts.get("errors", 0) == 0:
        counts["failed"] += 1  # pytest failed without a test failing (collection, usage)
    return counts


def add(total: dict[str, int], counts: dict[str, int]) -> None:
    for k, v in counts.items():
        total[k] = total.get(k, 0) + v


def closing_line(step: str, total: dict[str, int], problems: list[str]) -> int:
    for problem in problems:
        print(f"{step}: FAILED {problem}")
    failed = total.get("failed", 0) + total.get("errors", 0)
    print(f"{step}: {total.get('passed', 0)} passed, {failed} failed")
    return 1 if failed or problems else 0


def test_paths(dists: Iterable[str]) -> list[str]:
    wanted = set(dists)
    return [f"packages/{d}/tests" for d in distributions() if d in wanted]


# -- pythons ----------------------------------------------------------------------------------


def run_pythons(versions: list[str], work: Path) -> tuple[dict[str, int], list[str]]:
    found = closure(distributions())
    test_deps = [r for r in hatch_test()["extra-dependencies"] if Requirement(r).name in TEST_DEPS]
    total, problems = {}, []
    for version in versions:
        print(f"\n=== Python {version}: every distribution's tests, dependencies at their latest")
        started = time.monotonic()
        python = find_python(version)
        venv = make_venv(python, work / f"py{version}")
        try:
            uv(
                "pip",
                "install",
                "--quiet",
                "--python",
                venv,
                *editables(found),
                *test_deps,
                PYTEST,
                "pytest-xdist",
            )
        except subprocess.CalledProcessError:
            problems.append(f"Python {version}: the install failed")
            continue
        names = {canonicalize_name(r.name) for _, r in third_party(found)}
        pins = installed(venv, names)
        print(f"Python {version}: " + " ".join(pins))
        env = _marker_env(venv)
        kept_off = sorted(
            {
                canonicalize_name(req.name)
                for _, req in third_party(found)
                if req.marker and not req.marker.evaluate({**env, "extra": ""})
            }
        )
        deselect, checks = ["-p", "without_fixture"], []
        deselect += [f"--ignore={path}" for path in MAIN_AND_FLOORS_ONLY]
        print(
            f"Python {version}: not run here (main run and floors only): "
            + " ".join(MAIN_AND_FLOORS_ONLY)
            + "; except "
            + " ".join(ON_EVERY_PYTHON)
        )
        for name in kept_off:
            needs, check = NEEDS.get(name, {}), CHECKS.get(name)
            fixtures, tests = needs.get("fixtures", ()), needs.get("tests", ())
            print(
                f"Python {version}: an environment marker keeps {name} off"
                + (f"; deselected: tests using fixture {', '.join(fixtures)}" if fixtures else "")
                + (f", and {' '.join(tests)}" if tests else "")
                + (f"; run instead: {check}" if check else "")
            )
            deselect += [a for fixture in fixtures for a in ("--without-fixture", fixture)]
            deselect += [a for test in tests for a in ("--deselect", test)]
            checks += [check] if check else []
        cache = jax_cache_tests_everything(pins)
        if not cache and os.environ.get("JAX_COMPILATION_CACHE_DIR"):
            print(
                f"Python {version}: without JAX's persistent compilation cache (its JAX loads "
                "rlu-trees' custom calls from it wrongly, and rlu-trees would not use them)"
            )
        counts = pytest(venv, [*test_paths(found), *ON_EVERY_PYTHON, *checks], deselect, cache)
        add(total, counts)
        print(f"=== Python {version}: {time.monotonic() - started:.0f} s")
    return total, problems


def _marker_env(python: str) -> dict[str, str]:
    code = "import json, packaging.markers as m; print(json.dumps(m.default_environment()))"
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    except subprocess.CalledProcessError:  # no packaging in that venv: the version is enough
        major_minor = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return {**default_environment(), "python_version": major_minor}
    import json

    return json.loads(out.stdout)


# -- floors -----------------------------------------------------------------------------------


def floor(req: Requirement) -> Version | None:
    """The lowest version ``req`` admits, when it says one (``>=X``, ``==X`` or ``~=X``)."""
    lows = [Version(s.version) for s in req.specifier if s.operator in (">=", "==", "~=")]
    return max(lows) if lows else None


def floor_pins(reqs: list[tuple[str, Requirement]]) -> tuple[dict[str, Version], list[str]]:
    """``name -> floor`` per requirement, the highest where several meet; and what lacks one."""
    pins, missing = {}, []
    for owner, req in reqs:
        low = floor(req)
        if low is None:
            missing.append(f"{owner} requires {req} with no floor")
            continue
        name = canonicalize_name(req.name)
        pins[name] = max(pins.get(name, low), low)
    return pins, missing


def run_floors(dists: list[str], work: Path) -> tuple[dict[str, int], list[str]]:
    python = find_python(MAIN_PYTHON)
    env = {**default_environment(), "python_version": MAIN_PYTHON}
    test_deps = [
        ("hatch-test", Requirement(r))
        for r in hatch_test()["extra-dependencies"]
        if Requirement(r).name in TEST_DEPS
    ]
    total, problems = {}, []
    for dist in dists:
        print(f"\n=== {dist} at its declared floors, Python {MAIN_PYTHON}")
        started = time.monotonic()
        beside = imported_by_tests(dist) - set(closure([dist]))
        if beside:
            print(f"{dist}: its tests import {', '.join(sorted(beside))}, installed beside it")
        found = closure([dist, *beside])
        reqs = [
            (owner, req)
            for owner, req in third_party(found) + test_deps
            if not req.marker or req.marker.evaluate({**env, "extra": ""})
        ]
        pins, missing = floor_pins(reqs)
        if missing:
            problems += missing
            continue
        print(f"{dist}: floors " + " ".join(f"{n}=={v}" for n, v in sorted(pins.items())))
        # ==X.* rather than ==X: a floor may exist only as a post-release (mujoco 2.3.1.post1);
        # that the lowest release of the series was installed is checked below.
        constraints = work / f"floors-{dist}.txt"
        constraints.write_text("".join(f"{n}=={v}.*\n" for n, v in sorted(pins.items())))
        only_wheels = [a for name in sorted(pins) for a in ("--only-binary", name)]
        venv = make_venv(python, work / f"floors-{dist}")
        install = ["pip", "install", "--quiet", "--python", venv]
        try:
            uv(
                *install,
                "--resolution",
                "lowest-direct",
                "--constraint",
                str(constraints),
                *only_wheels,
                *editables(found),
                *(str(req) for _, req in test_deps),
            )
            frozen = work / f"frozen-{dist}.txt"
            frozen.write_text(freeze(venv))
            uv(*install, "--constraint", str(frozen), *LATEST_TEST_DEPS)
        except subprocess.CalledProcessError:
            problems.append(f"{dist}: the install at its floors failed")
            continue
        installed = {
            canonicalize_name(name): Version(version)
            for name, _, version in (line.partition("==") for line in freeze(venv).split())
        }
        above = [
            f"{name} {installed[name]} (floor {low})"
            for name, low in sorted(pins.items())
            if Version(installed[name].base_version) != low  # 2.3.1.post1 is 2.3.1 here
        ]
        if above:
            problems.append(f"{dist}: installed above the floor: {', '.join(above)}")
        # the floors compile afresh: JAX's persistent cache was never tried at its floor
        add(total, pytest(venv, test_paths([dist]), jax_cache=False))
        print(f"=== {dist}: {time.monotonic() - started:.0f} s")
    return total, problems


def installed(venv: str, names: set[str]) -> list[str]:
    """``name==version`` of each of ``names`` that ``venv`` holds."""
    lines = (line.partition("==") for line in freeze(venv).split())
    return [f"{n}=={v}" for n, _, v in lines if canonicalize_name(n) in names]


def freeze(venv: str) -> str:
    """``name==version`` lines of what ``venv`` holds, the workspace's editables left out."""
    cmd = [find_uv_bin(), "pip", "freeze", "--python", venv, "--exclude-editable"]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


# -- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--keep", action="store_true", help="keep the venvs (their folder is printed)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pythons", help="every distribution's tests on the other declared Pythons")
    p.add_argument("versions", nargs="*", help="default: the declared ones but " + MAIN_PYTHON)
    f = sub.add_parser("floors", help="each distribution's tests at its declared floors")
    f.add_argument("dists", nargs="*", help="default: every distribution")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix=f"rlu-{args.command}-"))
    started = time.monotonic()
    try:
        if args.command == "pythons":
            versions = args.versions or [v for v in declared_pythons() if v != MAIN_PYTHON]
            total, problems = run_pythons(versions, work)
        else:
            unknown = set(args.dists) - set(distributions())
            if unknown:
                raise SystemExit(f"not distributions under packages/: {sorted(unknown)}")
            total, problems = run_floors(args.dists or distributions(), work)
    finally:
        if args.keep:
            print(f"venvs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n{args.command}: {time.monotonic() - started:.0f} s in all")
    return closing_line(args.command, total, problems)


if __name__ == "__main__":
    sys.exit(main())
