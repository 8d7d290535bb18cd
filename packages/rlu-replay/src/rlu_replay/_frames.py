"""FrameStore: each frame of stacked observations kept once; stacks rebuilt from references.

A stack of ``k`` frames is referred to by one slot, its newest frame's; every slot knows the slot
of the frame before it in its stack (``prev``), and a slot that is its own ``prev`` pads: the
frames before it in the stack repeat it, as gymnasium's ``FrameStackObservation`` pads the
start of an episode with the reset observation. A stack is rebuilt by following ``prev``
``k - 1`` times from its reference.

Frames are found again by content, never by where they came from: a stack given to
``intake`` reuses a stored frame only after a byte-for-byte comparison of every frame it stands
for, so a rebuilt stack is always exactly the stack that went in, whatever the order of the
calls. Finding them is best effort (a fingerprint index of the newest few frames per
fingerprint): a frame not found is stored again, which costs memory, never correctness.

Slots are reference counted: a stack held by a stored item counts once on each of the ``k``
slots it reads (a ``prev`` alone keeps nothing, so an episode's old frames go once no stored
stack reaches them). A slot whose count falls to 0 is free again, and free slots are reused
before fresh ones, so storage grows only to the most frames alive at once. A live frame's
``prev`` may name a freed slot, but only past the depth any stack that reads it reaches. The
storage array is allocated zeroed, larger than the ring is expected to need: pages never
written cost no memory (when it must grow, numpy zero-fills the added part at once).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from rlu_replay._layout import Layout

_CANDIDATES = 8  # newest slots kept per fingerprint
_U64 = np.dtype("<u8")


class FrameStore:
    """The frames of the stacked leaves of one buffer, with their references."""

    def __init__(self, stack: int, frame_shape: tuple[int, ...], dtype: np.dtype, slots: int):
        self.stack = stack
        self.frame_shape = frame_shape
        self.dtype = dtype
        self._data = np.zeros((slots, *frame_shape), dtype)
        self._prev = np.zeros(slots, np.int64)
        self._count = np.zeros(slots, np.int64)  # references to each slot
        self._key = np.zeros(slots, np.uint64)  # each slot's fingerprint
        self._used = 0  # slots [0, _used) have held a frame
        self._free: list[int] = []  # slots below _used that hold none now
        # fingerprint -> the live slot, or the live slots (newest last) where several share it:
        # a bare int for the common case, which costs a third of a list's memory per frame
        self._index: dict[int, int | list[int]] = {}
        nbytes = int(np.prod(frame_shape, dtype=np.int64)) * dtype.itemsize
        self._words = nbytes // 8  # the part a fingerprint sums as 64-bit words

    # ------------------------------------------------------------------ sizes

    @property
    def live(self) -> int:
        """How many slots hold a frame now."""
        return self._used - len(self._free)

    @property
    def resident(self) -> int:
        """How many slots have ever held a frame (the storage's memory in use)."""
        return self._used

    # ------------------------------------------------------------------ writing

    def intake(self, stacks: np.ndarray) -> np.ndarray:
        """References to ``stacks`` (shape ``(B, k, *frame)``), each holding one reference."""
        refs = np.empty(stacks.shape[0], np.int64)
        for i in range(stacks.shape[0]):
            tip = self._one(stacks[i])
            refs[i] = tip
            np.add.at(self._count, self.slots(refs[i : i + 1])[0], 1)  # before the next find
        return refs

    def _one(self, frames: np.ndarray) -> int:
        k = self.stack
        keys = [-1] * k  # fingerprints, made as needed
        # the stack itself, then its first k - 1 frames as the stack before it
        for matched in (k, k - 1) if k > 1 else (1,):
            keys[matched - 1] = self._fingerprint(frames[matched - 1])
            found = self._find(frames, matched, keys[matched - 1])
            if found >= 0:
                break
        else:
            matched = 0
            found = -1
        prev = found
        if matched == 0:  # from scratch: the first frame pads, with its repeats
            first = frames[0]
            matched = 1
            while matched < k and _same(frames[matched], first):
                matched += 1
            prev = self._store(first, -1, self._key_of(keys, 0, first))
        for j in range(matched, k):
            prev = self._store(frames[j], prev, self._key_of(keys, j, frames[j]))
        return prev

    def _key_of(self, keys: list[int], j: int, frame: np.ndarray) -> int:
        if keys[j] < 0:
            keys[j] = self._fingerprint(frame)
        return keys[j]

    def _find(self, frames: np.ndarray, matched: int, key: int) -> int:
        """A live slot whose stack ends with ``frames[:matched]``, all of it live, or -1."""
        count = self._count
        found = self._index.get(key)
        if found is None:
            return -1
        for slot in (found,) if isinstance(found, int) else reversed(found):
            s = slot
            j = matched - 1
            while True:
                if count[s] <= 0 or not _same(self._data[s], frames[j]):
                    break
                if j == 0:
                    return slot
                j -= 1
                s = int(self._prev[s])
            # a mismatch: try an older candidate
        return -1

    def _store(self, frame: np.ndarray, prev: int, key: int) -> int:
        slot = self._free.pop() if self._free else self._fresh()
        self._data[slot] = frame
        self._prev[slot] = slot if prev < 0 else prev  # its own prev: it pads
        self._count[slot] = 0  # counted when the stack that stored it is
        self._key[slot] = key
        self._enter(key, slot)
        return slot

    def _enter(self, key: int, slot: int) -> None:
        index = self._index
        found = index.get(key)
        if found is None:
            index[key] = slot
        elif isinstance(found, int):
            index[key] = [found, slot]
        else:
            found.append(slot)
            if len(found) > _CANDIDATES:
                del found[0]

    def _fresh(self) -> int:
        if self._used == self._data.shape[0]:
            self._grow()
        self._used += 1
        return self._used - 1

    def _grow(self) -> None:
        # an eighth more; numpy's in-place resize reallocates without a second copy where the
        # allocator can (large blocks are remapped), and no view of these arrays is ever handed out
        old = self._data.shape[0]
        new = old + max(16, old // 8)
        for name in ("_data", "_prev", "_count", "_key"):
            getattr(self, name).resize((new, *getattr(self, name).shape[1:]), refcheck=False)

    def _fingerprint(self, frame: np.ndarray) -> int:
        flat = np.ascontiguousarray(frame).reshape(-1).view(np.uint8)
        words = self._words
        key = int(flat[: words * 8].view(_U64).sum()) if words else 0
        if flat.shape[0] > words * 8:  # a checksum of the tail: the same in every process
            key ^= zlib.crc32(flat[words * 8 :].tobytes()) << 32
        return key

    def release(self, refs: np.ndarray) -> None:
        """Give back the references ``refs``; frames no stored stack reaches any more are freed."""
        if not refs.shape[0]:
            return
        slots = self.slots(refs).reshape(-1)
        np.subtract.at(self._count, slots, 1)
        for slot in np.unique(slots[self._count[slots] == 0]).tolist():
            self._forget(slot)

    def _forget(self, slot: int) -> None:
        key = int(self._key[slot])
        found = self._index.get(key)
        if found == slot:
            del self._index[key]
        elif isinstance(found, list) and slot in found:
            found.remove(slot)
            if len(found) == 1:
                self._index[key] = found[0]
        self._free.append(slot)

    def clear(self) -> None:
        """Forget every frame; the storage stays allocated."""
        self._free = list(range(self._used - 1, -1, -1))  # reused from slot 0 up
        self._count[: self._used] = 0
        self._index = {}

    # ------------------------------------------------------------------ reading

    def slots(self, refs: np.ndarray) -> np.ndarray:
        """The slots of each reference's stack, oldest first: shape ``(n, k)``."""
        out = np.empty((refs.shape[0], self.stack), np.int64)
        out[:, -1] = refs
        for j in range(self.stack - 1, 0, -1):
            out[:, j - 1] = self._prev.take(out[:, j])
        return out

    def gather(self, refs: np.ndarray) -> np.ndarray:
        """The stacks of ``refs``: shape ``(n, k, *frame)``."""
        return self._data.take(self.slots(refs), axis=0)

    # ------------------------------------------------------------------ pickling

    def __getstate__(self) -> dict[str, Any]:
        # the live slots only, at their own numbers (the items' references stay valid)
        live = np.ones(self._used, bool)
        live[self._free] = False
        slots = np.flatnonzero(live)
        return {
            "stack": self.stack,
            "frame_shape": self.frame_shape,
            "dtype": self.dtype,
            "spare": self._data.shape[0],
            "used": self._used,
            "slots": slots,
            "data": self._data[slots],
            "prev": self._prev[slots],
            "count": self._count[slots],
            "key": self._key[slots],
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        used = int(state["used"])
        slots = np.asarray(state["slots"], np.int64)
        FrameStore.__init__(
            self,
            state["stack"],
            tuple(state["frame_shape"]),
            np.dtype(state["dtype"]),
            max(int(state["spare"]), used),
        )
        self._data[slots] = state["data"]
        self._prev[slots] = state["prev"]
        self._count[slots] = state["count"]
        self._key[slots] = state["key"]
        self._used = used
        live = np.zeros(used, bool)
        live[slots] = True
        self._free = np.flatnonzero(~live)[::-1].tolist()
        for slot, key in zip(slots.tolist(), state["key"].tolist(), strict=True):
            self._enter(key, slot)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two frames hold the same bytes (one copy each, then memcmp: the fastest here)."""
    return a.tobytes() == b.tobytes()


class FrameLeaves:
    """Which leaves of a buffer's items are stacks of frames, and the store they share.

    The buffer keeps, in place of each such leaf, an int64 column of references; this class
    turns stacks into references when items are written, gives references back when items are
    overwritten, and rebuilds the stacks when items are read.
    """

    def __init__(self, stack: int, axis: int | None, names: tuple[str, ...] | None) -> None:
        self.stack = stack
        self.axis = axis
        self.names = names
        self.indices: tuple[int, ...] = ()
        self.store: FrameStore | None = None

    @property
    def live(self) -> int:
        """How many frames the store holds now (0 before a layout is bound)."""
        return 0 if self.store is None else self.store.live

    def bind(self, layout: Layout, capacity: int) -> None:
        """The stacked leaves of a layout, and their store; ValueError if they do not fit."""
        paths, shapes, dtypes = layout.treedef.paths, layout.shapes, layout.dtypes
        names = self.names
        if names is None:
            if not layout.transition_batch:
                raise ValueError(
                    "frame_leaves must name the leaves that hold stacked observations (e.g. "
                    "('obs', 'next_obs')) when the items are not TransitionBatches"
                )
            names = ("S", "S_next")
        indices = []
        for name in names:
            hits = [i for i, p in enumerate(paths) if p in (name, f"[{name!r}]")]
            if not hits:
                raise ValueError(
                    f"frame_leaves names {name!r}, which is not a leaf of the items "
                    f"(their leaves: {', '.join(paths)})"
                )
            if hits[0] in indices:
                raise ValueError(f"frame_leaves names the leaf {paths[hits[0]]} twice: {names}")
            indices.append(hits[0])
        first = indices[0]
        shape, dtype = shapes[first], dtypes[first]
        for name, i in zip(names, indices, strict=True):
            if shapes[i] != shape or dtypes[i] != dtype:
                raise ValueError(
                    f"frame_leaves must all have one shape and dtype: {names[0]!r} has "
                    f"{shape} {dtype}, {name!r} has {shapes[i]} {dtypes[i]}"
                )
        ndim = len(shape)
        if self.axis is None:  # single frames: a stack of one, without an axis for it
            if self.stack != 1:
                raise ValueError(
                    f"frame_axis=None means observations of one frame each, which needs "
                    f"frame_stack=1, got frame_stack={self.stack}"
                )
            frame = shape
        elif not -ndim <= self.axis < ndim or shape[self.axis] != self.stack:
            raise ValueError(
                f"frame_stack={self.stack} with frame_axis={self.axis} expects stacked leaves "
                f"with {self.stack} frames on axis {self.axis}, but {names[0]!r} items have "
                f"shape {shape}"
            )
        else:
            self.axis %= ndim
            frame = shape[: self.axis] + shape[self.axis + 1 :]
        spare = capacity + capacity // 8 + 2 * self.stack + 16
        self.names = tuple(names)
        self.indices = tuple(indices)
        self.store = FrameStore(self.stack, frame, np.dtype(dtype), spare)

    def intake(self, leaves: list[Any], size: int, keep: int) -> list[np.ndarray]:
        """``leaves`` with each stacked leaf's last ``keep`` items turned into references, each
        holding one (the ``size - keep`` before them, never stored, are -1)."""
        store = self.store
        assert store is not None
        # every leaf cast before any is taken in (a cast that raises leaves the store as it
        # was), as the storage of a whole stack would cast it (the layout allowed it), so that
        # frames are fingerprinted and compared as they are stored
        cast = [np.asarray(leaves[i])[size - keep :].astype(store.dtype) for i in self.indices]
        for i, stacks in zip(self.indices, cast, strict=True):
            if self.axis is None:
                stacks = stacks[:, np.newaxis]
            elif self.axis:
                stacks = np.moveaxis(stacks, 1 + self.axis, 1)
            refs = np.full(size, -1, np.int64)
            refs[size - keep :] = store.intake(stacks)
            leaves[i] = refs
        return leaves

    def clear(self) -> None:
        """Forget every frame (the items that held them are gone)."""
        if self.store is not None:
            self.store.clear()

    def held(self, storage: list[np.ndarray], slots: np.ndarray) -> list[np.ndarray]:
        """The references the items in ``slots`` hold (copies, read before they are overwritten)."""
        return [storage[i][slots] for i in self.indices]

    def release(self, held: list[np.ndarray]) -> None:
        """Give back references that ``held`` read."""
        store = self.store
        assert store is not None
        for refs in held:
            store.release(refs)

    def rebuild(self, columns: list[np.ndarray]) -> list[np.ndarray]:
        """``columns`` of sampled items with each column of references replaced by its stacks.

        Every stacked leaf is gathered by one ``take`` into one new array, whose parts the
        leaves are: one allocation per sample, which the allocator reuses from one sample to
        the next (separate arrays cost page faults on every sample: about 10x the copy).
        """
        store = self.store
        assert store is not None
        n = columns[self.indices[0]].shape[0]
        refs = np.concatenate([columns[i] for i in self.indices])
        stacks = store.gather(refs)
        for j, i in enumerate(self.indices):
            part = stacks[j * n : (j + 1) * n]
            if self.axis is None:
                part = part[:, 0]
            elif self.axis:
                part = np.moveaxis(part, 1, 1 + self.axis)
            columns[i] = part
        return columns
