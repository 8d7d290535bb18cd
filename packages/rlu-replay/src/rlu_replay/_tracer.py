"""NStepTracer: a stream of environment steps in, n-step TransitionBatches out."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from rlu_replay._checks import (
    check_bool,
    check_flags,
    check_int,
    check_optional_int,
    check_real,
    check_reals,
)
from rlu_replay._nstep import Layout, NStepRing, Popped, as_leaves

if TYPE_CHECKING:
    from rlu_core import TransitionBatch

# gymnasium.vector.AutoresetMode's values, and the names this module calls them by
_AUTORESET_MODES = {
    "next_step": "next_step",
    "same_step": "same_step",
    "disabled": "disabled",
    "NextStep": "next_step",
    "SameStep": "same_step",
    "Disabled": "disabled",
}


def _transition_batch_type() -> type[TransitionBatch]:
    """``TransitionBatch``, imported when a tracer is made (never by ``import rlu_replay``)."""
    from rlu_core import TransitionBatch  # numpy only: rlu_core never loads gymnasium

    return TransitionBatch


def _check_autoreset_mode(mode: object) -> str:
    """``"next_step"``, ``"same_step"`` or ``"disabled"`` from a string or an AutoresetMode."""
    value = mode.value if isinstance(mode, Enum) else mode  # gymnasium is never imported
    if isinstance(value, str) and value in _AUTORESET_MODES:
        return _AUTORESET_MODES[value]
    raise ValueError(
        "autoreset_mode must be 'next_step', 'same_step' or 'disabled' (or a member of "
        "gymnasium.vector.AutoresetMode: NEXT_STEP, SAME_STEP, DISABLED), "
        f"got {type(mode).__name__}: {mode!r}"
    )


def _final_observations(
    info: object, ended: np.ndarray, layout: Layout, num_envs: int
) -> list[np.ndarray]:
    """The final observations of the environments ``ended`` (indices) from a same-step info.

    ``info["final_obs"]`` is either gymnasium's object array (entry ``i`` the unbatched
    observation of environment ``i``, None where it did not end) or a batched pytree with a
    leading axis of ``num_envs``. Returns one array per state leaf, a row per ended environment.
    """
    if not isinstance(info, Mapping) or "final_obs" not in info:
        got = "None" if info is None else f"a {type(info).__name__} without 'final_obs'"
        raise ValueError(
            f"info must be the info dict of the vector step, holding 'final_obs', when an "
            f"environment ends in autoreset mode 'same_step' (environments {ended.tolist()} "
            f"ended); got {got}"
        )
    final = info["final_obs"]
    if isinstance(final, np.ndarray) and final.dtype == object and final.shape == (num_envs,):
        rows = []
        for i in ended.tolist():
            if final[i] is None:
                raise ValueError(
                    f"info['final_obs'][{i}] must be the final observation of environment {i}, "
                    "which ended, got None"
                )
            leaves, _ = as_leaves(f"info['final_obs'][{i}]", final[i], layout, None)
            rows.append(leaves)
        return [np.concatenate(column) for column in zip(*rows, strict=True)]
    leaves, _ = as_leaves("info['final_obs']", final, layout, num_envs)
    return [x[ended] for x in leaves]


class NStepTracer:
    r"""Turn a stream of environment steps into n-step transitions.

    Each step, ``add(s, a, r, terminated, truncated, s_next)`` records the state $S_t$, the
    action $A_t$, the reward $R_t$, gymnasium's two end flags and the next state
    $S_{t+1}$: of one environment, or of ``num_envs`` environments stepped together (a
    gymnasium vector environment). Once ``n`` steps follow a state, or its episode ends, the
    transitions that are complete come out as one ``TransitionBatch`` with

    * ``Rn`` $= \sum_{k=0}^{m-1} \gamma^k R_{t+k}$, over the ``m = n`` rewards that
      follow, or the ``m < n`` left when the episode ends first;
    * ``In`` $= \gamma^m (1 - \text{terminated})$: 0 when the episode terminated within
      those ``m`` steps, $\gamma^m$ otherwise, a time-limit truncation included (it is
      bootstrapped);
    * ``S_next`` $= S_{t+m}$, the state to bootstrap from;
    * ``S``, ``A`` and ``logP`` of step ``t``; ``W`` ones and ``idx`` positions (a replay
      buffer fills in its own); ``A_next`` and ``logP_next`` are None.

    States and actions may be any pytree of arrays (a dict observation, say), numpy or JAX; they
    come out as numpy arrays. The first step fixes each leaf's shape and dtype: later steps are
    cast where numpy's ``same_kind`` rule allows (int32 to int64, float64 to float32) and refused
    otherwise. ``Rn``, ``In`` and ``logP`` are float32. A refused step changes nothing.

    **Vector environments.** With ``num_envs=K`` one tracer follows ``K`` environments, and
    ``add`` takes a whole vector step as gymnasium's ``SyncVectorEnv`` and ``AsyncVectorEnv``
    return it: leaves with a leading axis of ``K``, and ``K`` rewards and flags. Each
    environment is traced exactly as a tracer of its own would trace it; the transitions a step
    completes come out as one batch, environment 0's first, oldest first within each. A vector
    environment resets an environment whose episode ended by itself, and ``autoreset_mode``
    tells the tracer how (pass ``envs.metadata["autoreset_mode"]``; gymnasium 1.0's vector
    environments have none and always use ``"next_step"``):

    * ``"next_step"`` (gymnasium's default): the step after environment ``i`` ended is its reset
      step (final observation to reset observation, reward 0, action ignored). The tracer
      remembers which environments ended and skips their reset step: it is never stored.
    * ``"same_step"``: at environment ``i``'s end, ``s_next[i]`` is already the reset
      observation; the final one is read from ``info["final_obs"][i]``, so pass the step's
      ``info``.
    * ``"disabled"``: nothing is skipped or replaced (you reset ended environments yourself).

    A single-environment tracer (``num_envs=None``) is given real steps only (you reset the
    environment), so the mode does not apply to it. ``import rlu_replay`` does not load
    gymnasium, nor does making a tracer once ``rlu_core`` holds ``TransitionBatch``.

    Parameters
    ----------
    n : int
        The number of rewards summed before bootstrapping, at least 1.
    gamma : float
        The discount factor, in ``[0, 1]``.
    num_envs : int, optional
        The number of environments of a vector step, at least 1; None (default) for one
        environment, whose values ``add`` takes without an environment axis.
    autoreset_mode : str or gymnasium.vector.AutoresetMode, optional
        How the vector environment resets ended environments: ``"next_step"`` (default),
        ``"same_step"`` or ``"disabled"``, or the matching ``AutoresetMode`` member.

    Raises
    ------
    TypeError
        If ``n`` or ``num_envs`` is not an int or ``gamma`` is not a real number.
    ValueError
        If ``n < 1``, ``num_envs < 1``, ``gamma`` lies outside ``[0, 1]`` or
        ``autoreset_mode`` is none of the modes.

    Examples
    --------
    One environment:

    >>> import numpy as np
    >>> from rlu_replay import NStepTracer
    >>> tracer = NStepTracer(n=2, gamma=0.5)
    >>> tracer.add(np.array([0.0]), 0, 1.0, False, False, np.array([1.0])) is None  # 1 step
    True
    >>> tb = tracer.add(np.array([1.0]), 1, 1.0, False, False, np.array([2.0]))
    >>> tb.S, tb.Rn, tb.In, tb.S_next  # from S_0: R_0 + 0.5 R_1, bootstrapped with 0.5 ** 2
    (array([[0.]]), array([1.5], dtype=float32), array([0.25], dtype=float32), array([[2.]]))
    >>> tb = tracer.add(np.array([2.0]), 0, 4.0, True, False, np.array([3.0]))  # terminated
    >>> tb.S[:, 0], tb.Rn, tb.In  # from S_1 and S_2: nothing to bootstrap
    (array([1., 2.]), array([3., 4.], dtype=float32), array([0., 0.], dtype=float32))
    >>> len(tracer)
    0

    Two environments of a vector environment that resets on the next step; environment 1
    terminates at once:

    >>> tracer = NStepTracer(n=2, gamma=0.5, num_envs=2)
    >>> s = np.array([[0.0], [10.0]])
    >>> tb = tracer.add(s, np.array([0, 1]), np.array([1.0, 1.0]), np.array([False, True]),
    ...                 np.array([False, False]), s + 1)
    >>> tb.S[:, 0], tb.Rn, tb.In  # environment 1's only step, terminated
    (array([10.]), array([1.], dtype=float32), array([0.], dtype=float32))
    >>> s_next = np.array([[2.0], [-5.0]])  # environment 1 is reset from 11 to -5: skipped
    >>> tb = tracer.add(s + 1, np.array([0, 0]), np.array([1.0, 0.0]), np.array([False, False]),
    ...                 np.array([False, False]), s_next)
    >>> tb.S[:, 0], tb.Rn, tb.In, tb.S_next[:, 0]  # environment 0's first 2-step transition
    (array([0.]), array([1.5], dtype=float32), array([0.25], dtype=float32), array([2.]))
    >>> len(tracer)  # environment 0's second step waits; nothing of environment 1
    1
    """

    def __init__(
        self,
        n: int,
        gamma: float,
        num_envs: int | None = None,
        autoreset_mode: str | Enum = "next_step",
    ) -> None:
        self._n = check_int("n", n, minimum=1)
        self._gamma = check_real("gamma", gamma, low=0.0, high=1.0)
        self._num_envs = check_optional_int("num_envs", num_envs, minimum=1)
        self._autoreset_mode = _check_autoreset_mode(autoreset_mode)
        self._batch_type = _transition_batch_type()
        self._ring = NStepRing(self._n, self._gamma, self._num_envs or 1)
        # environments whose next step is a reset step to skip (autoreset mode next_step)
        self._resetting = np.zeros(self._num_envs or 1, dtype=bool)

    @property
    def n(self) -> int:
        """int: The number of rewards summed before bootstrapping."""
        return self._n

    @property
    def gamma(self) -> float:
        """float: The discount factor."""
        return self._gamma

    @property
    def num_envs(self) -> int | None:
        """int or None: The number of environments of a vector step; None for one environment."""
        return self._num_envs

    @property
    def autoreset_mode(self) -> str:
        """str: ``"next_step"``, ``"same_step"`` or ``"disabled"`` (used with ``num_envs``)."""
        return self._autoreset_mode

    def __len__(self) -> int:
        """The number of steps waiting for their n-step transition, over all environments."""
        return len(self._ring)

    def __repr__(self) -> str:
        vector = (
            ""
            if self._num_envs is None
            else f", num_envs={self._num_envs}, autoreset_mode={self._autoreset_mode!r}"
        )
        return f"NStepTracer(n={self._n}, gamma={self._gamma}{vector}, pending={len(self)})"

    def add(
        self,
        s: Any,
        a: Any,
        r: ArrayLike,
        terminated: ArrayLike,
        truncated: ArrayLike,
        s_next: Any,
        logp: ArrayLike = 0.0,
        info: Mapping[str, Any] | None = None,
    ) -> TransitionBatch | None:
        r"""Record one step; return the transitions it completes, if any.

        With ``num_envs=K`` every argument is the vector step's: ``s``, ``a`` and ``s_next``
        with a leading axis of ``K`` on each leaf, ``r``, ``terminated``, ``truncated`` (and
        ``logp``, unless one number for all) of shape ``(K,)``. In a pytree a list or tuple is a
        container of leaves, not an array: pass states and actions as arrays.

        Parameters
        ----------
        s : pytree of arrays
            The state $S_t$ the action was taken in.
        a : pytree of arrays
            The action $A_t$.
        r : float or array
            The reward $R_t$: a Python, numpy or JAX real number or 0-d array (an array of
            ``K`` of them for a vector step).
        terminated : bool or array
            Whether $S_{t+1}$ is terminal (gymnasium's ``terminated``): a bool or the int 0
            or 1, in any of the forms of ``r``.
        truncated : bool or array
            Whether the episode was cut off at $S_{t+1}$ (gymnasium's ``truncated``): the
            episode ends, and its last transitions are bootstrapped from ``s_next``.
        s_next : pytree of arrays
            The state $S_{t+1}$ the step led to (for a vector step: as the vector environment
            returned it, reset observations included).
        logp : float or array, optional
            The log-propensity $\log\pi(A_t|S_t)$, if the learner wants it (default 0).
        info : dict, optional
            The vector step's ``info``; read only in autoreset mode ``"same_step"``, for
            ``info["final_obs"]`` when an environment ends: gymnasium's object array of
            unbatched final observations (None where none ended), or a pytree of them batched
            with a leading axis of ``K``.

        Returns
        -------
        TransitionBatch or None
            The transitions completed by this step (one per full environment, or up to ``n``
            of an environment whose episode ended), environment by environment, oldest first;
            None when none is complete.

        Raises
        ------
        TypeError
            If ``r`` or ``logp`` is not real, a flag is neither a bool nor the int 0 or 1, or
            a leaf's dtype does not cast to the one the first step fixed. The message names
            the argument (and leaf, as in ``s['pos']``).
        ValueError
            If a shape is wrong (a leading axis that is not ``K``, a leaf's shape unlike the
            first step's, ``r`` of the wrong length), the structure of a pytree changed, a
            number is not finite, a flag is an int other than 0 or 1, or an environment ended
            in mode ``"same_step"`` without ``info["final_obs"]``. A refused step is not
            recorded: the tracer is left as it was.

        Examples
        --------
        >>> from rlu_replay import NStepTracer
        >>> tracer = NStepTracer(n=3, gamma=0.9)
        >>> tracer.add(0, 0, 1.0, False, False, 1) is None
        True
        >>> tb = tracer.add(1, 1, 1.0, False, True, 2)  # truncated: bootstrapped from 2
        >>> tb.S, tb.In.round(2), tb.S_next
        (array([0, 1]), array([0.81, 0.9 ], dtype=float32), array([2, 2]))

        A vector step in mode ``"same_step"``, where environment 0 ends at observation 1
        and is reset to 5 within the step (gymnasium's ``info`` layout):

        >>> import numpy as np
        >>> tracer = NStepTracer(n=1, gamma=0.9, num_envs=2, autoreset_mode="same_step")
        >>> info = {"final_obs": np.array([1, None], dtype=object),
        ...         "_final_obs": np.array([True, False])}
        >>> tb = tracer.add(np.array([0, 7]), np.array([1, 1]), np.array([1.0, 2.0]),
        ...                 np.array([True, False]), np.array([False, False]), np.array([5, 8]),
        ...                 info=info)
        >>> tb.S, tb.S_next, tb.In.round(2)  # environment 0 ends at 1, not at 5
        (array([0, 7]), array([1, 8]), array([0. , 0.9], dtype=float32))
        """
        k = self._num_envs
        if k is None:
            reward = np.array([check_real("r", r)])
            log_p: np.ndarray | float = np.array([check_real("logp", logp)])
            term = np.array([check_bool("terminated", terminated)])
            trunc = np.array([check_bool("truncated", truncated)])
        else:
            reward = check_reals("r", r, num_envs=k)
            term = check_flags("terminated", terminated, num_envs=k)
            trunc = check_flags("truncated", truncated, num_envs=k)
            one = isinstance(logp, (int, float)) or np.ndim(logp) == 0
            log_p = check_real("logp", logp) if one else check_reals("logp", logp, num_envs=k)
        ring = self._ring
        states, s_layout = as_leaves("s", s, ring.s_layout, k)
        actions, a_layout = as_leaves("a", a, ring.a_layout, k)
        boot, _ = as_leaves("s_next", s_next, s_layout, k)

        skipping = k is not None and self._autoreset_mode == "next_step" and self._resetting.any()
        envs = np.flatnonzero(~self._resetting) if skipping else None
        ended = term | trunc
        if skipping:
            ended &= ~self._resetting
        if k is not None and self._autoreset_mode == "same_step" and ended.any():
            which = np.flatnonzero(ended)
            finals = _final_observations(info, which, s_layout, k)
            boot = [x.copy() for x in boot]  # never write into the caller's arrays
            for x, final in zip(boot, finals, strict=True):
                x[which] = final

        # everything is checked: record
        ring.push(envs, states, actions, reward, log_p, boot, (s_layout, a_layout))
        if k is not None and self._autoreset_mode == "next_step":
            self._resetting = ended
        if not ended.any():
            full = ring.count == self._n
            if full.all():  # the steady state: one transition from every environment
                return self._batch(ring.pop_oldest(boot))
            if not full.any():
                return None
            return self._batch(ring.pop(full.astype(np.int64), term, boot))
        return self._batch(ring.pop(np.where(ended, ring.count, ring.count == self._n), term, boot))

    def flush(self) -> TransitionBatch | None:
        """Emit the pending steps as if the episodes had been truncated after the last one.

        Use it when a run stops in the middle of episodes; each environment's transitions are
        bootstrapped from its last ``s_next``. The tracer is then empty. It still remembers
        which environments of a vector step are due to be reset in the next one.

        Returns
        -------
        TransitionBatch or None
            The pending transitions (environment by environment, oldest first), or None if
            there were none.

        Examples
        --------
        >>> from rlu_replay import NStepTracer
        >>> tracer = NStepTracer(n=5, gamma=1.0)
        >>> _ = tracer.add(0, 0, 2.0, False, False, 1)
        >>> tracer.flush().Rn, len(tracer)
        (array([2.], dtype=float32), 0)
        """
        ring = self._ring
        if not len(ring):
            return None
        counts = ring.count.copy()
        return self._batch(ring.pop(counts, np.zeros(len(counts), dtype=bool), ring.last))

    def reset(self) -> None:
        """Drop everything: the pending steps and what the first step fixed.

        Use it after abandoning episodes, e.g. together with ``envs.reset()``: it also forgets
        which environments of a vector step were due to be reset in the next one.

        Examples
        --------
        >>> from rlu_replay import NStepTracer
        >>> tracer = NStepTracer(n=5, gamma=1.0)
        >>> _ = tracer.add(0, 0, 2.0, False, False, 1)
        >>> tracer.reset()
        >>> len(tracer)
        0
        """
        self._ring = NStepRing(self._n, self._gamma, self._num_envs or 1)
        self._resetting = np.zeros(self._num_envs or 1, dtype=bool)

    def _batch(self, popped: Popped) -> TransitionBatch:
        s_layout, a_layout = self._ring.s_layout, self._ring.a_layout
        assert s_layout is not None and a_layout is not None  # set by the first push
        return self._batch_type(
            S=s_layout.treedef.unflatten(popped.S),
            A=a_layout.treedef.unflatten(popped.A),
            logP=popped.logP.astype(np.float32),
            Rn=popped.Rn.astype(np.float32),
            In=popped.In.astype(np.float32),
            S_next=s_layout.treedef.unflatten(popped.S_next),
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_batch_type"]  # imported again on load, from where it lives then
        state["_state_version"] = 2
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "_pending" in state:  # pickled by rlu-replay 0.1.1
            self._restore_0_1(state)
            return
        state = dict(state)
        state.pop("_state_version", None)
        self.__dict__.update(state)
        self._batch_type = _transition_batch_type()

    def _restore_0_1(self, state: dict[str, Any]) -> None:
        """Load a tracer of rlu-replay 0.1.1: replay its pending steps into a new one.

        It held ``(s, a, logp, r)`` for each pending step (fewer than ``n``, none of them the
        last of an episode) and the last ``s_next``; the state after a step is the one before
        the next.
        """
        NStepTracer.__init__(self, state["_n"], state["_gamma"])
        pending = list(state["_pending"])
        for i, (s, a, logp, r) in enumerate(pending):
            s_next = pending[i + 1][0] if i + 1 < len(pending) else state["_last_s_next"]
            self.add(s, a, r, False, False, s_next, logp=logp)
