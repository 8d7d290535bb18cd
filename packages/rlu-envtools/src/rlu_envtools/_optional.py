"""Import optional dependencies on first use, with an error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["import_optional"]

_EXTRA_OF = {
    "jax": "jax",
    "dm_control": "dmc",
    "mujoco": "dmc",
}


def import_optional(module: str, feature: str) -> ModuleType:
    """Import ``module`` or raise an ImportError naming the extra of rlu-envtools that provides it.

    Parameters
    ----------
    module : str
        The dotted name of the module to import, e.g. ``"dm_control.suite"``.
    feature : str
        What needs the module, used in the error message, e.g. ``"make_dmc"``.

    Returns
    -------
    ModuleType
        The imported module.

    Raises
    ------
    ImportError
        If the module (or one of its own dependencies) cannot be imported; the message says
        which ``pip install "rlu-envtools[...]"`` command brings it in.

    Examples
    --------
    >>> import_optional("json", "a doctest").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = _EXTRA_OF.get(top)
        hint = f'pip install "rlu-envtools[{extra}]"' if extra else f"pip install {top}"
        raise ImportError(
            f"{feature} needs the optional dependency {top!r}, which could not be imported "
            f"({exc}). Install it with: {hint}"
        ) from exc
