"""A short tour of what rlu holds today, printing real results (``hatch run demo``).

Each section uses one distribution through the meta-package, the way a user would.
The prioritized-DQN demo replaces this tour once every distribution has landed.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import rlu


def section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 66 - len(title)))


def tour_core() -> None:
    section("rlu-core: pretty_print and merge_dicts")
    config = rlu.merge_dicts({"lr": 3e-4, "gamma": 0.99}, {"batch_size": 32})
    rlu.pretty_print({"config": config, "obs": np.zeros((32, 4), dtype=np.float32)})


def tour_noise() -> None:
    section("rlu-noise: an epsilon schedule and Ornstein-Uhlenbeck noise")
    epsilon = rlu.StepwiseLinearFunction((0, 1.0), (1_000, 0.1), (2_000, 0.01))
    steps = np.array([0, 500, 1_000, 1_500, 2_000, 5_000])
    for t, value in zip(steps, epsilon(steps), strict=True):
        print(f"epsilon({t:>5}) = {value:.4f}")
    noise = rlu.OrnsteinUhlenbeckNoise(
        sigma=0.2, theta=0.15, min_value=-1.0, max_value=1.0, random_seed=0
    )
    actions = np.zeros((3, 2), dtype=np.float32)  # a batch of 3 environments, 2-d actions
    for t in range(3):
        print(f"step {t}: noisy actions {np.round(noise(actions).astype(float), 3).tolist()}")


SECTIONS = {
    "rlu_core": tour_core,
    "rlu_noise": tour_noise,
}


def main() -> None:
    print(f"rlu {rlu.__version__}: a tour of the distributions installed here")
    for module, run in SECTIONS.items():
        if importlib.util.find_spec(module) is None:
            print(f"\n({module} is not installed; skipping)")
            continue
        run()
    print("\nThat was rlu. Tests: `hatch test`.")


if __name__ == "__main__":
    main()
