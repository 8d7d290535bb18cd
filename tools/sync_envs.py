"""Drop hatch environments that were built from older distribution metadata (run by bootstrap.sh).

Hatch installs the workspace members editable, and it only checks that each member *is* installed:
when a distribution's version or dependencies change (``packages/*/pyproject.toml``, its
``__about__.py``), an existing environment keeps the old metadata, so
``importlib.metadata.version("rlu-core")`` and the installed dependencies go stale and the tests
that compare them fail on a machine that ran an earlier commit. This script hashes those files; when
the hash differs from the one recorded beside the environments, every environment of this checkout
that holds a workspace member is removed, and hatch rebuilds it from the current sources on its next
use.

Standard library only: it runs under whatever ``python3`` the machine has, before any environment.

Usage: ``python3 tools/sync_envs.py`` (asks ``hatch env find`` where the environments live), or
``python3 tools/sync_envs.py STORAGE`` with the folder that holds them.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAMP = ".rlu-sources"  # the hash the environments beside it were (re)built from


def sources_hash(repo: Path = REPO) -> str:
    """One hash over every file that decides a distribution's installed metadata."""
    files = sorted(repo.glob("packages/*/pyproject.toml")) + sorted(
        repo.glob("packages/*/src/*/__about__.py")
    )
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(repo).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def holds_member(env: Path) -> bool:
    """True when ``env`` is a virtual environment with an rlu distribution installed editable."""
    return any(env.glob("lib/python*/site-packages/_editable_impl_rlu*.pth"))


def sync(storage: Path, current: str) -> list[Path]:
    """Remove the environments under ``storage`` built from other sources; return those removed."""
    storage.mkdir(parents=True, exist_ok=True)
    stamp = storage / STAMP
    if stamp.is_file() and stamp.read_text().strip() == current:
        return []
    removed = [env for env in sorted(storage.iterdir()) if env.is_dir() and holds_member(env)]
    for env in removed:
        shutil.rmtree(env)
    stamp.write_text(current + "\n")
    return removed


def storage_dir() -> Path | None:
    """The folder of this checkout's hatch environments, or None when hatch cannot say."""
    try:
        found = subprocess.run(
            ["hatch", "env", "find", "default"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return None
    return Path(found[0]).parent if found else None


def main(argv: list[str]) -> int:
    storage = Path(argv[0]) if argv else storage_dir()
    if storage is None:
        print(
            "sync_envs: hatch could not locate the environments; nothing checked", file=sys.stderr
        )
        return 0
    for env in sync(storage, sources_hash()):
        print(f"sync_envs: {env.name} was built from older package metadata; hatch rebuilds it")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
