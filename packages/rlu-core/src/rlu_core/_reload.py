"""Reload a package together with the modules it depends on, dependencies first."""

from __future__ import annotations

import importlib
import logging
import sys
from types import ModuleType

from rlu_core._checks import check_bool, check_module

logger = logging.getLogger(__name__)


def reload_recursive(module: ModuleType | str, reload_external_modules: bool = False) -> list[str]:
    r"""Recursively reload a module, each module after the modules it depends on.

    The modules that ``module`` depends on are found among its attributes: attributes that are
    modules (``import x``, ``from . import sub``), the modules that its functions and classes
    come from (``from .sub import f``), and, for a package, its submodules that are already
    imported. They are followed recursively and each is reloaded (``importlib.reload``)
    before the modules that use it, so that ``from .sub import f`` picks up the new ``f``.
    Each module is reloaded once; import cycles are broken where they are met.

    By default only ``module`` and its submodules (names starting with ``module.__name__ + "."``)
    are reloaded. Modules of the standard library (``sys``, ``logging``, ``typing``, ...) and other
    built-in or frozen modules are never reloaded: reloading them breaks the running interpreter.

    Parameters
    ----------
    module : ModuleType or str
        The module to reload, or its dotted name (imported first if it isn't yet).
    reload_external_modules : bool, optional
        Also reload the modules outside ``module``'s package that it depends on, recursively.
        Use with care: reloading a third-party library such as numpy can break it.

    Returns
    -------
    reloaded : list of str
        The names of the reloaded modules, in the order in which they were reloaded
        (``module`` itself is last).

    Raises
    ------
    TypeError
        If ``module`` is neither a module nor a str.

    Notes
    -----
    Python decides whether a source file changed from its modification time and size. After
    rewriting a file programmatically within the same second, call
    ``importlib.invalidate_caches`` and make sure the time stamp moved on (``os.utime``).

    Examples
    --------
    A package whose ``core`` imports a function from ``utils``; ``utils.py`` is then edited:

    >>> import os, pathlib, sys, tempfile
    >>> from rlu_core import reload_recursive
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "demo_pkg").mkdir()
    >>> _ = (root / "demo_pkg" / "__init__.py").write_text("from .core import answer\n")
    >>> _ = (root / "demo_pkg" / "core.py").write_text(
    ...     "from .utils import base\nanswer = base() + 1\n"
    ... )
    >>> _ = (root / "demo_pkg" / "utils.py").write_text("def base():\n    return 41\n")
    >>> sys.path.insert(0, str(root))
    >>> import demo_pkg
    >>> demo_pkg.answer
    42
    >>> _ = (root / "demo_pkg" / "utils.py").write_text("def base():\n    return 99\n")
    >>> os.utime(root / "demo_pkg" / "utils.py", (0, 0))  # a visibly different time stamp
    >>> reload_recursive("demo_pkg")
    ['demo_pkg.utils', 'demo_pkg.core', 'demo_pkg']
    >>> demo_pkg.answer
    100
    >>> sys.path.remove(str(root))
    """
    # both checked before anything is imported: importing runs code
    check_bool("reload_external_modules", reload_external_modules, where="reload_recursive")
    module = check_module("module", module, where="reload_recursive")
    if isinstance(module, str):
        module = sys.modules.get(module) or importlib.import_module(module)

    root = module.__name__

    def in_scope(name: str) -> bool:
        return reload_external_modules or name == root or name.startswith(root + ".")

    reloaded: list[str] = []
    visited: set[str] = set()

    def visit(mod: ModuleType) -> None:
        visited.add(mod.__name__)
        for dep in _dependencies(mod):
            if dep.__name__ not in visited and in_scope(dep.__name__) and _reloadable(dep):
                visit(dep)
        logger.debug("reloading module: %s", mod.__name__)
        importlib.reload(mod)
        reloaded.append(mod.__name__)

    visit(module)
    return reloaded


def _dependencies(mod: ModuleType) -> list[ModuleType]:
    """The modules that ``mod`` refers to, in a stable order and without repeats."""
    found: dict[str, ModuleType] = {}
    for value in list(vars(mod).values()):
        dep: ModuleType | None
        if isinstance(value, ModuleType):
            dep = value
        else:
            try:  # functions and classes know the module they were defined in
                owner = value.__module__ if callable(value) else None
            except Exception:
                owner = None
            dep = sys.modules.get(owner) if isinstance(owner, str) else None
        if isinstance(dep, ModuleType) and dep is not mod:
            found.setdefault(dep.__name__, dep)
    if hasattr(mod, "__path__"):  # a package: its already-imported submodules
        prefix = mod.__name__ + "."
        for name, sub in list(sys.modules.items()):
            if name.startswith(prefix) and "." not in name[len(prefix) :]:
                if isinstance(sub, ModuleType):
                    found.setdefault(name, sub)
    return [found[name] for name in sorted(found)]


def _reloadable(mod: ModuleType) -> bool:
    if mod.__name__.partition(".")[0] in sys.stdlib_module_names:
        return False
    spec = getattr(mod, "__spec__", None)
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        return False
    return sys.modules.get(mod.__name__) is mod  # reload() only works on registered modules
