"""TransitionBatch, a batch of MDP transitions, and get_transition_batch to make a dummy one."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from numbers import Real
from typing import Any, NamedTuple, cast

import gymnasium
import numpy as np
from gymnasium.vector.utils import concatenate, create_empty_array
from rlu_core import pretty_repr

from .spaces import safe_sample

__all__ = ["TransitionBatch", "get_transition_batch"]


def _tree_map(f: Callable[[Any], Any], tree: Any) -> Any:
    """Apply ``f`` to the leaves of a nest of dicts, lists and tuples; None stays None."""
    if tree is None:
        return None
    if isinstance(tree, Mapping):
        return cast(Any, type(tree))((k, _tree_map(f, v)) for k, v in tree.items())
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):  # namedtuple
        return type(tree)(*(_tree_map(f, v) for v in tree))
    if isinstance(tree, (tuple, list)):
        return type(tree)(_tree_map(f, v) for v in tree)
    return f(tree)


def _tree_equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, Mapping) or isinstance(b, Mapping):
        return (
            isinstance(a, Mapping)
            and isinstance(b, Mapping)
            and a.keys() == b.keys()
            and all(_tree_equal(a[k], b[k]) for k in a)
        )
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (
            isinstance(a, (tuple, list))
            and isinstance(b, (tuple, list))
            and len(a) == len(b)
            and all(map(_tree_equal, a, b))
        )
    x, y = np.asarray(a), np.asarray(b)
    if x.shape != y.shape:
        return False
    if np.issubdtype(x.dtype, np.number) and np.issubdtype(y.dtype, np.number):
        return bool(np.allclose(x, y, equal_nan=True))
    return bool(np.array_equal(x, y))


def _check_gamma(gamma: object) -> None:
    if isinstance(gamma, bool) or not isinstance(gamma, Real):
        raise TypeError(f"gamma must be a float in [0, 1], got {type(gamma).__name__}")
    if not 0 <= float(gamma) <= 1:
        raise ValueError(f"gamma must be a float in [0, 1], got {gamma!r}")


def _add_batch_axis(leaf: Any) -> np.ndarray:
    return np.expand_dims(np.asarray(leaf), axis=0)


def _is_nonpositive(x: Any) -> bool:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return bool(np.all(arr <= 0))


class _Fields(NamedTuple):
    S: Any
    A: Any
    logP: Any
    Rn: Any
    In: Any
    S_next: Any
    A_next: Any = None
    logP_next: Any = None
    W: Any = None
    idx: Any = None
    extra_info: Any = None


class TransitionBatch(_Fields):
    r"""A batch of MDP transitions, ready for a bootstrapped update.

    Every field holds a batch: its leading axis (or the leading axis of each of its leaves, for
    pytree-valued fields such as dict observations) runs over the transitions.

    A TransitionBatch is a named tuple, so JAX treats it as a pytree without any registration:
    ``jax.tree.map``, ``jax.jit`` and ``jax.vmap`` work on it whenever jax is installed, and
    importing this module never imports jax. Fields that are None have no leaves. Being a
    tuple it is immutable: ``tb._replace(W=new_weights)`` makes a changed copy. Two batches are
    equal (``==``) when all their fields have equal structure, shapes and close values. The
    :func:`repr` is :func:`rlu_core.pretty_repr`'s summary of the fields. The constructor takes
    the fields below, by position or by name.

    Attributes
    ----------
    S : pytree of arrays
        The states :math:`S_t`.
    A : pytree of arrays
        The actions :math:`A_t`.
    logP : array
        The log-propensities :math:`\log\pi(A_t|S_t)`.
    Rn : array
        The partial returns :math:`R^{(n)}_t=\sum_{k=0}^{n-1}\gamma^kR_{t+k}`, i.e. the
        :math:`n`-step return without its bootstrap term.
    In : array
        The bootstrap factors: :math:`\gamma^n` where the value of :math:`S_{t+n}` is to be
        bootstrapped and 0 where the episode *terminated*. A truncated episode (time limit) is
        bootstrapped, so its factor is :math:`\gamma^n`, not 0. The target is
        :math:`G^{(n)}_t=R^{(n)}_t+I^{(n)}_t\,v(S_{t+n})`.
    S_next : pytree of arrays
        The states :math:`S_{t+n}` to bootstrap from.
    A_next : pytree of arrays, optional
        The actions :math:`A_{t+n}` (for SARSA-type targets).
    logP_next : array, optional
        The log-propensities :math:`\log\pi(A_{t+n}|S_{t+n})`.
    W : array, optional
        Importance weights of the sampling procedure (e.g. prioritized replay). Defaults to
        ones of shape ``(batch_size,)``.
    idx : array, optional
        Identifiers of the transitions. Defaults to ``arange(batch_size)`` (int32).
    extra_info : pytree of arrays, optional
        Anything else to carry along, batched the same way.

    Examples
    --------
    >>> import numpy as np
    >>> tb = TransitionBatch.from_single(
    ...     s=np.zeros(4), a=1, logp=np.log(0.5), r=1.0, terminated=False, gamma=0.9,
    ...     s_next=np.ones(4))
    >>> tb.batch_size, tb.S.shape, tb.In
    (1, (1, 4), array([0.9]))
    >>> tb._replace(W=tb.W * 2).W
    array([2.])
    >>> print(tb)  # doctest: +ELLIPSIS
    TransitionBatch(
      S=array(shape=(1, 4), dtype=float64, min=0, median=0, max=0),
      A=array(shape=(1,), dtype=int64, min=1, median=1, max=1),
    ...
    )
    """

    __slots__ = ()

    def __new__(
        cls,
        S: Any,
        A: Any,
        logP: Any,
        Rn: Any,
        In: Any,
        S_next: Any,
        A_next: Any = None,
        logP_next: Any = None,
        W: Any = None,
        idx: Any = None,
        extra_info: Any = None,
    ) -> TransitionBatch:
        if W is None:
            W = np.ones(np.shape(Rn)[:1], dtype=np.float64)
        if idx is None:
            idx = np.arange(np.shape(Rn)[0], dtype=np.int32)
        return super().__new__(
            cls, S, A, logP, Rn, In, S_next, A_next, logP_next, W, idx, extra_info
        )

    @classmethod
    def from_single(
        cls,
        s: Any,
        a: Any,
        logp: Any,
        r: Any,
        terminated: bool,
        gamma: float,
        s_next: Any = None,
        a_next: Any = None,
        logp_next: Any = None,
        w: float = 1.0,
        idx: Any = None,
        extra_info: Any = None,
    ) -> TransitionBatch:
        r"""Make a TransitionBatch of size 1 from a single one-step transition.

        Parameters
        ----------
        s : pytree of arrays
            The state :math:`S_t`.
        a : pytree of arrays
            The action :math:`A_t`.
        logp : non-positive float or array
            The log-propensity :math:`\log\pi(A_t|S_t)`.
        r : float or array
            The reward :math:`R_t`.
        terminated : bool
            Whether :math:`S_{t+1}` is terminal (gymnasium's ``terminated``). Pass
            ``terminated``, **not** ``terminated or truncated``: a truncated transition is
            still bootstrapped. The bootstrap factor is ``gamma * (1 - terminated)``.
        gamma : float in [0, 1]
            The discount factor.
        s_next, a_next : pytree of arrays, optional
            The next state :math:`S_{t+1}` and next action :math:`A_{t+1}`.
        logp_next : non-positive float or array, optional
            The log-propensity :math:`\log\pi(A_{t+1}|S_{t+1})`.
        w : positive float, optional
            The importance weight.
        idx : int, optional
            An identifier of the transition.
        extra_info : pytree, optional
            Anything else to carry along.

        Returns
        -------
        TransitionBatch
            A batch with ``batch_size == 1``; every leaf gets a leading axis of size 1 and is
            a numpy array.

        Raises
        ------
        TypeError
            If ``terminated`` is not a bool, ``r`` is not numeric, or ``gamma`` or ``w`` is not
            a number.
        ValueError
            If ``logp`` or ``logp_next`` is positive, ``gamma`` lies outside ``[0, 1]``, or
            ``w`` is not positive.

        Examples
        --------
        >>> tb = TransitionBatch.from_single(
        ...     s=0.5, a=0, logp=0.0, r=-1.0, terminated=True, gamma=0.99)
        >>> tb.In, tb.W, tb.idx
        (array([0.]), array([1.]), array([0], dtype=int32))
        """
        if not isinstance(terminated, (bool, np.bool_)):
            raise TypeError(f"terminated must be a bool, got {type(terminated).__name__}")
        _check_gamma(gamma)
        if not _is_nonpositive(logp):
            raise ValueError(f"logp must be a non-positive float or array, got {logp!r}")
        if logp_next is not None and not _is_nonpositive(logp_next):
            raise ValueError(f"logp_next must be None or non-positive, got {logp_next!r}")
        try:
            r_arr = np.asarray(r, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"r must be a number or a numeric array, got {r!r}") from None
        if isinstance(w, bool) or not isinstance(w, Real):
            raise TypeError(f"w must be a positive float, got {type(w).__name__}")
        if not w > 0:
            raise ValueError(f"w must be a positive float, got {w!r}")

        return cls(
            S=_tree_map(_add_batch_axis, s),
            A=_tree_map(_add_batch_axis, a),
            logP=_add_batch_axis(logp),
            Rn=_add_batch_axis(r_arr),
            In=_add_batch_axis(float(gamma) * (1.0 - float(bool(terminated)))),
            S_next=_tree_map(_add_batch_axis, s_next),
            A_next=_tree_map(_add_batch_axis, a_next),
            logP_next=_tree_map(_add_batch_axis, logp_next),
            W=_add_batch_axis(float(w)),
            idx=_tree_map(_add_batch_axis, idx),
            extra_info=_tree_map(_add_batch_axis, extra_info),
        )

    @property
    def batch_size(self) -> int:
        """int: The number of transitions, i.e. the length of the leading axis of ``Rn``."""
        return int(np.shape(self.Rn)[0])

    def to_singles(self) -> Iterator[TransitionBatch]:
        """Iterate over the transitions one at a time, in order.

        Returns
        -------
        Iterator[TransitionBatch]
            ``batch_size`` batches of size 1, the first transition first. Every leaf keeps its
            leading axis (``leaf[i:i+1]``); leaves without a leading axis are passed as they are.

        Examples
        --------
        >>> import numpy as np
        >>> tb = TransitionBatch(S=np.arange(3), A=np.zeros(3), logP=np.zeros(3),
        ...                      Rn=np.array([1., 2., 3.]), In=np.ones(3), S_next=np.arange(3))
        >>> [single.Rn for single in tb.to_singles()]
        [array([1.]), array([2.]), array([3.])]
        """
        for i in range(self.batch_size):

            def take(leaf: Any, i: int = i) -> Any:
                return leaf[i : i + 1] if np.ndim(leaf) >= 1 else leaf

            yield type(self)(*(_tree_map(take, field) for field in self))

    def items(self) -> Iterator[tuple[str, Any]]:
        """Iterate over ``(field name, value)`` pairs.

        Returns
        -------
        Iterator[tuple[str, Any]]
            One pair for each of the eleven fields, in field order.

        Examples
        --------
        >>> import numpy as np
        >>> tb = TransitionBatch(S=np.zeros(1), A=np.zeros(1), logP=np.zeros(1),
        ...                      Rn=np.zeros(1), In=np.zeros(1), S_next=np.zeros(1))
        >>> [name for name, _ in tb.items()][:3]
        ['S', 'A', 'logP']
        """
        return iter(zip(self._fields, self, strict=True))

    def __repr__(self) -> str:
        return pretty_repr(self)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and all(map(_tree_equal, self, other))  # type: ignore[arg-type]

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]


def get_transition_batch(
    env: gymnasium.Env,
    batch_size: int = 1,
    gamma: float = 0.9,
    random_seed: int | None = None,
) -> TransitionBatch:
    """Make a dummy TransitionBatch whose states and actions are valid for ``env``.

    Nothing is stepped: states and actions are drawn with :func:`safe_sample` from the
    environment's observation and action spaces and stacked with gymnasium's
    :func:`gymnasium.vector.utils.concatenate`. The other fields get random values of the right
    shape: ``logP`` and ``logP_next`` in ``[log 0.01, log 0.99]``, ``Rn`` standard normal
    clipped to ``[-5, 5]``, ``In`` either 0 or ``gamma``, ``W`` in ``[0.01, 100]``. This is
    meant for initialising and testing function approximators and updaters.

    Parameters
    ----------
    env : gymnasium.Env
        An environment, or anything with ``observation_space`` and ``action_space`` attributes
        holding gymnasium spaces.
    batch_size : positive int, optional
        The number of transitions.
    gamma : float in [0, 1], optional
        The discount factor used for the non-zero bootstrap factors.
    random_seed : int, optional
        Seed for all random draws; the same seed gives the same batch.

    Returns
    -------
    TransitionBatch
        A batch of ``batch_size`` transitions.

    Raises
    ------
    TypeError
        If ``env`` lacks gymnasium spaces, ``batch_size`` or ``random_seed`` is not an int,
        or ``gamma`` is not a number.
    ValueError
        If ``batch_size`` is not positive, ``gamma`` is outside ``[0, 1]``, or
        ``random_seed`` is negative.

    Examples
    --------
    >>> import gymnasium
    >>> env = gymnasium.make("CartPole-v1")
    >>> tb = get_transition_batch(env, batch_size=7, gamma=0.99, random_seed=42)
    >>> tb.batch_size, tb.S.shape, tb.A.shape, tb.S_next.dtype
    (7, (7, 4), (7,), dtype('float32'))
    >>> bool(set(tb.In.tolist()) <= {0.0, 0.99})
    True
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be a positive int, got {type(batch_size).__name__}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size}")
    _check_gamma(gamma)
    if random_seed is not None and (
        isinstance(random_seed, bool) or not isinstance(random_seed, (int, np.integer))
    ):
        raise TypeError(f"random_seed must be None or an int, got {type(random_seed).__name__}")
    if random_seed is not None and random_seed < 0:
        raise ValueError(f"random_seed must be non-negative, got {random_seed}")
    spaces = {}
    for name in ("observation_space", "action_space"):
        space = getattr(env, name, None)
        if not isinstance(space, gymnasium.Space):
            raise TypeError(
                f"env must have a gymnasium.Space as {name}, got {type(space).__name__}"
            )
        spaces[name] = space

    rng = np.random.default_rng(random_seed)
    n = int(batch_size)

    def batch_sample(space: gymnasium.Space) -> Any:
        items = [safe_sample(space, rng) for _ in range(n)]
        return concatenate(space, items, cast(Any, create_empty_array(space, n)))

    return TransitionBatch(
        S=batch_sample(spaces["observation_space"]),
        A=batch_sample(spaces["action_space"]),
        logP=np.log(np.clip(rng.random(n), 0.01, 0.99)),
        Rn=np.clip(rng.standard_normal(n), -5.0, 5.0),
        In=rng.choice(np.array([0.0, float(gamma)]), n),
        S_next=batch_sample(spaces["observation_space"]),
        A_next=batch_sample(spaces["action_space"]),
        logP_next=np.log(np.clip(rng.random(n), 0.01, 0.99)),
        W=np.clip(rng.random(n) / (1.0 - rng.random(n)), 0.01, 100.0),
    )
