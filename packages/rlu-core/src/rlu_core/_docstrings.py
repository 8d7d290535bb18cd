"""Copy a docstring from one object onto another."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F")


def docstring(obj: Any) -> Callable[[F], F]:
    """Make a decorator that gives the decorated object the docstring of ``obj``.

    Handy when a function or method wraps, overrides or re-implements another one and should be
    documented the same way.

    Parameters
    ----------
    obj : object
        The object whose ``__doc__`` is copied (it may be None).

    Returns
    -------
    decorator : callable
        A decorator that sets ``__doc__`` on the decorated object and returns that same object.

    Examples
    --------
    >>> from rlu_core import docstring
    >>> def f(x):
    ...     '''Square a number.'''
    ...     return x * x
    >>> @docstring(f)
    ... def g(x):
    ...     return 13 - x
    >>> g.__doc__
    'Square a number.'
    """
    doc = obj.__doc__

    def decorator(func: F) -> F:
        func.__doc__ = doc
        return func

    return decorator
