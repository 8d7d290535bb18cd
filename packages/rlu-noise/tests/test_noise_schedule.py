import subprocess
import sys

import numpy as np
import pytest
from rlu_noise import StepwiseLinearFunction

DQN_STEPS = ((0, 1.0), (1_000_000, 0.1), (2_000_000, 0.01))


def test_dqn_example_from_the_reference():
    epsilon = StepwiseLinearFunction(*DQN_STEPS)
    assert epsilon(0) == 1.0
    assert epsilon(1_000_000) == pytest.approx(0.1, abs=1e-15)
    assert epsilon(2_000_000) == 0.01
    assert epsilon(500_000) == pytest.approx(0.55)
    assert epsilon(1_500_000) == pytest.approx(0.055)
    assert epsilon(250_000) == pytest.approx(0.775)


def test_flat_outside_the_steps():
    epsilon = StepwiseLinearFunction(*DQN_STEPS)
    assert epsilon(-1) == epsilon(-(10**9)) == 1.0
    assert epsilon(2_000_001) == epsilon(10**12) == 0.01


def test_scalar_in_python_float_out():
    epsilon = StepwiseLinearFunction(*DQN_STEPS)
    for t in (3, 3.5, np.int64(3), np.float32(3.0), np.uint8(3)):
        assert type(epsilon(t)) is float


def test_agrees_with_np_interp():
    rng = np.random.default_rng(0)
    xp = np.cumsum(rng.integers(1, 1000, size=7)) - 500
    fp = rng.normal(size=7)
    f = StepwiseLinearFunction(*zip(xp.tolist(), fp.tolist(), strict=True))
    t = rng.uniform(xp[0] - 300, xp[-1] + 300, size=(40, 5))
    np.testing.assert_array_equal(f(t), np.interp(t, xp, fp))
    for ti in t.ravel()[:50]:
        assert f(float(ti)) == np.interp(ti, xp, fp)


def test_array_in_array_of_the_same_shape_out():
    f = StepwiseLinearFunction(*DQN_STEPS)
    for shape in [(), (0,), (3,), (2, 2, 2)]:
        t = np.full(shape, 1_500_000)
        out = f(t)
        assert isinstance(out, np.ndarray) and out.shape == shape and out.dtype == np.float64
    np.testing.assert_allclose(f([0, 1_500_000]), [1.0, 0.055])


def test_single_step_is_a_constant():
    f = StepwiseLinearFunction((10, 0.5))
    assert f(0) == f(10) == f(10**6) == 0.5
    np.testing.assert_array_equal(f(np.arange(3)), [0.5, 0.5, 0.5])


def test_integer_values_and_numpy_integer_timesteps():
    f = StepwiseLinearFunction((np.int64(0), 1), [10, 0])
    assert f(5) == 0.5
    assert f.steps == ((0, 1.0), (10, 0.0))
    assert repr(f) == "StepwiseLinearFunction((0, 1.0), (10, 0.0))"


def test_jax_arrays_and_jit():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    f = StepwiseLinearFunction(*DQN_STEPS)
    t = jnp.array([-5, 0, 500_000, 1_500_000, 9_000_000])
    expected = np.interp(np.asarray(t), [0, 1_000_000, 2_000_000], [1.0, 0.1, 0.01])

    out = f(t)
    assert isinstance(out, jax.Array) and out.shape == t.shape
    np.testing.assert_allclose(out, expected, rtol=1e-6)

    jitted = jax.jit(lambda step: f(step) * 2.0)
    np.testing.assert_allclose(jitted(t), 2 * expected, rtol=1e-6)
    np.testing.assert_allclose(jitted(jnp.int32(1_500_000)), 0.11, rtol=1e-6)
    grad = jax.grad(lambda s: f(s))(jnp.float32(500_000.0))  # differentiable, too
    np.testing.assert_allclose(grad, -0.9 / 1_000_000, rtol=1e-5)


def test_rlu_noise_does_not_import_jax():
    code = (
        "import sys, numpy as np, rlu_noise\n"
        "f = rlu_noise.StepwiseLinearFunction((0, 1.0), (10, 0.0))\n"
        "f(3); f(np.arange(3))\n"
        "rlu_noise.OrnsteinUhlenbeckNoise(random_seed=0)(np.zeros(2))\n"
        "assert 'jax' not in sys.modules, 'jax was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("steps", "error", "match"),
    [
        ((), ValueError, "at least one step"),
        (((0, 1.0), 5), TypeError, "step 1 must be a pair"),
        (((0, 1.0, 2.0),), TypeError, "step 0 must be a pair"),
        (((0.0, 1.0),), TypeError, r"timestep of step 0 must be an int, got float 0.0 \(write 0\)"),
        (((1e6, 1.0),), TypeError, r"\(write 1000000\)"),
        (((True, 1.0),), TypeError, "timestep of step 0 must be an int"),
        (((0, "1.0"),), TypeError, "value of step 0 must be a real number"),
        (((0, None),), TypeError, "value of step 0 must be a real number"),
        (((0, float("nan")),), ValueError, "value of step 0 must be finite"),
        (((0, 1.0), (0, 0.5)), ValueError, "strictly increasing.*step 1 has timestep 0 after 0"),
        (((10, 1.0), (5, 0.5)), ValueError, "step 1 has timestep 5 after 10"),
    ],
)
def test_invalid_steps(steps, error, match):
    with pytest.raises(error, match=match):
        StepwiseLinearFunction(*steps)


@pytest.mark.parametrize("bad", ["5", None, True, np.array(["a"]), np.array([True])])
def test_invalid_timestep(bad):
    f = StepwiseLinearFunction(*DQN_STEPS)
    with pytest.raises(TypeError, match="'timestep' must be a real number"):
        f(bad)
