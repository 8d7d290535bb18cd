"""The repository's ``tools/`` scripts as modules, for the mkdocs hooks beside this file.

mkdocs puts this folder on ``sys.path`` while it loads a hook, so ``from hook_tools import tool``
works there. Each script is loaded once per build, however many hooks and pages ask for it.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def tool(name: str) -> ModuleType:
    """``tools/<name>.py`` as a module, loaded once."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
