"""``jax.random.uniform``'s numbers for ``sample``, with the Threefry hash written out.

JAX lowers its Threefry-2x32 hash for the CPU as a loop of five trips (to compile faster), and
for a few hundred numbers that loop costs more than the arithmetic: on the CPU it is a large
part of a tree's ``sample``. Written out, the same 20 rounds give the same bits: this module
draws exactly what ``jax.random.uniform(key, (n,), dtype)`` draws, one fusion instead of a
loop, whenever a probe finds it does so in this process (JAX's default Threefry keys, its
"partitionable" counter layout, the default since JAX 0.5), and otherwise calls
``jax.random.uniform`` itself.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from rlu_trees.jax import _kernels

# Threefry-2x32's rotation distances, by group of four rounds (Salmon et al., SC 2011).
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)


def _threefry(k1: Any, k2: Any, x1: Any, x2: Any) -> tuple[Any, Any]:
    """Threefry-2x32 with 20 rounds: the hash of counters ``(x1, x2)`` under key ``(k1, k2)``."""
    ks = (k1, k2, k1 ^ k2 ^ _PARITY)
    x1, x2 = x1 + ks[0], x2 + ks[1]
    for group in range(5):
        for r in _ROTATIONS[group % 2]:
            x1 = x1 + x2
            x2 = x1 ^ ((x2 << np.uint32(r)) | (x2 >> np.uint32(32 - r)))
        x1 = x1 + ks[(group + 1) % 3]
        x2 = x2 + ks[(group + 2) % 3] + np.uint32(group + 1)
    return x1, x2


def _written_out(words: jax.Array, n: int, dtype: np.dtype[Any]) -> jax.Array:
    """Uniform numbers in ``[0, 1)`` from key words ``(k1, k2)``, as JAX makes them: counters
    0..n-1 (high words 0), bits ``b1 ^ b2`` (32-bit) or ``b1 << 32 | b2`` (64-bit), the top
    mantissa bits under the exponent of 1.0, minus 1."""
    zeros = jnp.zeros(n, np.uint32)
    b1, b2 = _threefry(words[0], words[1], zeros, lax.iota(np.uint32, n))
    uint: np.dtype[Any] = np.dtype(f"uint{8 * dtype.itemsize}")
    if dtype.itemsize == 8:
        bits = (b1.astype(uint) << np.uint64(32)) | b2.astype(uint)
    else:
        bits = b1 ^ b2
    shift = np.asarray(8 * dtype.itemsize - np.finfo(dtype).nmant, uint)
    one = np.asarray(1.0, dtype).view(uint)
    return lax.bitcast_convert_type((bits >> shift) | one, dtype) - np.asarray(1.0, dtype)


def _setting(name: str) -> Any:
    """A JAX configuration value, as it holds here (a context manager's value included)."""
    return getattr(jax.config, name)


@functools.cache
def _threefry_key_dtype() -> Any:
    """The dtype of a typed Threefry key (``key<fry>``), found without making one."""
    return jax.eval_shape(lambda: jax.random.key(0, impl="threefry2x32")).dtype


def _key_words(key: jax.Array) -> jax.Array | None:
    """The two uint32 words of a Threefry key (typed or raw), or None for any other key."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != () or key.dtype != _threefry_key_dtype():
            return None
        return jax.random.key_data(key)
    if key.dtype != np.uint32 or key.shape != (2,):
        return None
    if str(_setting("jax_default_prng_impl")) != "threefry2x32":
        return None
    return key


@functools.cache
def _matches_jax(dtype: np.dtype[Any], partitionable: bool, x64: bool) -> bool:
    """Whether the written-out hash gives ``jax.random.uniform``'s bits here (probed once per
    dtype and JAX setting, on keys of both kinds and sizes that cross a word boundary)."""
    if not partitionable:
        return False  # the older layout splits the counters differently: JAX's own call
    try:
        with jax.ensure_compile_time_eval():
            for seed, n in ((0, 1), (7, 33), (2**31 + 5, 256)):
                for key in (jax.random.key(seed), jax.random.PRNGKey(seed)):
                    words = _key_words(key)
                    if words is None:
                        return False
                    ours = _written_out(words, n, dtype)
                    theirs = jax.random.uniform(key, (n,), dtype=dtype)
                    if not np.array_equal(np.asarray(ours), np.asarray(theirs)):
                        return False
    except Exception:  # a JAX whose keys or uniform work otherwise: use it as it is
        return False
    return True


def uniform(key: jax.Array, n: int, dtype: Any) -> jax.Array:
    """``jax.random.uniform(key, (n,), dtype)``, bit for bit, faster on the CPU."""
    dtype = np.dtype(dtype)
    words = _key_words(key)
    settings = (bool(_setting("jax_threefry_partitionable")), _kernels.x64_enabled())
    if words is None or not _matches_jax(dtype, *settings):
        return jax.random.uniform(key, (n,), dtype=dtype)
    return _written_out(words, n, dtype)
