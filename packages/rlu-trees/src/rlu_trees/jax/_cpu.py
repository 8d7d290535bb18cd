"""On the CPU, the descent and the update run as one custom call each into compiled code.

Why: on the CPU, XLA pays for every operation it runs (a thread hand-off, a loop trip), and a
step of ``B`` lookups and ``B`` updates through the XLA kernels of ``_kernels`` is about a
hundred operations on a few thousand numbers. The host trees' numba kernels do the same work
in one call each: ``benchmarks/bench_jaxtrees.py`` measured the step at N = 2^20, B = 256 go
from about 41 to about 12-16 microseconds inside a ``scan``. Other platforms (GPU, TPU) take
the XLA kernels with every level unrolled (``_kernels``, ``unroll=True``):
``lax.platform_dependent`` chooses when the program is lowered.

The custom calls use XLA's CPU custom-call ABI with an opaque configuration (see
``_cpu_kernels``), registered through ``jax.ffi`` the first time a program is lowered for the
CPU. The update's output aliases the node array, so donated trees and ``scan`` carries are
updated in place. A batch of trees (``vmap``) is one call that loops over the trees; a batch of
targets on one tree is one call on that tree. Differentiating through the calls takes the XLA
kernels' derivatives (a custom JVP).

The XLA kernels' level loops serve the CPU when the custom calls cannot be used:
a JAX whose ``jax.ffi`` cannot make legacy custom calls (before 0.4.36), a probe call that does
not give the expected result, a machine whose default backend is an accelerator, node dtypes
other than float32 and float64, or the environment variable ``RLU_TREES_JAX_CPU_CALLS=0``
(read at import; e.g. for ``jax.export``, which refuses custom calls). Results are the same in
64-bit mode and the guarantees the same everywhere; the two XLA lowerings give the same bits.
JAX 0.5.1 to 0.10.1 load programs holding the custom calls from their persistent compilation
cache wrongly (the call's output is left unwritten): there, while that cache is on
(``jax_compilation_cache_dir`` set), programs traced take the XLA kernels on the CPU too
(``cache_loads_wrongly``; a tree's static layout says so, so that turning the cache on traces
its operations afresh).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import itertools
import math
import os
import secrets
import threading
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from rlu_trees._reducers import CODE
from rlu_trees.jax import _kernels, _manual

# XLA's API_VERSION_STATUS_RETURNING_UNIFIED: the kernel receives the opaque configuration
_API_VERSION = 3

# False: the XLA kernels on the CPU too. Read at import; a tree takes its value when it is made
# and keeps it in its static data, so that it is part of every jit cache key (tests set it)
ENABLED = os.environ.get("RLU_TREES_JAX_CPU_CALLS", "1").strip() != "0"

# node dtypes the compiled kernels exist for
_DTYPES = ("float32", "float64")


def _ffi() -> Any:
    """``jax.ffi`` (or ``jax.extend.ffi``) when it can call legacy custom calls, else None."""
    module: Any = getattr(jax, "ffi", None)
    if module is None:
        try:
            module = importlib.import_module("jax.extend.ffi")
        except ImportError:
            return None
    try:
        params = inspect.signature(module.ffi_call).parameters
    except (AttributeError, TypeError, ValueError):
        return None
    if "legacy_backend_config" not in params or "custom_call_api_version" not in params:
        return None
    return module


_LOCK = threading.Lock()  # XLA refuses a second registration of a name: register once
_REGISTERED: set[str] = set()
_KEEP_ALIVE: list[Any] = []  # the compiled kernels XLA holds pointers to


def register(name: str, compile_kernel: Callable[[], Any]) -> str:
    """Register the C callable ``compile_kernel()`` makes (a numba ``cfunc`` of the CPU
    custom-call ABI, see ``_cpu_kernels``) with XLA as the custom call ``name``, once per
    process; returns ``name``. Also used by rlu-replay's kernels (private to the rlu
    distributions: rlu-replay pins rlu-trees' minor version)."""
    with _LOCK:
        if name not in _REGISTERED:
            import ctypes

            kernel = compile_kernel()
            new_capsule = ctypes.pythonapi.PyCapsule_New
            new_capsule.restype = ctypes.py_object
            new_capsule.argtypes = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)
            capsule = new_capsule(kernel.address, b"xla._CUSTOM_CALL_TARGET", None)
            _ffi().register_ffi_target(name, capsule, platform="cpu", api_version=0)
            _KEEP_ALIVE.append(kernel)
            _REGISTERED.add(name)
        return name


def _target(entry: tuple[str, ...]) -> str:
    """Compile the kernel ``entry`` of ``_cpu_kernels`` and register it with XLA; its name."""

    def compile_kernel() -> Any:
        from rlu_trees.jax import _cpu_kernels

        return _cpu_kernels.compile_kernel(entry)

    return register("rlu_trees_" + "_".join(entry), compile_kernel)


def config(*words: int) -> str:
    """The ``opaque`` configuration a kernel reads: decimal numbers separated by commas."""
    return ",".join(str(int(w)) for w in words)


# JAX 0.5.1 to 0.10.1 load a program holding these custom calls from the persistent compilation
# cache wrongly (the call's output is left unwritten; tests/test_trees_jax_compilation_cache.py).
_CACHE_LOADS_WRONG = (0, 5, 1) <= jax.__version_info__ < (0, 10, 2)
# There each call's configuration also ends with a word of this process (after the numbers a
# kernel reads, which it ignores): a program written to the cache by another process is never
# found. It does not keep a process from finding its own: JAX reuses the traces of the trees' jitted
# operations, words included, in every program that holds them. So while the cache is on, the
# custom calls are not used at all there (`cache_loads_wrongly`).
_PROCESS = secrets.randbits(48)
_LOWERINGS = itertools.count()


def _uncached() -> str:
    """The word ending a call's configuration: empty, or one of this process and this trace
    where JAX's persistent cache loads the calls wrongly."""
    return f",{_PROCESS}{next(_LOWERINGS):08d}" if _CACHE_LOADS_WRONG else ""


def cache_loads_wrongly() -> bool:
    """Whether JAX's persistent compilation cache is on in a JAX that loads programs holding
    the custom calls from it wrongly (0.5.1 to 0.10.1): then the XLA kernels serve the CPU."""
    if not _CACHE_LOADS_WRONG:
        return False
    folder = getattr(jax.config, "jax_compilation_cache_dir", None)
    return bool(folder) and bool(getattr(jax.config, "jax_enable_compilation_cache", True))


def call(
    name: str,
    result: Any,
    words: tuple[int, ...],
    *args: jax.Array,
    aliases: dict[int, int] | None = None,
) -> Any:
    """Call the registered custom call ``name`` on ``args``: its configuration is ``words``
    (and, where JAX's persistent cache loads the calls wrongly, the word of `_uncached`),
    ``result`` its output shape(s), ``aliases`` the inputs its outputs are written over. Also
    used by rlu-replay's compiled add."""
    op = _ffi().ffi_call(
        name,
        result,
        custom_call_api_version=_API_VERSION,
        legacy_backend_config=config(*words) + _uncached(),
        input_output_aliases=aliases,
    )
    return op(*args)


def result_like(like: jax.Array, dtype: Any = None, trailing: tuple[int, ...] = ()) -> Any:
    """The shape, dtype and sharding of a custom call's result shaped as ``like``, with axes
    ``trailing`` after its own (not split).

    The sharding matters under an explicit-axis mesh (``jax.set_mesh`` with
    ``AxisType.Explicit``), where every value's type holds its sharding: a result typed with
    none is replicated, and JAX gathers the whole batch of trees onto every device to make it
    so. Elsewhere the sharding is the context mesh's empty one, as without it. Also used by
    rlu-replay's compiled calls.
    """
    dtype = like.dtype if dtype is None else dtype
    shape = (*like.shape, *trailing)
    typeof = getattr(jax, "typeof", None)  # absent from older JAX, which has no such types
    sharding = getattr(typeof(like), "sharding", None) if typeof is not None else None
    if sharding is None or not getattr(sharding.mesh, "axis_names", ()):
        return jax.ShapeDtypeStruct(shape, dtype)  # type: ignore[no-untyped-call]  # jax's
    if trailing:
        from jax.sharding import NamedSharding, PartitionSpec

        spec = PartitionSpec(*sharding.spec, *(None,) * (len(shape) - len(sharding.spec)))  # type: ignore[no-untyped-call]
        sharding = NamedSharding(sharding.mesh, spec)
    return jax.ShapeDtypeStruct(shape, dtype, sharding=sharding)  # type: ignore[no-untyped-call]


def _call(
    entry: tuple[str, ...],
    result: jax.ShapeDtypeStruct,
    words: tuple[int, ...],
    *args: jax.Array,
    alias: bool = False,
) -> jax.Array:
    out: jax.Array = call(_target(entry), result, words, *args, aliases={0: 0} if alias else None)
    return out


def _check_rows(nodes: jax.Array, *rows: jax.Array) -> None:
    """The shapes the kernels rely on: every argument has one row per tree (checked when traced;
    a mismatch would be a memory error). That ``nodes`` has ``lay.size`` nodes per tree is
    checked where the array enters, in ``_trees``."""
    for row in rows:
        if row.shape[:-1] != nodes.shape[:-1]:
            raise ValueError(f"arguments of shape {row.shape} do not match trees {nodes.shape}")


def partitioned(op: Callable[..., Any], rule: str) -> Callable[..., Any]:
    """``op`` split over devices by its batch axes: in a program for several devices (a
    sharded ``jit``), each device calls ``op`` on its own part of the batch.

    ``op``'s arguments and results have leading batch axes (a batch of trees or buffers, each
    independent of the others) before the axes it works on; ``rule`` names those (Shardy's
    einsum-like notation, the batch axes as ``...``: ``"...s, ...n -> ...n"``). Without a rule
    XLA cannot split a custom call, and gathers every argument whole onto every device before
    it. Here the batch axes keep the sharding of the first argument's, and the other axes are
    gathered (a single tree split along its nodes still is). On one device JAX inlines ``op``,
    and inside ``shard_map`` (whose body runs per device) ``op`` is called as it is: nothing
    changes there.
    """
    from jax.experimental.custom_partitioning import custom_partitioning
    from jax.sharding import NamedSharding, PartitionSpec

    operands, results = (side.split(",") for side in rule.split("->"))
    ranks = [len(part.replace("...", "").split()) for part in operands]
    out_ranks = [len(part.replace("...", "").split()) for part in results]

    def batch_spec(arg_shapes: Any) -> tuple[Any, ...]:
        """The first argument's sharding of its batch axes (None: not split)."""
        first = arg_shapes[0]
        batch = len(first.shape) - ranks[0]
        sharding = first.sharding
        if not isinstance(sharding, NamedSharding) or batch == 0:
            return (None,) * batch
        spec = tuple(sharding.spec) + (None,) * len(first.shape)
        return spec[:batch]

    def shardings(mesh: Any, spec: tuple[Any, ...], base: list[int]) -> list[Any]:
        specs = [PartitionSpec(*spec, *(None,) * r) for r in base]  # type: ignore[no-untyped-call]
        return [NamedSharding(mesh, s) for s in specs]

    def infer(mesh: Any, arg_shapes: Any, result_shape: Any) -> Any:
        out = shardings(mesh, batch_spec(arg_shapes), out_ranks)
        return tuple(out) if isinstance(result_shape, (tuple, list)) else out[0]

    def partition(mesh: Any, arg_shapes: Any, result_shape: Any) -> Any:
        spec = batch_spec(arg_shapes)
        return mesh, op, infer(mesh, arg_shapes, result_shape), tuple(shardings(mesh, spec, ranks))

    split = custom_partitioning(op)  # type: ignore[no-untyped-call]  # jax: unannotated
    # every axis but the batch axes, in the order they first appear (Shardy wants it so)
    named = rule.replace("...", " ").replace(",", " ").split()
    factors = tuple(dict.fromkeys(f for f in named if f != "->"))
    # what this JAX's def_partition takes: Shardy's rule from 0.5.0, the factors that must stay
    # whole from 0.7.2 (Shardy is the default from 0.7.0: a rule is needed there), else
    # GSPMD's callbacks alone
    takes = inspect.signature(split.def_partition).parameters
    options: dict[str, Any] = {}
    if "sharding_rule" in takes:
        options["sharding_rule"] = rule
        if "need_replication_factors" in takes:
            options["need_replication_factors"] = factors
    define = split.def_partition
    define(partition, infer_sharding_from_operands=infer, **options)  # type: ignore[no-untyped-call]

    def call(*args: Any) -> Any:
        # inside shard_map the body runs per device already: custom_partitioning would be
        # inlined where every mesh axis is manual, and where only some are it makes XLA abort
        return op(*args) if _in_shard_map() else split(*args)

    return call


def _in_shard_map() -> bool:
    """Whether a shard_map's body is being traced now (some mesh axis is manual)."""
    get: Callable[[], Any] | None = getattr(jax.sharding, "get_abstract_mesh", None)
    if get is None:
        try:  # JAX 0.5 to 0.7 keep it private
            from jax._src.mesh import get_abstract_mesh as private
        except ImportError:  # older JAX: no abstract mesh, and no partitioning rules either
            return False
        get = private
    return bool(getattr(get(), "manual_axes", ()))


def _rows_first(size: int, batched: list[bool], args: tuple[jax.Array, ...]) -> list[jax.Array]:
    """The arguments of a vmap rule, the unbatched ones broadcast to ``size`` rows."""
    return [
        a if b else jnp.broadcast_to(a, (size, *a.shape))
        for a, b in zip(args, batched, strict=True)
    ]


@functools.cache
def _descend_op(lay: _kernels.Layout) -> Callable[[jax.Array, jax.Array], jax.Array]:
    def op(nodes: jax.Array, x: jax.Array) -> jax.Array:
        _check_rows(nodes, x)
        trees = math.prod(nodes.shape[:-1])
        entry = ("descend", str(nodes.dtype), str(x.dtype))
        result = result_like(x, jnp.int32)
        return _call(entry, result, (trees, lay.size, x.shape[-1], lay.capacity), nodes, x)

    batched_op = jax.custom_batching.custom_vmap(partitioned(op, "...s, ...n -> ...n"))

    def rule(size: int, batched: list[bool], nodes: jax.Array, x: jax.Array) -> Any:
        if not batched[0]:  # one tree, a batch of targets: one call, no copy of the tree
            moved = jnp.moveaxis(x, 0, -2)  # (*trees, size, n)
            flat = moved.reshape((*moved.shape[:-2], -1))
            leaf = batched_op(nodes, flat).reshape(moved.shape)
            return jnp.moveaxis(leaf, -2, 0), True
        return batched_op(*_rows_first(size, batched, (nodes, x))), True

    batched_op.def_vmap(rule)

    @jax.custom_jvp
    def differentiable(nodes: jax.Array, x: jax.Array) -> jax.Array:
        # inside shard_map the result varies where the arguments do, as the XLA kernels' does
        leaf: jax.Array = _manual.vary_like(batched_op(nodes, x), nodes, x)
        return leaf

    @differentiable.defjvp
    def jvp(primals: Any, tangents: Any) -> Any:
        leaf = differentiable(*primals)
        return leaf, np.zeros(leaf.shape, jax.dtypes.float0)  # integer output: no tangent

    return differentiable


@functools.cache
def _set_op(
    lay: _kernels.Layout, clamp: bool
) -> Callable[[jax.Array, jax.Array, jax.Array], jax.Array]:
    def op(nodes: jax.Array, leaf: jax.Array, values: jax.Array) -> jax.Array:
        _check_rows(nodes, leaf, values)
        trees = math.prod(nodes.shape[:-1])
        words = (trees, lay.size, leaf.shape[-1], CODE[lay.reducer])
        result = result_like(nodes)
        return _call(("set", str(nodes.dtype)), result, words, nodes, leaf, values, alias=True)

    batched_op = jax.custom_batching.custom_vmap(partitioned(op, "...s, ...n, ...n -> ...s"))

    def rule(size: int, batched: list[bool], *args: jax.Array) -> Any:
        return batched_op(*_rows_first(size, batched, args)), True

    batched_op.def_vmap(rule)

    @jax.custom_jvp
    def differentiable(nodes: jax.Array, idx: jax.Array, values: jax.Array) -> jax.Array:
        leaf, values = _kernels.clean_entries(idx, values.astype(nodes.dtype), lay, clamp)
        new: jax.Array = _manual.vary_like(batched_op(nodes, leaf, values), nodes, leaf, values)
        return new

    @differentiable.defjvp
    def jvp(primals: Any, tangents: Any) -> Any:
        # the XLA kernels' derivative: the same function of the same inputs
        xla = functools.partial(_kernels.set_values, lay=lay, clamp=clamp)
        return differentiable(*primals), jax.jvp(xla, primals, tangents)[1]

    return differentiable


class CpuCalls(NamedTuple):
    """Whether the compiled CPU kernels serve the JAX trees here, and why (not).

    Attributes
    ----------
    active : bool
        True when programs lowered for the CPU now take the compiled kernels.
    reason : str
        Why, in words.
    """

    active: bool
    reason: str


@functools.cache
def _probe() -> CpuCalls:
    """Register, compile and run the custom calls once: whether they give the right answer."""
    if _ffi() is None or not hasattr(lax, "platform_dependent"):
        return CpuCalls(
            False, f"jax {jax.__version__} cannot make legacy custom calls (0.4.36 or later can)"
        )
    try:
        cpu = jax.devices("cpu")[0]
        lay = _kernels.layout(3, "add", True)
        f32 = jnp.float32
        # the first call may come while a program is traced: evaluate, do not stage
        with (
            jax.ensure_compile_time_eval(),
            jax.default_device(cpu),
            jax.transfer_guard("allow"),
        ):
            nodes = _kernels.build(jnp.array([1.0, 0.0, 2.0, 0.0], f32), lay)
            nodes = jax.jit(_set_op(lay, False))(nodes, jnp.array([1]), jnp.ones(1, f32))
            leaf = jax.jit(_descend_op(lay))(nodes, jnp.array([0.5, 1.5, 2.5, 4.0], f32))
            ok = np.asarray(nodes).tolist() == [4.0, 2.0, 2.0, 1.0, 1.0, 2.0, 0.0]
            ok = ok and bool(np.asarray(leaf).tolist() == [0, 1, 2, 2])
            reason = "" if ok else "the probe's custom calls gave wrong results"
    except Exception as exc:  # any failure: the XLA kernels serve every platform
        reason = f"the probe's custom calls failed: {type(exc).__name__}: {exc}".splitlines()[0]
    if reason:  # not an old JAX nor another platform: something to report, once
        warnings.warn(
            f"rlu_trees.jax: {reason}; the JAX trees use the XLA kernels on the CPU too (about "
            "3x slower there). rlu_trees.jax.cpu_calls() tells what is in use.",
            RuntimeWarning,
            stacklevel=2,
        )
        return CpuCalls(False, reason)
    return CpuCalls(True, "the compiled kernels are registered and passed the probe")


def available() -> bool:
    """Whether the custom calls work here: registered, compiled and giving the right answer."""
    return _probe().active


def cpu_calls() -> CpuCalls:
    """Whether the JAX trees take the compiled CPU kernels in programs lowered now, and why (not).

    On the CPU, a JAX tree's sampling and update run as one custom call each into the host
    trees' compiled kernels (about 3x faster than the XLA kernels there). They are not used
    where the environment variable ``RLU_TREES_JAX_CPU_CALLS=0`` was set at import, where the
    default backend is an accelerator, where this JAX cannot make them or they fail a probe
    (then a ``RuntimeWarning`` says so, once), or while JAX's persistent compilation cache is on
    in a JAX that loads them from it wrongly (0.5.1 to 0.10.1). A tree takes the switch as it is
    when the tree is made (or loaded); the dtype must be float32 or float64.

    Returns
    -------
    CpuCalls
        ``(active, reason)``.

    Examples
    --------
    >>> from rlu_trees.jax import cpu_calls
    >>> status = cpu_calls()
    >>> isinstance(status.active, bool), isinstance(status.reason, str)
    (True, True)
    """
    if not ENABLED:
        return CpuCalls(False, "switched off by the environment variable RLU_TREES_JAX_CPU_CALLS=0")
    if cache_loads_wrongly():
        return CpuCalls(
            False,
            f"JAX's persistent compilation cache is on, and jax {jax.__version__} loads programs "
            "holding the custom calls from it wrongly (0.5.1 to 0.10.1 do): the XLA kernels serve "
            "the CPU",
        )
    backend = jax.default_backend()
    if backend != "cpu":
        return CpuCalls(False, f"the default backend is {backend}: the XLA kernels serve it")
    return _probe()


def _in_use(nodes: jax.Array, lay: _kernels.Layout) -> bool:
    """Whether a program traced now may take the custom calls for ``nodes``.

    Not while JAX's persistent cache would load them wrongly (`cache_loads_wrongly`; the tree's
    layout says so too). Only where the default backend is the CPU: on a machine with an
    accelerator the program's CPU branch is the XLA kernels' level loops (no custom call,
    nothing compiled for it), since older JAX (0.4.36 does) keeps every branch of
    ``platform_dependent`` in the lowered program.
    """
    return (
        lay.cpu_calls
        and str(nodes.dtype) in _DTYPES
        and jax.default_backend() == "cpu"
        and not cache_loads_wrongly()
        and available()
    )


@functools.cache
def _lowers_one_branch() -> bool:
    """Whether this JAX lowers only the branch of ``lax.platform_dependent`` that the platform
    lowered for takes (newer JAX). Older JAX keeps every branch in the program, and the CPU
    would compile the accelerators' unrolled walks for nothing (seconds for a large tree)."""
    spec = jax.ShapeDtypeStruct((), jnp.float32)  # type: ignore[no-untyped-call]

    def program(x: jax.Array) -> jax.Array:
        out: jax.Array = lax.platform_dependent(x, cpu=jnp.negative, default=jnp.exp)
        return out

    with jax.default_device(jax.devices("cpu")[0]):
        text = jax.jit(program).lower(spec).as_text()
    return "exponential" not in text


def unrolls_for_accelerators() -> bool:
    """Whether programs traced now give accelerators (GPU, TPU) the unrolled walks.

    They do where this JAX has ``platform_dependent`` and barriers with every rule
    (``_kernels.barriers_work``), and, on a machine whose default backend is the CPU, lowers
    only the branch of the platform a program is lowered for (else the CPU would compile the
    unrolled walks too). Otherwise every platform but the CPU's custom calls takes the level
    loops, as in rlu-trees 0.4.
    """
    if not hasattr(lax, "platform_dependent") or not _kernels.barriers_work():
        return False
    return jax.default_backend() != "cpu" or _lowers_one_branch()


def _per_platform(
    kernel: Callable[..., jax.Array],
    calls: Callable[[], Callable[..., jax.Array]],
    lay: _kernels.Layout,
    *args: jax.Array,
    **options: Any,
) -> jax.Array:
    """``kernel(*args, lay=lay, **options)`` in each platform's lowering: on the CPU the
    compiled kernel ``calls()`` where it is in use, else the XLA kernel's level loops; on
    accelerators the unrolled levels where `unrolls_for_accelerators`, else the level loops
    too. Where both platforms take the same walk, one call without ``platform_dependent``.

    ``args[0]`` is the node array; it must fit ``lay`` (``_trees`` checks it where the array
    enters).
    """
    loops = functools.partial(kernel, lay=lay, **options)
    cpu = calls() if _in_use(args[0], lay) else loops
    accelerators = loops
    if unrolls_for_accelerators():
        accelerators = functools.partial(kernel, lay=lay, unroll=True, **options)
    if cpu is accelerators:
        return loops(*args)
    out: jax.Array = lax.platform_dependent(*args, cpu=cpu, default=accelerators)
    return out


def descend(nodes: jax.Array, x: jax.Array, lay: _kernels.Layout) -> jax.Array:
    """``_kernels.descend`` in each platform's lowering (see `_per_platform`)."""
    return _per_platform(_kernels.descend, lambda: _descend_op(lay), lay, nodes, x)


def set_values(
    nodes: jax.Array, idx: jax.Array, values: jax.Array, lay: _kernels.Layout, clamp: bool
) -> jax.Array:
    """``_kernels.set_values`` in each platform's lowering (see `_per_platform`)."""
    calls = functools.partial(_set_op, lay, clamp)
    return _per_platform(_kernels.set_values, calls, lay, nodes, idx, values, clamp=clamp)
