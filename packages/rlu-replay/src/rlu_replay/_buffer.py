"""ReplayBuffer and PrioritizedReplayBuffer: pytrees of arrays in preallocated numpy storage."""

from __future__ import annotations

import copy
from typing import Any, NamedTuple, cast

import numpy as np
from rlu_trees import MinTree, SumTree

from rlu_replay._checks import (
    Schedule,
    check_generator,
    check_indices,
    check_int,
    check_optional_int,
    check_priorities,
    check_real,
    check_schedule,
    evaluate_schedule,
)
from rlu_replay._pytree import TreeDef, flatten, is_transition_batch, leaves_as

_INT64 = np.dtype(np.int64)
_FLOAT64 = np.dtype(np.float64)


class Sample(NamedTuple):
    """A sampled batch of any pytree, with the indices and importance weights of its items.

    [`ReplayBuffer.sample`][rlu_replay.ReplayBuffer.sample] returns this for every pytree except a ``TransitionBatch``, which
    carries its indices and weights in its own ``idx`` and ``W`` fields.

    Attributes
    ----------
    batch : pytree of arrays
        The sampled items, stacked on a leading axis, in the structure they were added in.
    idx : numpy.ndarray
        int64 array of shape ``(n,)``: the identifiers to pass to
        [`PrioritizedReplayBuffer.update_priorities`][rlu_replay.PrioritizedReplayBuffer.update_priorities].
    weights : numpy.ndarray
        float64 array of shape ``(n,)``: the importance weights (ones for uniform replay).

    Examples
    --------
    >>> import numpy as np
    >>> from rlu_replay import ReplayBuffer
    >>> buffer = ReplayBuffer(capacity=10, random_seed=0)
    >>> _ = buffer.add({"x": np.arange(3.0)})
    >>> batch, idx, weights = buffer.sample(2)
    >>> batch["x"].shape, idx.dtype, weights
    ((2,), dtype('int64'), array([1., 1.]))
    """

    batch: Any
    idx: np.ndarray
    weights: np.ndarray


class ReplayBuffer:
    """A uniform experience-replay buffer for any pytree of arrays.

    Items arrive in batches: every leaf of a batch has the same leading (batch) axis. The first
    batch fixes the structure, and each leaf's dtype and trailing shape; storage for
    ``capacity`` items is allocated from it at once (numpy arrays, one per leaf), and once full
    the oldest items are overwritten (a ring). A pytree is any nest of named tuples, dicts,
    tuples and lists with arrays or numbers at the leaves; None is an empty node. jax is not
    needed (nor imported).

    A ``TransitionBatch`` (from ``rlu_envtools`` or [`NStepTracer`][rlu_replay.NStepTracer]) is stored without its
    ``W`` and ``idx`` fields, which sampling fills in: ``idx`` with the items' identifiers and
    ``W`` with their importance weights (ones here). Any other pytree is sampled as a
    [`Sample`][rlu_replay.Sample] ``(batch, idx, weights)``.

    Each stored item has an identifier: its insertion number, counted from 0 over the buffer's
    life. The slot it lives in is ``idx % capacity``; an identifier whose slot has been
    overwritten since is stale (see [`PrioritizedReplayBuffer.update_priorities`][rlu_replay.PrioritizedReplayBuffer.update_priorities]).

    The buffer pickles (``rlu_serialize.dump`` / ``load``, ``pickle``) with its items, counters
    and random stream, but without the unused part of its item storage (a prioritized buffer's
    trees are pickled whole; lz4 compresses their unused part). It is not thread-safe.

    Parameters
    ----------
    capacity : int
        The most items the buffer holds, at least 1.
    random_seed : int, optional
        Seed of the buffer's own random stream, used by [`sample`][rlu_replay.ReplayBuffer.sample] when no ``rng`` is given.

    Raises
    ------
    TypeError
        If ``capacity`` or ``random_seed`` is not an int.
    ValueError
        If ``capacity < 1`` or ``random_seed < 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from rlu_replay import ReplayBuffer
    >>> buffer = ReplayBuffer(capacity=4, random_seed=0)
    >>> buffer.add({"obs": np.zeros((3, 2), np.float32), "action": np.array([0, 1, 2])})
    array([0, 1, 2])
    >>> _ = buffer.add({"obs": np.ones((3, 2), np.float32), "action": np.array([3, 4, 5])})
    >>> len(buffer), buffer.inserted  # the first two items were overwritten
    (4, 6)
    >>> batch, idx, weights = buffer.sample(5)
    >>> batch["obs"].shape, bool(np.all(idx >= 2))
    ((5, 2), True)
    """

    def __init__(self, capacity: int, random_seed: int | None = None) -> None:
        self._capacity = check_int("capacity", capacity, minimum=1)
        self._random_seed = check_optional_int("random_seed", random_seed, minimum=0)
        self._rng = np.random.default_rng(self._random_seed)
        self._treedef: TreeDef | None = None
        self._flat_keys: tuple[Any, ...] | None = None  # set when items are a flat dict
        self._specs: list[tuple[np.dtype[Any], tuple[int, ...]]] = []
        self._storage: list[np.ndarray] = []
        self._transition_batch = False
        self._serial = np.full(self._capacity, -1, dtype=np.int64)  # identifier held per slot
        self._next_serial = 0  # identifier of the next item; its slot is the cursor
        self._inserted = 0
        self._size = 0

    # ------------------------------------------------------------------ properties

    @property
    def capacity(self) -> int:
        """int: The most items the buffer holds."""
        return self._capacity

    @property
    def inserted(self) -> int:
        """int: How many items were ever added (overwritten and cleared ones included)."""
        return self._inserted

    @property
    def random_seed(self) -> int | None:
        """int or None: The seed the buffer's own random stream started from."""
        return self._random_seed

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"{type(self).__name__}(capacity={self._capacity}, size={self._size})"

    # ------------------------------------------------------------------ writing

    def add(self, batch: Any) -> np.ndarray:
        """Store a batch of items; the oldest are overwritten once the buffer is full.

        Parameters
        ----------
        batch : pytree of arrays
            Items stacked on a leading axis of the same length ``B`` in every leaf (``B`` may be
            0). After the first batch, the structure, dtypes and trailing shapes must be the same.
            With ``B > capacity`` only the last ``capacity`` items are kept.

        Returns
        -------
        numpy.ndarray
            int64 array of shape ``(B,)``: the identifiers given to the items.

        Raises
        ------
        ValueError
            If the structure (which leaves, which None fields) or a leaf's shape differs from the
            stored ones, or the leaves disagree on ``B``, or a leaf has no batch axis.
        TypeError
            If a leaf's dtype differs from the stored one, or a leaf is not an array.
            A rejected batch leaves the buffer as it was.

        Examples
        --------
        >>> import numpy as np
        >>> from rlu_replay import ReplayBuffer
        >>> buffer = ReplayBuffer(capacity=8)
        >>> buffer.add((np.zeros(2), np.zeros((2, 3))))
        array([0, 1])
        >>> buffer.add((np.zeros(1), np.zeros((1, 4))))
        Traceback (most recent call last):
        ...
        ValueError: batch leaf [1] has shape (1, 4), but the buffer stores items of shape (3,)
        """
        leaves, size = self._checked_leaves(batch)
        return self._write(leaves, size)

    def _checked_leaves(self, batch: Any) -> tuple[list[np.ndarray], int]:
        """The leaves of ``batch`` as arrays, checked against the storage, and their batch size."""
        if (
            self._flat_keys is not None
            and type(batch) is dict
            and len(batch) == len(self._flat_keys)
        ):
            try:  # the common case, a flat dict of arrays: no walk of the structure
                flat = [batch[k] for k in self._flat_keys]
            except KeyError:
                flat = []
            if flat:
                size = self._fast_check(flat)
                if size >= 0:
                    return flat, size
        if self._treedef is not None and not self._transition_batch:
            fast: list[Any] = []
            if leaves_as(self._treedef.node, batch, fast):
                size = self._fast_check(fast)
                if size >= 0:
                    return fast, size
        tb = is_transition_batch(batch)
        if tb:
            batch = cast(Any, batch)._replace(W=None, idx=None)
        raw, treedef = flatten(batch)
        if not raw:
            raise ValueError("batch must hold at least one array leaf, got none")
        if self._treedef is not None and (treedef != self._treedef or tb != self._transition_batch):
            raise ValueError(
                "batch has a different structure from the stored items: "
                f"{self._treedef.describe_difference(treedef)} (stored: {self._treedef.paths})"
            )
        leaves: list[np.ndarray] = []
        size = -1
        for path, leaf in zip(treedef.paths, raw, strict=True):
            arr = leaf if type(leaf) is np.ndarray else np.asarray(leaf)
            if arr.dtype == object:
                raise TypeError(f"batch leaf {path} must be an array of numbers, got {leaf!r}")
            if arr.ndim == 0:
                raise ValueError(f"batch leaf {path} has no batch axis (shape ())")
            if size < 0:
                size = arr.shape[0]
            elif arr.shape[0] != size:
                raise ValueError(
                    f"batch leaf {path} has {arr.shape[0]} items, but {treedef.paths[0]} has {size}"
                )
            if self._treedef is not None:
                stored = self._storage[len(leaves)]
                if arr.shape[1:] != stored.shape[1:]:
                    raise ValueError(
                        f"batch leaf {path} has shape {arr.shape}, but the buffer stores items of "
                        f"shape {stored.shape[1:]}"
                    )
                if arr.dtype != stored.dtype:
                    raise TypeError(
                        f"batch leaf {path} has dtype {arr.dtype}, but the buffer stores "
                        f"{stored.dtype}"
                    )
            leaves.append(arr)
        if self._treedef is None:
            self._storage = [
                np.zeros((self._capacity, *leaf.shape[1:]), dtype=leaf.dtype) for leaf in leaves
            ]
            self._treedef = treedef
            self._transition_batch = tb
            node = treedef.node
            if node[0] == "dict" and node[1] is dict and all(c[0] == "leaf" for c in node[3]):
                self._flat_keys = node[2]
            self._specs = [(st.dtype, st.shape[1:]) for st in self._storage]
        return leaves, size

    def _forget_layout(self) -> None:
        self._treedef, self._flat_keys, self._transition_batch = None, None, False
        self._storage, self._specs = [], []

    def _fast_check(self, leaves: list[Any]) -> int:
        """The batch size of plain arrays that match the storage exactly; -1 if any does not."""
        size = -1
        for leaf, (dtype, shape) in zip(leaves, self._specs, strict=True):
            if type(leaf) is not np.ndarray:
                return -1
            dt = leaf.dtype
            if dt is not dtype and dt != dtype:  # builtin dtypes are singletons: usually ``is``
                return -1
            s = leaf.shape
            if not s or s[1:] != shape or (size >= 0 and s[0] != size):
                return -1
            size = s[0]
        return size

    def _write(self, leaves: list[np.ndarray], size: int) -> np.ndarray:
        """Copy checked leaves into the ring; return the identifiers; the priorities follow."""
        cap = self._capacity
        ids = np.arange(self._next_serial, self._next_serial + size, dtype=np.int64)
        start = self._next_serial % cap
        if start + size <= cap:  # no wrap: one slice per leaf
            for store, leaf in zip(self._storage, leaves, strict=True):
                store[start : start + size] = leaf
            self._serial[start : start + size] = ids
            self._next_serial += size
            self._inserted += size
            self._size = min(self._size + size, cap)
            return ids
        keep = min(size, cap)
        start = (self._next_serial + size - keep) % cap
        first = min(keep, cap - start)
        for store, leaf in zip(self._storage, leaves, strict=True):
            src = leaf[size - keep :]
            store[start : start + first] = src[:first]
            if first < keep:
                store[: keep - first] = src[first:]
        self._serial[start : start + first] = ids[size - keep : size - keep + first]
        if first < keep:
            self._serial[: keep - first] = ids[size - keep + first :]
        self._next_serial += size
        self._inserted += size
        self._size = min(self._size + size, cap)
        return ids

    def _slots_of(self, ids: np.ndarray) -> np.ndarray:
        keep = ids[-self._capacity :]
        return keep % self._capacity

    def clear(self) -> None:
        """Forget every item; the storage (and the structure it expects) stays allocated.

        Identifiers handed out before stay stale for good.

        Examples
        --------
        >>> import numpy as np
        >>> from rlu_replay import ReplayBuffer
        >>> buffer = ReplayBuffer(capacity=4)
        >>> _ = buffer.add(np.arange(3))
        >>> buffer.clear()
        >>> len(buffer), buffer.inserted
        (0, 3)
        """
        cap = self._capacity
        # restart the ring at slot 0 with identifiers that keep ``slot == idx % capacity``
        self._next_serial = -(-self._next_serial // cap) * cap
        self._serial[:] = -1
        self._size = 0

    # ------------------------------------------------------------------ reading

    def _generator(self, rng: Any) -> np.random.Generator:
        return self._rng if rng is None else check_generator("rng", rng)

    def _draw_slots(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(self._size, size=n, dtype=np.int64)

    def _gather(self, slots: np.ndarray) -> Any:
        assert self._treedef is not None
        return self._treedef.unflatten([s.take(slots, axis=0) for s in self._storage])

    def _package(self, batch: Any, idx: np.ndarray, weights: np.ndarray) -> Any:
        if self._transition_batch:
            return batch._replace(W=weights, idx=idx)
        return Sample(batch, idx, weights)

    def _require_items(self) -> None:
        if self._size == 0:
            raise RuntimeError("cannot sample from an empty buffer; add some items first")

    def sample(self, n: int, rng: Any = None) -> Any:
        """Draw ``n`` items uniformly, with replacement.

        Parameters
        ----------
        n : int
            How many items to draw, at least 1.
        rng : numpy.random.Generator, int or JAX PRNG key, optional
            Where the randomness comes from: a Generator (advanced in place), a seed, or a
            ``jax.random.key``. Default: the buffer's own stream (see ``random_seed``; a
            prioritized buffer's is its SumTree's compiled sampler, the fastest way).

        Returns
        -------
        TransitionBatch or Sample
            A ``TransitionBatch`` with ``idx`` (int64 identifiers) and ``W`` (ones) filled in when
            TransitionBatches are stored, else ``Sample(batch, idx, weights)``.

        Raises
        ------
        TypeError
            If ``n`` is not an int or ``rng`` is none of the above.
        ValueError
            If ``n < 1``.
        RuntimeError
            If the buffer is empty.

        Examples
        --------
        >>> import numpy as np
        >>> from rlu_replay import ReplayBuffer
        >>> buffer = ReplayBuffer(capacity=100)
        >>> _ = buffer.add([np.arange(10), np.arange(10.0) ** 2])
        >>> (i, sq), idx, _ = buffer.sample(3, rng=np.random.default_rng(1))
        >>> bool(np.all(sq == i ** 2)), bool(np.all(idx == i))
        (True, True)
        """
        n = check_int("n", n, minimum=1)
        gen = self._generator(rng)
        self._require_items()
        slots = self._draw_slots(n, gen)
        return self._package(self._gather(slots), self._serial[slots], np.ones(n, _FLOAT64))

    # ------------------------------------------------------------------ pickling

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        size = self._size  # filled slots are [0, size): a ring that wrapped is full
        state["_storage"] = [s[:size].copy() for s in self._storage]
        state["_serial"] = self._serial[:size].copy()
        state["_rng"] = self._rng.bit_generator.state
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        cap, size = state["_capacity"], state["_size"]
        storage = []
        for part in state["_storage"]:
            full = np.zeros((cap, *part.shape[1:]), dtype=part.dtype)
            full[:size] = part
            storage.append(full)
        serial = np.full(cap, -1, dtype=np.int64)
        serial[:size] = state["_serial"]
        rng = np.random.default_rng()
        rng.bit_generator.state = state["_rng"]
        self.__dict__.update(state, _storage=storage, _serial=serial, _rng=rng)


class PrioritizedReplayBuffer(ReplayBuffer):
    r"""Proportional prioritized experience replay (Schaul et al., 2016) for any pytree of arrays.

    Item ``i`` is drawn with probability ``P(i) = p_i / \sum_k p_k``, where
    ``p_i = (\text{priority}_i + \epsilon)^\alpha``; ``p_i`` lives in a
    ``rlu_trees.SumTree`` (sampling) and a ``rlu_trees.MinTree`` (the smallest ``p``), and
    every read and write of them is one batched call. The importance weights are
    ``w_i = (N\,P(i))^{-\beta} / \max_j (N\,P(j))^{-\beta}`` over the ``N`` stored items,
    so the largest possible weight is 1. New items get the largest priority given so far (1
    before any), so each is likely to be replayed soon.

    Storage, identifiers, overwriting, pickling and the form of samples are those of
    [`ReplayBuffer`][rlu_replay.ReplayBuffer]; a sampled ``TransitionBatch`` carries the weights in ``W``.

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
        Seed of the buffer's own random stream, used by [`sample`][rlu_replay.PrioritizedReplayBuffer.sample] when no ``rng`` is given.

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
    ) -> None:
        super().__init__(capacity, random_seed)
        self._alpha = check_real("alpha", alpha, low=0.0, high=1.0)
        self._beta = check_schedule("beta", beta, low=0.0, high=1.0)
        self._epsilon = check_real("epsilon", epsilon, low=0.0)
        self._base = np.zeros(self._capacity, dtype=np.float64)  # priority + epsilon, per slot
        self._max_base = 1.0
        self._sample_calls = 0
        self._sum_tree = SumTree(self._capacity, random_seed=self._tree_seed())
        self._min_tree = MinTree(self._capacity)
        # Priorities waiting for the trees: (slots, values) arrays, or (start, stop, value) for a
        # run of new items at the default priority (the hot path of add, merged at the flush).
        self._queued: list[tuple[Any, Any] | tuple[int, int, float]] = []

    def _tree_seed(self) -> int:
        # the SumTree draws for ``sample(n)`` without ``rng``: seeded from the buffer's stream
        return int(self._rng.integers(2**63))

    # ------------------------------------------------------------------ properties

    @property
    def alpha(self) -> float:
        """float: The priority exponent; assigning to it re-weights every stored item."""
        return self._alpha

    @alpha.setter
    def alpha(self, alpha: float) -> None:
        self._alpha = check_real("alpha", alpha, low=0.0, high=1.0)
        self._queued = []  # the rebuild below covers every stored slot
        if self._size:
            slots = np.arange(self._size, dtype=np.int64)
            self._set_tree_values(slots, self._base[: self._size] ** self._alpha)

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
        return self._epsilon

    @property
    def sample_calls(self) -> int:
        """int: How many times [`sample`][rlu_replay.PrioritizedReplayBuffer.sample] has drawn (the step a ``beta`` schedule sees)."""
        return self._sample_calls

    @property
    def total_priority(self) -> float:
        r"""float: ``\sum_i p_i`` over the stored items."""
        self._flush_queue()
        return float(self._sum_tree.root_value)

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
            As [`ReplayBuffer.add`][rlu_replay.ReplayBuffer.add], and for a NaN, infinite or negative priority or a
            ``priorities`` of the wrong length. A rejected call leaves the buffer as it was.
        TypeError
            As [`ReplayBuffer.add`][rlu_replay.ReplayBuffer.add], and for non-numeric ``priorities``.

        Examples
        --------
        >>> import numpy as np
        >>> from rlu_replay import PrioritizedReplayBuffer
        >>> buffer = PrioritizedReplayBuffer(capacity=8)
        >>> buffer.add({"x": np.zeros((2, 3))}, priorities=[0.5, 2.0])
        array([0, 1])
        >>> buffer.add({"x": np.zeros((1, 3))}, priorities=[float("nan")])
        Traceback (most recent call last):
        ...
        ValueError: priorities must be finite and non-negative, got nan at position 0 (1 of 1 rejected)
        >>> len(buffer)
        2
        """
        keys = self._flat_keys
        if priorities is None and keys is not None and type(batch) is dict:
            # the hot path (a flat dict of arrays, default priority, no wrap), written out
            try:
                flat = [batch[k] for k in keys] if len(batch) == len(keys) else None
            except KeyError:
                flat = None
            size = -1 if flat is None else self._fast_check(flat)
            start = self._next_serial % self._capacity
            if size > 0 and start + size <= self._capacity:
                stop = start + size
                for store, leaf in zip(self._storage, flat, strict=True):  # type: ignore[arg-type]
                    store[start:stop] = leaf
                ids = np.arange(self._next_serial, self._next_serial + size, dtype=np.int64)
                self._serial[start:stop] = ids
                self._next_serial += size
                self._inserted += size
                self._size = min(self._size + size, self._capacity)
                self._base[start:stop] = self._max_base
                self._queued.append((start, stop, self._max_base**self._alpha))
                if len(self._queued) >= 64:
                    self._flush_queue()
                return ids
        leaves, size = self._checked_leaves(batch)
        if priorities is None:
            if (
                0 < size <= self._capacity
                and (self._next_serial % self._capacity) + size <= self._capacity
            ):
                start = self._next_serial % self._capacity
                ids = self._write(leaves, size)
                slots = np.arange(start, start + size, dtype=np.int64)
                self._base[start : start + size] = self._max_base
                self._queue(slots, np.full(size, self._max_base**self._alpha))
                return ids
            base = np.full(size, self._max_base, dtype=np.float64)
        else:
            try:
                base = check_priorities("priorities", priorities, size) + self._epsilon
            except (TypeError, ValueError):
                if not self._inserted and self._next_serial == 0:
                    self._forget_layout()  # a refused first batch does not fix the layout
                raise
        ids = self._write(leaves, size)
        if size:
            keep = min(size, self._capacity)
            slots = self._slots_of(ids)
            base = base[size - keep :]
            self._base[slots] = base
            self._max_base = max(self._max_base, float(base.max()))
            self._queue(slots, base**self._alpha)
        return ids

    def update_priorities(self, idx: Any, priorities: Any) -> int:
        """Give sampled items new priorities; items overwritten since they were drawn are skipped.

        Parameters
        ----------
        idx : 1-d array_like of ints
            Identifiers, as [`sample`][rlu_replay.PrioritizedReplayBuffer.sample] returned them (``Sample.idx`` or
            ``TransitionBatch.idx``). With repeats, the last one wins.
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
        ids = check_indices("idx", idx)
        prio = check_priorities("priorities", priorities, ids.shape[0])
        if ids.shape[0] == 0:
            return 0
        slots = ids % self._capacity
        live = self._serial[slots] == ids
        if not live.all():
            slots, prio = slots[live], prio[live]
            if slots.shape[0] == 0:
                return 0
        base = prio + self._epsilon
        self._base[slots] = base
        self._max_base = max(self._max_base, float(base.max()))
        self._queue(slots, base**self._alpha)
        return int(slots.shape[0])

    def _queue(self, slots: np.ndarray, values: np.ndarray) -> None:
        # priorities reach the trees in one batched write (in order) before the next read
        self._queued.append((slots, values))
        if len(self._queued) >= 64:
            self._flush_queue()

    def _flush_queue(self) -> None:
        if not self._queued:
            return
        queued, self._queued = self._queued, []
        slot_parts: list[np.ndarray] = []
        value_parts: list[np.ndarray] = []
        run_start = run_stop = 0
        run_value = None  # a run of adjacent new items with one value: one arange, one full

        def close_run() -> None:
            if run_value is not None:
                slot_parts.append(np.arange(run_start, run_stop, dtype=np.int64))
                value_parts.append(np.full(run_stop - run_start, run_value))

        for entry in queued:
            if len(entry) == 3:
                if entry[0] == run_stop and entry[2] == run_value:
                    run_stop = entry[1]
                    continue
                close_run()
                run_start, run_stop, run_value = entry
            else:
                close_run()
                run_value = None
                slot_parts.append(entry[0])
                value_parts.append(entry[1])
        close_run()
        many = len(slot_parts) > 1
        slots = np.concatenate(slot_parts) if many else slot_parts[0]
        values = np.concatenate(value_parts) if many else value_parts[0]
        self._sum_tree.set_values(slots, values)
        self._min_tree.set_values(slots, values)

    def _set_tree_values(self, slots: np.ndarray, values: np.ndarray) -> None:
        self._flush_queue()  # in order: the last write to a slot wins
        self._sum_tree.set_values(slots, values)
        self._min_tree.set_values(slots, values)

    def clear(self) -> None:
        """Forget every item and priority; see [`ReplayBuffer.clear`][rlu_replay.ReplayBuffer.clear].

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
        self._queued = []
        self._base[:] = 0.0
        self._max_base = 1.0
        self._sum_tree = SumTree(self._capacity, random_seed=self._tree_seed())
        self._min_tree = MinTree(self._capacity)

    # ------------------------------------------------------------------ reading

    def _draw_slots(self, n: int, rng: np.random.Generator | None) -> np.ndarray:
        if rng is None:  # the buffer's own stream: the tree's compiled sampler
            return self._sum_tree.sample(n)
        return np.asarray(self._sum_tree.inverse_cdf(rng.random(n)), dtype=np.int64)

    def _draw(self, u: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray]:
        """Items for uniform numbers ``u``: (batch without weights, identifiers, their p)."""
        self._flush_queue()
        slots = np.asarray(self._sum_tree.inverse_cdf(u), dtype=np.int64)
        p = self._sum_tree.values[slots].astype(np.float64)
        return self._gather(slots), self._serial[slots], p

    def _stats(self) -> dict[str, float]:
        """What a sharded service needs to know of this buffer."""
        self._flush_queue()
        return {
            "total": float(self._sum_tree.root_value),
            "min": float(self._min_tree.root_value) if self._size else float("inf"),
            "size": self._size,
            "inserted": self._inserted,
        }

    def sample(self, n: int, rng: Any = None) -> Any:
        """Draw ``n`` items with probability proportional to ``p_i``, with replacement.

        Parameters
        ----------
        n : int
            How many items to draw, at least 1.
        rng : numpy.random.Generator, int or JAX PRNG key, optional
            See [`ReplayBuffer.sample`][rlu_replay.ReplayBuffer.sample].

        Returns
        -------
        TransitionBatch or Sample
            As [`ReplayBuffer.sample`][rlu_replay.ReplayBuffer.sample], with the importance weights (float64, largest
            possible 1) in ``W`` / ``weights``.

        Raises
        ------
        TypeError
            If ``n`` is not an int or ``rng`` is not a Generator, a seed or a JAX key.
        ValueError
            If ``n < 1``, or a ``beta`` schedule returns a value outside ``[0, 1]``.
        RuntimeError
            If the buffer is empty.

        Examples
        --------
        >>> import numpy as np
        >>> from rlu_replay import PrioritizedReplayBuffer
        >>> buffer = PrioritizedReplayBuffer(capacity=10, beta=lambda step: 1.0)
        >>> _ = buffer.add({"x": np.arange(3)}, priorities=[1.0, 2.0, 3.0])
        >>> sample = buffer.sample(4, rng=np.random.default_rng(0))
        >>> sample.batch["x"].shape, sample.weights.dtype, buffer.sample_calls
        ((4,), dtype('float64'), 1)
        """
        if type(n) is not int or n < 1:
            n = check_int("n", n, minimum=1)
        gen = None if rng is None else check_generator("rng", rng)
        beta = self._beta
        if callable(beta):
            beta = evaluate_schedule("beta", beta, self._sample_calls, low=0.0, high=1.0)
        if not self._size:
            self._require_items()
        if self._queued:
            self._flush_queue()
        slots = self._draw_slots(n, gen)
        # (N P(i))^-beta / (N P_min)^-beta: N and the total cancel out
        weights = np.asarray(self._sum_tree.values[slots], dtype=np.float64)
        weights /= self._min_tree.root_value
        np.power(weights, -beta, out=weights)
        self._sample_calls += 1
        return self._package(self._gather(slots), self._serial[slots], weights)

    # ------------------------------------------------------------------ pickling

    def __getstate__(self) -> dict[str, Any]:
        self._flush_queue()
        state = super().__getstate__()
        state["_base"] = self._base[: self._size].copy()
        del state["_queued"]  # the trees travel whole, with the sampler's random stream
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        cap, size = state["_capacity"], state["_size"]
        base = np.zeros(cap, dtype=np.float64)
        base[:size] = state["_base"]
        # a reader may map the trees' arrays read-only (Ray's object store): own copies
        trees = copy.deepcopy((state.pop("_sum_tree"), state.pop("_min_tree")))
        super().__setstate__(dict(state, _base=base))
        self._sum_tree, self._min_tree = trees
        self._queued = []
