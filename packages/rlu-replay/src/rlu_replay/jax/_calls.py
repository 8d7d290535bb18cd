"""On the CPU, a prioritized ``add``, ``sample`` and ``update_priorities`` as one custom call
each.

Why: XLA pays for every operation it runs. Inside a ``lax.scan`` each is a trip through XLA's
executor; in a jitted call from Python each costs more (about 2 µs on the 2-core benchmark
machine, more for operations XLA can run side by side, which it hands to another thread). An
add of one item was about ten operations (the slots, the row, the counters, and per tree a
clean-up of the entries and the tree's own custom call), an update of a batch of priorities
about seventeen (the stale check, the values, both trees, the largest priority), a draw about
ten (the descent, the rows, each leaf, the identifiers, the weights' ratios). ``_call_kernels``
does each in one call, with the batch packed into words, the trees' leaf values and the masses
to descend to prepared by XLA beforehand (one fusion). ``bench:jaxreplay`` measures the effect.

The calls are used where the trees' own compiled kernels are (``rlu_trees.jax.cpu_calls()``:
the CPU, a JAX that can make the calls, JAX's persistent cache not loading them wrongly), for
the common layout: every stored leaf packed into one uint32 row with the identifier last,
float32 or float64 trees (and largest priority, for an update), int32 or int64 counters, at
least one item kept, and the trees' debug checks off; a draw or an update of a batch of buffers
(``vmap``) takes XLA's operations, which spread the buffers over the cores. Everything else,
and other platforms (``lax.platform_dependent``), takes the XLA path, which is also the
derivative (a custom JVP) and the reference the tests compare with, bit for bit.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from rlu_trees.jax import _cpu, _debug, _manual
from rlu_trees.jax import _kernels as tree_kernels

from rlu_replay.jax import _blocks, _rows

_INTS = ("int32", "int64")
_NODES = ("float32", "float64")


def _fits(state: Any) -> bool:
    """Whether the kernels can read and write this prioritized state (decided when traced)."""
    lay = state._layout
    if len(lay.groups) != 1 or np.dtype(lay.groups[0][0]) != np.uint32:
        return False
    ident, width = lay.ident, lay.groups[0][1]
    if ident.words == 0 or ident.start + ident.width != width:
        return False
    if str(ident.dtype) not in _INTS or _debug.enabled():
        return False
    trees = (state.sums, state.mins)
    # one node dtype for both trees: the kernels read them, and their leaf values, as one
    if str(state.sums.dtype) not in _NODES or state.mins.dtype != state.sums.dtype:
        return False
    return all(_cpu._in_use(t.nodes, t._layout) for t in trees)


def adds(state: Any, keep: int) -> bool:
    """Whether an add that keeps ``keep`` items of this prioritized state takes the call."""
    return keep >= 1 and _fits(state)


def updates(state: Any) -> bool:
    """Whether ``update_priorities`` of this prioritized state takes the call (which writes
    the largest priority in the trees' dtype)."""
    return _fits(state) and state._max_dtype == state.sums.dtype


def _kernel_call(
    kind: str,
    ints: Any,
    axes: str,
    config: Callable[..., tuple[int, ...]],
    aliases: dict[int, int],
    results: Callable[..., tuple[Any, ...]] | None = None,
    masses: bool = False,
) -> Callable[..., Any]:
    """The custom call ``rlu_replay_<kind>_<dtype>_...`` on arguments with any leading batch
    axes (a batch of buffers: one call loops over them), named by the dtypes of the sums, of
    the identifiers and counters (``ints``) and, for a draw (``masses``), of the masses.

    Its arguments are the rows (with the counters in their tail), sums and mins, then the
    call's own; ``config`` makes its configuration from them; argument ``i`` is written over
    by output ``aliases[i]`` where ``results`` is None, else ``results`` gives the outputs'
    shapes; ``axes`` splits it over devices as the rows are (see
    ``rlu_trees.jax._cpu.partitioned``)."""

    def op(*args: Any) -> Any:
        entry: tuple[str, ...] = (kind, str(args[1].dtype), str(np.dtype(ints)))
        if masses:
            entry = (*entry, str(args[3].dtype))
        name = _cpu.register("rlu_replay_" + "_".join(entry), functools.partial(_compile, entry))
        if results is None:
            outs = tuple(
                _cpu.result_like(args[i]) for i in sorted(aliases, key=aliases.__getitem__)
            )
        else:
            outs = results(*args)
        return _cpu.call(name, outs, config(*args), *args, aliases=aliases or None)

    batched = jax.custom_batching.custom_vmap(_cpu.partitioned(op, axes))
    count = len(axes.split("->")[1].split(","))

    def rule(size: int, in_batched: list[bool], *args: Any) -> Any:
        return batched(*_cpu._rows_first(size, in_batched, args)), (True,) * count

    batched.def_vmap(rule)
    return batched


def _compile(entry: tuple[str, ...]) -> Any:
    from rlu_replay.jax import _call_kernels

    return _call_kernels.compile_kernel(entry)


def _trees(rows: jax.Array) -> int:
    """How many buffers a call's arguments hold."""
    return math.prod(rows.shape[:-2])


def _leaf_value(p: jax.Array, tree: Any) -> jax.Array:
    """``p`` as ``tree.set_values`` would store it inside ``jit``; NaN where it refuses it."""
    ok, value = tree_kernels.clean_values(p, tree._layout, True)
    return jnp.where(ok, value, jnp.nan)


def _state_of(aux: Any, arrays: tuple[Any, ...]) -> Any:
    """The prioritized state of static data ``aux`` whose arrays are ``(rows, sums, mins)``."""
    from rlu_replay.jax._state import PrioritizedReplayState

    rows, sums, mins = arrays
    return PrioritizedReplayState.tree_unflatten(aux, ((rows,), sums, mins))


def _arrays(state: Any) -> tuple[Any, ...]:
    return state.rows[0], state._sum_nodes, state._min_nodes


def _shape(aux: Any, rows: jax.Array) -> tuple[int, int]:
    """The capacity and the words per row of a state of static data ``aux``."""
    return aux[0], rows.shape[-1]


def _one_buffer(
    compiled: Callable[..., Any], reference: Callable[..., Any], outputs: int
) -> Callable[..., Any]:
    """``compiled``, whose ``vmap`` (a batch of buffers) is ``reference``'s: XLA's operations
    spread the buffers over the cores, where the call would walk them one after the other on
    one thread (bench:jaxreplay's 64 vmapped buffers measured the update's call slower, 0.58 to
    0.76 of flashbax against 0.41 to 0.50)."""
    op = jax.custom_batching.custom_vmap(compiled)

    @op.def_vmap
    def rule(size: int, in_batched: list[bool], *arrays: Any) -> Any:
        axes = tuple(0 if batched else None for batched in in_batched)
        return jax.vmap(reference, in_axes=axes)(*arrays), (True,) * outputs

    return op


def _either(reference: Callable[..., Any], compiled: Callable[..., Any]) -> Callable[..., Any]:
    """``compiled`` in programs for the CPU, ``reference`` elsewhere and for derivatives."""

    @jax.custom_jvp
    def op(*arrays: Any) -> Any:
        return lax.platform_dependent(*arrays, cpu=compiled, default=reference)

    @op.defjvp
    def jvp(primals: Any, tangents: Any) -> Any:
        return op(*primals), jax.jvp(reference, primals, tangents)[1]

    return op


@functools.cache
def _add_op(aux: Any, batch: int, xla_add: Callable[..., Any]) -> Callable[..., Any]:
    """``(rows, sums, mins, *kept leaves) -> (rows, sums, mins)`` of an add of ``batch`` items
    to a prioritized state of static data ``aux``."""
    from rlu_replay.jax._state import _new_value

    def reference(*arrays: Any) -> Any:
        new = xla_add(_state_of(aux, arrays[:3]), list(arrays[3:]), batch)
        # inside shard_map both branches' results vary over every axis an argument does (the
        # branches of platform_dependent must have the same types)
        return _manual.vary_like(_arrays(new), *arrays)

    def config(rows: Any, sums: Any, mins: Any, words: Any) -> Any:
        cap, width = _shape(aux, rows)
        block = _blocks.width(sums.dtype)
        keep = min(batch, cap)
        return (_trees(rows), cap, width, keep, batch, sums.shape[-1], mins.shape[-1], block)

    # rows, sums, mins, words -> rows, sums, mins
    axes = "...c w, ...s, ...b, ...v -> ...c w, ...s, ...b"
    ints = aux[1].ident.dtype
    call = _kernel_call("add", ints, axes, config, {0: 0, 1: 1, 2: 2})

    def compiled(*arrays: Any) -> Any:
        state = _state_of(aux, arrays[:3])
        kept = list(arrays[3:])
        lead = state.rows[0].shape[:-2]
        ids = jnp.zeros(kept[0].shape[: len(lead) + 1], ints)
        words = _rows.pack(state._layout, kept, ids)[0][..., : state._layout.ident.start]
        # the new items' leaf value goes after their words, as words: one operation makes
        # both (two side by side cost more than one, when called from Python)
        value = _leaf_value(_new_value(state, state.max_base), state.sums)
        bits = lax.bitcast_convert_type(value, jnp.uint32).reshape(*lead, -1)
        words = jnp.concatenate([words.reshape(*lead, -1), bits], -1)
        return _manual.vary_like(call(*_arrays(state), words), *arrays)

    return _either(reference, compiled)


def add(state: Any, kept: list[jax.Array], batch: int, xla_add: Callable[..., Any]) -> Any:
    """The state after adding ``batch`` items, of which ``kept`` are the last ``min(batch,
    capacity)`` (cast to the stored dtypes), through the custom call (see `adds`)."""
    arrays = _add_op(state._aux, batch, xla_add)(*_arrays(state), *kept)
    return _state_of(state._aux, arrays)


@functools.cache
def _update_op(aux: Any, xla_update: Callable[..., Any]) -> Callable[..., Any]:
    """``(rows, sums, mins, ids, priorities) -> (rows, sums, mins)`` of
    ``update_priorities`` of a prioritized state of static data ``aux`` (the rows' tail
    holds the largest priority)."""
    from rlu_replay.jax._state import _new_values

    def reference(*arrays: Any) -> Any:
        new = xla_update(_state_of(aux, arrays[:3]), *arrays[3:])
        return _manual.vary_like(_arrays(new), *arrays)

    def config(rows: Any, sums: Any, mins: Any, *rest: Any) -> Any:
        cap, width = _shape(aux, rows)
        n = rest[0].shape[-1]
        block = _blocks.width(sums.dtype)
        return (_trees(rows), cap, width, n, sums.shape[-1], mins.shape[-1], block)

    # rows, sums, mins, ids, values -> rows, sums, mins
    axes = "...c w, ...s, ...b, ...n, ...v n -> ...c w, ...s, ...b"
    call = _kernel_call("update", aux[1].ident.dtype, axes, config, {0: 0, 1: 1, 2: 2})

    def compiled(*arrays: Any) -> Any:
        state = _state_of(aux, arrays[:3])
        ids, given = arrays[3:]
        good, base, p = _new_values(state, given)
        # per item its leaf value, NaN for none (a bad priority), and its base priority
        values = jnp.stack([jnp.where(good, _leaf_value(p, state.sums), jnp.nan), base], -2)
        return _manual.vary_like(call(*_arrays(state), ids, values), *arrays)

    return _either(reference, _one_buffer(compiled, reference, 3))


def update(state: Any, ids: jax.Array, given: jax.Array, xla_update: Callable[..., Any]) -> Any:
    """The state after ``update_priorities`` of identifiers ``ids`` (in the counters' dtype)
    with priorities ``given`` (one per identifier, in the trees' dtype), through the custom
    call (see `updates`)."""
    arrays = _update_op(state._aux, xla_update)(*_arrays(state), ids, given)
    return _state_of(state._aux, arrays)


@functools.cache
def _sample_op(aux: Any, xla_draw: Callable[..., Any]) -> Callable[..., Any]:
    """``(rows, sums, mins, x, columns) -> (*leaves, ids, ratios)``: the items at the
    masses ``x`` of a prioritized state of static data ``aux``, their identifiers and weights'
    ratios (see ``xla_draw``); ``columns``, per leaf its first word and its words, tells the
    kernel where the leaves are (each buffer's row of them the same)."""
    lay = aux[1]
    columns = lay.columns

    def reference(*arrays: Any) -> Any:
        rows, sums, mins, x, _ = arrays
        batch, ids, ratios = xla_draw(_state_of(aux, (rows, sums, mins)), x)
        out = (*jax.tree_util.tree_leaves(batch), ids, ratios)
        return _manual.vary_like(out, *arrays)

    def config(rows: Any, sums: Any, mins: Any, x: Any, _: Any) -> Any:
        cap, width = _shape(aux, rows)
        n = x.shape[-1]
        return (_trees(rows), cap, width, n, sums.shape[-1], mins.shape[-1], len(columns))

    def results(rows: Any, sums: Any, mins: Any, x: Any, _: Any) -> tuple[Any, ...]:
        leaves = tuple(_cpu.result_like(x, c.dtype, c.shape) for c in columns)
        return (*leaves, _cpu.result_like(x, ints), _cpu.result_like(x, sums.dtype))

    # the leaves' own axes, named apart
    leaves = [
        " ".join(["...n", *(f"l{j}d{d}" for d in range(len(c.shape)))])
        for j, c in enumerate(columns)
    ]
    axes = "...c w, ...s, ...b, ...n, ...t -> " + ", ".join([*leaves, "...n", "...n"])
    ints = lay.ident.dtype
    call = _kernel_call("sample", ints, axes, config, {}, results, masses=True)

    def compiled(*arrays: Any) -> Any:
        return _manual.vary_like(call(*arrays), *arrays)

    return _either(reference, _one_buffer(compiled, reference, len(columns) + 2))


def samples(state: Any) -> bool:
    """Whether ``sample`` of this prioritized state takes the call."""
    return _fits(state)


def sample(
    state: Any, x: jax.Array, xla_draw: Callable[..., Any]
) -> tuple[Any, jax.Array, jax.Array]:
    """``xla_draw(state, x)`` through the custom call (see `samples`): the items at the
    masses ``x``, their identifiers and the weights' ratios ``p_min / p``."""
    columns = np.array([(c.start, c.width) for c in state._layout.columns], np.int32)
    table = jnp.broadcast_to(columns.reshape(-1), (*state.rows[0].shape[:-2], columns.size))
    *leaves, ids, ratios = _sample_op(state._aux, xla_draw)(*_arrays(state), x, table)
    return jax.tree_util.tree_unflatten(state._layout.treedef, leaves), ids, ratios
