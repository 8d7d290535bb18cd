"""On the CPU, a prioritized ``add`` as one custom call into compiled code.

Why: inside a ``lax.scan`` every XLA operation costs a trip through XLA's executor, and an add
of one item was about ten of them (the slots, the row, the counters, and per tree a clean-up
of the entries and the tree's own custom call). ``_add_kernels`` does the whole add in one
call, with the batch packed into words and the trees' leaf values prepared by XLA beforehand
(one fusion each). ``bench:jaxreplay`` measures the effect (adds in a scan).

The call is used where the trees' own compiled kernels are (``rlu_trees.jax.cpu_calls()``:
the CPU, a JAX that can make the calls, JAX's persistent cache not loading them wrongly), for
the common layout: every stored leaf packed into one uint32 row with the identifier last,
float32 or float64 trees, int32 or int64 counters, at least one item kept, and the trees'
debug checks off. Everything else, and other platforms (``lax.platform_dependent``), takes the
XLA path, which is also the derivative (a custom JVP) and the reference the tests compare
with, bit for bit.
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


def applies(state: Any, keep: int) -> bool:
    """Whether an add that keeps ``keep`` items of this prioritized state takes the call
    (decided when traced)."""
    lay = state._layout
    if keep < 1 or len(lay.groups) != 1 or np.dtype(lay.groups[0][0]) != np.uint32:
        return False
    ident, width = lay.ident, lay.groups[0][1]
    if ident.words == 0 or ident.start + ident.width != width:
        return False
    if str(state.counters.dtype) not in _INTS or _debug.enabled():
        return False
    trees = (state.sums, state.mins)
    # one node dtype for both trees: the kernel reads them, and their leaf values, as one
    if str(state.sums.dtype) not in _NODES or state.mins.dtype != state.sums.dtype:
        return False
    return all(_cpu._in_use(t.nodes, t._layout) for t in trees)


def _call(batch: int) -> Callable[..., Any]:
    """The custom call for adds of ``batch`` items given, any leading batch axes."""

    def op(rows: Any, counters: Any, sums: Any, mins: Any, words: Any, values: Any) -> Any:
        trees = math.prod(counters.shape[:-1])
        cap, width = rows.shape[-2:]
        entry = (str(sums.dtype), str(counters.dtype))
        name = _cpu.register(
            "rlu_replay_add_" + "_".join(entry), functools.partial(_compile, entry)
        )
        outs = tuple(_cpu.result_like(a) for a in (rows, counters, sums, mins))
        block = _blocks.width(sums.dtype)
        config = (trees, cap, width, words.shape[-2], batch, sums.shape[-1], mins.shape[-1], block)
        args = (rows, counters, sums, mins, words, values)
        return _cpu.call(name, outs, config, *args, aliases={0: 0, 1: 1, 2: 2, 3: 3})

    # rows, counters, sums, mins, words, values -> rows, counters, sums, mins; the batch axes
    # (a batch of buffers) split over devices as the rows' are
    axes = "...c w, ...k, ...s, ...b, ...m v, ...t -> ...c w, ...k, ...s, ...b"
    batched = jax.custom_batching.custom_vmap(_cpu.partitioned(op, axes))

    def rule(size: int, in_batched: list[bool], *args: Any) -> Any:
        return batched(*_cpu._rows_first(size, in_batched, args)), (True,) * 4

    batched.def_vmap(rule)
    return batched


def _compile(entry: tuple[str, str]) -> Any:
    from rlu_replay.jax import _add_kernels

    return _add_kernels.compile_kernel(entry)


def _leaf_value(p: jax.Array, tree: Any) -> jax.Array:
    """``p`` as ``tree.set_values`` would store it inside ``jit``; NaN where it refuses it."""
    ok, value = tree_kernels.clean_values(p, tree._layout, True)
    return jnp.where(ok, value, jnp.nan)


@functools.cache
def _add_op(aux: Any, batch: int, xla_add: Callable[..., Any]) -> Callable[..., Any]:
    """``(rows, counters, sums, mins, max_base, *kept leaves) -> (rows, counters, sums,
    mins)`` of an add of ``batch`` items to a prioritized state of static data ``aux``: the
    custom call on the CPU, ``xla_add`` elsewhere and for derivatives."""

    from rlu_replay.jax._state import PrioritizedReplayState

    def state_of(arrays: tuple[Any, ...]) -> Any:
        rows, counters, sums, mins, max_base = arrays
        return PrioritizedReplayState.tree_unflatten(aux, ((rows,), counters, sums, mins, max_base))

    def reference(*arrays: Any) -> Any:
        new = xla_add(state_of(arrays[:5]), list(arrays[5:]), batch)
        out = new.rows[0], new.counters, new._sum_nodes, new._min_nodes
        # inside shard_map both branches' results vary over every axis an argument does (the
        # branches of platform_dependent must have the same types)
        return _manual.vary_like(out, *arrays)

    call = _call(batch)

    def compiled(*arrays: Any) -> Any:
        from rlu_replay.jax._state import _clamp_limit

        state = state_of(arrays[:5])
        kept = list(arrays[5:])
        p = jnp.minimum(state.max_base**state.alpha, _clamp_limit(state.sums))
        p = p.astype(state.sums.dtype)  # as the XLA path's jnp.full(keep, p, sums.dtype)
        values = _leaf_value(p, state.sums)[..., None]
        ids = jnp.zeros(kept[0].shape[: state.counters.ndim], state.counters.dtype)
        words = _rows.pack(state._layout, kept, ids)[0][..., : state._layout.ident.start]
        args = (state.rows[0], state.counters, state._sum_nodes, state._min_nodes, words, values)
        return _manual.vary_like(call(*args), *arrays)  # as `reference`'s

    @jax.custom_jvp
    def add(*arrays: Any) -> Any:
        return lax.platform_dependent(*arrays, cpu=compiled, default=reference)

    @add.defjvp
    def jvp(primals: Any, tangents: Any) -> Any:
        return add(*primals), jax.jvp(reference, primals, tangents)[1]

    return add


def add(state: Any, kept: list[jax.Array], batch: int, xla_add: Callable[..., Any]) -> Any:
    """The state after adding ``batch`` items, of which ``kept`` are the last ``min(batch,
    capacity)`` (cast to the stored dtypes), through the custom call (see `applies`)."""
    op = _add_op(state._aux, batch, xla_add)
    rows, counters, sums, mins = op(
        state.rows[0], state.counters, state._sum_nodes, state._min_nodes, state.max_base, *kept
    )
    return state.tree_unflatten(state._aux, ((rows,), counters, sums, mins, state.max_base))
