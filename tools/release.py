"""Release helper for the rlu distributions.

Usage (from the repository root)::

    python tools/release.py bump rlu-trees patch   # or minor / major
    python tools/release.py check
    python tools/release.py build [OUT]           # wheel + sdist of every distribution

``bump`` raises one distribution's version in its ``__about__.py``, widens every pin on it that
the new version falls outside (in the meta-package and in sibling distributions, e.g.
rlu-envtools' pin on rlu-core, patch-bumping each of them), and opens a CHANGELOG.md entry for
every version it wrote. ``check`` verifies that every pin between rlu's distributions admits the
current version, that the meta-package depends on every distribution, that CHANGELOG.md has a
filled-in entry for every current version, and that every pyproject.toml follows the one template
(``TEMPLATE`` below); it exits non-zero and says what is wrong otherwise. ``build`` runs
``hatch build`` in every distribution's folder and collects the wheels and sdists in one directory
(``dist/`` by default), ready for ``pip install --find-links``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
PACKAGES = REPO / "packages"
CHANGELOG = REPO / "CHANGELOG.md"
META = "rlu"
VERSION_RE = re.compile(r'^__version__ = "(\d+)\.(\d+)\.(\d+)"$', re.MULTILINE)
PIN_RE = re.compile(
    r'"(?P<name>rlu-[a-z]+)(?P<extras>\[[^\]]*\])?>=(?P<lo>[\d.]+),<(?P<hi>[\d.]+)"'
)
ENTRY_RE = re.compile(r"^## (?P<name>rlu(?:-[a-z]+)?) (?P<version>\d+\.\d+\.\d+)\b", re.MULTILINE)
PLACEHOLDER = "Describe the change here before releasing."
SUPPORTED_PYTHONS = ("3.10", "3.11", "3.12", "3.13")
# What every distribution's pyproject.toml says alike; ``check`` reports each departure.
TEMPLATE: dict[str, Any] = {
    "build-system": {"requires": ["hatchling>=1.26"], "build-backend": "hatchling.build"},
    "project": {
        "dynamic": ["version"],
        "readme": "README.md",
        "requires-python": f">={SUPPORTED_PYTHONS[0]}",
        "license": "MIT",
    },
}
REQUIRED_CLASSIFIERS = (
    "Typing :: Typed",
    "Programming Language :: Python :: 3",
    *(f"Programming Language :: Python :: {v}" for v in SUPPORTED_PYTHONS),
)
FLOOR_RE = re.compile(r"^\s*[A-Za-z0-9_.-]+(\[[^\]]*\])?\s*>=")


def distributions() -> list[str]:
    """Names of the distributions under packages/, the meta-package last."""
    names = sorted(p.name for p in PACKAGES.iterdir() if (p / "pyproject.toml").exists())
    return [n for n in names if n != META] + [META]


def about_path(dist: str) -> Path:
    return PACKAGES / dist / "src" / dist.replace("-", "_") / "__about__.py"


def read_version(dist: str) -> tuple[int, int, int]:
    match = VERSION_RE.search(about_path(dist).read_text())
    if match is None:
        raise SystemExit(f'{about_path(dist)}: no line of the form __version__ = "X.Y.Z"')
    return tuple(int(g) for g in match.groups())  # type: ignore[return-value]


def write_version(dist: str, version: tuple[int, int, int]) -> None:
    path = about_path(dist)
    path.write_text(VERSION_RE.sub(f'__version__ = "{fmt(version)}"', path.read_text()))


def fmt(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


def parse(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def bumped(version: tuple[int, int, int], part: str) -> tuple[int, int, int]:
    major, minor, patch = version
    if part == "major":
        return (major + 1, 0, 0)
    if part == "minor":
        return (major, minor + 1, 0)
    if part == "patch":
        return (major, minor, patch + 1)
    raise SystemExit(f"part must be one of major, minor, patch; got {part!r}")


Pin = tuple[tuple[int, ...], tuple[int, ...]]  # (lowest admitted, first excluded)


def pins(dependent: str = META) -> dict[str, Pin]:
    """The pins ``dependent`` puts on other rlu distributions (dependencies and extras)."""
    text = (PACKAGES / dependent / "pyproject.toml").read_text()
    return {m["name"]: (parse(m["lo"]), parse(m["hi"])) for m in PIN_RE.finditer(text)}


def admits(pin: Pin, version: tuple[int, ...]) -> bool:
    lo, hi = pin
    return lo <= version < hi


def compatible_pin(version: tuple[int, int, int]) -> Pin:
    """SemVer-compatible range: ``>=X.Y,<X.(Y+1)`` before 1.0, ``>=X.Y,<(X+1)`` after."""
    major, minor, _ = version
    if major == 0:
        return (0, minor), (0, minor + 1)
    return (major, minor), (major + 1,)


def set_pin(dependent: str, dist: str, pin: Pin) -> None:
    """Rewrite every pin ``dependent`` puts on ``dist`` (keeping extras) to ``pin``."""
    path = PACKAGES / dependent / "pyproject.toml"

    def replace(m: re.Match[str]) -> str:
        if m["name"] != dist:
            return m[0]
        return f'"{dist}{m["extras"] or ""}>={fmt(pin[0])},<{fmt(pin[1])}"'

    path.write_text(PIN_RE.sub(replace, path.read_text()))


def changelog_entries() -> set[tuple[str, str]]:
    text = CHANGELOG.read_text() if CHANGELOG.exists() else ""
    return {(m["name"], m["version"]) for m in ENTRY_RE.finditer(text)}


def open_entry(dist: str, version: tuple[int, int, int], note: str) -> None:
    text = CHANGELOG.read_text()
    heading = f"## {dist} {fmt(version)} ({datetime.date.today().isoformat()})\n\n- {note}\n\n"
    first = ENTRY_RE.search(text)
    at = first.start() if first else len(text)
    CHANGELOG.write_text(text[:at] + heading + text[at:])


def bump(dist: str, part: str) -> list[str]:
    """Bump ``dist``; widen every pin on it that the new version leaves, patch-bumping each
    distribution whose pin was widened (the meta-package included); return what was done."""
    if dist not in distributions():
        raise SystemExit(f"distribution must be one of {distributions()}; got {dist!r}")
    new = bumped(read_version(dist), part)
    write_version(dist, new)
    open_entry(dist, new, PLACEHOLDER)
    done = [f"{dist} -> {fmt(new)}"]
    for dependent in distributions():
        pin = pins(dependent).get(dist)
        if pin is None or admits(pin, new):
            continue
        widened = compatible_pin(new)
        set_pin(dependent, dist, widened)
        version = bumped(read_version(dependent), "patch")  # stays inside its own pins
        write_version(dependent, version)
        open_entry(dependent, version, f"Admit {dist} {fmt(new)}.")
        done.append(f"{dependent} pins {dist} >={fmt(widened[0])},<{fmt(widened[1])}")
        done.append(f"{dependent} -> {fmt(version)}")
    return done


def entry_text(dist: str, version: str) -> str:
    """The body of CHANGELOG.md's entry for ``dist`` ``version`` (empty when there is none)."""
    text = CHANGELOG.read_text() if CHANGELOG.exists() else ""
    for m in ENTRY_RE.finditer(text):
        if (m["name"], m["version"]) == (dist, version):
            following = ENTRY_RE.search(text, m.end())
            return text[m.end() : following.start() if following else len(text)]
    return ""


def pyproject(dist: str) -> dict[str, Any]:
    """``packages/<dist>/pyproject.toml``, parsed."""
    return tomllib.loads((PACKAGES / dist / "pyproject.toml").read_text())


def template_problems(dist: str) -> list[str]:
    """How ``packages/<dist>/pyproject.toml`` departs from the one template."""
    data = pyproject(dist)
    path = f"packages/{dist}/pyproject.toml"
    module = dist.replace("-", "_")
    found = []
    for table, expected in TEMPLATE.items():
        for key, value in expected.items():
            if data.get(table, {}).get(key) != value:
                found.append(f"{path}: [{table}] {key} must be {value!r}")
    project = data.get("project", {})
    if project.get("name") != dist:
        found.append(f"{path}: [project] name must be {dist!r}")
    for classifier in REQUIRED_CLASSIFIERS:
        if classifier not in project.get("classifiers", []):
            found.append(f"{path}: classifiers lack {classifier!r}")
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    for requirement in requirements:
        if not FLOOR_RE.match(requirement):
            found.append(f"{path}: {requirement!r} declares no floor (>=)")
    hatch = data.get("tool", {}).get("hatch", {})
    if hatch.get("version", {}).get("path") != f"src/{module}/__about__.py":
        found.append(f"{path}: [tool.hatch.version] path must be 'src/{module}/__about__.py'")
    wheel = hatch.get("build", {}).get("targets", {}).get("wheel", {})
    if wheel.get("packages") != [f"src/{module}"]:
        found.append(f"{path}: [tool.hatch.build.targets.wheel] packages must be ['src/{module}']")
    for required in (f"src/{module}/py.typed", "README.md", "LICENSE"):
        if not (PACKAGES / dist / required).exists():
            found.append(f"packages/{dist}/{required} is missing")
    return found


def problems() -> list[str]:
    """What disagrees between versions, pins, CHANGELOG.md and the pyproject template."""
    found = []
    versions = {dist: read_version(dist) for dist in distributions()}
    entries = changelog_entries()
    for dist, version in versions.items():
        if dist != META and dist not in pins(META):
            found.append(f"the meta-package does not depend on {dist}")
        for dependency, pin in pins(dist).items():
            if dependency not in versions:
                found.append(f"{dist} pins {dependency}, which is not in packages/")
            elif not admits(pin, versions[dependency]):
                found.append(
                    f"{dist}'s pin on {dependency} does not admit {fmt(versions[dependency])}"
                )
        if (dist, fmt(version)) not in entries:
            found.append(f"CHANGELOG.md has no entry '## {dist} {fmt(version)}'")
        elif PLACEHOLDER in entry_text(dist, fmt(version)):
            found.append(f"CHANGELOG.md's entry for {dist} {fmt(version)} is still a placeholder")
        found += template_problems(dist)
    return found


def build(out: Path) -> list[Path]:
    """Build a wheel and an sdist of every distribution into ``out``; return the files."""
    hatch = shutil.which("hatch")
    if hatch is None:
        raise SystemExit("hatch is not on PATH; install it with: pip install 'hatch>=1.16'")
    out.mkdir(parents=True, exist_ok=True)
    # Inside a hatch environment (the test suite), hatch would try to build with that
    # environment; drop the markers so it uses each distribution's own build environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HATCH_ENV")}
    for dist in distributions():
        run = subprocess.run(
            [hatch, "build", "-t", "wheel", "-t", "sdist", str(out.resolve())],
            cwd=PACKAGES / dist,
            capture_output=True,
            text=True,
            env=env,
        )
        if run.returncode != 0:
            raise SystemExit(f"hatch build failed in packages/{dist}:\n{run.stdout}{run.stderr}")
    return sorted(out.iterdir())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bump", help="bump one distribution's version")
    b.add_argument("distribution")
    b.add_argument("part", choices=["major", "minor", "patch"])
    sub.add_parser("check", help="check versions, meta pins and CHANGELOG.md agree")
    b = sub.add_parser("build", help="build a wheel and an sdist of every distribution")
    b.add_argument("out", nargs="?", default=str(REPO / "dist"), type=Path)
    args = parser.parse_args(argv)
    if args.command == "build":
        for path in build(args.out):
            print(path)
        return 0
    if args.command == "bump":
        for line in bump(args.distribution, args.part):
            print(line)
        return 0
    issues = problems()
    for line in issues:
        print(line, file=sys.stderr)
    print(
        "versions, pins, CHANGELOG.md and pyproject template agree"
        if not issues
        else f"{len(issues)} problem(s)"
    )
    return 1 if issues else 0


if __name__ == "__main__":
    raise SystemExit(main())
