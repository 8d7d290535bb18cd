"""Import optional dependencies on first use, with an error that names the extra to install."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

_EXTRA_OF = {
    "jax": "jax",
    "dm_control": "dmc",
    "mujoco": "dmc",
}

# Extras whose dependencies do not install on every Python: (first Python without them, why).
_UNAVAILABLE_FROM = {
    "dmc": ((3, 13), "dm-control does not install there (its dependency labmaze has no wheel)"),
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
        which ``pip install "rlu-envtools[...]"`` command brings it in, or, on a Python where
        that extra does not install, which Python to use.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = _EXTRA_OF.get(top)
        hint = f'pip install "rlu-envtools[{extra}]"' if extra else f"pip install {top}"
        message = (
            f"{feature} needs the optional dependency {top!r}, which could not be imported "
            f"({exc}). Install it with: {hint}"
        )
        if extra in _UNAVAILABLE_FROM:
            first, why = _UNAVAILABLE_FROM[extra]
            if sys.version_info[:2] >= first:
                here = ".".join(map(str, sys.version_info[:2]))
                last = f"{first[0]}.{first[1] - 1}"
                message += (
                    f". On Python {here} that will not work: {why} on Python >= "
                    f"{first[0]}.{first[1]}; use Python <= {last} for {feature}"
                )
        raise ImportError(message) from exc
