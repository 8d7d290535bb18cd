"""Pickles of rlu-noise 0.1.0 still load; coax's own test, ported; errors coax's code catches."""

import base64
import importlib
import pickle
import unittest

import numpy as np
import pytest
from rlu_noise import OrnsteinUhlenbeckNoise, StepwiseLinearFunction

jnp = pytest.importorskip("jax.numpy", reason="coax's test stacks the samples with jax.numpy")

# Written by rlu-noise 0.1.0, whose classes lived in rlu_noise.ornstein_uhlenbeck and
# rlu_noise.schedule (numpy objects spelled through names every numpy >= 1.24 has):
#   noise = OrnsteinUhlenbeckNoise(mu=[0.1, -0.1], sigma=0.2, min_value=-1.0, max_value=1.0,
#                                  random_seed=7)
#   noise(np.zeros(2, np.float32)); noise(np.zeros(2, np.float32)); pickle.dumps(noise, 4)
#   pickle.dumps(StepwiseLinearFunction((0, 1.0), (1000, 0.1)), 4)
OU_NOISE_PICKLE = (
    "gASVdwIAAAAAAACMHHJsdV9ub2lzZS5vcm5zdGVpbl91aGxlbmJlY2uUjBZPcm5zdGVpblVobGVuYmVja05vaXNl"
    "lJOUKYGUfZQojAZfZ2l2ZW6UfZQojAJtdZRdlChHP7mZmZmZmZpHv7mZmZmZmZpljAVzaWdtYZRHP8mZmZmZmZqM"
    "BXRoZXRhlEc/wzMzMzMzM4wJbWluX3ZhbHVllEe/8AAAAAAAAIwJbWF4X3ZhbHVllEc/8AAAAAAAAHWMA19tdZSM"
    "BW51bXB5lIwFYXJyYXmUk5RdlChHP7mZmZmZmZpHv7mZmZmZmZpljAM8ZjiUhpRSlIwGX3NpZ21hlGgQRz/JmZmZ"
    "mZmajAM8ZjiUhpRSlIwGX3RoZXRhlGgQRz/DMzMzMzMzjAM8ZjiUhpRSlIwDX2xvlGgQR7/wAAAAAAAAjAM8ZjiU"
    "hpRSlIwDX2hplGgQRz/wAAAAAAAAjAM8ZjiUhpRSlIwMX3BhcmFtX3NoYXBllEsChZSMC3JhbmRvbV9zZWVklEsH"
    "jARfcm5nlIwXbnVtcHkucmFuZG9tLl9nZW5lcmF0b3KUjAlHZW5lcmF0b3KUk5SME251bXB5LnJhbmRvbS5fcGNn"
    "NjSUjAVQQ0c2NJSTlClSlH2UKIwNYml0X2dlbmVyYXRvcpSMBVBDRzY0lIwFc3RhdGWUfZQoaDOKEHSw034r/iIi"
    "TX3CRHpVfE+MA2luY5SKEVnZcMBaf4hmv86KzpYYdcQAdYwKaGFzX3VpbnQzMpRLAIwIdWludGVnZXKUSwB1YoWU"
    "UpSMBl9zdGF0ZZRoEF2UKEc/pzxAQAAAAEe/zRkz4AAAAGWMAzxmNJSGlFKUdWIu"
)
SCHEDULE_PICKLE = (
    "gASVygAAAAAAAACMEnJsdV9ub2lzZS5zY2hlZHVsZZSMFlN0ZXB3aXNlTGluZWFyRnVuY3Rpb26Uk5QpgZR9lCiM"
    "Cl90aW1lc3RlcHOUjAVudW1weZSMBWFycmF5lJOUXZQoRwAAAAAAAAAAR0CPQAAAAAAAZYwDPGY4lIaUUpSMB192"
    "YWx1ZXOUaAhdlChHP/AAAAAAAABHP7mZmZmZmZpljAM8ZjiUhpRSlIwGX3N0ZXBzlEsARz/wAAAAAAAAhpRN6ANH"
    "P7mZmZmZmZqGlIaUdWIu"
)


def load_0_1_0(blob, module):
    """Unpickle the base64 ``blob``, first checking that it records the 0.1.0 ``module``."""
    data = base64.b64decode(blob)
    assert module.encode() in data
    return pickle.loads(data)


def test_ornstein_uhlenbeck_pickle_of_rlu_noise_0_1_0_loads_and_continues():
    noise = load_0_1_0(OU_NOISE_PICKLE, "rlu_noise.ornstein_uhlenbeck")
    assert isinstance(noise, OrnsteinUhlenbeckNoise)
    assert (noise.mu, noise.sigma, noise.theta) == ([0.1, -0.1], 0.2, 0.15)
    assert (noise.min_value, noise.max_value, noise.random_seed) == (-1.0, 1.0, 7)
    # the loaded process continues exactly where the pickled one stood
    a = np.zeros(2, dtype=np.float32)
    reference = OrnsteinUhlenbeckNoise(
        mu=[0.1, -0.1], sigma=0.2, min_value=-1.0, max_value=1.0, random_seed=7
    )
    reference(a)
    reference(a)
    np.testing.assert_array_equal(noise.state, reference.state)
    for _ in range(3):
        np.testing.assert_array_equal(noise(a), reference(a))


def test_schedule_pickle_of_rlu_noise_0_1_0_loads():
    schedule = load_0_1_0(SCHEDULE_PICKLE, "rlu_noise.schedule")
    assert isinstance(schedule, StepwiseLinearFunction)
    assert schedule.steps == ((0, 1.0), (1000, 0.1))
    assert schedule(500) == pytest.approx(0.55)


@pytest.mark.parametrize(
    ("obj", "old_module"),
    [
        (OrnsteinUhlenbeckNoise(random_seed=0), "ornstein_uhlenbeck"),
        (StepwiseLinearFunction((0, 1.0)), "schedule"),
    ],
)
def test_new_pickles_record_the_public_path(obj, old_module):
    name = type(obj).__name__
    data = pickle.dumps(obj, protocol=4)
    assert b"rlu_noise" in data and b"rlu_noise." not in data  # not a module inside it
    assert type(pickle.loads(data)) is type(obj)
    compat = importlib.import_module(f"rlu_noise.{old_module}")
    assert getattr(compat, name) is type(obj)
    assert "old pickles" in compat.__doc__


def test_no_steps_is_a_value_error_and_a_type_error_as_in_coax():
    with pytest.raises(ValueError, match="at least one step") as info:
        StepwiseLinearFunction()
    assert isinstance(info.value, TypeError)


def test_numpy_integer_seed_and_timesteps():
    assert OrnsteinUhlenbeckNoise(random_seed=np.int64(3)).random_seed == 3
    with pytest.raises(TypeError, match="'random_seed' must be None, an int"):
        OrnsteinUhlenbeckNoise(random_seed=np.bool_(True))
    assert StepwiseLinearFunction((np.uint8(0), 1.0), (np.int32(10), 0.0))(5) == 0.5


# ---- coax/utils/_action_noise_test.py, ported with only the imports changed -------------------
class TestOrnsteinUhlenbeckNoise(unittest.TestCase):
    def test_overall_mean_variance(self):
        noise = OrnsteinUhlenbeckNoise(random_seed=13)
        x = jnp.stack([noise(0.0) for _ in range(1000)])
        mu, sigma = jnp.mean(x), jnp.std(x)
        self.assertLess(abs(mu), noise.theta)
        self.assertGreater(sigma, noise.sigma)
        self.assertLess(sigma, noise.sigma * 2)
