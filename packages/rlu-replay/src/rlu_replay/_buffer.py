"""ReplayBuffer: pytrees of arrays in preallocated numpy ring storage, sampled uniformly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rlu_replay._checks import check_frame_leaves, check_generator, check_int, check_optional_int
from rlu_replay._frames import FrameLeaves
from rlu_replay._layout import Layout, package

_FLOAT64 = np.dtype(np.float64)


class ReplayBuffer:
    """A uniform experience-replay buffer for any pytree of arrays.

    Items arrive in batches: every leaf of a batch has the same leading (batch) axis. The
    layout (the structure, and each leaf's dtype and trailing shape) is fixed once, by
    ``example`` or else by the first batch; storage for ``capacity`` items is allocated from
    it at once (numpy arrays, one per leaf), and once full the oldest items are overwritten (a
    ring). A pytree is any nest of named tuples, dicts, tuples and lists with arrays or numbers
    at the leaves, read by JAX's rules (through ``optree``): a dict's keys in sorted order, so
    its insertion order does not matter, an ``OrderedDict``'s in its own order, and None an
    empty node. Leaves may be numpy arrays, JAX arrays, lists or numbers; they are stored as
    numpy. jax is not needed (nor imported).

    **Dtypes.** A later leaf of another dtype is cast to the stored one where numpy's
    ``same_kind`` rule allows it (int32 actions into int64 storage, float64 observations into
    float32 storage), and refused where the kind would change (float to int, anything to
    bool), with an error naming the leaf. Declare the layout with ``example`` when the first
    batch may not have the dtypes you want to keep (actions from ``action_space.sample()`` are
    int64, from ``jnp.argmax`` int32).

    A ``TransitionBatch`` (from [`NStepTracer`][rlu_replay.NStepTracer] or ``rlu_core``) is stored
    without its ``W`` and ``idx`` fields, which sampling fills in: ``idx`` with the items'
    identifiers and ``W`` with their importance weights (ones here). Any other pytree is sampled as
    a [`Sample`][rlu_replay.Sample] ``(batch, idx, weights)``.

    Each stored item has an identifier: its insertion number, counted from 0 over the buffer's
    life. The slot it lives in is ``idx % capacity``; an identifier whose slot has been
    overwritten since is stale (see
    [`PrioritizedReplayBuffer.update_priorities`][rlu_replay.PrioritizedReplayBuffer.update_priorities]).

    **Pixel observations: each frame stored once.** With ``frame_stack=k``, the leaves that hold
    observations (``S`` and ``S_next`` of a ``TransitionBatch``, or the leaves ``frame_leaves``
    names) are stacks of the last ``k`` frames on axis ``frame_axis``, as gymnasium's
    ``FrameStackObservation`` makes them (``frame_stack=1, frame_axis=None``: observations
    without a stack, each stored once, ``S_next`` being the next item's ``S``). The buffer
    then stores each distinct frame once and a reference per stack, and rebuilds the stacks
    when it samples: an item costs about one frame instead of ``2k``. Nothing else changes:
    samples, identifiers, weights and errors are those of a buffer that stores the stacks
    whole, and the buffer works with [`NStepTracer`][rlu_replay.NStepTracer] over single and
    vector environments as before. Frames are found again by their bytes (each match is
    compared in full), so a rebuilt stack is always the stack that was added, from any source
    and in any order; a frame that is not found (a stack sent without the steps before it) is
    stored again, which costs memory only. A frame lives while a stored stack reads it, so an
    item's stacks stay complete until the item itself is overwritten. ``frame_axis`` other
    than 0 gives sampled stacks as views with that axis moved into place.

    The buffer pickles (``rlu_serialize.dump`` / ``load``, ``pickle``) with its items, counters
    and random stream (and only the frames its items read), but without the unused part of its
    item storage (a prioritized buffer's trees are pickled whole; lz4 compresses their unused
    part). Pickles of rlu-replay 0.1 to 0.3 load.
    It is not thread-safe.

    Parameters
    ----------
    capacity : int
        The most items the buffer holds, at least 1.
    random_seed : int, optional
        Seed of the buffer's own random stream, used by [`sample`][rlu_replay.ReplayBuffer.sample]
        when no ``rng`` is given.
    example : pytree of arrays, optional
        A batch (as [`add`][rlu_replay.ReplayBuffer.add] takes it, of any size, 0 included) whose
        layout the buffer takes; none of its items is stored.
    frame_stack : int, optional
        The number of frames stacked in each observation, at least 1; each frame is then
        stored once (see above). Default: observations are stored whole.
    frame_axis : int or None, optional
        The axis of an observation (without the batch axis) along which its frames are stacked;
        default 0, as in ``FrameStackObservation``. None: an observation is one frame (with
        ``frame_stack=1``).
    frame_leaves : tuple of str, optional
        The leaves that hold stacked observations, all of one shape and dtype, by top-level key
        (``"obs"``) or by path (``"S['pixels']"``). Default: ``("S", "S_next")`` of a
        ``TransitionBatch``; other items must name theirs.

    Raises
    ------
    TypeError
        If ``capacity``, ``random_seed``, ``frame_stack`` or ``frame_axis`` is not an int (or
        None where allowed),
        ``frame_leaves`` is not a tuple of strings, or a leaf of ``example`` is not an array of
        numbers.
    ValueError
        If ``capacity < 1``, ``random_seed < 0`` or ``frame_stack < 1``, ``example`` is not a
        batch, or the first batch (or ``example``) lacks a leaf ``frame_leaves`` names (or
        names one twice) or has no stack of ``frame_stack`` frames there: that batch is
        refused.

    Examples
    --------
    >>> import numpy as np
    >>> from rlu_replay import ReplayBuffer
    >>> buffer = ReplayBuffer(capacity=4, random_seed=0)
    >>> buffer.add({"obs": np.zeros((3, 2), np.float32), "action": np.array([0, 1, 2])})
    array([0, 1, 2])
    >>> _ = buffer.add({"obs": np.ones((3, 2)), "action": np.array([3, 4, 5], np.int32)})
    >>> len(buffer), buffer.inserted  # the first two items were overwritten
    (4, 6)
    >>> batch, idx, weights = buffer.sample(5)
    >>> batch["obs"].dtype, batch["action"].dtype, bool(np.all(idx >= 2))  # the layout's dtypes
    (dtype('float32'), dtype('int64'), True)

    Stacks of 4 frames, as a frame-stack wrapper gives them over one episode (the first
    observation padded with the reset frame): 6 frames stored for 5 items of two stacks each.

    >>> frames = np.arange(6, dtype=np.uint8)[:, None, None] * np.ones((6, 2, 2), np.uint8)
    >>> stacks = np.stack([frames[np.maximum(np.arange(t - 3, t + 1), 0)] for t in range(6)])
    >>> pixels = ReplayBuffer(100, frame_stack=4, frame_leaves=("obs", "next_obs"))
    >>> _ = pixels.add({"obs": stacks[:-1], "next_obs": stacks[1:], "reward": np.ones(5)})
    >>> pixels.stored_frames
    6
    >>> got = pixels.sample(3, rng=0).batch
    >>> got["obs"].shape, bool((got["obs"][:, 1:] == got["next_obs"][:, :-1]).all())
    ((3, 4, 2, 2), True)
    """

    def __init__(
        self,
        capacity: int,
        random_seed: int | None = None,
        *,
        example: Any = None,
        frame_stack: int | None = None,
        frame_axis: int | None = 0,
        frame_leaves: Sequence[str] | None = None,
    ) -> None:
        self._capacity = check_int("capacity", capacity, minimum=1)
        self._random_seed = check_optional_int("random_seed", random_seed, minimum=0)
        self._frames: FrameLeaves | None = None
        axis = check_optional_int("frame_axis", frame_axis)
        if frame_stack is not None or frame_leaves is not None:
            names = check_frame_leaves("frame_leaves", frame_leaves)
            stack = check_int("frame_stack", frame_stack, minimum=1)
            self._frames = FrameLeaves(stack, axis, names)
        self._rng = np.random.default_rng(self._random_seed)
        self._layout: Layout | None = None
        self._storage: list[np.ndarray] = []
        self._serial = np.full(self._capacity, -1, dtype=np.int64)  # identifier held per slot
        self._next_serial = 0  # identifier of the next item; its slot is the cursor
        self._inserted = 0
        self._size = 0
        if example is not None:
            try:
                layout = Layout.of(example)[0]
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"example: {exc}") from None
            self._install(layout)

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

    @property
    def example(self) -> Any:
        """pytree or None: A batch of no items with the stored layout, None until it is fixed.

        Pass it as ``example`` to make another buffer that stores the same layout.

        Examples
        --------
        >>> import numpy as np
        >>> from rlu_replay import ReplayBuffer
        >>> buffer = ReplayBuffer(capacity=4)
        >>> buffer.example is None
        True
        >>> _ = buffer.add({"obs": np.zeros((2, 3), np.float32)})
        >>> buffer.example["obs"].shape, buffer.example["obs"].dtype
        ((0, 3), dtype('float32'))
        """
        return None if self._layout is None else self._layout.example()

    @property
    def stored_frames(self) -> int | None:
        """int or None: How many distinct frames are stored (None without ``frame_stack``).

        Examples
        --------
        >>> import numpy as np
        >>> from rlu_replay import ReplayBuffer
        >>> buffer = ReplayBuffer(8, frame_stack=2, frame_leaves=("obs",))
        >>> _ = buffer.add({"obs": np.array([[[1], [1]], [[1], [2]], [[2], [3]]])})
        >>> buffer.stored_frames  # [1, 1] is frame 1 padding itself; the others share frames
        3
        """
        return None if self._frames is None else self._frames.live

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
            0). After the layout is fixed, the structure and trailing shapes must be the same,
            and each dtype must cast to the stored one (numpy's ``same_kind`` rule). With
            ``B > capacity`` only the last ``capacity`` items are kept.

        Returns
        -------
        numpy.ndarray
            int64 array of shape ``(B,)``: the identifiers given to the items.

        Raises
        ------
        ValueError
            If the structure (which leaves, which None fields) or a leaf's shape differs from the
            stored ones, or the leaves disagree on ``B``, or a leaf has no batch axis (for one
            item without one, see [`add_single`][rlu_replay.ReplayBuffer.add_single]).
        TypeError
            If a leaf's dtype does not cast to the stored one, or a leaf is not an array of
            numbers. A rejected batch leaves the buffer as it was.

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
        leaves, size, layout = self._check(batch)
        if layout is not None:
            self._install(layout)
        return self._write(leaves, size)[0]

    def add_single(self, item: Any) -> int:
        """Store one item that has no batch axis (one transition, as an environment gives it).

        Parameters
        ----------
        item : pytree of arrays
            One item: the leaves of a batch without their leading axis (scalars are fine).

        Returns
        -------
        int
            The identifier given to the item.

        Raises
        ------
        TypeError, ValueError
            As [`add`][rlu_replay.ReplayBuffer.add], for a batch of this one item; a
            ``TransitionBatch`` (a batch already) is refused with a TypeError.

        Examples
        --------
        >>> import numpy as np
        >>> from rlu_replay import ReplayBuffer
        >>> buffer = ReplayBuffer(capacity=8)
        >>> buffer.add_single({"obs": np.zeros(4, np.float32), "action": 1, "done": False})
        0
        >>> buffer.sample(2, rng=0).batch["obs"].shape
        (2, 4)
        """
        return int(self.add(Layout.single(item))[0])

    def _check(self, batch: Any) -> tuple[Sequence[Any], int, Layout | None]:
        """The checked leaves and size of ``batch``, and the layout it fixes if it is the first."""
        if self._layout is not None:
            leaves, size = self._layout.leaves(batch)
            return leaves, size, None
        layout, arrays, size = Layout.of(batch)
        return arrays, size, layout

    def _install(self, layout: Layout) -> None:
        frames = self._frames
        stored = list(zip(layout.dtypes, layout.shapes, strict=True))
        if frames is not None:  # checked before anything changes: a refused layout is not kept
            frames.bind(layout, self._capacity)
            for i in frames.indices:  # a stack is stored as a reference to its newest frame
                stored[i] = (np.dtype(np.int64), ())
        self._layout = layout
        self._storage = [np.zeros((self._capacity, *shape), dtype=dt) for dt, shape in stored]

    def _write(self, leaves: Sequence[Any], size: int) -> tuple[np.ndarray, int, int]:
        """Copy checked leaves into the ring: the identifiers, and the first slot and count kept."""
        frames = self._frames
        if frames is None:
            return self._write_leaves(leaves, size)
        # stacks become references first, so that frames the overwritten items share with the
        # new ones stay stored; then the overwritten items give theirs back
        cap = self._capacity
        keep = size if size <= cap else cap
        slots = (self._next_serial + size - keep + np.arange(keep)) % cap
        held = frames.held(self._storage, slots[self._serial[slots] >= 0])
        written = self._write_leaves(frames.intake(list(leaves), size, keep), size)
        frames.release(held)
        return written

    def _write_leaves(self, leaves: Sequence[Any], size: int) -> tuple[np.ndarray, int, int]:
        cap = self._capacity
        first = self._next_serial
        ids = np.arange(first, first + size, dtype=np.int64)
        if size == 1 and self._frames is None:  # one item, one environment: no slices made
            layout = self._layout
            assert layout is not None  # installed by the add that checked the leaves
            slot = first % cap
            for store, leaf, item_is_scalar in zip(
                self._storage, leaves, layout.scalar_items, strict=False
            ):  # as many: checked
                # a leaf of shape (1, *s) fills a slot of shape s; for a scalar slot, the 0-d
                # view is cast as a batch's slice would be (leaf[0] would be a numpy scalar,
                # whose cast checks bounds: an int refused halfway through the leaves)
                store[slot] = leaf.reshape(()) if item_is_scalar else leaf
            self._serial[slot] = first
            self._next_serial = first + 1
            self._inserted += 1
            if self._size < cap:
                self._size += 1
            return ids, slot, 1
        keep = size if size <= cap else cap
        start = (first + size - keep) % cap
        stop = start + keep
        kept_ids = ids
        if keep < size:  # a batch longer than the ring: only its last ``capacity`` items stay
            leaves = [leaf[size - keep :] for leaf in leaves]
            kept_ids = ids[size - keep :]
        if stop <= cap:  # one slice per leaf
            for store, leaf in zip(self._storage, leaves, strict=False):  # as many: checked
                store[start:stop] = leaf
            self._serial[start:stop] = kept_ids
        else:  # the kept items wrap around the end of the ring
            head = cap - start
            for store, leaf in zip(self._storage, leaves, strict=True):
                store[start:] = leaf[:head]
                store[: keep - head] = leaf[head:]
            self._serial[start:] = kept_ids[:head]
            self._serial[: keep - head] = kept_ids[head:]
        self._next_serial = first + size
        self._inserted += size
        self._size = min(self._size + size, cap)
        return ids, start, keep

    def clear(self) -> None:
        """Forget every item; the storage (and the layout it expects) stays allocated.

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
        if self._frames is not None:
            self._frames.clear()
        self._serial[:] = -1
        self._size = 0

    # ------------------------------------------------------------------ reading

    def _gather(self, slots: np.ndarray) -> Any:
        layout = self._layout
        assert layout is not None
        columns = [store.take(slots, axis=0) for store in self._storage]
        if self._frames is not None:
            columns = self._frames.rebuild(columns)
        if layout.flat_keys is not None:
            return dict(zip(layout.flat_keys, columns, strict=True))
        return layout.treedef.unflatten(columns)

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
        gen = self._rng if rng is None else check_generator("rng", rng)
        self._require_items()
        slots = gen.integers(self._size, size=n, dtype=np.int64)
        return package(self._gather(slots), self._serial[slots], np.ones(n, _FLOAT64))

    # ------------------------------------------------------------------ pickling

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        size = self._size  # filled slots are [0, size): a ring that wrapped is full
        state["_storage"] = [s[:size].copy() for s in self._storage]
        state["_serial"] = self._serial[:size].copy()
        state["_rng"] = self._rng.bit_generator.state
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state.pop("_scalar_items", None)  # rlu-replay 0.4.2 to 0.5.0: now the layout's
        state.setdefault("_frames", None)  # before rlu-replay 0.6
        if "_layout" not in state:  # a pickle of rlu-replay 0.1
            treedef, tb = state.pop("_treedef"), state.pop("_transition_batch")
            del state["_flat_keys"], state["_specs"]
            state["_layout"] = None if treedef is None else Layout(treedef, tb, state["_storage"])
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


# Pickles record where a class lives: the public path, not this private module's name.
ReplayBuffer.__module__ = "rlu_replay"


def __getattr__(name: str) -> Any:
    # pickles of rlu-replay 0.1 record rlu_replay._buffer.PrioritizedReplayBuffer and .Sample
    if name == "PrioritizedReplayBuffer":
        from rlu_replay._prioritized import PrioritizedReplayBuffer

        return PrioritizedReplayBuffer
    if name == "Sample":
        from rlu_replay._layout import Sample

        return Sample
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
