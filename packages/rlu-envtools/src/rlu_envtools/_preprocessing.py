"""Default preprocessors that turn elements of gymnasium spaces into batched JAX arrays.

Needs the ``jax`` extra (``pip install "rlu-envtools[jax]"``); jax is imported on first use.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np

from rlu_envtools._checks import (
    TypeAndAttributeError,
    check_callable,
    check_count,
    check_int,
    check_seed,
    check_space,
)
from rlu_envtools._optional import import_optional

Preprocessor = Callable[[Any, Any], Any]


def _split(jax: Any, rng: Any, num: int) -> list[Any]:
    """Split a PRNG key into ``num`` keys; a None key gives None keys."""
    if rng is None or num == 0:
        return [None] * num
    return list(jax.random.split(rng, num))


def default_preprocessor(space: gymnasium.Space[Any]) -> Preprocessor:
    """The default preprocessor for elements of a gymnasium space.

    A preprocessor is a function ``func(rng, X)`` of a JAX PRNG key (which may be None; the
    default preprocessors use no randomness) and either one element of the space or a batch of
    them. Its output always has a leading batch axis:

    ========================  =========================================================
    space                     output for a batch of ``B`` elements (``B = 1`` if single)
    ========================  =========================================================
    ``Box``                   ``(B, *shape)`` array of the space's dtype, clipped to bounds
    ``Discrete(n)``           ``(B, n)`` one-hot float array (``start`` taken into account)
    ``MultiDiscrete(nvec)``   list of ``(B, n_i)`` one-hot arrays, one per entry of ``nvec``
    ``MultiBinary(n)``        ``(B, *shape)`` float32 array
    ``Tuple``                 tuple of the preprocessed components
    ``Dict``                  dict of the preprocessed components, keys in the space's order
    ========================  =========================================================

    A single element is told from a batch by its number of dimensions (a scalar for
    ``Discrete``, ``shape`` for ``Box``, ``MultiBinary`` and ``MultiDiscrete``). For ``Tuple``
    and ``Dict`` spaces a batch is a tuple or dict of batches, as
    ``gymnasium.vector.utils.concatenate`` makes.

    Parameters
    ----------
    space : gymnasium.Space
        The domain of the preprocessor.

    Returns
    -------
    Callable[[PRNGKey or None, element or batch of elements], pytree of jax.Array]
        The preprocessor function.

    Raises
    ------
    TypeError
        If ``space`` is not a gymnasium space, or is one of a kind that has no default
        preprocessor (e.g. ``Text``, ``Graph``, ``Sequence``).
    ImportError
        If jax is not installed (``pip install "rlu-envtools[jax]"``).

    Examples
    --------
    >>> from gymnasium.spaces import Box, Discrete
    >>> from rlu_envtools import default_preprocessor
    >>> one_hot = default_preprocessor(Discrete(3))
    >>> one_hot(None, 2).tolist()
    [[0.0, 0.0, 1.0]]
    >>> one_hot(None, [0, 1]).shape
    (2, 3)
    >>> clip = default_preprocessor(Box(-1.0, 1.0, shape=(2,)))
    >>> clip(None, [0.5, 7.0]).tolist()
    [[0.5, 1.0]]
    """
    space = check_space("space", space)
    jax = import_optional("jax", "default_preprocessor")
    jnp = jax.numpy
    spaces = gymnasium.spaces

    if isinstance(space, spaces.Discrete):
        n, start = int(space.n), int(space.start)

        def func(rng: Any, X: Any) -> Any:
            X = jnp.asarray(X)
            X = jax.nn.one_hot(X - start, n)
            return jnp.reshape(X, (-1, n))

    elif isinstance(space, spaces.Box):
        shape, dtype, low, high = space.shape, space.dtype, space.low, space.high

        def func(rng: Any, X: Any) -> Any:
            X = jnp.asarray(X, dtype=dtype)
            X = jnp.reshape(X, (-1, *shape))
            return jnp.clip(X, low, high)

    elif isinstance(space, spaces.MultiDiscrete):
        nvec = np.asarray(space.nvec).ravel()
        starts = np.asarray(space.start).ravel()
        ndim = np.ndim(space.nvec)

        def func(rng: Any, X: Any) -> Any:
            X = jnp.asarray(X)
            if X.ndim not in (ndim, ndim + 1):
                raise ValueError(
                    f"expected an element of shape {space.shape} or a batch of shape "
                    f"(batch_size, *{space.shape}), got shape {X.shape}"
                )
            X = jnp.reshape(X, (-1, nvec.size))
            return [jax.nn.one_hot(X[:, i] - int(starts[i]), int(n)) for i, n in enumerate(nvec)]

    elif isinstance(space, spaces.MultiBinary):
        shape = space.shape

        def func(rng: Any, X: Any) -> Any:
            X = jnp.asarray(X, dtype=jnp.float32)
            return jnp.reshape(X, (-1, *shape))

    elif isinstance(space, spaces.Tuple):
        funcs = [default_preprocessor(sp) for sp in space.spaces]

        def func(rng: Any, X: Any) -> Any:
            rngs = _split(jax, rng, len(funcs))
            return tuple(f(k, x) for f, k, x in zip(funcs, rngs, X, strict=True))

    elif isinstance(space, spaces.Dict):
        funcs_by_key = {k: default_preprocessor(sp) for k, sp in space.spaces.items()}

        def func(rng: Any, X: Any) -> Any:
            rngs = _split(jax, rng, len(funcs_by_key))
            return {k: f(r, X[k]) for (k, f), r in zip(funcs_by_key.items(), rngs, strict=True)}

    else:
        raise TypeError(f"no default preprocessor for spaces of type {type(space).__name__}")

    return func


def check_preprocessors(
    space: gymnasium.Space[Any],
    *preprocessors: Preprocessor,
    num_samples: int = 20,
    random_seed: int | None = None,
) -> bool:
    """Check whether preprocessors give the same output on the same inputs.

    Draws ``num_samples`` elements from ``space`` (from a seeded copy, so the user's space is
    left alone and the draws are reproducible) and, for each element, calls every preprocessor
    with the *same* PRNG key and element. They match if all outputs have the same pytree
    structure and leaves of equal shape whose values are close (``numpy.allclose``).

    Parameters
    ----------
    space : gymnasium.Space
        The domain of the preprocessors.
    *preprocessors : Callable[[PRNGKey, element], Any]
        Two or more preprocessors.
    num_samples : positive int, optional
        How many elements to check on.
    random_seed : int, optional
        Seed for the elements and the PRNG keys.

    Returns
    -------
    bool
        Whether the preprocessors match on all samples.

    Raises
    ------
    TypeError
        If ``space`` is not a gymnasium space (the error is an AttributeError too, as coax's
        was), a preprocessor is not callable, or ``num_samples`` or ``random_seed`` is not an
        int.
    ValueError
        If fewer than two preprocessors are given, or ``num_samples`` is not positive, or
        ``random_seed`` is negative.
    ImportError
        If jax is not installed (``pip install "rlu-envtools[jax]"``).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from gymnasium.spaces import Discrete
    >>> from rlu_envtools import check_preprocessors, default_preprocessor
    >>> space = Discrete(4)
    >>> p0 = default_preprocessor(space)
    >>> def p1(rng, x):
    ...     return jnp.eye(4)[jnp.asarray(x).reshape(-1)]
    >>> check_preprocessors(space, p0, p1, random_seed=0)
    True
    >>> check_preprocessors(space, p0, lambda rng, x: p0(rng, x) * 2, random_seed=0)
    False
    """
    # the count first, as coax did; coax then failed on space.sample() with AttributeError
    check_count(
        "preprocessors",
        preprocessors,
        minimum=2,
        message="need at least two preprocessors to compare",
    )
    space = check_space("space", space, type_error=TypeAndAttributeError)
    for i, p in enumerate(preprocessors):
        check_callable(f"preprocessors[{i}]", p)
    n = check_int("num_samples", num_samples, minimum=1)
    seed = check_seed("random_seed", random_seed)
    jax = import_optional("jax", "check_preprocessors")

    seeds = np.random.default_rng(seed).integers(2**31 - 1, size=2)
    sampler = copy.deepcopy(space)
    sampler.seed(int(seeds[0]))
    key = jax.random.PRNGKey(int(seeds[1]))

    p0, *others = preprocessors
    for _ in range(n):
        key, subkey = jax.random.split(key)
        x = sampler.sample()
        y0 = p0(subkey, x)
        leaves0, tree0 = jax.tree.flatten(y0)
        for p in others:
            leaves, tree = jax.tree.flatten(p(subkey, x))
            if tree != tree0:
                return False
            for a, b in zip(leaves, leaves0, strict=True):
                a, b = np.asarray(a), np.asarray(b)
                if a.shape != b.shape or not np.allclose(a, b, equal_nan=True):
                    return False
    return True
