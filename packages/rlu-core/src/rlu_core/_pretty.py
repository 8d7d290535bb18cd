"""Readable, multi-line representations of nested containers and arrays.

[`pretty_repr`][rlu_core.pretty_repr] never imports numpy, jax or pandas. An array-like is
recognised by its ``shape`` and ``dtype`` attributes; when numpy is already imported (as it is
whenever a numpy or JAX array exists), it is used to compute the min / median / max summary.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from rlu_core._checks import check_int

_INDENT = "  "  # one indentation level
_MAX_INLINE_WIDTH = 80  # a flat container is written on one line if it fits in this many chars


def pretty_repr(o: Any, d: int = 0) -> str:
    """Generate a readable, multi-line ``repr`` of ``o``.

    What is summarised and how:

    * **array-likes** -- numpy and JAX arrays, and anything else with ``shape`` and ``dtype``
      attributes -- become ``array(shape=..., dtype=..., min=..., median=..., max=...)``; the
      statistics are left out where they cannot be computed (empty arrays, JAX tracers inside
      ``jax.jit``, non-numeric dtypes, objects that only describe a shape and dtype).
    * **containers** -- dicts and other mappings, lists, tuples, namedtuples, dataclass instances,
      objects with an ``_asdict()`` method, pandas Series / DataFrames -- list one item per line,
      indented by two spaces per level of depth, each item followed by a comma. A container that
      holds no array and no non-empty container and fits on one line is written on one line.
    * **anything else** is written with the builtin ``repr``.

    Containers that contain themselves are shown as ``...`` at the point of recursion, as the
    builtin ``repr`` does.

    Parameters
    ----------
    o : object
        Any object.
    d : int, optional
        The depth of the recursion, i.e. the indentation level of the line on which the result
        starts. Nested items are indented by ``d + 1`` levels and the closing bracket by ``d``
        levels. Leave it at 0 unless you embed the result in indented text.

    Returns
    -------
    str
        The formatted representation.

    Raises
    ------
    TypeError
        If ``d`` is not an int.
    ValueError
        If ``d`` is negative.

    Examples
    --------
    >>> from rlu_core import pretty_repr
    >>> print(pretty_repr({"lr": 0.01, "layers": [64, 64], "opt": {"name": "adam", "b1": 0.9}}))
    {
      'lr': 0.01,
      'layers': [64, 64],
      'opt': {'name': 'adam', 'b1': 0.9},
    }
    >>> import numpy as np
    >>> print(pretty_repr({"w": np.arange(6.0).reshape(2, 3)}))
    {
      'w': array(shape=(2, 3), dtype=float64, min=0, median=2.5, max=5),
    }
    """
    depth = check_int("d", d, minimum=0, where="pretty_repr")
    return _format(o, depth, set())[0]


def pretty_print(obj: Any) -> None:
    """Print [`pretty_repr(obj)`][rlu_core.pretty_repr].

    Parameters
    ----------
    obj : object
        Any object.

    Examples
    --------
    >>> from collections import namedtuple
    >>> from rlu_core import pretty_print
    >>> Point = namedtuple("Point", "x y")
    >>> pretty_print([Point(1, 2), Point(3, 4)])
    [
      Point(x=1, y=2),
      Point(x=3, y=4),
    ]
    """
    print(pretty_repr(obj))


# --------------------------------------------------------------------------------------------
# implementation


def _format(o: Any, d: int, active: set[int]) -> tuple[str, bool]:
    """Format ``o`` at depth ``d``; ``active`` holds the ids of the containers being formatted.

    Returns the text and whether ``o`` forces its parent onto several lines (an array or a
    non-empty container does).
    """
    if _is_array_like(o):
        return _format_array(o), True

    parts = _container_parts(o)
    if parts is None:
        return repr(o), False
    opening, items, closing, inline_closing = parts
    if not items:
        return opening + closing, False

    if id(o) in active:  # self-reference: stop here instead of recursing forever
        return f"{opening}...{closing}", True
    active.add(id(o))
    try:
        rendered = [(prefix, *_format(value, d + 1, active)) for prefix, value in items]
    finally:
        active.discard(id(o))

    flat = [prefix + text for prefix, text, _ in rendered]
    if not any(nested or "\n" in text for _, text, nested in rendered):
        one_line = opening + ", ".join(flat) + inline_closing
        if len(_INDENT * d) + len(one_line) <= _MAX_INLINE_WIDTH:
            return one_line, True

    inner = _INDENT * (d + 1)
    body = "".join(f"\n{inner}{text}," for text in flat)
    return f"{opening}{body}\n{_INDENT * d}{closing}", True


def _container_parts(o: Any) -> tuple[str, list[tuple[str, Any]], str, str] | None:
    """Split a container into its parts, or return None for anything that isn't one.

    The parts are ``(opening, [(item prefix, value), ...], closing, closing when on one line)``;
    the two closings differ only for a 1-tuple, which needs its comma on one line: ``(1,)``.
    """
    if isinstance(o, type):  # classes carry `_asdict`, `items`, ... as unbound functions
        return None

    if _is_pandas(o, ("Series", "DataFrame")):
        return f"{type(o).__name__}(", [("index=", o.index), ("data=", o.values)], ")", ")"

    if hasattr(type(o), "__dataclass_fields__"):  # a dataclass instance
        import dataclasses  # already imported: the dataclass was made with it

        shown = [f for f in dataclasses.fields(o) if f.repr]
        return f"{type(o).__name__}(", [(f"{f.name}=", getattr(o, f.name)) for f in shown], ")", ")"

    asdict = getattr(o, "_asdict", None)  # namedtuples and record-like classes
    if callable(asdict):
        try:
            fields = _mapping_items(asdict())
        except Exception:  # a broken _asdict(): fall through to the other checks
            fields = None
        if fields is not None:
            return f"{type(o).__name__}(", [(f"{k}=", v) for k, v in fields], ")", ")"

    if isinstance(o, tuple):
        return "(", [("", v) for v in o], ")", ",)" if len(o) == 1 else ")"
    if isinstance(o, list):
        return "[", [("", v) for v in o], "]", "]"

    if isinstance(o, Mapping) or (callable(getattr(o, "items", None)) and hasattr(o, "keys")):
        pairs = _mapping_items(o)
        if pairs is None:
            return None
        opening, closing = ("{", "}") if type(o) is dict else (f"{type(o).__name__}({{", "})")
        return opening, [(f"{k!r}: ", v) for k, v in pairs], closing, closing

    return None


def _mapping_items(m: Any) -> list[tuple[Any, Any]] | None:
    """The (key, value) pairs of a mapping-like object, or None if it doesn't behave like one."""
    try:
        items = list(m.items())
    except Exception:
        return None
    if all(isinstance(kv, tuple) and len(kv) == 2 for kv in items):
        return items
    return None


def _is_array_like(o: Any) -> bool:
    if isinstance(o, type) or _is_pandas(o, ("Series", "DataFrame")):
        return False
    try:
        if not hasattr(o, "dtype"):
            return False
        tuple(o.shape)  # a shape must be a sequence of dimensions
    except Exception:  # missing, raising or non-iterable `shape`: not an array
        return False
    np = sys.modules.get("numpy")
    if np is not None and isinstance(o, np.generic):  # numpy scalars read best as plain repr
        return False
    return True


def _format_array(o: Any) -> str:
    return f"array(shape={tuple(o.shape)}, dtype={o.dtype}{_array_summary(o)})"


def _array_summary(o: Any) -> str:
    """``, min=..., median=..., max=...`` for concrete numeric arrays, else an empty string."""
    try:
        if 0 in tuple(o.shape):
            return ""
        np = sys.modules.get("numpy")
        if np is not None:
            stats = {"min": np.min(o), "median": np.median(o), "max": np.max(o)}
        else:  # numpy isn't loaded, so this is no numpy array: use the array's own methods
            stats = {"min": o.min(), "max": o.max()}
        return "".join(f", {name}={_scalar(value):.3g}" for name, value in stats.items())
    except Exception:  # tracers, strings, objects, shape-only descriptions, ...
        return ""


def _scalar(value: Any) -> Any:
    """Turn a 0-d array (numpy, JAX, ...) into a Python number so that it can be formatted."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _is_pandas(o: Any, names: tuple[str, ...]) -> bool:
    cls = type(o)
    return cls.__module__.startswith("pandas") and cls.__name__ in names
