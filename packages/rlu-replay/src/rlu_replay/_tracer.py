"""NStepTracer: a stream of environment steps in, n-step TransitionBatches out."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

from rlu_replay._checks import check_bool, check_int, check_real
from rlu_replay._pytree import tree_map

if TYPE_CHECKING:
    from rlu_envtools import TransitionBatch


def _stack(*xs: Any) -> np.ndarray:
    return np.stack([np.asarray(x) for x in xs])


class NStepTracer:
    r"""Turn a stream of environment steps into n-step transitions.

    Each step of an episode, ``add(s, a, r, terminated, truncated, s_next)`` records the state
    ``S_t``, the action ``A_t``, the reward ``R_t``, gymnasium's two end flags and
    the next state ``S_{t+1}``. Once ``n`` steps follow a state, or the episode ends, the
    transitions that are complete come out as one ``rlu_envtools.TransitionBatch`` with

    * ``Rn`` ``= \sum_{k=0}^{m-1} \gamma^k R_{t+k}``, over the ``m = n`` rewards that
      follow, or the ``m < n`` left when the episode ends first;
    * ``In`` ``= \gamma^m (1 - \text{terminated})``: 0 when the episode terminated within
      those ``m`` steps, ``\gamma^m`` otherwise, a time-limit truncation included (it is
      bootstrapped);
    * ``S_next`` ``= S_{t+m}``, the state to bootstrap from;
    * ``S``, ``A`` and ``logP`` of step ``t``; ``W`` ones and ``idx`` positions (a replay
      buffer fills in its own); ``A_next`` and ``logP_next`` are None.

    States and actions may be any pytree of arrays (a dict observation, say). ``Rn``, ``In`` and
    ``logP`` are float32. One tracer follows one environment; use one per environment of a
    vectorized set. ``import rlu_replay`` does not load gymnasium: making a tracer does (it
    imports ``rlu_envtools`` for ``TransitionBatch``).

    Parameters
    ----------
    n : int
        The number of rewards summed before bootstrapping, at least 1.
    gamma : float
        The discount factor, in ``[0, 1]``.

    Raises
    ------
    TypeError
        If ``n`` is not an int or ``gamma`` is not a real number.
    ValueError
        If ``n < 1`` or ``gamma`` lies outside ``[0, 1]``.

    Examples
    --------
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
    """

    def __init__(self, n: int, gamma: float) -> None:
        from rlu_envtools import TransitionBatch  # loads gymnasium: only when a tracer is made

        self._n = check_int("n", n, minimum=1)
        self._gamma = check_real("gamma", gamma, low=0.0, high=1.0)
        self._powers = self._gamma ** np.arange(self._n + 1, dtype=np.float64)
        self._batch_type = TransitionBatch
        self._pending: deque[tuple[Any, Any, float, float]] = deque()
        self._last_s_next: Any = None

    @property
    def n(self) -> int:
        """int: The number of rewards summed before bootstrapping."""
        return self._n

    @property
    def gamma(self) -> float:
        """float: The discount factor."""
        return self._gamma

    def __len__(self) -> int:
        """The number of steps waiting for their n-step transition."""
        return len(self._pending)

    def __repr__(self) -> str:
        return f"NStepTracer(n={self._n}, gamma={self._gamma}, pending={len(self._pending)})"

    def add(
        self,
        s: Any,
        a: Any,
        r: float,
        terminated: bool,
        truncated: bool,
        s_next: Any,
        logp: float = 0.0,
    ) -> TransitionBatch | None:
        """Record one step; return the transitions it completes, if any.

        Parameters
        ----------
        s : pytree of arrays
            The state ``S_t`` the action was taken in.
        a : pytree of arrays
            The action ``A_t``.
        r : float
            The reward ``R_t``.
        terminated : bool
            Whether ``S_{t+1}`` is terminal (gymnasium's ``terminated``).
        truncated : bool
            Whether the episode was cut off at ``S_{t+1}`` (gymnasium's ``truncated``): the
            episode ends, and its last transitions are bootstrapped from ``s_next``.
        s_next : pytree of arrays
            The state ``S_{t+1}`` the step led to.
        logp : float, optional
            The log-propensity ``\\log\\pi(A_t|S_t)``, if the learner wants it.

        Returns
        -------
        TransitionBatch or None
            The transitions completed by this step (one, or up to ``n`` at an episode's end),
            oldest first; None when none is complete.

        Raises
        ------
        TypeError
            If ``r`` or ``logp`` is not a real number or a flag is not a bool. A rejected step
            is not recorded.

        Examples
        --------
        >>> from rlu_replay import NStepTracer
        >>> tracer = NStepTracer(n=3, gamma=0.9)
        >>> tracer.add(0, 0, 1.0, False, False, 1) is None
        True
        >>> tb = tracer.add(1, 1, 1.0, False, True, 2)  # truncated: bootstrapped from 2
        >>> tb.S, tb.In.round(2), tb.S_next
        (array([0, 1]), array([0.81, 0.9 ], dtype=float32), array([2, 2]))
        """
        reward = check_real("r", r)
        log_propensity = check_real("logp", logp)
        terminated = check_bool("terminated", terminated)
        truncated = check_bool("truncated", truncated)
        self._pending.append((s, a, log_propensity, reward))
        self._last_s_next = s_next
        if terminated or truncated:
            return self._emit(len(self._pending), s_next, terminated)
        if len(self._pending) == self._n:
            return self._emit(1, s_next, False)
        return None

    def flush(self) -> TransitionBatch | None:
        """Emit the pending steps as if the episode had been truncated after the last one.

        Use it when a run stops in the middle of an episode; the transitions are bootstrapped
        from the last ``s_next``. The tracer is then empty.

        Returns
        -------
        TransitionBatch or None
            The pending transitions, or None if there were none.

        Examples
        --------
        >>> from rlu_replay import NStepTracer
        >>> tracer = NStepTracer(n=5, gamma=1.0)
        >>> _ = tracer.add(0, 0, 2.0, False, False, 1)
        >>> tracer.flush().Rn, len(tracer)
        (array([2.], dtype=float32), 0)
        """
        if not self._pending:
            return None
        return self._emit(len(self._pending), self._last_s_next, False)

    def reset(self) -> None:
        """Drop the pending steps (e.g. after an episode was abandoned).

        Examples
        --------
        >>> from rlu_replay import NStepTracer
        >>> tracer = NStepTracer(n=5, gamma=1.0)
        >>> _ = tracer.add(0, 0, 2.0, False, False, 1)
        >>> tracer.reset()
        >>> len(tracer)
        0
        """
        self._pending.clear()
        self._last_s_next = None

    def _emit(self, count: int, s_next: Any, terminated: bool) -> TransitionBatch:
        """Pop the ``count`` oldest pending steps as transitions bootstrapped from ``s_next``."""
        rewards = np.array([step[3] for step in self._pending], dtype=np.float64)
        m = len(rewards)
        states, actions, logps, rns, ins = [], [], [], [], []
        for k in range(count):
            s, a, logp, _ = self._pending.popleft()
            steps = m - k  # rewards from step k to the end of what is pending
            rns.append(float(np.dot(self._powers[:steps], rewards[k:])))
            ins.append(0.0 if terminated else float(self._powers[steps]))
            states.append(s)
            actions.append(a)
            logps.append(logp)
        if not self._pending:
            self._last_s_next = None if count else self._last_s_next
        return self._batch_type(
            S=tree_map(_stack, *states),
            A=tree_map(_stack, *actions),
            logP=np.asarray(logps, dtype=np.float32),
            Rn=np.asarray(rns, dtype=np.float32),
            In=np.asarray(ins, dtype=np.float32),
            S_next=tree_map(lambda x: _stack(*([x] * count)), s_next),
        )
