"""tools/release.py: versions, meta-package pins and CHANGELOG.md agree, and bump keeps them so."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from workspace import REPO, release_tool


@pytest.fixture
def sandbox(tmp_path) -> Path:
    """A copy of the files of the repository that the release tool reads and writes."""
    for pyproject in (REPO / "packages").glob("*/pyproject.toml"):
        dist = pyproject.parent.name
        src_dir = pyproject.parent / "src" / dist.replace("-", "_")
        copied = (src_dir / "__about__.py", src_dir / "py.typed")
        for src in (
            pyproject,
            pyproject.parent / "README.md",
            pyproject.parent / "LICENSE",
            *copied,
        ):
            dst = tmp_path / src.relative_to(REPO)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dst)
    shutil.copy(REPO / "CHANGELOG.md", tmp_path / "CHANGELOG.md")
    return tmp_path


def test_repository_agrees_with_itself():
    assert release_tool(REPO).problems() == []


def test_meta_pins_admit_current_versions_by_packaging():
    tool = release_tool(REPO)
    deps = [Requirement(d) for d in tool.pyproject("rlu")["project"]["dependencies"]]
    for req in deps:
        version = tool.fmt(tool.read_version(req.name))
        assert SpecifierSet(str(req.specifier)).contains(version), (req, version)
    assert {req.name for req in deps} == set(tool.distributions()) - {"rlu"}


def _fill_in_entries(tool) -> None:
    """Replace every placeholder entry with a description, as a releaser does after bump."""
    text = tool.CHANGELOG.read_text().replace(tool.PLACEHOLDER, "Fix a bug.")
    tool.CHANGELOG.write_text(text)


def test_patch_bump_keeps_pin_and_opens_entry(sandbox):
    tool = release_tool(sandbox)
    before = tool.read_version("rlu-noise")
    meta_before = tool.read_version("rlu")
    tool.bump("rlu-noise", "patch")
    after = tool.read_version("rlu-noise")
    assert after == (before[0], before[1], before[2] + 1)
    assert tool.read_version("rlu") == meta_before
    assert ("rlu-noise", tool.fmt(after)) in tool.changelog_entries()
    assert tool.problems() == [
        f"CHANGELOG.md's entry for rlu-noise {tool.fmt(after)} is still a placeholder"
    ]
    _fill_in_entries(tool)
    assert tool.problems() == []


def test_minor_bump_before_1_widens_every_pin_on_it(sandbox):
    tool = release_tool(sandbox)
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
    _fill_in_entries(tool)
    assert tool.problems() == []


def test_bumping_a_distribution_with_extras_keeps_them_in_the_pins(sandbox):
    tool = release_tool(sandbox)
    tool.bump("rlu-jaxtools", "minor")  # pinned by rlu-envtools' [jax] extra and by rlu
    text = (sandbox / "packages" / "rlu" / "pyproject.toml").read_text()
    assert "rlu-envtools[jax,dmc]>=" in text
    _fill_in_entries(tool)
    assert tool.problems() == []


def test_check_reports_a_sibling_pin_that_excludes_the_version(sandbox):
    tool = release_tool(sandbox)
    tool.write_version("rlu-core", (0, 9, 0))
    found = tool.problems()
    assert any("rlu-envtools's pin on rlu-core does not admit 0.9.0" in p for p in found)
    assert any("rlu's pin on rlu-core does not admit 0.9.0" in p for p in found)


def test_check_reports_a_missing_changelog_entry(sandbox):
    tool = release_tool(sandbox)
    tool.write_version("rlu-noise", (0, 1, 99))
    assert any("no entry '## rlu-noise 0.1.99'" in p for p in tool.problems())


def test_check_reports_a_pin_that_excludes_the_version(sandbox):
    tool = release_tool(sandbox)
    tool.write_version("rlu-noise", (0, 7, 0))
    assert any("rlu's pin on rlu-noise does not admit 0.7.0" in p for p in tool.problems())


def test_unknown_part_or_distribution_is_refused(sandbox):
    tool = release_tool(sandbox)
    with pytest.raises(SystemExit, match="part must be one of"):
        tool.bumped((0, 1, 0), "micro")
    with pytest.raises(SystemExit, match="distribution must be one of"):
        tool.bump("rlu-nope", "patch")


def test_check_reports_each_departure_from_the_pyproject_template(sandbox):
    tool = release_tool(sandbox)
    path = sandbox / "packages" / "rlu-noise" / "pyproject.toml"
    text = path.read_text()
    text = text.replace('requires = ["hatchling>=1.26"]', 'requires = ["hatchling"]')
    text = text.replace('  "Programming Language :: Python :: 3.13",\n', "")
    text = text.replace('"numpy>=', '"numpy<3,>')
    path.write_text(text)
    (sandbox / "packages" / "rlu-noise" / "src" / "rlu_noise" / "py.typed").unlink()
    found = [p for p in tool.problems() if "rlu-noise" in p]
    assert any("[build-system] requires must be ['hatchling>=1.26']" in p for p in found)
    assert any("lack 'Programming Language :: Python :: 3.13'" in p for p in found)
    assert any("'numpy<3,>" in p and "declares no floor" in p for p in found)
    assert any("py.typed is missing" in p for p in found)
    assert len(found) == 4, found
