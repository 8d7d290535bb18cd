import numpy as np
import pytest
from rlu_noise import OrnsteinUhlenbeckNoise


def by_hand(a_seq, seed, mu=0.0, sigma=1.0, theta=0.15, resets=()):
    """The recursion X_t = X_{t-1} - theta (X_{t-1} - mu) + sigma eps, X_0 = mu, written out."""
    rng = np.random.default_rng(seed)
    x = None
    out = []
    for t, a in enumerate(a_seq):
        a = np.asarray(a, dtype=np.float64)
        if x is None or t in resets:
            x = np.broadcast_to(np.asarray(mu, dtype=np.float64), a.shape).copy()
        eps = rng.standard_normal(a.shape)
        x = x - theta * (x - mu) + sigma * eps
        out.append(a + x)
    return out


def test_matches_the_recursion_computed_by_hand():
    rng = np.random.default_rng(0)
    actions = [rng.uniform(-1, 1, size=3) for _ in range(50)]
    noise = OrnsteinUhlenbeckNoise(mu=0.2, sigma=0.3, theta=0.1, random_seed=42)
    got = [noise(a) for a in actions]
    expected = by_hand(actions, seed=42, mu=0.2, sigma=0.3, theta=0.1)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)


def test_elementwise_parameters_match_by_hand():
    mu, sigma, theta = np.array([0.0, 1.0]), np.array([0.1, 0.5]), np.array([0.5, 0.05])
    actions = [np.zeros((3, 2))] * 20
    noise = OrnsteinUhlenbeckNoise(mu=mu, sigma=sigma, theta=theta, random_seed=3)
    got = [noise(a) for a in actions]
    np.testing.assert_allclose(got, by_hand(actions, 3, mu, sigma, theta), rtol=1e-12)


def test_same_seed_same_noise_other_seed_other_noise():
    def run(seed):
        noise = OrnsteinUhlenbeckNoise(sigma=0.5, random_seed=seed)
        return np.array([noise(np.zeros(4)) for _ in range(30)])

    np.testing.assert_array_equal(run(123), run(123))
    assert not np.allclose(run(123), run(124))


def test_generator_as_random_seed():
    noise = OrnsteinUhlenbeckNoise(random_seed=np.random.default_rng(5))
    got = [noise(0.0) for _ in range(5)]
    np.testing.assert_allclose(got, by_hand([0.0] * 5, seed=5), rtol=1e-12)


def test_stationary_mean_variance_and_autocorrelation():
    mu, sigma, theta = 0.5, 0.3, 0.15
    num_envs, burn_in = 20_000, 300  # (1 - theta)**300 ~ 1e-21: the start is forgotten
    noise = OrnsteinUhlenbeckNoise(mu=mu, sigma=sigma, theta=theta, random_seed=2024)
    zeros = np.zeros((num_envs, 1))
    for _ in range(burn_in):
        noise(zeros)
    x0 = noise(zeros)[:, 0]
    x1 = noise(zeros)[:, 0]

    var = sigma**2 / (1 - (1 - theta) ** 2)  # closed form of the stationary variance
    se_mean = np.sqrt(var / num_envs)
    assert abs(x0.mean() - mu) < 5 * se_mean
    assert abs(x0.var() / var - 1) < 5 * np.sqrt(2 / num_envs)
    corr = np.corrcoef(x0, x1)[0, 1]  # lag-1 autocorrelation of an AR(1) process: 1 - theta
    assert abs(corr - (1 - theta)) < 5 * (1 - corr**2) / np.sqrt(num_envs)


def test_rows_of_a_batch_are_independent():
    noise = OrnsteinUhlenbeckNoise(random_seed=9)
    batch = np.array([noise(np.zeros((2, 3))) for _ in range(4000)])  # (time, env, dim)
    assert not np.allclose(batch[:, 0], batch[:, 1])
    # the series of env 0 and env 1 are uncorrelated (their time series are autocorrelated, so
    # the effective sample size is ~ n (1 - rho) / (1 + rho) ~ 4000 / 12)
    corr = np.corrcoef(batch[:, 0, 0], batch[:, 1, 0])[0, 1]
    assert abs(corr) < 5 / np.sqrt(4000 / 12)


def test_float32_in_float32_out_and_integer_actions_become_float64():
    noise = OrnsteinUhlenbeckNoise(mu=np.float64(0.1), random_seed=0)
    out = noise(np.zeros((2, 3), dtype=np.float32))
    assert out.dtype == np.float32 and noise.state.dtype == np.float32
    clipped = OrnsteinUhlenbeckNoise(min_value=-0.5, max_value=0.5, random_seed=0)
    assert clipped(np.zeros(3, dtype=np.float32)).dtype == np.float32
    assert OrnsteinUhlenbeckNoise(random_seed=0)(np.array([1, 2])).dtype == np.float64
    assert OrnsteinUhlenbeckNoise(random_seed=0)(np.zeros(2, dtype=np.float16)).dtype == np.float16


def test_float32_follows_the_same_random_stream():
    n32 = OrnsteinUhlenbeckNoise(random_seed=1)
    n64 = OrnsteinUhlenbeckNoise(random_seed=1)
    for _ in range(10):
        np.testing.assert_allclose(n32(np.zeros(3, np.float32)), n64(np.zeros(3)), rtol=1e-5)


def test_scalar_action_gives_a_scalar():
    out = OrnsteinUhlenbeckNoise(random_seed=0)(0.25)
    assert np.ndim(out) == 0 and isinstance(out, np.floating)


def test_clipping_bounds_the_action_not_the_noise():
    actions = [np.full(4, 0.9)] * 40
    noise = OrnsteinUhlenbeckNoise(sigma=0.5, min_value=-1.0, max_value=1.0, random_seed=11)
    got = np.array([noise(a) for a in actions])
    unclipped = np.array(by_hand(actions, seed=11, sigma=0.5))
    assert got.min() >= -1.0 and got.max() <= 1.0
    assert (unclipped > 1.0).any()  # the bound was active ...
    np.testing.assert_allclose(got, np.clip(unclipped, -1.0, 1.0), rtol=1e-12)
    # ... and the process itself ran on unclipped
    np.testing.assert_allclose(noise.state, unclipped[-1] - 0.9, rtol=1e-12)


def test_one_sided_and_elementwise_bounds():
    noise = OrnsteinUhlenbeckNoise(min_value=[0.0, -np.inf], random_seed=4)
    got = np.array([noise(np.zeros(2)) for _ in range(50)])
    assert got[:, 0].min() >= 0.0 and got[:, 1].min() < 0.0


def test_reset_restarts_at_mu_and_continues_the_random_stream():
    actions = [np.zeros(2)] * 12
    noise = OrnsteinUhlenbeckNoise(mu=1.0, random_seed=8)
    got = []
    for t, a in enumerate(actions):
        if t == 5:
            noise.reset()
            assert noise.state is None
        got.append(noise(a))
    np.testing.assert_allclose(got, by_hand(actions, 8, mu=1.0, resets={5}), rtol=1e-12)


def test_reset_with_mask_resets_only_the_chosen_rows():
    noise = OrnsteinUhlenbeckNoise(mu=[0.5, -0.5], random_seed=1)
    a = np.zeros((4, 2), dtype=np.float32)
    for _ in range(5):
        noise(a)
    before = noise.state
    noise.reset(np.array([True, False, True, False]))
    after = noise.state
    np.testing.assert_array_equal(after[[0, 2]], [[0.5, -0.5], [0.5, -0.5]])
    np.testing.assert_array_equal(after[[1, 3]], before[[1, 3]])
    assert after.dtype == np.float32

    # the next step advances every row from where it now stands, on the same random stream
    rng = np.random.default_rng(1)
    for _ in range(5):
        rng.standard_normal(a.shape)
    eps = rng.standard_normal(a.shape)
    expected = after - 0.15 * (after - np.array([0.5, -0.5])) + eps
    np.testing.assert_allclose(noise(a), expected, rtol=1e-6)


def test_mask_over_leading_dimensions_and_all_false():
    noise = OrnsteinUhlenbeckNoise(random_seed=0)
    a = np.zeros((2, 3, 4))
    noise(a)
    before = noise.state
    noise.reset(np.zeros(2, dtype=bool))
    np.testing.assert_array_equal(noise.state, before)
    noise.reset(np.array([[True, False, False], [False, False, True]]))
    state = noise.state
    assert (state[0, 0] == 0).all() and (state[1, 2] == 0).all()
    np.testing.assert_array_equal(state[0, 1], before[0, 1])


def test_mask_before_the_first_call_is_a_no_op():
    noise = OrnsteinUhlenbeckNoise(random_seed=0)
    noise.reset(np.array([True, False]))
    assert noise.state is None


@pytest.mark.parametrize(
    ("mask", "error", "match"),
    [
        (np.array([1, 0, 1, 0]), TypeError, "'mask' must be boolean"),
        (np.array([True, False]), ValueError, r"shape \(2,\) does not match .* \(4, 2\)"),
        (np.ones((4, 3), dtype=bool), ValueError, "does not match"),
    ],
)
def test_bad_mask_changes_nothing(mask, error, match):
    noise = OrnsteinUhlenbeckNoise(random_seed=0)
    noise(np.zeros((4, 2)))
    before = noise.state
    with pytest.raises(error, match=match):
        noise.reset(mask)
    np.testing.assert_array_equal(noise.state, before)


def test_shape_change_without_reset_is_an_error_that_changes_nothing():
    noise = OrnsteinUhlenbeckNoise(random_seed=0)
    noise(np.zeros((4, 2)))
    before = noise.state
    with pytest.raises(ValueError, match=r"changed from \(4, 2\) to \(3, 2\); call reset"):
        noise(np.zeros((3, 2)))
    np.testing.assert_array_equal(noise.state, before)
    # the random stream did not advance either
    reference = OrnsteinUhlenbeckNoise(random_seed=0)
    reference(np.zeros((4, 2)))
    np.testing.assert_array_equal(noise(np.zeros((4, 2))), reference(np.zeros((4, 2))))
    noise.reset()
    assert noise(np.zeros((3, 2))).shape == (3, 2)


def test_parameters_must_broadcast_to_the_action():
    noise = OrnsteinUhlenbeckNoise(mu=np.zeros(3), random_seed=0)
    with pytest.raises(ValueError, match=r"broadcast shape \(3,\).*action's shape \(4, 2\)"):
        noise(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"action's shape \(\)"):
        noise(0.0)  # would change the action's shape
    assert noise.state is None
    assert noise(np.zeros((5, 3))).shape == (5, 3)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sigma": 0.0}, ValueError, "'sigma' must be positive"),
        ({"sigma": [0.1, -0.1]}, ValueError, "'sigma' must be positive"),
        ({"theta": 0.0}, ValueError, r"'theta' must lie in \(0, 2\)"),
        ({"theta": 2.0}, ValueError, "diverge"),
        ({"theta": -0.1}, ValueError, "'theta'"),
        ({"mu": np.nan}, ValueError, "'mu' must be finite"),
        ({"sigma": np.inf}, ValueError, "'sigma' must be finite"),
        ({"min_value": np.nan}, ValueError, "'min_value' must not be NaN"),
        ({"mu": "0.1"}, TypeError, "'mu' must be a number or an array of numbers"),
        ({"sigma": None}, TypeError, "'sigma' must be a number"),
        ({"min_value": 1.0, "max_value": -1.0}, ValueError, "must not exceed 'max_value'"),
        ({"mu": [0, 0], "sigma": [1, 1, 1]}, ValueError, r"mu \(2,\), sigma \(3,\)"),
        ({"random_seed": -1}, ValueError, "'random_seed' must be non-negative"),
        ({"random_seed": 1.5}, TypeError, "'random_seed' must be None, an int"),
    ],
)
def test_invalid_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        OrnsteinUhlenbeckNoise(**kwargs)


def test_non_numeric_action():
    with pytest.raises(TypeError, match="the action must be a real number"):
        OrnsteinUhlenbeckNoise()(np.array(["a"]))


def test_repr_and_attributes():
    noise = OrnsteinUhlenbeckNoise(mu=0.1, sigma=0.2, random_seed=3)
    assert (noise.mu, noise.sigma, noise.theta, noise.random_seed) == (0.1, 0.2, 0.15, 3)
    assert repr(noise) == (
        "OrnsteinUhlenbeckNoise(mu=0.1, sigma=0.2, theta=0.15, min_value=None, "
        "max_value=None, random_seed=3)"
    )


def test_parameters_can_be_changed_between_calls():
    noise = OrnsteinUhlenbeckNoise(sigma=1.0, random_seed=0)
    reference_rng = np.random.default_rng(0)
    x = np.zeros(2)
    for sigma in (1.0, 0.5, 0.25):
        noise.sigma = sigma  # e.g. annealed by a StepwiseLinearFunction
        x = x - 0.15 * x + sigma * reference_rng.standard_normal(2)
        np.testing.assert_allclose(noise(np.zeros(2)), x, rtol=1e-12)
    assert noise.sigma == 0.25
    noise.max_value = 0.0
    assert noise(np.zeros(2)).max() <= 0.0


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("sigma", -1.0, "'sigma' must be positive"),
        ("theta", 3.0, "'theta' must lie in"),
        ("mu", [1.0, 2.0, 3.0], "must broadcast together"),
        ("min_value", 5.0, "must not exceed"),
    ],
)
def test_invalid_assignment_changes_nothing(name, value, match):
    noise = OrnsteinUhlenbeckNoise(mu=[0.0, 0.0], sigma=[1.0, 1.0], max_value=1.0, random_seed=0)
    before = getattr(noise, name)
    with pytest.raises(ValueError, match=match):
        setattr(noise, name, value)
    assert getattr(noise, name) == before or np.array_equal(getattr(noise, name), before)
    assert noise(np.zeros(2)).shape == (2,)
