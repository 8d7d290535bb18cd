"""Restricted unpickling: plain data only, every other global refused by name.

Unpickling calls whatever callables the pickle names, so loading a pickle from
an untrusted source can run arbitrary code. The ``RestrictedUnpickler``
resolves only the globals that plain data needs and raises
[`ForbiddenGlobalError`][rlu_serialize.ForbiddenGlobalError] for any other. The check is made on
the names before anything is imported, so numpy and JAX are imported only when
the data actually contains their arrays.
"""

from __future__ import annotations

import pickle
from typing import Any

from rlu_serialize._errors import ForbiddenGlobalError

_NUMPY_CORE = ("numpy._core", "numpy.core")  # numpy >= 2 and numpy 1.x

#: ``(module, name)`` pairs a restricted load resolves; everything else is refused.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    # builtin containers and scalars that pickle through a global, not an opcode
    [
        ("builtins", name)
        for name in (
            "bool",
            "bytearray",
            "bytes",
            "complex",
            "dict",
            "float",
            "frozenset",
            "int",
            "list",
            "range",
            "set",
            "slice",
            "str",
            "tuple",
        )
    ]
    # the same under their Python 2 names (protocols 0 to 2)
    + [
        ("__builtin__", name)
        for name in (
            "bool",
            "bytearray",
            "complex",
            "dict",
            "float",
            "frozenset",
            "int",
            "list",
            "long",
            "set",
            "slice",
            "str",
            "tuple",
            "unicode",
            "xrange",
        )
    ]
    + [("_codecs", "encode"), ("collections", "OrderedDict"), ("collections", "deque")]
    # numpy arrays, dtypes and scalars
    + [("numpy", "ndarray"), ("numpy", "dtype")]
    + [(f"{core}.multiarray", "_reconstruct") for core in _NUMPY_CORE]
    + [(f"{core}.multiarray", "scalar") for core in _NUMPY_CORE]
    + [(f"{core}.numeric", "_frombuffer") for core in _NUMPY_CORE]
    # JAX arrays (rebuilt from a numpy array, then put on the default device)
    + [("jax._src.array", "_reconstruct_array")]
)


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only ``ALLOWED_GLOBALS``.

    Parameters
    ----------
    file : file-like
        Source of the pickle, as for ``pickle.Unpickler``.

    Raises
    ------
    ForbiddenGlobalError
        From ``load``, naming the first global the pickle asks for that is
        not allowed.

    Examples
    --------
    >>> import io, pickle
    >>> RestrictedUnpickler(io.BytesIO(pickle.dumps({"a": [1, 2.5, {3}]}))).load()
    {'a': [1, 2.5, {3}]}
    >>> import os
    >>> RestrictedUnpickler(io.BytesIO(pickle.dumps(os.getcwd))).load()
    Traceback (most recent call last):
      ...
    rlu_serialize.ForbiddenGlobalError: restricted load (trusted=False) refuses the global 'posix.getcwd': ...
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise ForbiddenGlobalError(f"{module}.{name}")
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError(
            "restricted load (trusted=False) refuses persistent ids; "
            "rlu_serialize never writes them"
        )
