"""A function compiled with rlu.jit survives a checkpoint: rlu.dumps / rlu.loads and a file."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import rlu


def _affine(x, scale):
    return scale * x + 1.0


def test_jitted_function_round_trips_through_dumps_with_its_static_argnums():
    f = rlu.jit(_affine, static_argnums=(1,))
    g = rlu.loads(rlu.dumps(f))
    x = jnp.arange(4.0)
    np.testing.assert_allclose(g(x, 3.0), 3.0 * np.arange(4.0) + 1.0)
    np.testing.assert_allclose(g(x, 3.0), f(x, 3.0))
    assert g.static_argnums == f.static_argnums == (1,)


def test_jitted_closure_round_trips_through_a_checkpoint_file(tmp_path):
    offset = jnp.array([10.0, 20.0])
    f = rlu.jit(lambda x: x + offset)
    path = tmp_path / "nested" / "ckpt.pkl.lz4"
    rlu.dump({"step": 7, "apply": f}, path)
    state = rlu.load(path)
    assert state["step"] == 7
    np.testing.assert_allclose(state["apply"](jnp.ones(2)), [11.0, 21.0])
