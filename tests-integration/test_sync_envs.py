"""tools/sync_envs.py: environments from older package metadata are removed, current ones kept."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import ModuleType

import pytest
from workspace import REPO
from workspace import tool as workspace_tool


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return workspace_tool("sync_envs")


@pytest.fixture
def sandbox(tmp_path) -> Path:
    """A copy of the files that decide the distributions' metadata."""
    for src in [
        *REPO.glob("packages/*/pyproject.toml"),
        *REPO.glob("packages/*/src/*/__about__.py"),
    ]:
        dst = tmp_path / src.relative_to(REPO)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dst)
    return tmp_path


def make_env(storage: Path, name: str, *, member: bool) -> Path:
    site = storage / name / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (site / ("_editable_impl_rlu_core.pth" if member else "ruff.pth")).write_text("x\n")
    return storage / name


def test_hash_follows_versions_and_dependencies(tool, sandbox):
    before = tool.sources_hash(sandbox)
    assert tool.sources_hash(sandbox) == before  # deterministic
    about = sandbox / "packages" / "rlu-core" / "src" / "rlu_core" / "__about__.py"
    about.write_text(about.read_text() + "\n# bumped\n")
    bumped = tool.sources_hash(sandbox)
    assert bumped != before
    pyproject = sandbox / "packages" / "rlu-replay" / "pyproject.toml"
    text = pyproject.read_text()
    assert '"numba>=0.58"' in text
    pyproject.write_text(text.replace('"numba>=0.58"', '"numba>=0.59"'))
    assert tool.sources_hash(sandbox) not in (before, bumped)


def test_sync_removes_member_envs_only_when_sources_changed(tool, tmp_path):
    storage = tmp_path / "storage"
    old = make_env(storage, "hatch-test.py3.11", member=True)
    lint = make_env(storage, "lint", member=False)
    # no stamp: the environments' sources are unknown, so the member one is rebuilt
    assert tool.sync(storage, "A") == [old]
    assert not old.exists() and lint.exists()
    assert (storage / tool.STAMP).read_text().strip() == "A"
    rebuilt = make_env(storage, "hatch-test.py3.11", member=True)
    assert tool.sync(storage, "A") == []  # same sources: kept
    assert rebuilt.exists()
    assert tool.sync(storage, "B") == [rebuilt]  # a version or dependency changed
    assert not rebuilt.exists() and lint.exists()


def test_sync_on_a_machine_without_environments(tool, tmp_path):
    storage = tmp_path / "not-yet"
    assert tool.sync(storage, "A") == []
    assert (storage / tool.STAMP).read_text().strip() == "A"  # hatch builds them from these sources
