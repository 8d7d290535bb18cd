"""A ``jax.jit`` whose result can be pickled.

The object ``jax.jit`` returns holds compiled executables and cannot be pickled. The
wrapper here remembers only what is needed to build it again (the Python function and its
static and donated argument numbers) and compiles anew after unpickling.

Pickles record where ``JittedFunc`` lives: ``rlu_jaxtools._jit.JittedFunc`` now (so
this module and the class keep their names), ``rlu_jaxtools.picklable_jit.JittedFunc`` in
rlu-jaxtools 0.1.0, which the compatibility module ``rlu_jaxtools.picklable_jit`` keeps
loading.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import jax

from rlu_jaxtools._checks import check_argnums, check_callable


class JittedFunc:
    """A JIT-compiled function that survives pickling; create it with [`jit`][rlu_jaxtools.jit].

    Calling it calls ``jax.jit(func, static_argnums=..., donate_argnums=...)``. Pickling
    stores ``func``, ``static_argnums`` and ``donate_argnums``; unpickling compiles again.
    ``func`` must itself be picklable by the pickler in use: plain ``pickle`` handles
    module-level functions, ``cloudpickle`` also lambdas and closures.

    Parameters
    ----------
    func : callable
        The function to compile.
    static_argnums : int or tuple of ints, optional
        Positions of arguments treated as compile-time constants.
    donate_argnums : int or tuple of ints, optional
        Positions of arguments whose buffers may be reused for the outputs.

    Raises
    ------
    TypeError
        If ``func`` is not callable or an argnums value is not an int or tuple of ints.

    Examples
    --------
    >>> import pickle, operator
    >>> from rlu_jaxtools import jit
    >>> add = jit(operator.add)
    >>> type(add).__name__
    'JittedFunc'
    >>> restored = pickle.loads(pickle.dumps(add))
    >>> int(restored(2, 3))
    5
    """

    def __init__(
        self,
        func: Callable[..., Any],
        static_argnums: int | tuple[int, ...] = (),
        donate_argnums: int | tuple[int, ...] = (),
    ) -> None:
        check_callable("func", func, where="jit")
        self._func = func
        self._static_argnums = check_argnums("static_argnums", static_argnums, where="jit")
        self._donate_argnums = check_argnums("donate_argnums", donate_argnums, where="jit")
        self._jitted = jax.jit(
            func, static_argnums=self._static_argnums, donate_argnums=self._donate_argnums
        )
        functools.update_wrapper(self, func, updated=())

    @property
    def func(self) -> Callable[..., Any]:
        """The original (not compiled) Python function."""
        return self._func

    @property
    def static_argnums(self) -> tuple[int, ...]:
        """Positions of the static arguments."""
        return self._static_argnums

    @property
    def donate_argnums(self) -> tuple[int, ...]:
        """Positions of the donated arguments."""
        return self._donate_argnums

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(self._func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._jitted(*args, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        return (JittedFunc, (self._func, self._static_argnums, self._donate_argnums))

    def __repr__(self) -> str:
        name = getattr(self._func, "__qualname__", repr(self._func))
        return (
            f"JittedFunc({name}, static_argnums={self._static_argnums}, "
            f"donate_argnums={self._donate_argnums})"
        )


def jit(
    func: Callable[..., Any],
    static_argnums: int | tuple[int, ...] = (),
    donate_argnums: int | tuple[int, ...] = (),
) -> JittedFunc:
    """JIT-compile a function like ``jax.jit``, returning an object that can be pickled.

    The device and backend are left to JAX's defaults, because a compiled executable is
    tied to them; what gets pickled is the Python function with its ``static_argnums`` and
    ``donate_argnums``, and the function is compiled again, lazily on first call, after it
    is unpickled (possibly on another machine). See ``jax.jit`` for the meaning of the
    arguments.

    Parameters
    ----------
    func : callable
        The function to compile. To pickle the result with the standard ``pickle``,
        ``func`` must be importable (a module-level function); ``cloudpickle`` (used by
        ``rlu.dumps``) also handles lambdas and closures.
    static_argnums : int or tuple of ints, optional
        Positions of arguments that are compile-time constants (they must be hashable).
    donate_argnums : int or tuple of ints, optional
        Positions of arguments whose buffers JAX may reuse for the outputs; a donated JAX
        array must not be used after the call.

    Returns
    -------
    JittedFunc
        A callable with the signature, name and docstring of ``func``; its attributes
        ``func``, ``static_argnums`` and ``donate_argnums`` are kept through pickling.

    Raises
    ------
    TypeError
        If ``func`` is not callable or an argnums value is not an int or tuple of ints.

    Examples
    --------
    >>> import pickle
    >>> import jax.numpy as jnp
    >>> from rlu_jaxtools import jit
    >>> def power_sum(x, p):
    ...     return jnp.sum(x ** p)
    >>> f = jit(power_sum, static_argnums=1)
    >>> float(f(jnp.arange(4.0), 2))
    14.0
    >>> f.static_argnums
    (1,)
    """
    return JittedFunc(func, static_argnums=static_argnums, donate_argnums=donate_argnums)
