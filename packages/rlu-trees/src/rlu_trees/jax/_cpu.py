"""On the CPU, the descent and the update run as one custom call each into compiled code.

Why: on the CPU, XLA pays for every operation it runs (a thread hand-off, a loop trip), and a
step of ``B`` lookups and ``B`` updates through the XLA kernels of ``_kernels`` is about a
hundred operations on a few thousand numbers. The host trees' numba kernels do the same work
in one call each: ``benchmarks/bench_jaxtrees.py`` measured the step at N = 2^20, B = 256 go
from 66 to about 11 microseconds inside a ``scan``. Other platforms (GPU, TPU) keep the XLA
kernels: ``lax.platform_dependent`` chooses when the program is lowered.

The custom calls use XLA's CPU custom-call ABI with an opaque configuration (see
``_cpu_kernels``), registered through ``jax.ffi`` the first time a program is lowered for the
CPU. The update's output aliases the node array, so donated trees and ``scan`` carries are
updated in place. A batch of trees (``vmap``) is one call that loops over the trees.

When the custom calls cannot be used (a JAX without ``jax.ffi``'s legacy custom calls, before
0.4.36, or a probe call that does not give the expected result), and on machines whose default
backend is an accelerator, every platform uses the XLA kernels: same results in float64, same
guarantees in float32.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
import struct
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from rlu_trees._kernel_contract import ADD, MAX, MIN
from rlu_trees.jax import _kernels

# XLA's API_VERSION_STATUS_RETURNING_UNIFIED: the kernel receives the opaque configuration
_API_VERSION = 3

# tests set this to False (and clear JAX's caches) to run the XLA kernels on the CPU
ENABLED = True


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


@functools.cache
def _target(kind: str, *dtypes: str) -> str:
    """Compile the kernel ``kind`` for ``dtypes`` and register it with XLA; its name."""
    import ctypes

    from rlu_trees.jax import _cpu_kernels

    kernel = (
        _cpu_kernels.make_descend(*dtypes) if kind == "descend" else _cpu_kernels.make_set(*dtypes)
    )
    new_capsule = ctypes.pythonapi.PyCapsule_New
    new_capsule.restype = ctypes.py_object
    new_capsule.argtypes = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)
    capsule = new_capsule(kernel.address, b"xla._CUSTOM_CALL_TARGET", None)
    name = f"rlu_trees_{kind}_{'_'.join(dtypes)}"
    _ffi().register_ffi_target(name, capsule, platform="cpu", api_version=0)
    _KEEP_ALIVE.append(kernel)
    return name


_KEEP_ALIVE: list[Any] = []  # the compiled kernels XLA holds pointers to


def _call(
    kind: str,
    dtypes: tuple[str, ...],
    result: jax.ShapeDtypeStruct,
    words: tuple[int, ...],
    *args: jax.Array,
    alias: bool = False,
) -> jax.Array:
    ffi = _ffi()
    call = ffi.ffi_call(
        _target(kind, *dtypes),
        result,
        custom_call_api_version=_API_VERSION,
        legacy_backend_config=config(*words),
        input_output_aliases={0: 0} if alias else None,
    )
    out: jax.Array = call(*args)
    return out


def config(*words: int) -> bytes:
    """The ``opaque`` bytes a kernel reads: native-endian int64 words."""
    return struct.pack(f"={len(words)}q", *words)


# reducer names to the host kernels' codes
_OPS = {"add": ADD, "min": MIN, "max": MAX}


def _batched(op: Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    """``op`` under ``vmap``: one call on the stacked trees (unbatched inputs broadcast)."""
    wrapped = jax.custom_batching.custom_vmap(op)

    def rule(size: int, batched: list[bool], *args: jax.Array) -> tuple[jax.Array, bool]:
        args = tuple(
            a if b else jnp.broadcast_to(a, (size, *a.shape))
            for a, b in zip(args, batched, strict=True)
        )
        return wrapped(*args), True

    wrapped.def_vmap(rule)
    return wrapped


@functools.cache
def _descend_op(lay: _kernels.Layout) -> Callable[[jax.Array, jax.Array], jax.Array]:
    def op(nodes: jax.Array, x: jax.Array) -> jax.Array:
        trees = math.prod(nodes.shape[:-1])
        words = (trees, lay.size, x.shape[-1], lay.capacity)
        dtypes = (str(nodes.dtype), str(x.dtype))
        result = jax.ShapeDtypeStruct(x.shape, jnp.int32)  # type: ignore[no-untyped-call]
        return _call("descend", dtypes, result, words, nodes, x)

    return _batched(op)


@functools.cache
def _set_op(lay: _kernels.Layout) -> Callable[[jax.Array, jax.Array, jax.Array], jax.Array]:
    def op(nodes: jax.Array, leaf: jax.Array, values: jax.Array) -> jax.Array:
        trees = math.prod(nodes.shape[:-1])
        words = (trees, lay.size, leaf.shape[-1], _OPS[lay.reducer])
        result = jax.ShapeDtypeStruct(nodes.shape, nodes.dtype)  # type: ignore[no-untyped-call]
        return _call("set", (str(nodes.dtype),), result, words, nodes, leaf, values, alias=True)

    return _batched(op)


@functools.cache
def available() -> bool:
    """Whether the custom calls work here: registered, compiled and giving the right answer."""
    if _ffi() is None or not hasattr(lax, "platform_dependent"):
        return False
    try:
        cpu = jax.devices("cpu")[0]
        lay = _kernels.layout(3, "add", True)
        # the first call may come while a program is traced: evaluate, do not stage
        with jax.ensure_compile_time_eval(), jax.default_device(cpu):
            nodes = _kernels.build(jnp.array([1.0, 0.0, 2.0, 0.0], jnp.float32), lay)
            nodes = jax.jit(_set_op(lay))(nodes, jnp.array([1], jnp.int32), jnp.ones(1))
            x = jnp.array([0.5, 1.5, 2.5, 4.0], jnp.float32)
            leaf = jax.jit(_descend_op(lay))(nodes, x)
            ok = np.asarray(nodes).tolist() == [4.0, 2.0, 2.0, 1.0, 1.0, 2.0, 0.0]
            return ok and bool(np.asarray(leaf).tolist() == [0, 1, 2, 2])
    except Exception:  # any failure: the XLA kernels serve every platform
        return False


def _in_use() -> bool:
    """Whether programs traced now may take the custom calls.

    Only where the default backend is the CPU: on a machine with an accelerator the program
    holds the XLA kernels alone (no CPU branch, nothing compiled for it), since older JAX
    (0.4.36 does) keeps every branch of ``platform_dependent`` in the lowered program.
    """
    return ENABLED and jax.default_backend() == "cpu" and available()


def descend(nodes: jax.Array, x: jax.Array, lay: _kernels.Layout) -> jax.Array:
    """``_kernels.descend``, through the compiled kernel when lowered for the CPU."""
    if not _in_use():
        return _kernels.descend(nodes, x, lay)
    leaf: jax.Array = lax.platform_dependent(
        nodes,
        x,
        cpu=_descend_op(lay),
        default=functools.partial(_kernels.descend, lay=lay),
    )
    return leaf


def set_values(
    nodes: jax.Array, idx: jax.Array, values: jax.Array, lay: _kernels.Layout, clamp: bool
) -> jax.Array:
    """``_kernels.set_values``, through the compiled kernel when lowered for the CPU."""
    if not _in_use():
        return _kernels.set_values(nodes, idx, values, lay, clamp)

    def cpu(nodes: jax.Array, idx: jax.Array, values: jax.Array) -> jax.Array:
        leaf, values = _kernels.clean_entries(idx, values.astype(nodes.dtype), lay, clamp)
        return _set_op(lay)(nodes, leaf, values)

    new: jax.Array = lax.platform_dependent(
        nodes,
        idx,
        values,
        cpu=cpu,
        default=functools.partial(_kernels.set_values, lay=lay, clamp=clamp),
    )
    return new
