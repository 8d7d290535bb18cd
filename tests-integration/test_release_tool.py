"""tools/release.py: versions, the meta-package's pins and CHANGELOG.md agree, and bump keeps them so."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

REPO = Path(__file__).resolve().parents[1]


def _load_tool(repo: Path):
    spec = importlib.util.spec_from_file_location("release_tool", REPO / "tools" / "release.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.REPO, module.PACKAGES, module.CHANGELOG = repo, repo / "packages", repo / "CHANGELOG.md"
    return module


@pytest.fixture
def sandbox(tmp_path) -> Path:
    """A copy of the version-bearing files of the repository."""
    for pyproject in (REPO / "packages").glob("*/pyproject.toml"):
        dist = pyproject.parent.name
        about = pyproject.parent / "src" / dist.replace("-", "_") / "__about__.py"
        for src in (pyproject, about):
            dst = tmp_path / src.relative_to(REPO)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dst)
    shutil.copy(REPO / "CHANGELOG.md", tmp_path / "CHANGELOG.md")
    return tmp_path


def test_repository_agrees_with_itself():
    assert _load_tool(REPO).problems() == []


def test_meta_pins_admit_current_versions_by_packaging():
    tool = _load_tool(REPO)
    text = (REPO / "packages" / "rlu" / "pyproject.toml").read_text()
    import tomllib

    deps = [Requirement(d) for d in tomllib.loads(text)["project"]["dependencies"]]
    for req in deps:
        version = tool.fmt(tool.read_version(req.name))
        assert SpecifierSet(str(req.specifier)).contains(version), (req, version)
    assert {req.name for req in deps} == set(tool.distributions()) - {"rlu"}


def test_patch_bump_keeps_pin_and_opens_entry(sandbox):
    tool = _load_tool(sandbox)
    before = tool.read_version("rlu-noise")
    meta_before = tool.read_version("rlu")
    tool.bump("rlu-noise", "patch")
    after = tool.read_version("rlu-noise")
    assert after == (before[0], before[1], before[2] + 1)
    assert tool.read_version("rlu") == meta_before
    assert ("rlu-noise", tool.fmt(after)) in tool.changelog_entries()
    assert tool.problems() == []


def test_minor_bump_before_1_widens_every_pin_on_it(sandbox):
    tool = _load_tool(sandbox)
    major, minor, _ = tool.read_version("rlu-core")
    dependents = [d for d in tool.distributions() if "rlu-core" in tool.pins(d)]
    assert {"rlu", "rlu-envtools"} <= set(dependents)  # envtools needs rlu-core itself
    before = {d: tool.read_version(d) for d in dependents}
    tool.bump("rlu-core", "minor")
    assert tool.read_version("rlu-core") == (major, minor + 1, 0)
    for dependent in dependents:
        assert tool.pins(dependent)["rlu-core"] == ((0, minor + 1), (0, minor + 2))
        old = before[dependent]
        assert tool.read_version(dependent) == (old[0], old[1], old[2] + 1)
    assert tool.problems() == []


def test_bumping_a_distribution_with_extras_keeps_them_in_the_pins(sandbox):
    tool = _load_tool(sandbox)
    tool.bump("rlu-jaxtools", "minor")  # pinned by rlu-envtools' [jax] extra and by rlu
    text = (sandbox / "packages" / "rlu" / "pyproject.toml").read_text()
    assert "rlu-envtools[jax,dmc]>=" in text
    assert tool.problems() == []


def test_check_reports_a_sibling_pin_that_excludes_the_version(sandbox):
    tool = _load_tool(sandbox)
    tool.write_version("rlu-core", (0, 9, 0))
    found = tool.problems()
    assert any("rlu-envtools's pin on rlu-core does not admit 0.9.0" in p for p in found)
    assert any("rlu's pin on rlu-core does not admit 0.9.0" in p for p in found)


def test_check_reports_a_missing_changelog_entry(sandbox):
    tool = _load_tool(sandbox)
    tool.write_version("rlu-noise", (0, 1, 99))
    assert any("no entry '## rlu-noise 0.1.99'" in p for p in tool.problems())


def test_check_reports_a_pin_that_excludes_the_version(sandbox):
    tool = _load_tool(sandbox)
    tool.write_version("rlu-noise", (0, 7, 0))
    assert any("rlu's pin on rlu-noise does not admit 0.7.0" in p for p in tool.problems())


def test_unknown_part_or_distribution_is_refused(sandbox):
    tool = _load_tool(sandbox)
    with pytest.raises(SystemExit, match="part must be one of"):
        tool.bumped((0, 1, 0), "micro")
    with pytest.raises(SystemExit, match="distribution must be one of"):
        tool.bump("rlu-nope", "patch")
