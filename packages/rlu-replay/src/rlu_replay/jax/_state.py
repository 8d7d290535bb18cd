"""Replay buffers whose state is one pytree, and the pure functions that use it inside ``jit``."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple, TypeVar, cast

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt
from jax import lax
from jax.core import Tracer
from rlu_trees.jax import JaxMinTree, JaxSumTree, _debug
from rlu_trees.jax import _cpu as _tree_cpu
from rlu_trees.jax._trees import _accumulator_dtype, _targets

from rlu_replay._checks import (
    check_bool,
    check_castable,
    check_index_vector,
    check_int,
    check_real,
    check_shape,
)
from rlu_replay.jax import _blocks, _calls, _rows, _tail

_S = TypeVar("_S", bound="ReplayState")
_P = TypeVar("_P", bound="PrioritizedReplayState")


class Sample(NamedTuple):
    """A sampled batch, with the identifiers and importance weights of its items.

    What [`sample`][rlu_replay.jax.sample] returns: the fields of ``rlu_replay.Sample``, holding
    JAX arrays (a class of its own: ``isinstance`` tells the two apart).

    Attributes
    ----------
    batch : pytree of jax.Array
        The items, stacked on a leading axis, in the example's structure.
    idx : jax.Array
        Their identifiers (insertion numbers), for
        [`update_priorities`][rlu_replay.jax.update_priorities].
    weights : jax.Array
        Their importance weights (ones for a uniform state).
    """

    batch: Any
    idx: jax.Array
    weights: jax.Array


# the attributes that hold arrays (the trees pickle themselves)
_ARRAYS = ("storage", "serial", "position", "size", "inserted", "max_base")
# the dtypes JAX narrows outside 64-bit mode
_WIDE = {np.dtype(t) for t in (np.float64, np.int64, np.uint64, np.complex128)}


def _map_arrays(convert: Any, state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with ``convert`` applied to every array of its array attributes."""
    return {
        name: jax.tree_util.tree_map(convert, value) if name in _ARRAYS else value
        for name, value in state.items()
    }


def _period(capacity: int, ints: Any) -> int:
    """The largest multiple of ``capacity`` that ``ints`` holds: identifiers count modulo it."""
    return int(np.iinfo(ints).max) // capacity * capacity


def _clamp_limit(sums: JaxSumTree) -> float:
    """The sum tree lowers values above this so that no sum overflows; the min tree must too."""
    leaves = 1 << (sums.capacity - 1).bit_length()
    return float(np.finfo(sums.dtype).max) / leaves


# the names of a state's stored items and counters, as its pickle holds them
_LOGICAL = ("storage", "serial", "position", "size", "inserted")


@jax.tree_util.register_pytree_node_class
class ReplayState:
    """The state of a uniform replay buffer: storage and counters, one pytree.

    Made by [`init_uniform`][rlu_replay.jax.init_uniform]; used by
    [`add`][rlu_replay.jax.add] and [`sample`][rlu_replay.jax.sample]. Its arrays are the
    pytree's leaves (a ``scan`` carry, a ``vmap``ped batch, a donated argument, part of a
    checkpoint); ``capacity`` and the items' structure are static.

    The items are stored packed: their leaves' bits and their identifiers side by side in
    ``rows``, one 2-d array per kind of word (one uint32 array for items whose leaves are all
    4-byte numbers), and the three counters (and a prioritized state's largest priority) as
    words in a few rows after the items', in the identifiers' array. A jitted call pays for
    every array it gives back, and a donated state gives all of its arrays back: a uniform
    state of CartPole transitions is 1 array, a prioritized one 3 (with the trees), where one
    array per leaf and per counter made 12. ``storage``, ``serial``, ``position``, ``size``
    and ``inserted`` read them unpacked.

    Attributes
    ----------
    rows : tuple of jax.Array
        The stored items' bits and identifiers, each array of shape ``(capacity, words)``;
        the identifiers' array has a few rows more, which hold the counters.
    counters : jax.Array
        ``position``, ``size`` and ``inserted``: 3 ints (read-only).
    storage : pytree of jax.Array
        The items' leaves, each with a leading axis of ``capacity`` (read-only; unpacked from
        ``rows`` on each read).
    serial : jax.Array
        Per slot, the identifier of the item it holds (-1 for none; read-only).
    position : jax.Array
        The slot the next item goes to (read-only).
    size : jax.Array
        How many slots hold an item (read-only).
    inserted : jax.Array
        The identifier of the next item (read-only).

    Notes
    -----
    Identifiers are insertion numbers (0, 1, 2, ...) counted modulo ``identifier_period``, the
    largest multiple of ``capacity`` that JAX's default int holds (about 2^31 in 32-bit mode):
    an item's slot is its identifier modulo ``capacity`` all along, and an update of an item
    overwritten since it was drawn is still recognised, unless its slot was written again a
    multiple of ``identifier_period / capacity`` times in between (for a capacity of 10^6,
    2,147 times: some 2 * 10^9 additions while one batch is being learned from).

    A pickle (``rlu.dump``) holds the items and counters unpacked, as rlu-replay 0.6 wrote
    them, so checkpoints load across versions either way.
    """

    capacity: int
    rows: tuple[jax.Array, ...]
    _layout: _rows.Layout
    # the largest priority's dtype, in the rows' tail: a uniform state keeps none
    _max_dtype: np.dtype[Any] | None = None
    _aux: tuple[Any, ...]  # the static data, made once: jit compares it on every call

    def __init__(
        self,
        capacity: int,
        storage: Any,
        serial: jax.Array,
        position: jax.Array,
        size: jax.Array,
        inserted: jax.Array,
    ) -> None:
        self._build(capacity, storage, serial, position, size, inserted, None)

    def _build(self, capacity: int, *logical: Any) -> None:
        """Set the arrays from the unpacked items, counters and largest priority."""
        self.capacity = capacity
        self._pack(*logical)
        self._aux = self._static()

    def _pack(
        self, storage: Any, serial: Any, position: Any, size: Any, inserted: Any, base: Any
    ) -> None:
        """Set ``rows`` from the items' leaves, the counters and the largest priority (None
        for a uniform state)."""
        leaves, treedef = jax.tree_util.tree_flatten(storage)
        slots = jnp.ndim(serial)  # the leading axes of every leaf: batch axes, then slots
        items = [(leaf.dtype, tuple(leaf.shape[slots:])) for leaf in leaves]
        serial = jnp.asarray(serial)
        self._layout = _rows.layout(treedef, _paths(storage), items, serial.dtype)
        ints = serial.dtype
        counters = jnp.stack([jnp.asarray(x, ints) for x in (position, size, inserted)], -1)
        rows = _rows.pack(self._layout, leaves, serial)
        self.rows = _tail.with_tail(self._layout, self.capacity, rows, counters, base)

    def _base(self) -> Any:
        """The largest priority as the tail keeps it: none in a uniform state."""
        return None

    def _static(self) -> tuple[Any, ...]:
        return (self.capacity, self._layout)

    # flattening runs on every call of a jitted function that takes a state: kept to one
    # Python call each way, with the static data made once

    def tree_flatten(self) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """Children and static data for ``jax.tree_util``."""
        return (self.rows,), self._aux

    @classmethod
    def tree_unflatten(cls: type[_S], aux: tuple[Any, ...], children: Any) -> _S:
        """Rebuild a state from `tree_flatten`'s output (no checks: leaves may be tracers)."""
        state = object.__new__(cls)
        state._aux = aux
        state.capacity, state._layout = aux
        state.rows = tuple(children[0])
        return state

    def _replace(self: _S, **changes: Any) -> _S:
        """A copy with arrays replaced: ``rows``, ``counters``, ``max_base``, the trees, or the
        unpacked names (``storage``, ``serial``, ``position``, ``size``, ``inserted``)."""
        unpacked = {name: changes.pop(name) for name in _LOGICAL if name in changes}
        tail = {name: changes.pop(name) for name in ("counters", "max_base") if name in changes}
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._set(**changes)
        if unpacked:
            items, serial, position, size, inserted = (
                unpacked.get(name, getattr(self, name)) for name in _LOGICAL
            )
            new._pack(items, serial, position, size, inserted, self._base())
        if tail:
            new.rows = _tail.set_tail(
                new._layout,
                new.capacity,
                new.rows,
                tail.get("counters"),
                tail.get("max_base"),
                new._max_dtype,
            )
        new._aux = new._static()
        return new

    def _set(self, **changes: Any) -> None:
        self.__dict__.update(changes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(capacity={self.capacity})"

    @property
    def storage(self) -> Any:
        """The items' leaves, each with a leading axis of ``capacity`` (unpacked: a copy)."""
        return _rows.unpacked(self._layout, self.capacity, self.rows)

    @property
    def serial(self) -> jax.Array:
        """Per slot, the identifier of the item it holds (-1 for none)."""
        ids: jax.Array = _rows.identifiers_of(self._layout, self.capacity, self.rows)
        return ids

    @property
    def counters(self) -> jax.Array:
        """``position``, ``size`` and ``inserted``, in the identifiers' int dtype."""
        counters: jax.Array = _tail.counters_of(self._layout, self.capacity, self.rows)
        return counters

    @property
    def position(self) -> jax.Array:
        """The slot the next item goes to."""
        return self.counters[..., 0]

    @property
    def size(self) -> jax.Array:
        """How many slots hold an item."""
        return self.counters[..., 1]

    @property
    def inserted(self) -> jax.Array:
        """The identifier of the next item."""
        return self.counters[..., 2]

    @property
    def identifier_period(self) -> int:
        """Identifiers count modulo this: the largest multiple of ``capacity`` the ints hold."""
        return _period(self.capacity, self._layout.ident.dtype)

    def _one_buffer(self, operation: str) -> None:
        lead = self.rows[0].shape[:-2]
        if lead:
            shape = (*lead, self.capacity)
            raise ValueError(
                f"this {type(self).__name__} holds a batch of buffers (its identifiers have "
                f"shape {shape}), and {operation} acts on one buffer: call "
                f"it inside jax.vmap (e.g. jax.vmap(lambda s, k: rj.{operation}(s, ...))(...))"
            )

    # a pickle (rlu.dump) holds numpy arrays, whose dtypes are the state's whatever the 64-bit
    # mode of the process that loads it, under the names and in the shapes of rlu-replay 0.6
    # (one array per stored leaf and per counter); the trees pickle themselves the same way

    def _saved(self) -> dict[str, Any]:
        return {"capacity": self.capacity, **{name: getattr(self, name) for name in _LOGICAL}}

    def _restore(self, saved: dict[str, Any]) -> None:
        self.capacity = saved["capacity"]
        items, serial, position, size, inserted = (saved[name] for name in _LOGICAL)
        self._pack(items, serial, position, size, inserted, saved.get("max_base"))

    def __getstate__(self) -> dict[str, Any]:
        return _map_arrays(np.asarray, self._saved())

    def __setstate__(self, state: dict[str, Any]) -> None:
        wide = [
            f"{name} ({leaf.dtype})"
            for name in _ARRAYS
            for leaf in jax.tree_util.tree_leaves(state.get(name))
            if np.dtype(leaf.dtype) in _WIDE
        ]
        if wide and np.dtype(jax.dtypes.canonicalize_dtype(np.int64)) != np.int64:
            raise ValueError(
                f"this {type(self).__name__} was saved with 64-bit arrays ({', '.join(wide[:3])}), "
                "but JAX's 64-bit mode is off in this process, where they would become 32-bit. "
                "Turn it on before loading: jax.config.update('jax_enable_x64', True)."
            )
        self._restore(_map_arrays(jnp.asarray, state))
        self._aux = self._static()


@jax.tree_util.register_pytree_node_class
class PrioritizedReplayState(ReplayState):
    r"""The state of a proportional prioritized replay buffer: one pytree.

    Made by [`init`][rlu_replay.jax.init]. As [`ReplayState`][rlu_replay.jax.ReplayState],
    with a slot's sampling value $p_i = (\text{priority}_i + \epsilon)^\alpha$ in a
    ``JaxSumTree`` (draws), the smallest $p_i$ per block of slots in a ``JaxMinTree`` (its
    root is the smallest of all, for the weights), and the largest ``priority + epsilon``
    given so far, which new items get. ``alpha`` and ``epsilon`` are static.

    Attributes
    ----------
    sums : rlu_trees.jax.JaxSumTree
        $p_i$ per slot.
    mins : rlu_trees.jax.JaxMinTree
        Per block of slots whose ``sums`` leaves share a 64-byte cache line (16 slots in
        float32, 8 in float64; slot ``s`` in block ``(s + 15) // 16`` in float32), the
        smallest $p_i$ of its filled slots; ``mins.root_value`` is the smallest $p_i$ of all.
        Kept from ``sums`` (rlu-replay 0.7 and before kept a leaf per slot: a pickle still
        holds that form, see the notes).
    max_base : jax.Array
        The largest ``priority + epsilon`` given so far (1 before any; read-only, kept as
        bits in the rows' tail, so it takes no derivative).
    alpha, epsilon : float
        The exponent and the offset of the priorities.

    Notes
    -----
    Why blocks: a min tree with a leaf per slot is a second copy of every $p_i$ whose paths
    each update walks cold; on a full buffer of 10^6 its 8 MB competed with the sum tree for
    the cache. A block's minimum is read again from the sum tree's leaves that the same update
    has just written, and the min tree of 10^6 slots is 1/16 of the size.

    A pickle (``rlu.dump``) holds ``mins`` with a leaf per slot (the filled slots' $p_i$), as
    rlu-replay 0.7 and before wrote it; loading rebuilds the blocks from it, so checkpoints
    load across versions either way.
    """

    alpha: float
    epsilon: float
    # the trees' node arrays and static data: leaves of this state itself (one Python
    # flatten per call, not three); ``sums`` and ``mins`` rebuild the trees from them
    _sum_nodes: jax.Array
    _min_nodes: jax.Array
    _tree_aux: tuple[Any, Any]

    def __init__(
        self,
        capacity: int,
        storage: Any,
        serial: jax.Array,
        position: jax.Array,
        size: jax.Array,
        inserted: jax.Array,
        sums: JaxSumTree,
        mins: JaxMinTree,
        max_base: jax.Array,
        alpha: float,
        epsilon: float,
    ) -> None:
        self.alpha, self.epsilon = alpha, epsilon
        max_base = jnp.asarray(max_base)
        self._max_dtype = np.dtype(max_base.dtype)
        blocks = _blocks.count(capacity, sums.dtype)
        if mins.capacity == capacity != blocks:  # a leaf per slot, as rlu-replay 0.7 kept it
            mins = _blocks.from_slots(mins, sums)
        elif mins.capacity != blocks:
            raise ValueError(
                f"mins must be a JaxMinTree with a leaf per block of slots ({blocks} for "
                f"{capacity} slots of {sums.dtype}) or per slot ({capacity}), got "
                f"{mins.capacity} leaves"
            )
        self._set(sums=sums, mins=mins)
        self._build(capacity, storage, serial, position, size, inserted, max_base)

    def _set(self, **changes: Any) -> None:
        aux = list(self.__dict__.get("_tree_aux", (None, None)))
        for k, (name, nodes) in enumerate((("sums", "_sum_nodes"), ("mins", "_min_nodes"))):
            if name in changes:
                (leaf,), aux[k] = changes.pop(name).tree_flatten()
                setattr(self, nodes, leaf)
        self._tree_aux = (aux[0], aux[1])
        self.__dict__.update(changes)

    @property
    def max_base(self) -> jax.Array:
        """The largest ``priority + epsilon`` given so far (1 before any)."""
        base: jax.Array = _tail.base_of(self._layout, self.capacity, self.rows, self._max_dtype)
        return base

    def _base(self) -> Any:
        return self.max_base

    @property
    def sums(self) -> JaxSumTree:
        """$p_i$ per slot."""
        return JaxSumTree.tree_unflatten(self._tree_aux[0], (self._sum_nodes,))

    @property
    def mins(self) -> JaxMinTree:
        """The smallest $p_i$ per block of slots; its root is the smallest of all."""
        return JaxMinTree.tree_unflatten(self._tree_aux[1], (self._min_nodes,))

    def _static(self) -> tuple[Any, ...]:
        return (
            self.capacity,
            self._layout,
            self.alpha,
            self.epsilon,
            self._tree_aux,
            self._max_dtype,
        )

    def tree_flatten(self) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """Children and static data for ``jax.tree_util``."""
        return (self.rows, self._sum_nodes, self._min_nodes), self._aux

    @classmethod
    def tree_unflatten(cls: type[_P], aux: tuple[Any, ...], children: Any) -> _P:
        """Rebuild a state from `tree_flatten`'s output (no checks: leaves may be tracers)."""
        state = object.__new__(cls)
        state._aux = aux
        (
            state.capacity,
            state._layout,
            state.alpha,
            state.epsilon,
            state._tree_aux,
            state._max_dtype,
        ) = aux
        rows, state._sum_nodes, state._min_nodes = children
        state.rows = tuple(rows)
        return state

    def _saved(self) -> dict[str, Any]:
        return {
            **super()._saved(),
            "sums": self.sums,
            "mins": _blocks.slots_tree(self.sums, self.size),
            "max_base": self.max_base,
            "alpha": self.alpha,
            "epsilon": self.epsilon,
        }

    def _restore(self, saved: dict[str, Any]) -> None:
        self.alpha, self.epsilon = saved["alpha"], saved["epsilon"]
        self._max_dtype = np.dtype(jnp.asarray(saved["max_base"]).dtype)
        super()._restore(saved)
        self._set(sums=saved["sums"], mins=_blocks.from_slots(saved["mins"], saved["sums"]))

    def __repr__(self) -> str:
        return (
            f"PrioritizedReplayState(capacity={self.capacity}, alpha={self.alpha}, "
            f"epsilon={self.epsilon})"
        )


# ------------------------------------------------------------------ making a state


def _layout_for(example: Any) -> _rows.Layout:
    leaves, treedef = jax.tree_util.tree_flatten(example)
    if not leaves:
        raise ValueError("example must hold at least one array leaf, got none")
    items = []
    paths = _paths(example)
    for path, leaf in zip(paths, leaves, strict=True):
        dtype = _dtype_of(leaf)
        if not jnp.issubdtype(dtype, jnp.number) and dtype != jnp.bool_:
            raise TypeError(f"example leaf {path} must be an array of numbers, got {dtype}")
        arr = jnp.asarray(leaf)
        items.append((arr.dtype, tuple(arr.shape)))
    return _rows.layout(treedef, paths, items, _int())


def _dtype_of(leaf: Any) -> Any:
    """A leaf's dtype, read before converting it (JAX's conversion refuses text and objects
    with its own message); a dtype numpy does not know (another library's array) is JAX's
    after conversion."""
    dtype = getattr(leaf, "dtype", None)
    if dtype is None:
        return np.asarray(leaf).dtype
    try:
        jnp.issubdtype(dtype, jnp.number)
    except TypeError:
        return jnp.asarray(leaf).dtype
    return dtype


def _paths(tree: Any) -> list[str]:
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [jax.tree_util.keystr(path) or "(root)" for path, _ in flat]


def _int() -> np.dtype[Any]:
    """JAX's default int: int32, or int64 in 64-bit mode."""
    return np.dtype(jax.dtypes.canonicalize_dtype(np.int64))


def _empty(cls: type[_S], example: Any, capacity: int, base: Any = None, **more: Any) -> _S:
    """An empty state of ``cls``: zeroed rows, no identifiers, counters at 0, the largest
    priority ``base`` (None for a uniform state)."""
    state = object.__new__(cls)
    state.capacity, state._layout = capacity, _layout_for(example)
    state._set(**more)
    if base is not None:
        state._max_dtype = np.dtype(base.dtype)
    rows = _rows.empty(state._layout, capacity)
    state.rows = _tail.with_tail(state._layout, capacity, rows, jnp.zeros(3, _int()), base)
    state._aux = state._static()
    return state


def init_uniform(example: Any, capacity: int) -> ReplayState:
    """The empty state of a uniform replay buffer for items like ``example``.

    Parameters
    ----------
    example : pytree of arrays
        One item, without a batch axis (one transition as an environment gives it): the
        structure, shapes and dtypes of what the buffer stores.
    capacity : int
        The most items the buffer holds, at least 1.

    Returns
    -------
    ReplayState

    Raises
    ------
    TypeError
        If ``capacity`` is not an int or a leaf is not an array of numbers.
    ValueError
        If ``capacity < 1`` or ``example`` has no leaves.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from rlu_replay import jax as rj
    >>> state = rj.init_uniform({"obs": jnp.zeros(4), "action": jnp.int32(0)}, capacity=100)
    >>> state = rj.add(state, {"obs": jnp.ones((3, 4)), "action": jnp.arange(3)})
    >>> batch, idx, weights = rj.sample(state, jax.random.key(0), 5)
    >>> batch["obs"].shape, int(state.size)
    ((5, 4), 3)
    """
    capacity = check_int("capacity", capacity, minimum=1)
    return _empty(ReplayState, example, capacity)


def init(
    example: Any,
    capacity: int,
    *,
    alpha: float = 0.6,
    epsilon: float = 1e-4,
    dtype: npt.DTypeLike | None = None,
) -> PrioritizedReplayState:
    r"""The empty state of a proportional prioritized replay buffer for items like ``example``.

    The same semantics as [`PrioritizedReplayBuffer`][rlu_replay.PrioritizedReplayBuffer]:
    $P(i) \propto p_i = (\text{priority}_i + \epsilon)^\alpha$, new items get the largest
    priority given so far (1 before any), weights $(p_{min} / p_i)^\beta$ (largest possible
    1), an update of an item overwritten since it was drawn is ignored.

    Parameters
    ----------
    example : pytree of arrays
        One item, without a batch axis: the structure, shapes and dtypes stored.
    capacity : int
        The most items the buffer holds, at least 1.
    alpha : float, optional
        How strongly priorities skew sampling, in ``[0, 1]`` (static).
    epsilon : float, optional
        Added to every priority, ``>= 0`` (static). With 0 (and ``alpha > 0``), one item of
        priority 0 makes the smallest $p_i$ zero and with it every importance weight for
        ``beta > 0``, as in the host buffer: keep it above 0 where a TD error can be exactly 0.
    dtype : {None, numpy.float32, numpy.float64}, optional
        The trees' dtype; None is JAX's default float (float32 unless 64-bit mode is on).

    Returns
    -------
    PrioritizedReplayState

    Raises
    ------
    TypeError, ValueError
        As [`init_uniform`][rlu_replay.jax.init_uniform], and for ``alpha`` outside
        ``[0, 1]`` or ``epsilon < 0``.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from rlu_replay import jax as rj
    >>> state = rj.init({"x": jnp.float32(0)}, capacity=8, alpha=1.0, epsilon=0.0)
    >>> state = rj.add(state, {"x": jnp.arange(4.0)})
    >>> batch, idx, weights = rj.sample(state, jax.random.key(0), 2)
    >>> state = rj.update_priorities(state, idx, jnp.array([3.0, 3.0]))
    >>> float(state.max_base)
    3.0
    """
    capacity = check_int("capacity", capacity, minimum=1)
    alpha = check_real("alpha", alpha, low=0.0, high=1.0)
    epsilon = check_real("epsilon", epsilon, low=0.0)
    sums = JaxSumTree(capacity, dtype=dtype)
    mins = JaxMinTree(_blocks.count(capacity, sums.dtype), dtype=sums.dtype)
    return _empty(
        PrioritizedReplayState,
        example,
        capacity,
        sums=sums,
        mins=mins,
        base=jnp.ones((), sums.dtype),
        alpha=alpha,
        epsilon=epsilon,
    )


# ------------------------------------------------------------------ the functions


def _batch_leaves(state: ReplayState, batch: Any) -> tuple[list[jax.Array], int]:
    """The leaves of ``batch`` in the storage's order, checked and cast; and the batch size."""
    lay = state._layout
    leaves, given = jax.tree_util.tree_flatten(batch)
    if cast(Any, given) != lay.treedef:
        raise ValueError(
            "batch has a different structure from the stored items: "
            f"{given} (stored: {lay.treedef})"
        )
    out, size = [], -1
    for column, leaf in zip(lay.columns, leaves, strict=True):
        path, shape = column.path, column.shape
        arr = jnp.asarray(leaf)
        if arr.ndim != len(shape) + 1 or arr.shape[1:] != shape:
            raise ValueError(
                f"batch leaf {path} has shape {arr.shape}, but the buffer stores items of "
                f"shape {shape} (a batch of them: a leading batch axis)"
            )
        if size < 0:
            size = arr.shape[0]
        elif arr.shape[0] != size:
            raise ValueError(
                f"batch leaf {path} has {arr.shape[0]} items, but the first has {size}"
            )
        if arr.dtype != column.dtype:
            check_castable(
                f"batch leaf {path}", arr.dtype, stored=column.dtype, fixed_by="the example"
            )
        out.append(arr.astype(column.dtype))
    return out, size


def _check_state(state: Any) -> None:
    if not isinstance(state, ReplayState):
        raise TypeError(
            "state must be a ReplayState or PrioritizedReplayState, got "
            f"{type(state).__name__} (make one with init or init_uniform)"
        )


@jax.jit
def add(state: _S, batch: Any) -> _S:
    """Store a batch of items, the oldest overwritten once full; new items get the largest
    priority given so far (prioritized state).

    Parameters
    ----------
    state : ReplayState or PrioritizedReplayState
    batch : pytree of arrays
        Items stacked on a leading axis of one length ``B`` (static) in every leaf, in the
        example's structure; dtypes are cast where numpy's ``same_kind`` rule allows. With
        ``B > capacity`` only the last ``capacity`` items are kept. They are stored as data
        (as ``jax.lax.stop_gradient`` makes them): no derivative flows from the items a
        later ``sample`` draws back to the batch.

    Returns
    -------
    ReplayState or PrioritizedReplayState
        The new state (inside ``jit`` with the state donated, or as a ``scan`` carry, the
        storage and trees are written in place).

    Raises
    ------
    ValueError, TypeError
        When traced: ``state`` not a state, or a batch of another structure, shape or a
        dtype of another kind.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from rlu_replay import jax as rj
    >>> state = rj.init_uniform(jnp.zeros(2), capacity=3)
    >>> state = rj.add(state, jnp.arange(8.0).reshape(4, 2))  # 4 items into 3 slots
    >>> state.serial.tolist(), int(state.size), int(state.inserted)
    ([3, 1, 2], 3, 4)
    """
    _check_state(state)
    state._one_buffer("add")
    leaves, size = _batch_leaves(state, batch)
    keep = min(size, state.capacity)
    kept = [lax.stop_gradient(leaf[size - keep :]) for leaf in leaves]
    if isinstance(state, PrioritizedReplayState) and _calls.adds(state, keep):
        added: _S = _calls.add(state, kept, size, _add_xla)
        return added
    return _add_xla(state, kept, size)


def _add_xla(state: _S, kept: list[jax.Array], size: int) -> _S:
    """`add` in XLA operations: ``kept`` are the last ``min(size, capacity)`` of ``size``
    items given, cast to the stored dtypes."""
    cap = state.capacity
    keep = min(size, cap)
    counters, base = _counted(state)
    ints = counters.dtype
    period = _period(cap, ints)
    # identifiers count modulo the period, in unsigned arithmetic that cannot overflow
    uints = np.dtype(f"uint{8 * np.dtype(ints).itemsize}")
    position, filled = counters[0], counters[1]
    count = counters[2].astype(uints)
    first = (count + np.asarray((size - keep) % period, uints)) % period  # first item kept
    ids = ((first + jnp.arange(keep, dtype=uints)) % period).astype(ints)
    slots = (position + (size - keep) + jnp.arange(keep, dtype=ints)) % cap
    if isinstance(state, PrioritizedReplayState):  # every write after the last update's reads
        slots = _after(slots, 0, state.mins.root_value)
    packed = _rows.pack(state._layout, kept, ids)
    ends = [
        (position + size) % cap,
        jnp.minimum(filled + size, cap),
        ((count + np.asarray(size % period, uints)) % period).astype(ints),
    ]
    changes: dict[str, Any] = {
        "rows": tuple(
            _rows.write(rows, slots, new) for rows, new in zip(state.rows, packed, strict=True)
        ),
        "counters": jnp.stack(ends),
    }
    if isinstance(state, PrioritizedReplayState):
        changes["max_base"] = base  # the tail is written whole
        value = _new_value(state, base)
        sums = state.sums.set_values(slots, jnp.full(keep, value, state.sums.dtype))
        changes["sums"] = sums
        changes["mins"] = _blocks.write(state.mins, sums, slots, ends[1])
    return state._replace(**changes)


def _once(x: jax.Array, like: jax.Array) -> jax.Array:
    """``x`` (ints), made by an operation that XLA runs once, ahead of the writes it feeds.

    Why: a jitted step writes the rows in place, and XLA copies them (an O(N) copy per call)
    where an operation reads them with no path of data to the next write, which could
    otherwise run first. XLA repeats a cheap read (a slice) in each of its users, and a user
    without such a path (a tree's write, which needs the size) could then read the tail after
    the rows' write: the tests of donated steps on the XLA kernels' path caught three copies
    of the rows per step. An integer division is not repeated: its users read its result, and
    the writes take that too. (An optimization barrier does not do it: XLA's CPU compiler
    removes it before fusing.) The divisor is 1, made from ``like`` (an int) so that XLA
    cannot see it.
    """
    one = (like | 1) // (like | 1)
    return x // one.astype(x.dtype)


def _counted(state: ReplayState) -> tuple[jax.Array, Any]:
    """The counters and the largest priority (None for a uniform state), read from the rows'
    tail once (see `_once`), for the writes and everything else that needs them."""
    words = _tail.tail_words(state._layout, state.capacity, state.rows)
    words = _once(words, words[..., :1])
    counters = _tail.counters_in(state._layout, state.capacity, words)
    if isinstance(state, PrioritizedReplayState):
        return counters, _tail.base_in(state._layout, state.capacity, words, state._max_dtype)
    return counters, None


def _new_value(state: PrioritizedReplayState, base: jax.Array) -> jax.Array:
    """The sampling value $p^\\alpha$ of new items: from ``base``, the largest priority so
    far."""
    p = jnp.minimum(base**state.alpha, _clamp_limit(state.sums))
    return p.astype(state.sums.dtype)  # in the trees' dtype, as both paths of `add` store it


def _new_values(
    state: PrioritizedReplayState, given: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(good, base, p)`` for ``given`` priorities: which are finite and >= 0 (as the host
    buffer: a priority below 0 is bad), each plus epsilon, and its sampling value $p^\\alpha$
    (that of 1.0 where it is bad)."""
    good = jnp.isfinite(given) & (given >= 0)
    base = given + state.epsilon
    p = jnp.minimum(jnp.where(good, base, 1.0) ** state.alpha, _clamp_limit(state.sums))
    return good, base, p


@functools.partial(jax.jit, static_argnames=("n", "stratified"))
def _sample(state: Any, key: jax.Array, n: int, beta: Any, stratified: bool) -> Sample:
    if isinstance(state, PrioritizedReplayState):
        dtype = state.sums.dtype
        x = _targets(state._sum_nodes, key, n, stratified, _accumulator_dtype(dtype))
        if _calls.samples(state):
            batch, idx, ratio = _calls.sample(state, x, _draw_xla)
        else:
            batch, idx, ratio = _draw_xla(state, x)
        return Sample(batch, idx, ratio ** jnp.asarray(beta, dtype))
    slots = jax.random.randint(key, (n,), 0, jnp.maximum(state.counters[1], 1))
    batch, idx = _items_at(state, slots)
    return Sample(batch, idx, jnp.ones(n, jax.dtypes.canonicalize_dtype(np.float64)))


def _items_at(state: ReplayState, slots: jax.Array) -> tuple[Any, jax.Array]:
    """The items in ``slots``, stacked, and their identifiers."""
    picked = tuple(jnp.take(rows, slots, axis=0, mode="clip") for rows in state.rows)
    return _rows.unpack(state._layout, picked), _rows.identifiers(state._layout, picked)


def _draw_xla(state: PrioritizedReplayState, x: jax.Array) -> tuple[Any, jax.Array, jax.Array]:
    """The items where the sum tree's descent to masses ``x`` ends, their identifiers and
    the weights' ratios ``p_min / p``, in XLA operations (and the trees' own calls)."""
    sums = state.sums
    slots = _tree_cpu.descend(state._sum_nodes, x, sums._layout)
    ratio = state.mins.root_value / jnp.take(sums.values, slots)
    batch, idx = _items_at(state, slots)
    # the weights read both trees through this division, which XLA does not repeat in each of
    # its users (one that no write takes could read a tree after the write); without the
    # power, unused weights cost nothing; -1: no item, as update_priorities skips it
    return batch, _after(idx, -1, ratio), ratio


def _after(x: jax.Array, other: int, read: jax.Array) -> jax.Array:
    """``x``, made to depend on ``read`` (a number that should be >= 0): ``other`` where it
    is not (or is NaN).

    Why: a jitted step writes the state in place, and XLA copies a whole array (an O(N) copy
    per write) where an operation reads it with no path of data to the next write, which
    could otherwise run first: the weights' reads in `sample` when the weights feed only the
    loss, a block minimum read after `update_priorities` writes when the next write is the
    next update's or add's. The next writes take what ``x`` is (the identifiers drawn, the
    slots written), so the reads come first. Each read given is >= 0 (XLA cannot know that)
    except the weights' ratio where every priority is 0: `sample` then returns identifiers -1.
    Reads the buffer cannot tie to a write still make XLA copy: a `sample` before an `add`
    that precedes the update, or one whose identifiers no update takes.
    """
    # through a square root, which XLA computes once, where it copies a cheap read into each
    # of its users (one of those, say the rows' write, could then read a tree after its write)
    return jnp.where(jnp.sqrt(read) >= 0, x, other)


def sample(
    state: ReplayState, key: jax.Array, n: int, beta: Any = 0.4, *, stratified: bool = False
) -> Sample:
    r"""Draw ``n`` items: in proportion to $p_i$ (prioritized state) or uniformly.

    Parameters
    ----------
    state : ReplayState or PrioritizedReplayState
    key : jax.Array
        A PRNG key; split it yourself.
    n : int
        How many items (static), at least 1.
    beta : float or jax.Array, optional
        The importance-weight exponent in ``[0, 1]`` (may be traced: a schedule). Ignored by
        a uniform state, whose weights are ones.
    stratified : bool, optional
        One draw per equal slice of the total priority (prioritized state); static.

    Returns
    -------
    Sample
        ``(batch, idx, weights)``: the items stacked on a leading axis, their identifiers
        (for [`update_priorities`][rlu_replay.jax.update_priorities]) and importance weights
        ``(p_min / p_i) ** beta``.

    Raises
    ------
    TypeError, ValueError
        If ``state`` is not a state, ``n`` not an int >= 1, ``stratified`` not a bool (or
        the int 0 or 1, as the host buffer takes it), or ``beta`` a number outside ``[0, 1]``
        (a traced ``beta`` is not checked).
    RuntimeError
        Outside ``jit``, if the buffer is empty or every priority is 0 (inside ``jit`` such a
        buffer gives meaningless items, and identifiers -1 where every priority is 0, which
        ``update_priorities`` skips: check ``state.size`` yourself).

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from rlu_replay import jax as rj
    >>> state = rj.init(jnp.float32(0), capacity=4, alpha=1.0, epsilon=0.0)
    >>> state = rj.add(state, jnp.arange(2.0))
    >>> state = rj.update_priorities(state, jnp.array([0, 1]), jnp.array([1.0, 3.0]))
    >>> _, idx, w = rj.sample(state, jax.random.key(0), 1000, beta=1.0, stratified=True)
    >>> int((idx == 1).sum()), sorted({round(x, 2) for x in w.tolist()})  # 3/4 of the mass
    (750, [0.33, 1.0])
    """
    _check_state(state)
    n = check_int("n", n, minimum=1)
    stratified = check_bool("stratified", stratified)
    if not isinstance(beta, Tracer):  # a number: checked as the host buffer checks it
        beta = check_real("beta", beta, low=0.0, high=1.0)
    state._one_buffer("sample")
    size = state.size
    if not isinstance(size, Tracer) and int(size) == 0:
        raise RuntimeError("cannot sample from an empty buffer; add some items first")
    if isinstance(state, PrioritizedReplayState):
        total = state.sums.root_value
        if not isinstance(total, Tracer) and not float(total) > 0:
            raise RuntimeError(
                "cannot sample: every stored item has priority 0 (with epsilon 0); give some "
                "a positive priority, or use epsilon > 0"
            )
    drawn: Sample = _sample(state, key, n, beta, stratified)
    return drawn


@jax.jit
def update_priorities(
    state: PrioritizedReplayState, idx: jax.Array, priorities: jax.Array
) -> PrioritizedReplayState:
    """New priorities for sampled items; items overwritten since they were drawn are skipped.

    Parameters
    ----------
    state : PrioritizedReplayState
    idx : jax.Array
        1-d identifiers, as [`sample`][rlu_replay.jax.sample] returned them (or one, as a
        scalar). With repeats, the last one wins.
    priorities : jax.Array
        One priority per identifier (e.g. ``|TD error|``), ``>= 0`` and finite. Inside
        ``jit`` nothing can raise: a NaN, negative or infinite priority is skipped (its item
        keeps its priority); ``rlu_trees.jax.debug_checks(True)`` makes it raise instead.
        A finite priority beyond the range of the trees' dtype is clamped to its largest
        value, as the trees clamp every large value (without 64-bit mode JAX makes a float64
        number beyond float32's range infinite as it takes it in: skipped). A single number
        applies to every identifier.

    Returns
    -------
    PrioritizedReplayState

    Raises
    ------
    TypeError, ValueError
        When traced: ``state`` not a prioritized state, ``idx`` not a 1-d array of ints, or
        ``priorities`` of another shape.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from rlu_replay import jax as rj
    >>> state = rj.add(rj.init(jnp.float32(0), capacity=2, epsilon=0.0), jnp.zeros(2))
    >>> state = rj.add(state, jnp.zeros(1))  # item 0 is overwritten by item 2
    >>> state = rj.update_priorities(state, jnp.array([0, 1]), jnp.array([9.0, 5.0]))
    >>> float(state.max_base)  # item 1's 5.0 applied; item 0's 9.0 did not
    5.0
    """
    if not isinstance(state, PrioritizedReplayState):
        raise TypeError(f"state must be a PrioritizedReplayState, got {type(state).__name__}")
    state._one_buffer("update_priorities")
    idx, priorities = jnp.asarray(idx), jnp.asarray(priorities)
    idx = idx.reshape(1) if idx.ndim == 0 else idx  # one identifier, as the host buffer takes it
    n = check_index_vector("idx", idx)
    check_shape("priorities", priorities, expected=(n,), scalar=True)
    ids = idx.astype(state._layout.ident.dtype)
    given = jnp.broadcast_to(_in_range(priorities, state.sums.dtype), (n,))
    if _calls.updates(state):
        updated: PrioritizedReplayState = _calls.update(state, ids, given, _update_xla)
        return updated
    return _update_xla(state, ids, given)


def _in_range(priorities: jax.Array, dtype: Any) -> jax.Array:
    """``priorities`` in the trees' ``dtype``, a finite priority beyond its range clamped to
    its largest (a cast would make it infinite, which `update_priorities` skips), as every
    large priority is clamped."""
    if priorities.dtype == np.float64 and np.dtype(dtype) != np.float64:  # float32 trees
        largest = float(np.finfo(dtype).max)
        inside = jnp.clip(priorities, -largest, largest)
        priorities = jnp.where(jnp.isfinite(priorities), inside, priorities)
    return priorities.astype(dtype)


def _update_xla(
    state: PrioritizedReplayState, ids: jax.Array, given: jax.Array
) -> PrioritizedReplayState:
    """`update_priorities` in XLA operations: ``ids`` in the counters' dtype, ``given`` one
    priority per identifier in the trees' dtype."""
    cap = state.capacity
    counters, base_before = _counted(state)
    slots = ids % cap
    live = (ids >= 0) & (_rows.identifiers_at(state._layout, state.rows, slots) == ids)
    if _debug.enabled():  # the debug checks: a bad priority of a live item raises, by its entry
        jax.debug.callback(_raise_for_bad, ids, given, live)
    good, base, p = _new_values(state, given)
    # a stale item, and a bad priority, get a position out of range, which the trees drop
    # without a word
    taken = live & good
    at = _after(jnp.where(taken, slots, cap), cap, state.mins.root_value)
    largest = jnp.max(jnp.where(taken, base, 0.0), initial=0.0)
    sums = state.sums.set_values(at, p)
    return state._replace(
        sums=sums,
        mins=_blocks.write(state.mins, sums, at, counters[1]),
        max_base=jnp.maximum(base_before, largest),
        counters=counters,
    )


def _raise_for_bad(ids: Any, given: Any, live: Any) -> None:
    """On the host, with the debug checks on: raise for the first priority of a live item
    that ``update_priorities`` would skip (NaN, infinite or below 0)."""
    ids, given, live = np.asarray(ids), np.asarray(given), np.asarray(live)
    with np.errstate(invalid="ignore"):
        bad = live & ~(np.isfinite(given) & (given >= 0))
    if bad.any():
        k = tuple(int(i) for i in np.argwhere(bad)[0])  # (under vmap: called per buffer)
        entry = ", ".join(str(i) for i in k)
        raise ValueError(
            f"update_priorities (debug checks): priorities[{entry}] = {float(given[k])!r}, for "
            f"identifier {int(ids[k])}, would be skipped: priorities must be finite and >= 0 "
            f"({int(bad.sum())} such entries)"
        )
