"""JaxSegmentTree, JaxSumTree, JaxMinTree, JaxMaxTree: functional segment trees as pytrees."""

from __future__ import annotations

import functools
from typing import Any, TypeAlias, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt

from rlu_trees import _checks as _host_checks
from rlu_trees import _reducers
from rlu_trees._segment_tree import MaxTree, MinTree, SegmentTree
from rlu_trees._sum_tree import SumTree
from rlu_trees.jax import _checks, _cpu, _debug, _kernels, _uniform

_T = TypeVar("_T", bound="JaxSegmentTree")


def _check_nodes(nodes: jax.Array, lay: _kernels.Layout) -> None:
    """Raise unless the node array fits the tree's capacity (e.g. arrays unflattened into the
    structure of a tree of another capacity; checked when traced).

    The one check of the node array: every jitted entry point below runs it first, and the
    kernels (``_kernels``, ``_cpu``) rely on it.
    """
    if nodes.ndim < 1 or nodes.shape[-1] != lay.size:
        raise ValueError(
            f"a tree of capacity {lay.capacity} has {lay.size} nodes, but its node array has "
            f"shape {nodes.shape}: was it rebuilt from another tree's arrays, or batched by "
            "vmap on another axis than the first (out_axes=0)?"
        )


def _accumulator_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype of the descent's target mass: float64 when JAX allows it (as the host)."""
    return np.dtype(np.float64) if _kernels.x64_enabled() else dtype


@functools.partial(jax.jit, static_argnames=("lay", "clamp"))
def _set_values(
    nodes: jax.Array, idx: jax.Array, values: jax.Array, lay: _kernels.Layout, clamp: bool
) -> jax.Array:
    _check_nodes(nodes, lay)
    return _cpu.set_values(nodes, idx, values, lay, clamp)


@functools.partial(jax.jit, static_argnames=("lay", "clamp"))
def _set_all(nodes: jax.Array, values: jax.Array, lay: _kernels.Layout, clamp: bool) -> jax.Array:
    _check_nodes(nodes, lay)
    return _kernels.set_all(nodes, values, lay, clamp)


@functools.partial(jax.jit, static_argnames=("lay",))
def _partial_reduce(
    nodes: jax.Array, starts: jax.Array, stops: jax.Array, lay: _kernels.Layout
) -> jax.Array:
    _check_nodes(nodes, lay)
    return _kernels.partial_reduce(nodes, starts, stops, lay)


@functools.partial(jax.jit, static_argnames=("lay",))
def _inverse_cdf(nodes: jax.Array, u: jax.Array, lay: _kernels.Layout) -> jax.Array:
    _check_nodes(nodes, lay)
    u = jnp.clip(jnp.nan_to_num(u, nan=0.0), 0.0, 1.0)
    return _cpu.descend(nodes, u * nodes[0].astype(u.dtype), lay)


@functools.partial(jax.jit, static_argnames=("lay", "n", "stratified", "dtype"))
def _sample(
    nodes: jax.Array, key: jax.Array, lay: _kernels.Layout, n: int, stratified: bool, dtype: Any
) -> jax.Array:
    _check_nodes(nodes, lay)
    return _cpu.descend(nodes, _targets(nodes, key, n, stratified, dtype), lay)


def _targets(nodes: jax.Array, key: jax.Array, n: int, stratified: bool, dtype: Any) -> jax.Array:
    """The masses `JaxSumTree.sample` descends to, in ``dtype`` (also rlu-replay's sample)."""
    u = _uniform.uniform(key, n, dtype)  # jax.random.uniform's numbers
    if stratified:
        u = jnp.minimum((jnp.arange(n, dtype=dtype) + u) / n, 1.0)
    return u * nodes[0].astype(dtype)


@jax.tree_util.register_pytree_node_class
class JaxSegmentTree:
    r"""A functional segment tree that runs inside ``jax.jit``, ``lax.scan`` and ``jax.vmap``.

    The JAX twin of [`SegmentTree`][rlu_trees.SegmentTree]: the tree is a pytree whose one array
    leaf holds all its nodes and whose capacity and reducer are static, so it can be an argument
    of a jitted function, a ``scan`` carry, a ``vmap``\ ped batch of trees, a donated buffer
    or part of a checkpoint (``rlu.dump``). Operations never change a tree: they return a
    new one. Updates cost O(B log N) for a batch of B, whatever the capacity N; inside
    ``jit`` with the tree donated (or as a ``scan`` carry) they write in place.

    Values live on ``P = 2**ceil(log2(capacity))`` leaves as on the host tree, and every
    binary level above them is stored (one flat array of ``2P - 1`` nodes in heap order,
    root first), each node the reduction of its two children, so every stored sum equals
    the host tree's bit for bit.

    Parameters
    ----------
    capacity : int
        Number of values, from 1 to ``2**30``.
    reducer : {'add', 'min', 'max'} or numpy.add, numpy.minimum, numpy.maximum
        How two children combine. Leaves start at its identity (``init_value``).
    dtype : {None, numpy.float32, numpy.float64}, optional
        Storage type, keyword only. None is JAX's default float (float32 unless 64-bit mode
        is on); float64 needs ``jax.config.update('jax_enable_x64', True)``. The dtype is part
        of the tree's state: a pickle (``rlu.dump``) keeps it, and a float64 tree refuses to
        load where 64-bit mode is off (see ``astype`` to convert).

    Raises
    ------
    TypeError
        If ``capacity`` is not an int or ``reducer`` is not a str or a known function.
    ValueError
        If ``capacity`` is out of range, ``reducer`` is unknown or ``dtype`` is not float32
        or float64 (or float64 without 64-bit mode).

    Notes
    -----
    Bad input. Outside ``jit`` (concrete arrays) the tree checks its arguments as the host
    tree does: an index outside ``[-capacity, capacity)`` raises ``IndexError``, a NaN value
    ``ValueError`` (a [`JaxSumTree`][rlu_trees.jax.JaxSumTree] also refuses negative and infinite
    values and a total that overflows). Inside ``jit`` nothing can raise: such entries are skipped
    (their leaf keeps its old value), a [`JaxSumTree`][rlu_trees.jax.JaxSumTree] lowers finite
    values above ``finfo(dtype).max / P`` to that bound so that no sum can overflow, and ``u``
    outside ``[0, 1]`` is clipped (NaN counts as 0). Subnormal values are stored as zeros (of
    their sign): XLA flushes them on the CPU. A node array that does not fit the capacity
    (a tree rebuilt from another tree's arrays) raises ``ValueError`` when traced.

    Where it runs. In a program compiled for the CPU, the descent of ``inverse_cdf`` and
    ``sample`` and the climb of ``set_values`` each run as one XLA custom call into the host
    trees' compiled kernels, because XLA on the CPU pays for every small operation of a
    level-by-level walk. On other platforms (GPU, TPU) they are XLA operations with every
    level of the walk unrolled (no loop for the device to run); on the CPU with the
    environment variable ``RLU_TREES_JAX_CPU_CALLS=0`` (set it for ``jax.export``, which
    refuses such calls), or where the calls are unavailable, XLA loops over the levels. The
    choice is made when the program is traced and lowered; the pytree, the guarantees above
    and the 64-bit results are the same on every path. In float32 outside 64-bit mode the CPU walk
    subtracts in float64 like the host tree and the XLA walk in float32, so an index at a
    rounding boundary can differ between them (both positive, both in range).

    Batches of trees: build or update them under ``jax.vmap``. Outside ``vmap`` a batch reads
    batched (``root_value`` of shape ``(batch,)``, ``values`` of ``(batch, capacity)``), and
    its methods, which act on one tree, raise ``ValueError`` saying so.

    Debugging: [`debug_checks`][rlu_trees.jax.debug_checks] makes a traced ``set_values`` raise
    for the entries it would skip.

    Examples
    --------
    >>> import jax
    >>> from rlu_trees.jax import JaxSegmentTree
    >>> tree = JaxSegmentTree(8, "min")
    >>> tree = tree.set_values(..., [13, 7, 11, 17, 19, 5, 3, 23])
    >>> float(tree.root_value), float(tree.partial_reduce(0, 4))
    (3.0, 7.0)
    >>> leaves, treedef = jax.tree_util.tree_flatten(tree)
    >>> len(leaves)
    1
    """

    _nonneg = False

    # whether the compiled CPU kernels may serve this tree: the switch as it was when the tree
    # was made, kept in its static data (so in every jit cache key); unpickled trees take the
    # switch of the process that loads them
    _cpu_calls: bool = _cpu.ENABLED

    def __init__(self, capacity: int, reducer: Any, *, dtype: npt.DTypeLike | None = None) -> None:
        self._capacity = _checks.check_capacity("capacity", capacity)
        self._reducer = _checks.check_reducer("reducer", reducer)
        self._cpu_calls = _cpu.ENABLED
        dt = _checks.check_dtype("dtype", dtype)
        self._nodes = _kernels.empty(self._layout, dt)

    # ------------------------------------------------------------------ pytree

    def tree_flatten(self) -> tuple[tuple[jax.Array], tuple[int, str, bool]]:
        """Children and static data for ``jax.tree_util`` (the node array; capacity, reducer,
        and whether the compiled CPU kernels may serve the tree)."""
        return (self._nodes,), (self._capacity, self._reducer, self._cpu_calls)

    @classmethod
    def tree_unflatten(cls: type[_T], aux: tuple[int, str, bool], children: Any) -> _T:
        """Rebuild a tree from `tree_flatten`'s output (no checks: leaves may be tracers)."""
        tree = object.__new__(cls)
        tree._capacity, tree._reducer, tree._cpu_calls = aux
        (tree._nodes,) = children
        return tree

    def _replace(self: _T, nodes: jax.Array) -> _T:
        return type(self).tree_unflatten((self._capacity, self._reducer, self._cpu_calls), (nodes,))

    @property
    def _layout(self) -> _kernels.Layout:
        # the static key of every jitted operation: off also while JAX's persistent cache would
        # load the calls wrongly, so that turning the cache on traces the operations afresh
        calls = self._cpu_calls and not _cpu.cache_loads_wrongly()
        return _kernels.layout(self._capacity, self._reducer, self._nonneg, calls)

    def _traced(self, *args: Any) -> bool:
        return any(_checks.is_traced(a) for a in (self._nodes, *args))

    def _one_tree(self, operation: str) -> None:
        """Raise unless this is one tree (a batch made by ``vmap`` has leading node axes)."""
        if self._nodes.ndim != 1:
            name = type(self).__name__
            raise ValueError(
                f"this {name} is a batch of trees (its node array has shape "
                f"{tuple(self._nodes.shape)}), and {operation} acts on one tree: call it inside "
                f"jax.vmap (e.g. jax.vmap(lambda tree: tree.{operation}(...))(trees)), or take "
                "tree i with jax.tree.map(lambda nodes: nodes[i], trees)"
            )

    # ------------------------------------------------------------------ properties

    @property
    def capacity(self) -> int:
        """Number of values (leaves) the tree holds."""
        return self._capacity

    @property
    def reducer(self) -> str:
        """``'add'``, ``'min'`` or ``'max'``."""
        return self._reducer

    @property
    def init_value(self) -> float:
        """The identity of the reducer: the value of leaves never set."""
        return _reducers.IDENTITY[self._reducer]

    @property
    def dtype(self) -> np.dtype[Any]:
        """Storage dtype (float32 or float64)."""
        return np.dtype(self._nodes.dtype)

    @property
    def nodes(self) -> jax.Array:
        """The flat node array (the pytree's leaf); its layout is private."""
        return self._nodes

    @property
    def root_value(self) -> jax.Array:
        """The reduction of all values, as a 0-d array (one per tree for a batch of trees)."""
        _check_nodes(self._nodes, self._layout)
        return self._nodes[..., 0]

    @property
    def values(self) -> jax.Array:
        """The ``capacity`` values, shape ``(capacity,)`` (``(*batch, capacity)`` for a batch)."""
        _check_nodes(self._nodes, self._layout)
        return _kernels.leaves_of(self._nodes, self._layout)

    def __repr__(self) -> str:
        batch = self._nodes.shape[:-1]
        return (
            f"{type(self).__name__}(capacity={self._capacity}, reducer={self._reducer!r}, "
            f"dtype={self._nodes.dtype}{f', batch={tuple(batch)}' if batch else ''})"
        )

    # ------------------------------------------------------------------ pickling

    def __getstate__(self) -> dict[str, Any]:
        # the nodes as a numpy array, whose dtype is the tree's whatever the 64-bit mode of the
        # process that loads it (a jax.Array would be rebuilt in that process's default float)
        return {
            "capacity": self._capacity,
            "reducer": self._reducer,
            "cpu_calls": self._cpu_calls,
            "nodes": np.asarray(self._nodes),
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "nodes" not in state:  # rlu-trees 0.3.1 and before: the attributes, a jax.Array
            self.__dict__.update(state)
            return
        nodes = state["nodes"]
        if nodes.dtype == np.float64 and not _kernels.x64_enabled():
            raise ValueError(
                f"this {type(self).__name__} was saved with float64 values, but JAX's 64-bit "
                "mode is off in this process, where they would become float32. Turn it on "
                "before loading: jax.config.update('jax_enable_x64', True). To go on in "
                "float32, load it with 64-bit mode on, convert it with tree.astype("
                "numpy.float32) and save that."
            )
        self._capacity, self._reducer = state["capacity"], state["reducer"]
        # the switch of the process that loads the tree, not of the one that saved it
        self._cpu_calls = _cpu.ENABLED
        self._nodes = jnp.asarray(nodes)

    def astype(self: _T, dtype: npt.DTypeLike) -> _T:
        """The same tree with values stored as ``dtype``; every node recomputed from the leaves.

        Parameters
        ----------
        dtype : {numpy.float32, numpy.float64}
            The new storage dtype (float64 needs JAX's 64-bit mode).

        Returns
        -------
        JaxSegmentTree
            A tree of the same type; ``self`` is unchanged.

        Raises
        ------
        ValueError
            If ``dtype`` is not float32 or float64 (or float64 without 64-bit mode), or the
            values do not fit the new dtype (a sum that overflows float32).

        Examples
        --------
        >>> import numpy as np
        >>> from rlu_trees.jax import JaxSumTree
        >>> tree = JaxSumTree(3).set_values(..., [1.0, 2.0, 3.0]).astype(np.float32)
        >>> tree.dtype, float(tree.root_value)
        (dtype('float32'), 6.0)
        """
        dt = _checks.check_dtype("dtype", dtype)
        self._one_tree("astype")
        empty = self._replace(_kernels.empty(self._layout, dt))
        return empty.set_values(..., self.values.astype(dt))

    # ------------------------------------------------------------------ operations

    def set_values(self: _T, idx: Any, values: Any) -> _T:
        """A new tree with some or all values replaced; O(B log N) for B positions.

        Parameters
        ----------
        idx : int, 1-d array of ints, Ellipsis or None
            Positions to write (negative counts from the end); ``...`` or None writes all
            ``capacity`` values (O(N)). With repeated positions the last write wins, on
            every backend.
        values : float or 1-d array of floats
            One value per position, or a single value for all of them.

        Returns
        -------
        JaxSegmentTree
            A tree of the same type; ``self`` is unchanged.

        Raises
        ------
        IndexError
            Outside ``jit``: a position outside ``[-capacity, capacity)``.
        TypeError
            If ``idx`` is not integer or ``values`` not numeric.
        ValueError
            If the shapes differ; outside ``jit``, a value the tree refuses (see the class
            notes). Inside ``jit`` such entries are skipped instead.

        Examples
        --------
        >>> from rlu_trees.jax import JaxMaxTree
        >>> tree = JaxMaxTree(5).set_values([0, 3, 3], [2.0, 9.0, 4.0])
        >>> tree.values.tolist()
        [2.0, -inf, -inf, 4.0, -inf]
        """
        self._one_tree("set_values")
        lay = self._layout
        dtype = self.dtype
        if idx is None or idx is Ellipsis:
            vals = _checks.check_value_array("values", values, n=self._capacity, dtype=dtype)
            if self._traced(vals):
                if _debug.enabled():
                    self._debug_check(jnp.arange(self._capacity), vals)
                return self._replace(_set_all(self._nodes, vals, lay, True))
            rule = self._reducer if self._nonneg else ""
            _checks.check_values("values", vals, reducer=rule)
            return self._checked(_set_all(self._nodes, vals, lay, False))
        index = _checks.check_index_array("idx", idx)
        vals = _checks.check_value_array("values", values, n=index.shape[0], dtype=dtype)
        if self._traced(index, vals):
            if _debug.enabled():
                self._debug_check(index, vals)
            return self._replace(_set_values(self._nodes, index, vals, lay, True))
        _checks.check_indices("idx", index, capacity=self._capacity)
        _checks.check_values("values", vals, reducer=self._reducer if self._nonneg else "")
        if index.shape[0] == 0:
            return self
        return self._checked(_set_values(self._nodes, index, vals, lay, False))

    def _debug_check(self, index: jax.Array, vals: jax.Array) -> None:
        name = type(self).__name__
        _debug.check_entries(name, self._capacity, self._nonneg, index, vals)

    def _checked(self: _T, nodes: jax.Array) -> _T:
        # concrete arguments inside a traced function still give a traced result: no check
        if self._nonneg and not _checks.is_traced(nodes) and not bool(jnp.isfinite(nodes[0])):
            raise ValueError(
                f"these values would make the total overflow {self.dtype}; "
                "use smaller values or dtype=float64"
            )
        return self._replace(nodes)

    def partial_reduce(self, start: Any = 0, stop: Any = None) -> jax.Array:
        """Reduce the values over ranges ``[start, stop)``, O(log N) per range.

        Same results as [`SegmentTree.partial_reduce`][rlu_trees.SegmentTree.partial_reduce] (bit
        for bit: the same order of operations).

        Parameters
        ----------
        start : int or 1-d array of ints, optional
            First position of each range, default 0; negative counts from the end.
        stop : int or 1-d array of ints, optional
            End of each range (exclusive), default ``capacity``. Broadcasts with ``start``.

        Returns
        -------
        jax.Array
            0-d when both bounds are scalars, else one result per range; an empty range
            gives ``init_value``.

        Raises
        ------
        TypeError
            If a bound is not integer.
        IndexError
            Outside ``jit``: a bound outside ``[-capacity, capacity]`` or ``start > stop``.
            Inside ``jit`` bounds are clipped and a backward range reduces to ``init_value``.

        Examples
        --------
        >>> from rlu_trees.jax import JaxMinTree
        >>> tree = JaxMinTree(8).set_values(..., [13, 7, 11, 17, 19, 5, 3, 23])
        >>> float(tree.partial_reduce(1, 5))
        7.0
        >>> tree.partial_reduce([0, 2, 7], [8, 4, 8]).tolist()
        [3.0, 11.0, 23.0]
        """
        self._one_tree("partial_reduce")
        cap = self._capacity
        scalar = np.ndim(start) == 0 and (stop is None or np.ndim(stop) == 0)
        starts = _checks.check_index_array("start", start)
        stops = _checks.check_index_array("stop", cap if stop is None else stop)
        starts, stops = jnp.broadcast_arrays(starts, stops)
        if not self._traced(starts, stops):
            for name, arr in (("start", starts), ("stop", stops)):
                _host_checks.check_bounds(name, np.atleast_1d(np.asarray(arr)), capacity=cap)
        starts = jnp.clip(jnp.where(starts < 0, starts + cap, starts), 0, cap)
        stops = jnp.clip(jnp.where(stops < 0, stops + cap, stops), 0, cap)
        if not self._traced(starts, stops):
            backwards = np.asarray(starts > stops)
            if backwards.any():
                k = int(np.argmax(backwards))
                raise IndexError(
                    f"range {k} runs backwards: start {int(starts[k])} > stop {int(stops[k])}"
                )
        stops = jnp.maximum(starts, stops)
        out = _partial_reduce(self._nodes, starts, stops, self._layout)
        result: jax.Array = out[0] if scalar else out
        return result

    # ------------------------------------------------------------------ host trees

    def to_host(self) -> Any:
        """A host tree (``rlu_trees.SegmentTree`` and kin) holding the same values.

        Returns
        -------
        rlu_trees.SegmentTree
            [`SumTree`][rlu_trees.SumTree], [`MinTree`][rlu_trees.MinTree],
            [`MaxTree`][rlu_trees.MaxTree] for the matching JAX trees, else a
            [`SegmentTree`][rlu_trees.SegmentTree]; same capacity and dtype. One O(N) transfer.

        Examples
        --------
        >>> from rlu_trees.jax import JaxSegmentTree
        >>> host = JaxSegmentTree(3, "max").set_values(..., [1.0, 5.0, 2.0]).to_host()
        >>> type(host).__name__, host.root_value
        ('SegmentTree', 5.0)
        """
        return self._to_host()

    def _to_host(self, **options: Any) -> SegmentTree:
        """`to_host`: the host twin (built with ``options``) or a ``SegmentTree``."""
        self._one_tree("to_host")
        twin = next((host for jax_cls, host in _TWINS if isinstance(self, jax_cls)), None)
        host: SegmentTree
        if twin is not None:
            host = twin(self._capacity, dtype=self.dtype, **options)
        else:
            reducer = self._reducer
            host = SegmentTree(
                self._capacity, _reducers.UFUNC[reducer], self.init_value, dtype=self.dtype
            )
        host.set_values(..., np.asarray(self.values))
        return host

    @classmethod
    def from_host(cls, tree: Any, *, dtype: npt.DTypeLike | None = None) -> JaxSegmentTree:
        """The JAX tree holding the same values as a host tree; O(N), no Python loop.

        Parameters
        ----------
        tree : rlu_trees.SegmentTree
            A host tree whose reducer is add, minimum or maximum with its identity as
            ``init_value``. A [`SumTree`][rlu_trees.SumTree] gives a
            [`JaxSumTree`][rlu_trees.jax.JaxSumTree], a [`MinTree`][rlu_trees.MinTree] a
            [`JaxMinTree`][rlu_trees.jax.JaxMinTree], a [`MaxTree`][rlu_trees.MaxTree] a
            [`JaxMaxTree`][rlu_trees.jax.JaxMaxTree], any other a
            [`JaxSegmentTree`][rlu_trees.jax.JaxSegmentTree].
        dtype : {None, numpy.float32, numpy.float64}, optional
            None keeps the host tree's dtype where JAX allows it (float64 needs 64-bit mode;
            without it the values are rounded to float32).

        Returns
        -------
        JaxSegmentTree

        Raises
        ------
        TypeError
            If ``tree`` is not a host segment tree.
        ValueError
            If its reducer is not add, minimum or maximum with the matching identity, or its
            values do not fit ``dtype`` (a value, or a sum tree's total, beyond its largest).

        Examples
        --------
        >>> from rlu_trees import SumTree
        >>> from rlu_trees.jax import JaxSegmentTree
        >>> host = SumTree(4)
        >>> host.set_values(..., [1.0, 2.0, 3.0, 4.0])
        >>> tree = JaxSegmentTree.from_host(host)
        >>> type(tree).__name__, float(tree.root_value)
        ('JaxSumTree', 10.0)
        """
        if not isinstance(tree, SegmentTree):
            raise TypeError(f"tree must be a rlu_trees.SegmentTree, got {type(tree).__name__}")
        if dtype is None:
            host_dtype = np.dtype(tree.dtype)
            dtype = host_dtype if _kernels.x64_enabled() else np.dtype(np.float32)
        new: JaxSegmentTree
        twin = next((jax_cls for jax_cls, host in _TWINS if isinstance(tree, host)), None)
        if twin is not None:
            new = twin(tree.capacity, dtype=dtype)
        else:
            reducer = _checks.check_reducer("reducer", tree.reducer)
            if tree.init_value != _reducers.IDENTITY[reducer]:
                raise ValueError(
                    f"tree's init_value {tree.init_value!r} is not the identity of {reducer}"
                )
            new = JaxSegmentTree(tree.capacity, reducer, dtype=dtype)
        values = np.asarray(tree.values)
        finite = values[np.isfinite(values)]
        largest = float(np.finfo(new.dtype).max)
        if finite.size and float(np.abs(finite).max()) > largest:
            raise ValueError(
                f"tree holds values up to {float(np.abs(finite).max())!r}, beyond what {new.dtype} "
                f"holds ({largest!r}); convert it with dtype=numpy.float64 (which needs "
                "JAX's 64-bit mode)"
            )
        # the checks of set_values: a sum whose total would overflow the dtype is refused too
        return new.set_values(..., values.astype(new.dtype))


@jax.tree_util.register_pytree_node_class
class JaxSumTree(JaxSegmentTree):
    r"""A functional sum tree: non-negative values and weighted sampling inside ``jax.jit``.

    The JAX twin of [`SumTree`][rlu_trees.SumTree] (see
    [`JaxSegmentTree`][rlu_trees.jax.JaxSegmentTree] for the pytree, the layout and what happens to
    bad input). ``sample(key, n)`` draws index ``i`` with probability ``values[i] / root_value``;
    every index returned lies in ``[0, capacity)`` and has a positive value, for any ``u`` in
    ``[0, 1]`` and any state reachable through the methods, in float32 as in float64. In 64-bit mode
    the results equal the host tree's exactly.

    Parameters
    ----------
    capacity : int
        Number of values, from 1 to ``2**30``.
    dtype : {None, numpy.float32, numpy.float64}, optional
        Storage type, keyword only (see [`JaxSegmentTree`][rlu_trees.jax.JaxSegmentTree]).

    Raises
    ------
    TypeError
        If ``capacity`` is not an int.
    ValueError
        If ``capacity`` is out of range or ``dtype`` is not allowed.

    Examples
    --------
    >>> import jax
    >>> from rlu_trees.jax import JaxSumTree
    >>> tree = JaxSumTree(8).set_values(..., [13, 7, 11, 17, 19, 5, 3, 23])
    >>> float(tree.root_value)
    98.0
    >>> tree.inverse_cdf([0.0, 13 / 98, 0.5, 1.0]).tolist()
    [0, 1, 4, 7]
    >>> @jax.jit
    ... def step(tree, key, priorities):
    ...     idx = tree.sample(key, 4, stratified=True)
    ...     return tree.set_values(idx, priorities), idx
    >>> tree, idx = step(tree, jax.random.key(0), jax.numpy.ones(4))
    >>> idx.shape
    (4,)
    """

    _nonneg = True

    def __init__(self, capacity: int, *, dtype: npt.DTypeLike | None = None) -> None:
        super().__init__(capacity, "add", dtype=dtype)

    def _require_mass(self) -> None:
        root = self._nodes[0]  # traced inside a traced function, even for a concrete tree
        if not _checks.is_traced(root) and not bool(root > 0):
            raise RuntimeError(
                "cannot sample from a JaxSumTree whose values are all zero (root_value == 0); "
                "set some positive values first"
            )

    def inverse_cdf(self, u: Any) -> jax.Array:
        r"""Map numbers ``u`` in ``[0, 1]`` to indices through the cumulative distribution.

        Index ``i`` for ``cumsum[i-1] <= u * total < cumsum[i]``; indices of value 0 are
        never returned (``u = 1`` gives the last positive index). Same rule and, in 64-bit
        mode, same results as [`SumTree.inverse_cdf`][rlu_trees.SumTree.inverse_cdf].

        Parameters
        ----------
        u : float or 1-d array of floats
            Numbers in ``[0, 1]``.

        Returns
        -------
        jax.Array
            int32 indices, 0-d for a scalar ``u``. With all values zero (possible only
            inside ``jit``) every index is ``capacity - 1``.

        Raises
        ------
        TypeError
            If ``u`` is not numeric.
        ValueError
            Outside ``jit``: ``u`` is not 0-d or 1-d or lies outside ``[0, 1]``.
        RuntimeError
            Outside ``jit``: all values are zero.

        Examples
        --------
        >>> from rlu_trees.jax import JaxSumTree
        >>> tree = JaxSumTree(3).set_values(..., [1.0, 0.0, 1.0])
        >>> int(tree.inverse_cdf(0.5))
        2
        >>> tree.inverse_cdf([0.0, 0.49, 1.0]).tolist()
        [0, 0, 2]
        """
        self._one_tree("inverse_cdf")
        acc = _accumulator_dtype(self.dtype)
        arr, scalar = _checks.check_unit_array("u", u, dtype=acc)
        self._require_mass()
        out = _inverse_cdf(self._nodes, arr, self._layout)
        result: jax.Array = out[0] if scalar else out
        return result

    def sample(self, key: jax.Array, n: int, stratified: bool = False) -> jax.Array:
        """Draw ``n`` indices, each with probability proportional to its value.

        Parameters
        ----------
        key : jax.Array
            A PRNG key (``jax.random.key`` or ``jax.random.PRNGKey``); split it yourself.
        n : int
            Number of draws (static), at least 1.
        stratified : bool, optional
            Cut the total into ``n`` equal slices and draw one index from each (the
            prioritized-replay scheme). Default False: independent draws.

        Returns
        -------
        jax.Array
            int32 indices of shape ``(n,)``, each in ``[0, capacity)`` with a positive value.

        Raises
        ------
        TypeError
            If ``n`` is not an int or ``stratified`` not a bool.
        ValueError
            If ``n < 1``.
        RuntimeError
            Outside ``jit``: all values are zero.

        Notes
        -----
        The draws are ``inverse_cdf(u)`` of ``u = jax.random.uniform(key, (n,))`` (in the
        accumulator's dtype: float64 in 64-bit mode), or ``(arange(n) + u) / n`` when
        stratified. For JAX's default Threefry keys the numbers are computed with the hash's
        rounds written out: bit for bit ``jax.random.uniform``'s, and faster on the CPU, where
        JAX lowers the hash as a loop.

        Examples
        --------
        >>> import jax
        >>> from rlu_trees.jax import JaxSumTree
        >>> tree = JaxSumTree(4).set_values(..., [0.0, 1.0, 0.0, 3.0])
        >>> sorted(set(tree.sample(jax.random.key(0), 100).tolist()))
        [1, 3]
        """
        n = _host_checks.check_int("n", n, minimum=1)
        stratified = _host_checks.check_bool("stratified", stratified)
        self._one_tree("sample")
        self._require_mass()
        acc = _accumulator_dtype(self.dtype)
        drawn: jax.Array = _sample(self._nodes, key, self._layout, n, stratified, acc)
        return drawn

    def to_host(self, random_seed: int | None = None) -> Any:
        """A [`SumTree`][rlu_trees.SumTree] holding the same values.

        See [`JaxSegmentTree.to_host`][rlu_trees.jax.JaxSegmentTree.to_host].

        Parameters
        ----------
        random_seed : int or None, optional
            Seed of the host tree's own random stream.

        Returns
        -------
        rlu_trees.SumTree

        Examples
        --------
        >>> from rlu_trees.jax import JaxSumTree
        >>> host = JaxSumTree(3).set_values(..., [1.0, 0.0, 2.0]).to_host(random_seed=0)
        >>> host.root_value
        3.0
        """
        return self._to_host(random_seed=random_seed)


@jax.tree_util.register_pytree_node_class
class JaxMinTree(JaxSegmentTree):
    """A [`JaxSegmentTree`][rlu_trees.jax.JaxSegmentTree] whose reducer is the minimum.

    Its identity is ``+inf``. The JAX twin of [`MinTree`][rlu_trees.MinTree], e.g. the smallest
    priority for the importance weights of prioritized replay.

    Parameters
    ----------
    capacity : int
        Number of values, from 1 to ``2**30``.
    dtype : {None, numpy.float32, numpy.float64}, optional
        Storage type, keyword only.

    Raises
    ------
    TypeError
        If ``capacity`` is not an int.
    ValueError
        If ``capacity`` is out of range or ``dtype`` is not allowed.

    Examples
    --------
    >>> from rlu_trees.jax import JaxMinTree
    >>> tree = JaxMinTree(4)
    >>> float(tree.root_value)
    inf
    >>> float(tree.set_values([1, 2], [0.5, 0.25]).root_value)
    0.25
    >>> JaxMinTree(2).set_values(..., [3.0, 2.0]).to_host().root_value  # a host MinTree
    2.0
    """

    def __init__(self, capacity: int, *, dtype: npt.DTypeLike | None = None) -> None:
        super().__init__(capacity, "min", dtype=dtype)


@jax.tree_util.register_pytree_node_class
class JaxMaxTree(JaxSegmentTree):
    """A [`JaxSegmentTree`][rlu_trees.jax.JaxSegmentTree] whose reducer is the maximum.

    Its identity is ``-inf``. The JAX twin of [`MaxTree`][rlu_trees.MaxTree], e.g. the largest
    priority, given to new transitions in prioritized replay.

    Parameters
    ----------
    capacity : int
        Number of values, from 1 to ``2**30``.
    dtype : {None, numpy.float32, numpy.float64}, optional
        Storage type, keyword only.

    Raises
    ------
    TypeError
        If ``capacity`` is not an int.
    ValueError
        If ``capacity`` is out of range or ``dtype`` is not allowed.

    Examples
    --------
    >>> from rlu_trees.jax import JaxMaxTree
    >>> tree = JaxMaxTree(4).set_values(..., [3.0, 1.0, 4.0, 1.5])
    >>> float(tree.root_value), float(tree.partial_reduce(-2))
    (4.0, 4.0)
    >>> JaxMaxTree(2).set_values(..., [3.0, 2.0]).to_host().root_value  # a host MaxTree
    3.0
    """

    def __init__(self, capacity: int, *, dtype: npt.DTypeLike | None = None) -> None:
        super().__init__(capacity, "max", dtype=dtype)


# the JAX trees that have a host twin, and the twin, written once: `to_host` builds the twin of
# a JAX tree, `from_host` the JAX twin of a host tree (the first match, so subclasses follow
# their base); any other tree pairs with a SegmentTree of the same reducer
_JaxTwin: TypeAlias = type[JaxSumTree] | type[JaxMinTree] | type[JaxMaxTree]
_HostTwin: TypeAlias = type[SumTree] | type[MinTree] | type[MaxTree]
_TWINS: tuple[tuple[_JaxTwin, _HostTwin], ...] = (
    (JaxSumTree, SumTree),
    (JaxMinTree, MinTree),
    (JaxMaxTree, MaxTree),
)
