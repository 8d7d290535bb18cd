"""PrioritizedReplayBuffer: the ring storage of ReplayBuffer plus the priority component."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rlu_replay._buffer import ReplayBuffer
from rlu_replay._checks import (
    Schedule,
    check_bool,
    check_generator,
    check_indices,
    check_int,
    check_priorities,
    check_real,
    check_schedule,
    check_schedule_at,
    check_unit_interval,
)
from rlu_replay._layout import Layout, package
from rlu_replay._priorities import Priorities

_INT64 = np.dtype(np.int64)
_FLOAT64 = np.dtype(np.float64)
_FLOAT32 = np.dtype(np.float32)


def _plain_vector(x: np.ndarray) -> bool:
    """A 1-d, C-contiguous, aligned array: what the compiled kernel may read as it is."""
    flags = x.flags
    return x.ndim == 1 and flags.c_contiguous and flags.aligned


class PrioritizedReplayBuffer(ReplayBuffer):
    r"""Proportional prioritized experience replay (Schaul et al., 2016) for any pytree of arrays.

    Item ``i`` is drawn with probability $P(i) = p_i / \sum_k p_k$, where
    $p_i = (\text{priority}_i + \epsilon)^\alpha$; $p_i$ lives in a
    ``rlu_trees.SumTree`` (sampling), whose leaves a 64-ary tree of minima reads for the
    smallest ``p``, and every read and write of them is one batched call. The importance weights are
    $w_i = (N\,P(i))^{-\beta} / \max_j (N\,P(j))^{-\beta}$ over the ``N`` stored items,
    so the largest possible weight is 1. New items get the largest priority given so far (1
    before any), so each is likely to be replayed soon.

    Storage, layout and dtypes, identifiers, overwriting, pickling and the form of samples are
    those of [`ReplayBuffer`][rlu_replay.ReplayBuffer]; a sampled ``TransitionBatch`` carries the
    weights in ``W``.

    Parameters
    ----------
    capacity : int
        The most items the buffer holds, at least 1.
    alpha : float, optional
        How strongly priorities skew sampling, in ``[0, 1]`` (0 is uniform). Assigning to
        [`alpha`][rlu_replay.PrioritizedReplayBuffer.alpha] later re-weights every stored item.
    beta : float or callable, optional
        How fully the importance weights correct that skew, in ``[0, 1]``; or a schedule: any
        callable of the step count, such as ``rlu_noise.StepwiseLinearFunction``, called with the
        number of [`sample`][rlu_replay.PrioritizedReplayBuffer.sample] calls made so far.
    epsilon : float, optional
        Added to every priority (``>= 0``), so that no item's probability is 0.
    random_seed : int, optional
        Seed of the buffer's own random stream, used by
        [`sample`][rlu_replay.PrioritizedReplayBuffer.sample] when no ``rng`` is given.
    example : pytree of arrays, optional
        A batch whose layout the buffer takes; see [`ReplayBuffer`][rlu_replay.ReplayBuffer].

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If ``capacity < 1``, ``alpha`` or ``beta`` lies outside ``[0, 1]``, or ``epsilon < 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from rlu_replay import PrioritizedReplayBuffer
    >>> buffer = PrioritizedReplayBuffer(capacity=1000, alpha=1.0, beta=1.0, epsilon=0.0)
    >>> idx = buffer.add({"x": np.arange(4.0)}, priorities=[1.0, 1.0, 1.0, 5.0])
    >>> batch, idx, weights = buffer.sample(10_000, rng=0)
    >>> round(float(np.mean(batch["x"] == 3.0)), 1)  # 5 / 8 of the mass
    0.6
    >>> sorted(set(weights.round(2).tolist()))  # (p / p_min) ** -beta
    [0.2, 1.0]
    >>> buffer.update_priorities(idx[:1], [0.0])  # a TD error of 0: (0 + epsilon) ** alpha
    1
    """

    def __init__(
        self,
        capacity: int,
        alpha: float = 0.6,
        beta: float | Schedule = 0.4,
        epsilon: float = 1e-4,
        random_seed: int | None = None,
        *,
        example: Any = None,
        frame_stack: int | None = None,
        frame_axis: int | None = 0,
        frame_leaves: Sequence[str] | None = None,
    ) -> None:
        alpha = check_real("alpha", alpha, low=0.0, high=1.0)
        self._beta = check_schedule("beta", beta, low=0.0, high=1.0)
        epsilon = check_real("epsilon", epsilon, low=0.0)
        super().__init__(
            capacity,
            random_seed,
            example=example,
            frame_stack=frame_stack,
            frame_axis=frame_axis,
            frame_leaves=frame_leaves,
        )
        self._sample_calls = 0
        self._priorities = Priorities(self._capacity, alpha, epsilon, self._tree_seed())

    def _tree_seed(self) -> int:
        # the SumTree draws for ``sample(n)`` without ``rng``: seeded from the buffer's stream
        return int(self._rng.integers(2**63))

    # ------------------------------------------------------------------ properties

    @property
    def alpha(self) -> float:
        """float: The priority exponent; assigning to it re-weights every stored item."""
        return self._priorities.alpha

    @alpha.setter
    def alpha(self, alpha: float) -> None:
        self._priorities.reweight(check_real("alpha", alpha, low=0.0, high=1.0), self._size)

    @property
    def beta(self) -> float | Schedule:
        """float or callable: The importance-weight exponent, or its schedule."""
        return self._beta

    @beta.setter
    def beta(self, beta: float | Schedule) -> None:
        self._beta = check_schedule("beta", beta, low=0.0, high=1.0)

    @property
    def epsilon(self) -> float:
        """float: What is added to every priority."""
        return self._priorities.epsilon

    @property
    def sample_calls(self) -> int:
        """int: How many times [`sample`][rlu_replay.PrioritizedReplayBuffer.sample] has drawn.

        That count is the step a ``beta`` schedule sees.
        """
        return self._sample_calls

    @property
    def total_priority(self) -> float:
        r"""float: $\sum_i p_i$ over the stored items."""
        return self._priorities.total

    @property
    def min_priority(self) -> float:
        """float: The smallest $p_i$ over the stored items (``inf`` when there is none)."""
        return self._priorities.minimum if self._size else float("inf")

    # ------------------------------------------------------------------ writing

    def add(self, batch: Any, priorities: Any = None) -> np.ndarray:
        """Store a batch of items, with the largest priority so far or with given priorities.

        Parameters
        ----------
        batch : pytree of arrays
            See [`ReplayBuffer.add`][rlu_replay.ReplayBuffer.add].
        priorities : array_like, optional
            One finite, non-negative priority per item (e.g. ``|TD error|``), or one number for
            all. Default: the largest priority given so far (1 before any).

        Returns
        -------
        numpy.ndarray
            int64 array of shape ``(B,)``: the identifiers given to the items.

        Raises
        ------
        ValueError
            As [`ReplayBuffer.add`][rlu_replay.ReplayBuffer.add], and for a NaN, infinite or
            negative priority or a ``priorities`` of the wrong length. A rejected call leaves the
            buffer as it was.
        TypeError
            As [`ReplayBuffer.add`][rlu_replay.ReplayBuffer.add], and for non-numeric
            ``priorities``.

        Examples
        --------
        >>> import numpy as np
        >>> from rlu_replay import PrioritizedReplayBuffer
        >>> buffer = PrioritizedReplayBuffer(capacity=8)
        >>> buffer.add({"x": np.zeros((2, 3))}, priorities=[0.5, 2.0])
        array([0, 1])
        >>> buffer.add({"x": np.zeros((1, 3))}, priorities=[float("nan")])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: priorities must be finite and non-negative, got nan at position 0 (1 of 1 ...)
        >>> len(buffer)
        2
        """
        leaves, size, layout = self._check(batch)
        base = None
        if priorities is not None:
            base = check_priorities("priorities", priorities, n=size) + self._priorities.epsilon
        if layout is not None:
            self._install(layout)
        ids, start, keep = self._write(leaves, size)
        if base is None:
            self._priorities.set_new(start, keep)
        else:
            self._priorities.set_run(start, base[size - keep :])
        return ids

    def add_single(self, item: Any, priority: Any = None) -> int:
        """Store one item that has no batch axis, with the largest priority so far or ``priority``.

        Parameters
        ----------
        item : pytree of arrays
            See [`ReplayBuffer.add_single`][rlu_replay.ReplayBuffer.add_single].
        priority : float, optional
            Its finite, non-negative priority.

        Returns
        -------
        int
            The identifier given to the item.

        Raises
        ------
        TypeError, ValueError
            As [`add`][rlu_replay.PrioritizedReplayBuffer.add], for a batch of this one item.

        Examples
        --------
        >>> import numpy as np
        >>> from rlu_replay import PrioritizedReplayBuffer
        >>> buffer = PrioritizedReplayBuffer(capacity=8, alpha=1.0, epsilon=0.0)
        >>> buffer.add_single({"obs": np.zeros(4), "reward": 1.0}, priority=3.0)
        0
        >>> buffer.total_priority
        3.0
        """
        if priority is not None:
            priority = [check_real("priority", priority, low=0.0)]
        batch = Layout.single(item)
        return int(self.add(batch, priority)[0])

    def update_priorities(self, idx: Any, priorities: Any) -> int:
        """Give sampled items new priorities; items overwritten since they were drawn are skipped.

        Parameters
        ----------
        idx : 1-d array_like of ints
            Identifiers, as [`sample`][rlu_replay.PrioritizedReplayBuffer.sample] returned them
            (``Sample.idx`` or ``TransitionBatch.idx``). With repeats, the last one wins.
        priorities : array_like
            One finite, non-negative priority per identifier (e.g. ``|TD error|``), or one
            number for all.

        Returns
        -------
        int
            How many priorities were applied (the others' items had been overwritten).

        Raises
        ------
        TypeError
            If ``idx`` is not integer or ``priorities`` is not numeric.
        ValueError
            If ``idx`` is not 1-d or negative, or a priority is NaN, infinite or negative, or the
            lengths differ. A rejected call changes nothing.

        Examples
        --------
        >>> import numpy as np
        >>> from rlu_replay import PrioritizedReplayBuffer
        >>> buffer = PrioritizedReplayBuffer(capacity=2)
        >>> _ = buffer.add({"x": np.zeros(2)})
        >>> _, idx, _ = buffer.sample(2, rng=0)
        >>> _ = buffer.add({"x": np.ones(1)})  # overwrites item 0
        >>> buffer.update_priorities([0, 1], [3.0, 3.0])  # item 0 is gone: only 1 applies
        1
        """
        ids = idx
        if not (type(ids) is np.ndarray and ids.dtype is _INT64 and _plain_vector(ids)):
            ids = np.ascontiguousarray(check_indices("idx", idx))
        n = ids.shape[0]
        prio = priorities
        if not (
            type(prio) is np.ndarray
            and (prio.dtype is _FLOAT64 or prio.dtype is _FLOAT32)
            and _plain_vector(prio)
        ):
            prio = np.ascontiguousarray(check_priorities("priorities", priorities, n=n))
        if prio.shape[0] != n:
            check_priorities("priorities", prio, n=n)  # raises: the lengths differ
        if n == 0:
            return 0
        count = self._priorities.update(ids, prio, self._serial)
        if count < 0:  # the kernel found a bad value: the checks say which, in words
            check_indices("idx", ids)
            check_priorities("priorities", prio, n=n)
        return count

    def clear(self) -> None:
        """Forget every item and priority.

        See [`ReplayBuffer.clear`][rlu_replay.ReplayBuffer.clear].

        Examples
        --------
        >>> import numpy as np
        >>> from rlu_replay import PrioritizedReplayBuffer
        >>> buffer = PrioritizedReplayBuffer(capacity=4)
        >>> _ = buffer.add(np.arange(3), priorities=5.0)
        >>> buffer.clear()
        >>> len(buffer), buffer.total_priority
        (0, 0.0)
        """
        super().clear()
        self._priorities.clear(self._tree_seed())

    # ------------------------------------------------------------------ reading

    def sample(self, n: int, rng: Any = None, *, stratified: bool = False) -> Any:
        """Draw ``n`` items with probability proportional to $p_i$, with replacement.

        Parameters
        ----------
        n : int
            How many items to draw, at least 1.
        rng : numpy.random.Generator, int or JAX PRNG key, optional
            See [`ReplayBuffer.sample`][rlu_replay.ReplayBuffer.sample].
        stratified : bool, optional
            Draw one item from each of ``n`` equal slices of the total priority instead of
            ``n`` independent draws: each item is still drawn with probability ``P(i)`` per
            draw on average, with less variance between batches (items come in the order of
            the cumulative priority).

        Returns
        -------
        TransitionBatch or Sample
            As [`ReplayBuffer.sample`][rlu_replay.ReplayBuffer.sample], with the importance weights
            (float64, largest possible 1) in ``W`` / ``weights``.

        Raises
        ------
        TypeError
            If ``n`` is not an int, ``rng`` is not a Generator, a seed or a JAX key, or
            ``stratified`` is not a bool.
        ValueError
            If ``n < 1``, or a ``beta`` schedule returns a value outside ``[0, 1]``.
        RuntimeError
            If the buffer is empty.

        Examples
        --------
        >>> import numpy as np
        >>> from rlu_replay import PrioritizedReplayBuffer
        >>> buffer = PrioritizedReplayBuffer(capacity=10, alpha=1.0, beta=lambda step: 1.0)
        >>> _ = buffer.add({"x": np.arange(3)}, priorities=[1.0, 1.0, 2.0])
        >>> sample = buffer.sample(4, rng=np.random.default_rng(0), stratified=True)
        >>> sample.batch["x"], sample.weights.dtype, buffer.sample_calls  # a quarter each
        (array([0, 1, 2, 2]), dtype('float64'), 1)
        """
        if type(n) is not int or n < 1:
            n = check_int("n", n, minimum=1)
        gen = None if rng is None else check_generator("rng", rng)
        if stratified is not False:
            stratified = check_bool("stratified", stratified)
        beta = self._beta
        if callable(beta):
            beta = check_schedule_at("beta", beta, step=self._sample_calls, low=0.0, high=1.0)
        if not self._size:
            self._require_items()
        slots = self._priorities.draw(n, gen, stratified)
        weights = self._priorities.weights(slots, beta)
        self._sample_calls += 1
        return package(self._gather(slots), self._serial[slots], weights)

    def sample_at(self, u: Any) -> tuple[Any, np.ndarray, np.ndarray]:
        """The items at given points of the cumulative priority, with their $p_i$.

        For callers that combine several buffers into one distribution (the Ray service does,
        one buffer per shard): they choose the points, and weigh the items themselves.
        ``sample_calls`` and the ``beta`` schedule do not advance.

        Parameters
        ----------
        u : 1-d array_like of floats
            Points in ``[0, 1)``, as fractions of
            [`total_priority`][rlu_replay.PrioritizedReplayBuffer.total_priority].

        Returns
        -------
        tuple
            ``(batch, idx, p)``: the items (a ``TransitionBatch`` keeps the ``W`` and ``idx``
            it was stored with: None), their int64 identifiers and their float64 $p_i$.

        Raises
        ------
        TypeError, ValueError
            If ``u`` is not a 1-d array of numbers in ``[0, 1)``.
        RuntimeError
            If the buffer is empty.

        Examples
        --------
        >>> import numpy as np
        >>> from rlu_replay import PrioritizedReplayBuffer
        >>> buffer = PrioritizedReplayBuffer(capacity=4, alpha=1.0, epsilon=0.0)
        >>> _ = buffer.add({"x": np.arange(2)}, priorities=[1.0, 3.0])
        >>> batch, idx, p = buffer.sample_at([0.1, 0.5])  # the first quarter is item 0's
        >>> batch["x"], idx, p
        (array([0, 1]), array([0, 1]), array([1., 3.]))
        """
        points = check_unit_interval("u", u)
        self._require_items()
        slots = self._priorities.at(points)
        return self._gather(slots), self._serial[slots], self._priorities.values(slots)

    # ------------------------------------------------------------------ pickling

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        if "_priorities" not in state:  # a pickle of rlu-replay 0.1
            base = np.zeros(state["_capacity"], dtype=np.float64)
            base[: state["_size"]] = state.pop("_base")
            priorities = Priorities.__new__(Priorities)
            priorities.__setstate__(
                {
                    "capacity": state["_capacity"],
                    "alpha": state.pop("_alpha"),
                    "epsilon": state.pop("_epsilon"),
                    "base": base,
                    "max_base": state.pop("_max_base"),
                    "sum_tree": state.pop("_sum_tree"),
                    "min_tree": state.pop("_min_tree"),
                }
            )
            state["_priorities"] = priorities
        super().__setstate__(state)


PrioritizedReplayBuffer.__module__ = "rlu_replay"
