"""Merge dictionaries that must not overlap."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["merge_dicts"]


def merge_dicts(*dicts: Mapping[Any, Any]) -> dict[Any, Any]:
    """Merge dicts into a single new dict, refusing to resolve duplicate keys.

    Duplicate keys are *not resolved*: rather than letting one value silently overwrite another,
    which hides bugs such as two parameter groups that accidentally share a name, a key that
    appears in more than one argument raises a :class:`ValueError` that names the keys and the
    arguments that share them. To let later values win on purpose, use ``{**a, **b}`` instead.

    The arguments are never modified. Keys keep the order in which they first appear.

    Parameters
    ----------
    *dicts : Mapping
        Any number of mappings (zero gives an empty dict).

    Returns
    -------
    merged : dict
        A new dict with every key-value pair of every argument.

    Raises
    ------
    TypeError
        If an argument is not a mapping.
    ValueError
        If a key appears in more than one argument.

    Examples
    --------
    >>> merge_dicts({"a": 1}, {"b": 2}, {"c": 3})
    {'a': 1, 'b': 2, 'c': 3}
    >>> merge_dicts({"a": 1, "b": 2}, {"b": 3})
    Traceback (most recent call last):
        ...
    ValueError: merge_dicts: duplicate key 'b' in arguments 0 and 1; keys must be unique ...
    """
    merged: dict[Any, Any] = {}
    owner: dict[Any, int] = {}  # key -> index of the argument it came from
    for i, d in enumerate(dicts):
        if not isinstance(d, Mapping):
            raise TypeError(
                f"merge_dicts: argument {i} must be a mapping (e.g. a dict), got {type(d).__name__}"
            )
        clashes = [(k, owner[k]) for k in d if k in owner]
        if clashes:
            shown = ", ".join(f"{k!r} in arguments {j} and {i}" for k, j in clashes)
            noun = "key" if len(clashes) == 1 else "keys"
            raise ValueError(
                f"merge_dicts: duplicate {noun} {shown}; keys must be unique across all dicts "
                "(use {**a, **b} to let later values win)"
            )
        for k, v in d.items():
            merged[k] = v
            owner[k] = i
    return merged
