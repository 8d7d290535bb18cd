"""The argument checks of rlu_quantiles, in one place.

House behaviour: integers accept ``int`` and numpy integers and refuse ``bool``; a wrong type
raises ``TypeError``, a wrong value ``ValueError``; the message names the argument and what was
expected (``num_quantiles must be an int >= 1, got 0``).
"""

from __future__ import annotations

import operator
from typing import Any

import jax.numpy as jnp


class TypeAndValueError(TypeError, ValueError):
    """A TypeError that is also a ValueError.

    rlu-quantiles 0.1.0 raised ValueError for a count of the wrong type; coax raised TypeError
    (from JAX). Both ``except`` clauses still catch it.
    """


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def check_count(name: str, value: Any, *, where: str = "") -> int:
    """``value`` as a Python int, checked to be an integer >= 1."""
    if isinstance(value, (bool, jnp.bool_)):
        number = None
    else:
        try:
            number = operator.index(value)
        except TypeError:
            number = None
    if number is None:
        raise TypeAndValueError(f"{_prefix(where)}{name} must be an int >= 1, got {value!r}")
    if number < 1:
        raise ValueError(f"{_prefix(where)}{name} must be an int >= 1, got {number}")
    return number
