"""Look up attributes on a stack of gymnasium wrappers, from the outermost wrapper inward."""

from __future__ import annotations

from typing import Any

from rlu_envtools._checks import TypeAndValueError, check_int, check_str

# The reference's sentinel: the default of ``default``, meaning "raise if not found".
_ERROR = "__ERROR__"


def _check_args(attr: object, max_depth: object) -> tuple[str, int]:
    # A max_depth of the wrong type is a TypeError that is a ValueError too: coax raised
    # TypeError for it, rlu-envtools 0.1.0 ValueError.
    return check_str("attr", attr), check_int(
        "max_depth", max_depth, minimum=1, type_error=TypeAndValueError
    )


def _find(env: Any, attr: str, max_depth: int) -> tuple[bool, Any]:
    """Walk ``env``, ``env.env``, ``env.env.env``, ... and stop at the first that has ``attr``."""
    e = env
    for _ in range(max_depth):
        try:
            return True, getattr(e, attr)
        except AttributeError:
            pass
        try:
            e = e.env
        except AttributeError:
            break
    return False, None


def get_env_attr(env: Any, attr: str, default: Any = _ERROR, max_depth: int = 100) -> Any:
    """Get an attribute from a possibly wrapped environment.

    The wrappers are searched from the outside in: ``env`` first, then ``env.env``, and so on,
    and the search stops at the first object that has the attribute. An inner environment may
    carry an attribute of the same name with another value; the outermost one wins.

    Parameters
    ----------
    env : gymnasium.Env
        A possibly wrapped environment (anything with an ``env`` attribute is followed inward).
    attr : str
        The attribute name.
    default : object, optional
        Returned when no level has the attribute. If left out (its default is the string
        ``'__ERROR__'``, as in coax), an AttributeError is raised instead.
    max_depth : positive int, optional
        How many levels to search, counting ``env`` itself as the first.

    Returns
    -------
    object
        The value of the attribute on the outermost level that has it, or ``default``.

    Raises
    ------
    AttributeError
        If no level within ``max_depth`` has the attribute and no ``default`` was given.
    TypeError
        If ``attr`` is not a str, or ``max_depth`` not an int (the error is a ValueError too).
    ValueError
        If ``max_depth`` is not positive.

    Examples
    --------
    >>> import gymnasium
    >>> from rlu_envtools import get_env_attr
    >>> env = gymnasium.make("CartPole-v1", max_episode_steps=5)
    >>> get_env_attr(env, "gravity")  # lives on the innermost CartPoleEnv
    9.8
    >>> get_env_attr(env, "no_such_thing", default=None) is None
    True
    >>> get_env_attr(env, "gravity", max_depth=1)
    Traceback (most recent call last):
    ...
    AttributeError: env has no attribute 'gravity' within 1 wrapper level(s)
    """
    attr, max_depth = _check_args(attr, max_depth)
    found, value = _find(env, attr, max_depth)
    if found:
        return value
    if isinstance(default, str) and default == _ERROR:
        raise AttributeError(f"env has no attribute {attr!r} within {max_depth} wrapper level(s)")
    return default


def has_env_attr(env: Any, attr: str, max_depth: int = 100) -> bool:
    """Check whether a possibly wrapped environment has an attribute at some level.

    Parameters
    ----------
    env : gymnasium.Env
        A possibly wrapped environment (anything with an ``env`` attribute is followed inward).
    attr : str
        The attribute name.
    max_depth : positive int, optional
        How many levels to search, counting ``env`` itself as the first.

    Returns
    -------
    bool
        Whether ``env`` or one of the environments it wraps (within ``max_depth`` levels) has
        the attribute.

    Raises
    ------
    TypeError
        If ``attr`` is not a str, or ``max_depth`` not an int (the error is a ValueError too).
    ValueError
        If ``max_depth`` is not positive.

    Examples
    --------
    >>> import gymnasium
    >>> from rlu_envtools import has_env_attr
    >>> env = gymnasium.make("CartPole-v1")
    >>> has_env_attr(env, "gravity"), has_env_attr(env, "no_such_thing")
    (True, False)
    """
    attr, max_depth = _check_args(attr, max_depth)
    return _find(env, attr, max_depth)[0]
