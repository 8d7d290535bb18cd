"""Module-level ``__getattr__``/``__dir__`` that import a name's owner on first use (PEP 562)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_module(
    module_name: str, names: dict[str, str], submodules: tuple[str, ...] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Build ``__getattr__`` and ``__dir__`` for a module that re-exports ``names`` lazily.

    Parameters
    ----------
    module_name : str
        The ``__name__`` of the module being made lazy; loaded names are cached in its globals.
    names : dict of str to str
        Public name -> the module that owns it.
    submodules : tuple of str, optional
        Submodules of ``module_name`` to import on attribute access (e.g. ``"utils"``).

    Returns
    -------
    getattr_, dir_ : callables
        To be assigned to the module's ``__getattr__`` and ``__dir__``.

    Examples
    --------
    >>> getattr_, dir_ = lazy_module("rlu", {"merge_dicts": "rlu_core"})
    >>> getattr_("merge_dicts")({"a": 1}, {"b": 2})
    {'a': 1, 'b': 2}
    """

    def getattr_(name: str) -> Any:
        module = importlib.import_module(module_name)
        if name in names:
            value = getattr(importlib.import_module(names[name]), name)
        elif name in submodules:
            value = importlib.import_module(f"{module_name}.{name}")
        else:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        setattr(module, name, value)  # later look-ups skip __getattr__
        return value

    def dir_() -> list[str]:
        module = importlib.import_module(module_name)
        return sorted(set(vars(module)) | set(names) | set(submodules))

    return getattr_, dir_
