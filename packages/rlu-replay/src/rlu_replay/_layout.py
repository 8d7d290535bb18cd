"""The layout of a buffer's items (structure, each leaf's dtype and trailing shape) and its checks.

A layout is fixed once, by a buffer's first batch or its ``example``. A later batch must have the
same structure and trailing shapes; a leaf of another dtype is accepted where numpy's
``same_kind`` rule casts it to the stored dtype (int32 -> int64, float64 -> float32) and refused
where the kind would change (float -> int, anything -> bool). Checking never writes: a refused
batch leaves the buffer as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any, NamedTuple, cast

import numpy as np

from rlu_replay._checks import check_castable
from rlu_replay._pytree import TreeDef, flatten, is_transition_batch, leaves_as


class Sample(NamedTuple):
    """A sampled batch of any pytree, with the indices and importance weights of its items.

    [`ReplayBuffer.sample`][rlu_replay.ReplayBuffer.sample] returns this for every pytree except a
    ``TransitionBatch``, which carries its indices and weights in its own ``idx`` and ``W`` fields.

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


def package(batch: Any, idx: np.ndarray, weights: np.ndarray) -> Any:
    """A sampled batch as a caller gets it: a TransitionBatch with W and idx, else a Sample."""
    if is_transition_batch(batch):
        return batch._replace(W=weights, idx=idx)
    return Sample(batch, idx, weights)


def _as_array(path: str, leaf: Any) -> np.ndarray:
    arr = leaf if type(leaf) is np.ndarray else np.asarray(leaf)
    if arr.dtype == object:
        raise TypeError(f"batch leaf {path} must be an array of numbers, got {leaf!r}")
    return arr


class Layout:
    """The structure of the stored items and, per leaf, its dtype and trailing shape."""

    __slots__ = (
        "_accepted",
        "_full_shapes",
        "_get_flat",
        "dtypes",
        "flat_keys",
        "scalar_items",
        "shapes",
        "transition_batch",
        "treedef",
    )

    def __init__(self, treedef: TreeDef, transition_batch: bool, leaves: list[np.ndarray]) -> None:
        self.treedef = treedef
        self.transition_batch = transition_batch
        self.dtypes = tuple(leaf.dtype for leaf in leaves)
        self.shapes = tuple(leaf.shape[1:] for leaf in leaves)
        self.flat_keys: tuple[Any, ...] | None = treedef.flat_dict_keys()
        # per leaf, the dtypes seen to cast safely into it: the fast path's whitelist
        self._accepted = tuple({dt} for dt in self.dtypes)
        self._caches()

    def _caches(self) -> None:
        # per leaf: are its items scalars (a one-item write then takes the 0-d view)?
        self.scalar_items = tuple(shape == () for shape in self.shapes)
        keys = self.flat_keys
        # a flat dict's leaves in one call (itemgetter of one key gives the value, not a tuple)
        self._get_flat = None if keys is None or len(keys) < 2 else itemgetter(*keys)
        self._full_shapes: dict[int, tuple[tuple[int, ...], ...]] = {}  # per batch size

    def example(self) -> Any:
        """An empty batch of this layout, as ``example=`` takes it to declare it again."""
        leaves = [np.zeros((0, *s), d) for s, d in zip(self.shapes, self.dtypes, strict=True)]
        return self.treedef.unflatten(leaves)

    def __getstate__(self) -> dict[str, Any]:
        names = ("_accepted", "dtypes", "flat_keys", "shapes", "transition_batch", "treedef")
        return {name: getattr(self, name) for name in names}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        self._caches()

    @classmethod
    def of(cls, batch: Any) -> tuple[Layout, list[np.ndarray], int]:
        """The layout a first batch fixes, with its leaves as arrays and its batch size."""
        tb = is_transition_batch(batch)
        raw, treedef = flatten(cast(Any, batch)._replace(W=None, idx=None) if tb else batch)
        if not raw:
            raise ValueError("batch must hold at least one array leaf, got none")
        leaves = [_as_array(path, leaf) for path, leaf in zip(treedef.paths, raw, strict=True)]
        size = _batch_size(treedef, leaves)
        return cls(treedef, tb, leaves), leaves, size

    def leaves(self, batch: Any) -> tuple[Sequence[Any], int]:
        """The leaves of a later batch (arrays that cast into the storage) and its batch size."""
        keys = self.flat_keys
        if keys is not None and type(batch) is dict and len(batch) == len(keys):
            try:  # the common case, a flat dict of arrays: no walk of the structure
                get = self._get_flat
                flat: Any = get(batch) if get is not None else (batch[keys[0]],)
            except KeyError:
                flat = None
            if flat is not None:
                size = self._fast_size(flat)
                if size >= 0:
                    return flat, size
        elif keys is None:
            found: list[Any] = []
            if self.transition_batch:  # stored without W and idx, which sampling fills in
                if not is_transition_batch(batch):
                    return self._checked(batch)
                batch = cast(Any, batch)._replace(W=None, idx=None)
            if leaves_as(self.treedef, batch, found):
                size = self._fast_size(found)
                if size >= 0:
                    return found, size
        return self._checked(batch)

    def _fast_size(self, leaves: Sequence[Any]) -> int:
        """The batch size of numpy arrays of accepted dtypes and stored shapes; -1 otherwise."""
        first = leaves[0]
        if type(first) is not np.ndarray or not first.shape:
            return -1
        size: int = first.shape[0]
        full = self._full_shapes.get(size)
        if full is None:
            if len(self._full_shapes) > 64:  # batch sizes vary without end: do not grow
                self._full_shapes.clear()
            full = self._full_shapes[size] = tuple((size, *shape) for shape in self.shapes)
        # as many leaves as the layout has: they came from its keys or its structure
        for leaf, shape, dtype, accepted in zip(
            leaves, full, self.dtypes, self._accepted, strict=False
        ):
            if (
                type(leaf) is not np.ndarray
                or leaf.shape != shape
                or (leaf.dtype is not dtype and leaf.dtype not in accepted)
            ):
                return -1
        return size

    def _checked(self, batch: Any) -> tuple[Sequence[Any], int]:
        """The slow path: every check, with a message that names the leaf."""
        tb = is_transition_batch(batch)
        raw, treedef = flatten(cast(Any, batch)._replace(W=None, idx=None) if tb else batch)
        if treedef != self.treedef or tb != self.transition_batch:
            raise ValueError(
                "batch has a different structure from the stored items: "
                f"{self.treedef.describe_difference(treedef)} (stored: {self.treedef.paths})"
            )
        treedef = self.treedef  # the same structure, whose leaf paths are made already
        leaves = [_as_array(path, leaf) for path, leaf in zip(treedef.paths, raw, strict=True)]
        size = _batch_size(treedef, leaves)
        for i, (path, arr) in enumerate(zip(treedef.paths, leaves, strict=True)):
            if arr.shape[1:] != self.shapes[i]:
                raise ValueError(
                    f"batch leaf {path} has shape {arr.shape}, but the buffer stores items of "
                    f"shape {self.shapes[i]}"
                )
            if arr.dtype not in self._accepted[i]:
                check_castable(
                    f"batch leaf {path}", arr.dtype, stored=self.dtypes[i], fixed_by="the layout"
                )
                self._accepted[i].add(arr.dtype)
        return leaves, size

    @staticmethod
    def single(item: Any) -> Any:
        """One unbatched item as a batch of one (a leading axis of 1 on every leaf)."""
        if is_transition_batch(item):
            raise TypeError(
                "item is a TransitionBatch, which is a batch already: pass it to add instead"
            )
        raw, treedef = flatten(item)
        return treedef.unflatten([np.asarray(leaf)[np.newaxis] for leaf in raw])


def _batch_size(treedef: TreeDef, leaves: list[np.ndarray]) -> int:
    size = -1
    for path, arr in zip(treedef.paths, leaves, strict=True):
        if arr.ndim == 0:
            raise ValueError(
                f"batch leaf {path} has no batch axis (shape ()); to add one item without a "
                "batch axis, use add_single"
            )
        if size < 0:
            size = arr.shape[0]
        elif arr.shape[0] != size:
            raise ValueError(
                f"batch leaf {path} has {arr.shape[0]} items, but {treedef.paths[0]} has {size}"
            )
    return size
