"""Type-check every distribution's sources: ``mypy --strict`` and ``pyright --verifytypes``.

Run through the workspace's ``types`` environment (``hatch run types:check``), where every
distribution is installed editable. ``mypy`` checks each package's ``src/`` in strict mode;
``pyright`` checks the sources and then requires ``--verifytypes`` to report 100% of each
package's public symbols as known. Pass distribution names to check only those.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from release import PACKAGES, distributions  # tools/ is on sys.path when this file runs

ROOT = Path(__file__).resolve().parent.parent


def _modules(names: list[str]) -> list[tuple[str, Path]]:
    unknown = set(names) - set(distributions())
    if unknown:
        raise SystemExit(f"unknown distribution(s): {', '.join(sorted(unknown))}")
    chosen = [d for d in distributions() if not names or d in names]
    return [(d.replace("-", "_"), PACKAGES / d / "src" / d.replace("-", "_")) for d in chosen]


def run_mypy(names: list[str]) -> int:
    modules = _modules(names)
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")]
    for module, _ in modules:
        cmd += ["-p", module]
    return subprocess.call(cmd, cwd=ROOT)


def run_pyright(names: list[str]) -> int:
    failed = 0
    modules = _modules(names)
    failed |= subprocess.call(["pyright", *[str(src) for _, src in modules]], cwd=ROOT)
    for module, _ in modules:
        out = subprocess.run(
            ["pyright", "--verifytypes", module, "--ignoreexternal", "--outputjson"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        report = json.loads(out.stdout)
        summary = report["typeCompleteness"]
        score = summary["completenessScore"]
        print(f"pyright --verifytypes {module}: {score:.1%} of public symbols fully typed")
        if score < 1.0:
            failed = 1
            for symbol in summary["symbols"]:
                if not symbol["isTypeKnown"]:
                    for diag in symbol["diagnostics"]:
                        print(f"  {symbol['name']}: {diag['message']}")
    return failed


if __name__ == "__main__":
    tool, *args = sys.argv[1:]
    sys.exit({"mypy": run_mypy, "pyright": run_pyright}[tool](args))
