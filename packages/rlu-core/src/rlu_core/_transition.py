"""TransitionBatch, a batch of MDP transitions, and chunks_pow2, which splits one.

This module imports numpy; ``import rlu_core`` does not import it (``rlu_core.TransitionBatch``
loads this module on first use).
"""

from __future__ import annotations

import copy as _copy
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, NamedTuple

import numpy as np

from rlu_core._checks import (
    TypeAndValueError,
    check_batches,
    check_flag,
    check_log_propensity,
    check_numeric_array,
    check_real,
    check_transition_batch,
)
from rlu_core._pretty import pretty_repr
from rlu_core._pytree import tree_equal, tree_map


def _check_gamma(gamma: object) -> float:
    # coax raised TypeError for a gamma outside [0, 1]: the error is both
    return check_real("gamma", gamma, low=0.0, high=1.0, error=TypeAndValueError)


def _add_batch_axis(leaf: Any) -> np.ndarray:
    return np.expand_dims(np.asarray(leaf), axis=0)


def _concatenate_leaves(*leaves: Any) -> np.ndarray:
    return np.concatenate([np.asarray(leaf) for leaf in leaves], axis=0)


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
    ``repr`` is [`rlu_core.pretty_repr`][rlu_core.pretty_repr]'s summary of the fields. The
    constructor takes the fields below, by position or by name.
    [`concatenate`][rlu_core.TransitionBatch.concatenate] joins batches,
    [`to_singles`][rlu_core.TransitionBatch.to_singles] and
    [`chunks_pow2`][rlu_core.chunks_pow2] split them.

    TransitionBatch lives in rlu-core and needs numpy only (not gymnasium);
    ``rlu_envtools.TransitionBatch``, ``rlu.TransitionBatch`` and ``rlu.utils.TransitionBatch``
    are this class. Pickles record ``rlu_core.TransitionBatch``. Pickles written by
    rlu-envtools 0.1.0 (``rlu_envtools.transition.TransitionBatch``) and 0.2.0
    (``rlu_envtools.TransitionBatch``) load as this class wherever rlu-envtools is installed.

    Attributes
    ----------
    S : pytree of arrays
        The states $S_t$.
    A : pytree of arrays
        The actions $A_t$.
    logP : array
        The log-propensities $\log\pi(A_t|S_t)$.
    Rn : array
        The partial returns $R^{(n)}_t=\sum_{k=0}^{n-1}\gamma^kR_{t+k}$, i.e. the
        ``n``-step return without its bootstrap term.
    In : array
        The bootstrap factors: $\gamma^n$ where the value of $S_{t+n}$ is to be
        bootstrapped and 0 where the episode *terminated*. A truncated episode (time limit) is
        bootstrapped, so its factor is $\gamma^n$, not 0. The target is
        $G^{(n)}_t=R^{(n)}_t+I^{(n)}_t\,v(S_{t+n})$.
    S_next : pytree of arrays
        The states $S_{t+n}$ to bootstrap from.
    A_next : pytree of arrays, optional
        The actions $A_{t+n}$ (for SARSA-type targets).
    logP_next : array, optional
        The log-propensities $\log\pi(A_{t+n}|S_{t+n})$.
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
    >>> from rlu_core import TransitionBatch
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
        terminated: bool | None = None,
        gamma: float | None = None,
        s_next: Any = None,
        a_next: Any = None,
        logp_next: Any = None,
        w: float = 1.0,
        idx: Any = None,
        extra_info: Any = None,
        *,
        done: bool | None = None,
    ) -> TransitionBatch:
        r"""Make a TransitionBatch of size 1 from a single one-step transition.

        Parameters
        ----------
        s : pytree of arrays
            The state $S_t$.
        a : pytree of arrays
            The action $A_t$.
        logp : non-positive float or array
            The log-propensity $\log\pi(A_t|S_t)$.
        r : float or array
            The reward $R_t$.
        terminated : bool
            Whether $S_{t+1}$ is terminal (gymnasium's ``terminated``). Pass
            ``terminated``, **not** ``terminated or truncated``: a truncated transition is
            still bootstrapped. The bootstrap factor is ``gamma * (1 - terminated)``.
            Required, by position (coax's order) or by name.
        gamma : float in [0, 1]
            The discount factor. Required.
        s_next, a_next : pytree of arrays, optional
            The next state $S_{t+1}$ and next action $A_{t+1}$.
        logp_next : non-positive float or array, optional
            The log-propensity $\log\pi(A_{t+1}|S_{t+1})$.
        w : positive float, optional
            The importance weight.
        idx : int, optional
            An identifier of the transition.
        extra_info : pytree, optional
            Anything else to carry along.
        done : bool, optional
            coax's name of ``terminated``, for coax scripts that pass it by keyword
            (``done=...``); give one of the two. As in coax, a ``done`` transition is not
            bootstrapped.

        Returns
        -------
        TransitionBatch
            A batch with ``batch_size == 1``; every leaf gets a leading axis of size 1 and is
            a numpy array.

        Raises
        ------
        TypeError
            If ``terminated`` (or ``done``) is not a bool, ``r`` is not numeric, or ``gamma`` or
            ``w`` is not a number; if both ``terminated`` and ``done`` are given, or neither,
            or no ``gamma``.
        ValueError
            If ``logp`` or ``logp_next`` is positive, ``gamma`` lies outside ``[0, 1]``, or
            ``w`` is not positive. These errors are TypeErrors too, as coax raised TypeError.

        Examples
        --------
        >>> from rlu_core import TransitionBatch
        >>> tb = TransitionBatch.from_single(
        ...     s=0.5, a=0, logp=0.0, r=-1.0, terminated=True, gamma=0.99)
        >>> tb.In, tb.W, tb.idx
        (array([0.]), array([1.]), array([0], dtype=int32))
        >>> TransitionBatch.from_single(s=0.5, a=0, logp=0.0, r=-1.0, done=True, gamma=0.99).In
        array([0.])
        """
        # coax raised TypeError for every mistake here; rlu's ValueErrors are TypeErrors too
        if done is not None:
            if terminated is not None:
                raise TypeError(
                    "pass either terminated or done (coax's name for it), not both; "
                    f"got terminated={terminated!r} and done={done!r}"
                )
            terminated = check_flag("done", done)
        if terminated is None:
            raise TypeError("from_single() needs terminated (or coax's name for it, done)")
        if gamma is None:
            raise TypeError("from_single() needs gamma, the discount factor")
        terminated = check_flag("terminated", terminated)
        gamma = _check_gamma(gamma)
        check_log_propensity("logp", logp)
        if logp_next is not None:
            check_log_propensity("logp_next", logp_next)
        r_arr = check_numeric_array("r", r)
        w = check_real("w", w, positive=True, error=TypeAndValueError)

        return cls(
            S=tree_map(_add_batch_axis, s),
            A=tree_map(_add_batch_axis, a),
            logP=_add_batch_axis(logp),
            Rn=_add_batch_axis(r_arr),
            In=_add_batch_axis(gamma * (1.0 - float(terminated))),
            S_next=tree_map(_add_batch_axis, s_next),
            A_next=tree_map(_add_batch_axis, a_next),
            logP_next=tree_map(_add_batch_axis, logp_next),
            W=_add_batch_axis(w),
            idx=tree_map(_add_batch_axis, idx),
            extra_info=tree_map(_add_batch_axis, extra_info),
        )

    @classmethod
    def concatenate(cls, batches: Iterable[TransitionBatch]) -> TransitionBatch:
        """Join TransitionBatches into one, in order, along the leading axis of every leaf.

        Each field of the result holds the field of every batch, the first batch's transitions
        first: ``W`` and ``idx`` are joined like the others (nothing is renumbered), and so are
        pytree fields (dicts, tuples, named tuples, lists) leaf by leaf. It undoes
        [`to_singles`][rlu_core.TransitionBatch.to_singles] and
        [`chunks_pow2`][rlu_core.chunks_pow2]: ``TransitionBatch.concatenate(tb.to_singles())
        == tb``.

        Parameters
        ----------
        batches : sequence of TransitionBatch
            The batches to join, at least one (any iterable of them). They must agree: each
            field is None in all of them or in none, each field has one structure (the same
            mapping keys, in any order, and sequence lengths and types), and each leaf has a
            leading axis and the same shape after it in every batch.

        Returns
        -------
        TransitionBatch
            A new batch whose ``batch_size`` is the sum of theirs. Every leaf is a new numpy
            array (``numpy.concatenate``, whose dtype promotion applies: ``int32`` joined with
            ``int64`` is ``int64``); mappings keep the first batch's key order.

        Raises
        ------
        TypeError
            If ``batches`` is not an iterable of TransitionBatches (a single TransitionBatch
            included: put it in a list), or dtypes of one leaf do not combine (a str and a
            float).
        ValueError
            If ``batches`` is empty, or the batches disagree: the message names the field
            and the position where they differ (``batches[2].S['obs']``).

        Examples
        --------
        >>> import numpy as np
        >>> from rlu_core import TransitionBatch
        >>> def batch(rewards, start):
        ...     n = len(rewards)
        ...     s = {"pos": np.arange(start, start + n, dtype=np.float32)[:, None]}
        ...     return TransitionBatch(S=s, A=np.zeros(n, np.int64), logP=np.zeros(n),
        ...                            Rn=np.array(rewards), In=np.full(n, 0.9), S_next=s,
        ...                            idx=np.arange(start, start + n))
        >>> tb = TransitionBatch.concatenate([batch([1.0, 2.0], 0), batch([3.0], 2)])
        >>> tb.batch_size, tb.Rn, tb.idx, tb.S["pos"].shape
        (3, array([1., 2., 3.]), array([0, 1, 2]), (3, 1))
        >>> TransitionBatch.concatenate(tb.to_singles()) == tb
        True
        >>> TransitionBatch.concatenate([tb, tb._replace(A_next=tb.A)])
        Traceback (most recent call last):
        ...
        ValueError: batches[0].A_next is None but batches[1].A_next is not: ...
        """
        checked = check_batches("batches", batches)
        return cls(*(tree_map(_concatenate_leaves, *field) for field in zip(*checked, strict=True)))

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
        >>> from rlu_core import TransitionBatch
        >>> tb = TransitionBatch(S=np.arange(3), A=np.zeros(3), logP=np.zeros(3),
        ...                      Rn=np.array([1., 2., 3.]), In=np.ones(3), S_next=np.arange(3))
        >>> [single.Rn for single in tb.to_singles()]
        [array([1.]), array([2.]), array([3.])]
        """
        for i in range(self.batch_size):
            yield _rows(self, i, i + 1)

    def items(self) -> Iterator[tuple[str, Any]]:
        """Iterate over ``(field name, value)`` pairs.

        Returns
        -------
        Iterator[tuple[str, Any]]
            One pair for each of the eleven fields, in field order.

        Examples
        --------
        >>> import numpy as np
        >>> from rlu_core import TransitionBatch
        >>> tb = TransitionBatch(S=np.zeros(1), A=np.zeros(1), logP=np.zeros(1),
        ...                      Rn=np.zeros(1), In=np.zeros(1), S_next=np.zeros(1))
        >>> [name for name, _ in tb.items()][:3]
        ['S', 'A', 'logP']
        """
        return iter(zip(self._fields, self, strict=True))

    def copy(self, deep: bool = False) -> TransitionBatch:
        """Copy the batch, as coax's ``TransitionBatch.copy`` does.

        Parameters
        ----------
        deep : bool, optional
            Whether to copy the arrays too (``copy.deepcopy``). By default the copy is a
            new TransitionBatch holding the same arrays (``copy.copy``), as in coax; since a
            TransitionBatch is immutable, the difference shows only when an array is changed
            in place.

        Returns
        -------
        TransitionBatch
            The copy; it compares equal to this batch.

        Raises
        ------
        TypeError
            If ``deep`` is not a bool.

        Examples
        --------
        >>> import numpy as np
        >>> from rlu_core import TransitionBatch
        >>> tb = TransitionBatch(S=np.zeros(2), A=np.zeros(2), logP=np.zeros(2),
        ...                      Rn=np.ones(2), In=np.ones(2), S_next=np.zeros(2))
        >>> shallow, deep = tb.copy(), tb.copy(deep=True)
        >>> shallow == tb and deep == tb, shallow.Rn is tb.Rn, deep.Rn is tb.Rn
        (True, True, False)
        """
        return _copy.deepcopy(self) if check_flag("deep", deep) else _copy.copy(self)

    def __repr__(self) -> str:
        return pretty_repr(self)

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other) or not isinstance(other, TransitionBatch):
            return False
        return all(map(tree_equal, self, other))

    def __ne__(self, other: object) -> bool:
        return not self == other

    # typeshed declares __hash__ a method; None is how Python marks a class unhashable
    __hash__: ClassVar[None] = None  # type: ignore[assignment]


# Pickles record where a class lives: make them record the public path, so that they do not
# depend on this private module's name. rlu_envtools.TransitionBatch (rlu-envtools 0.2.0's
# pickles) and rlu_envtools.transition.TransitionBatch (0.1.0's) are re-exports of this class.
TransitionBatch.__module__ = "rlu_core"

# doctest finds a class's examples only in the module its __module__ names, and rlu_core
# exports TransitionBatch lazily: run them from here.
__test__ = {"TransitionBatch": TransitionBatch}


def chunks_pow2(transition_batch: TransitionBatch) -> Iterator[TransitionBatch]:
    """Split a TransitionBatch into consecutive chunks whose sizes are powers of two.

    The chunk sizes are the powers of two in the binary expansion of the batch size, largest
    first (13 = 8 + 4 + 1), as in coax. Feeding a jitted function only these sizes bounds how
    often it recompiles for varying batch sizes. Each leaf of each field is sliced along its
    leading axis (leaves without one are passed on as they are); None fields stay None.

    Parameters
    ----------
    transition_batch : TransitionBatch
        The batch to split.

    Returns
    -------
    Iterator[TransitionBatch]
        The chunks, in order: together they hold every transition once, the first first.

    Raises
    ------
    TypeError
        If ``transition_batch`` is not a TransitionBatch (the error is an AttributeError too,
        as coax's was).

    Examples
    --------
    >>> import numpy as np
    >>> from rlu_core import TransitionBatch, chunks_pow2
    >>> tb = TransitionBatch(S=np.zeros((13, 4)), A=np.zeros(13, np.int64), logP=np.zeros(13),
    ...                      Rn=np.ones(13), In=np.full(13, 0.9), S_next=np.zeros((13, 4)))
    >>> [chunk.batch_size for chunk in chunks_pow2(tb)]
    [8, 4, 1]
    >>> [chunk.idx.tolist() for chunk in chunks_pow2(tb)][1:]
    [[8, 9, 10, 11], [12]]
    """
    tb = check_transition_batch("transition_batch", transition_batch)
    return _chunks_pow2(tb)


def _rows(tb: TransitionBatch, start: int, stop: int) -> TransitionBatch:
    """Transitions ``start:stop``: each leaf sliced along its leading axis (if it has one)."""

    def take(leaf: Any) -> Any:
        return leaf[start:stop] if np.ndim(leaf) >= 1 else leaf

    return type(tb)(*(tree_map(take, field) for field in tb))


def _chunks_pow2(tb: TransitionBatch) -> Iterator[TransitionBatch]:
    start, size = 0, tb.batch_size
    for bit in reversed(range(size.bit_length())):
        if size & (1 << bit):
            stop = start + (1 << bit)
            yield _rows(tb, start, stop)
            start = stop
