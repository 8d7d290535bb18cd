"""The reducers the compiled kernels know, written once for the host and the JAX trees.

A reducer has a name (``'add'``, ``'min'``, ``'max'``: the JAX trees' ``reducer``), a code (the
compiled kernels' ``op``, see ``_kernel_contract``), an identity element (the host trees'
``init_value``, the value of leaves never set) and a numpy ufunc. Users spell it as a name or as
a function: ``NAMES`` and ``FUNCTIONS`` hold the accepted spellings (the JAX trees add JAX's own
functions). Importing this module imports neither numba nor jax.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Final

import numpy as np

from rlu_trees._kernel_contract import ADD, MAX, MIN

# reducer name -> the compiled kernels' code
CODE: Final[dict[str, int]] = {"add": ADD, "min": MIN, "max": MAX}

# reducer name -> identity element
IDENTITY: Final[dict[str, float]] = {"add": 0.0, "min": math.inf, "max": -math.inf}

# reducer name -> numpy ufunc
UFUNC: Final[dict[str, np.ufunc]] = {"add": np.add, "min": np.minimum, "max": np.maximum}

# accepted names -> reducer name
NAMES: Final[dict[str, str]] = {
    "add": "add",
    "sum": "add",
    "min": "min",
    "minimum": "min",
    "max": "max",
}

# accepted functions (numpy's and Python's) -> reducer name
FUNCTIONS: Final[dict[Any, str]] = {
    np.add: "add",
    operator.add: "add",
    np.minimum: "min",
    np.fmin: "min",
    min: "min",
    np.maximum: "max",
    np.fmax: "max",
    max: "max",
}
