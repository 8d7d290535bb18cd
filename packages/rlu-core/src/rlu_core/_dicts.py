"""Merge dictionaries, warning about (or refusing) keys that appear more than once."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from rlu_core._checks import check_bool, check_mapping


def merge_dicts(*dicts: Mapping[Any, Any], strict: bool = False) -> dict[Any, Any]:
    """Merge dicts into a single new dict; a duplicate key is warned about, or refused.

    As in coax, a key that appears in more than one argument gets the value of the *last*
    argument that has it, and a ``UserWarning`` names the duplicate keys and the arguments
    that share them (its message starts like coax's, ``merge_dicts found overlapping keys``, so
    warning filters written for coax still match). With ``strict=True`` a duplicate key raises
    a ``ValueError`` instead, which catches bugs such as two parameter groups that
    accidentally share a name; a key is a duplicate even where the values are equal.

    The arguments are never modified. Keys keep the order in which they first appear.

    Parameters
    ----------
    *dicts : Mapping
        Any number of mappings (zero gives an empty dict).
    strict : bool, optional
        Raise a ValueError on a duplicate key instead of warning and letting the last value win.

    Returns
    -------
    merged : dict
        A new dict with every key of every argument.

    Raises
    ------
    TypeError
        If an argument is not a mapping (the error is a ValueError as well: coax raised either,
        depending on the argument), or ``strict`` is not a bool.
    ValueError
        If ``strict=True`` and a key appears in more than one argument.

    Examples
    --------
    >>> from rlu_core import merge_dicts
    >>> merge_dicts({"a": 1}, {"b": 2}, {"c": 3})
    {'a': 1, 'b': 2, 'c': 3}
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     merge_dicts({"a": 1, "b": 2}, {"b": 3})
    {'a': 1, 'b': 3}
    >>> print(caught[0].message)  # doctest: +ELLIPSIS
    merge_dicts found overlapping keys: ('b',); the last value wins (key 'b' in arguments 0 and ...
    >>> merge_dicts({"a": 1, "b": 2}, {"b": 3}, strict=True)
    Traceback (most recent call last):
        ...
    ValueError: merge_dicts: duplicate key 'b' in arguments 0 and 1; keys must be unique ...
    """
    check_bool("strict", strict, where="merge_dicts")
    for i, d in enumerate(dicts):  # every argument is checked before anything is merged
        check_mapping(f"argument {i}", d, where="merge_dicts")

    merged: dict[Any, Any] = {}
    owner: dict[Any, int] = {}  # key -> index of the last argument it came from
    clashes: list[tuple[Any, int, int]] = []  # (key, earlier argument, later argument)
    for i, d in enumerate(dicts):
        found = [(k, owner[k], i) for k in d if k in owner]
        if found and strict:
            raise ValueError(
                f"merge_dicts: duplicate {_describe(found)}; keys must be unique across all "
                "dicts (use {**a, **b}, or strict=False, to let later values win)"
            )
        clashes += found
        for k, v in d.items():
            merged[k] = v
            owner[k] = i
    if clashes:
        keys = tuple(dict.fromkeys(k for k, _, _ in clashes))
        warnings.warn(
            f"merge_dicts found overlapping keys: {keys!r}; the last value wins "
            f"({_describe(clashes)}). Pass strict=True to make this an error",
            UserWarning,
            stacklevel=2,
        )
    return merged


def _describe(clashes: list[tuple[Any, int, int]]) -> str:
    """``key 'b' in arguments 0 and 1`` or ``keys 'a' in arguments 0 and 1, 'b' in ...``."""
    shown = ", ".join(f"{k!r} in arguments {j} and {i}" for k, j, i in clashes)
    return ("key " if len(clashes) == 1 else "keys ") + shown
