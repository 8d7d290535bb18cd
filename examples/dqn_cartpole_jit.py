"""Prioritized DQN on CartPole-v1 whose whole update step is one jitted function.

The replay buffer is ``rlu_replay.jax``'s: its state is one pytree of JAX arrays (storage,
counters and the priorities in a ``JaxSumTree`` and a ``JaxMinTree``). Sampling (stratified,
with an explicit PRNG key), the importance weights, the double-DQN loss and gradient step, and
the priority update all run inside one ``jax.jit`` with the whole training state donated, so
XLA updates storage and trees in place. Only the
environment steps in Python. Compare with ``examples/dqn_cartpole.py``, which keeps the
priorities in the host (numba) trees.

Run it with ``python examples/dqn_cartpole_jit.py`` (or ``hatch run demo-jit``); ``--steps``
sets the budget (``--steps 400`` is a smoke run). Training stops once a greedy evaluation
reaches ``--target-return``.
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from typing import Any, NamedTuple

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # a network this small runs fastest on the CPU

import gymnasium
import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import optax
from rlu_replay import jax as rj

GAMMA = 0.99
HIDDEN = (128, 128)
LEARNING_RATE = 1e-3
BATCH_SIZE = 64
CAPACITY = 50_000
WARMUP_STEPS = 1_000
TARGET_UPDATE_RATE = 0.01
PRIORITY_EPSILON = 1e-3
ALPHA = 0.6
EXPLORATION_STEPS = 10_000
FINAL_EPSILON = 0.02


class State(NamedTuple):
    params: Any
    target_params: Any
    opt_state: Any
    replay: rj.PrioritizedReplayState
    key: jax.Array


def make_network() -> hk.Transformed:
    def q_values(obs: jax.Array) -> jax.Array:
        return hk.nets.MLP([*HIDDEN, 2])(obs)

    return hk.without_apply_rng(hk.transform(q_values))


def empty_replay(obs_dim: int) -> rj.PrioritizedReplayState:
    """Prioritized replay in JAX arrays: one transition is this example, without a batch axis."""
    example = {
        "obs": jnp.zeros(obs_dim),
        "action": jnp.int32(0),
        "reward": jnp.float32(0),
        "discount": jnp.float32(0),  # gamma, or 0 at a terminal state
        "next_obs": jnp.zeros(obs_dim),
    }
    return rj.init(example, CAPACITY, alpha=ALPHA, epsilon=PRIORITY_EPSILON)


@functools.partial(jax.jit, donate_argnums=0)
def add(replay: rj.PrioritizedReplayState, transition: dict[str, Any]) -> Any:
    """Store one transition, at the largest priority so far (written in place: donated)."""
    return rj.add(replay, jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], transition))


def make_update(network: hk.Transformed, optimizer: optax.GradientTransformation) -> Any:
    def loss_fn(params: Any, target_params: Any, batch: dict[str, jax.Array], w: jax.Array) -> Any:
        q = network.apply(params, batch["obs"])
        q = jnp.take_along_axis(q, batch["action"][:, None], axis=1)[:, 0]
        next_action = jnp.argmax(network.apply(params, batch["next_obs"]), axis=1)
        q_next = network.apply(target_params, batch["next_obs"])
        q_next = jnp.take_along_axis(q_next, next_action[:, None], axis=1)[:, 0]
        target = batch["reward"] + batch["discount"] * jax.lax.stop_gradient(q_next)
        td = target - q
        return jnp.mean(w * optax.huber_loss(td)), td

    def update(state: State, beta: jax.Array) -> tuple[State, jax.Array]:
        """Sample, weigh, learn and update the priorities: one compiled function."""
        key, sample_key = jax.random.split(state.key)
        # importance weights (p_min / p_i) ** beta, the largest 1
        batch, idx, weights = rj.sample(state.replay, sample_key, BATCH_SIZE, beta, stratified=True)
        grads, td = jax.grad(loss_fn, has_aux=True)(
            state.params, state.target_params, batch, weights
        )
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        target = optax.incremental_update(params, state.target_params, TARGET_UPDATE_RATE)
        replay = rj.update_priorities(state.replay, idx, jnp.abs(td))  # + epsilon, ** alpha
        return State(params, target, opt_state, replay, key), jnp.mean(jnp.abs(td))

    return jax.jit(update, donate_argnums=0)


def evaluate(network: hk.Transformed, params: Any, episodes: int, seed: int) -> float:
    env = gymnasium.make("CartPole-v1")
    act = jax.jit(lambda p, o: jnp.argmax(network.apply(p, o)))
    returns = []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        done, total = False, 0.0
        while not done:
            obs, reward, terminated, truncated, _ = env.step(int(act(params, obs)))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return float(np.mean(returns))


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40_000, help="most environment steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-every", type=int, default=2_500)
    parser.add_argument("--eval-episodes", type=int, default=5)
    parser.add_argument("--target-return", type=float, default=500.0)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    env = gymnasium.make("CartPole-v1")
    obs, _ = env.reset(seed=args.seed)
    network = make_network()
    key = jax.random.key(args.seed)
    key, init_key = jax.random.split(key)
    params = network.init(init_key, jnp.zeros((1, obs.shape[0])))
    optimizer = optax.adam(LEARNING_RATE)
    target_params = jax.tree_util.tree_map(jnp.copy, params)  # its own buffers: donated
    state = State(params, target_params, optimizer.init(params), empty_replay(obs.shape[0]), key)
    update = make_update(network, optimizer)
    act = jax.jit(lambda p, o: jnp.argmax(network.apply(p, o)))
    rng = np.random.default_rng(args.seed)
    warmup = min(WARMUP_STEPS, max(1, args.steps // 4))
    best, step = -1.0, 0
    td: Any = float("nan")  # the last update's mean |TD error|, read only when printed
    for step in range(1, args.steps + 1):
        epsilon = max(FINAL_EPSILON, 1.0 - step / min(EXPLORATION_STEPS, args.steps // 2 or 1))
        if rng.random() < epsilon:
            action = int(rng.integers(2))
        else:
            action = int(act(state.params, obs))
        next_obs, reward, terminated, truncated, _ = env.step(action)
        transition = {
            "obs": obs,
            "action": action,
            "reward": float(reward),
            "discount": 0.0 if terminated else GAMMA,
            "next_obs": next_obs,
        }
        state = state._replace(replay=add(state.replay, transition))
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
        if step >= warmup:
            beta = jnp.asarray(0.4 + 0.6 * step / args.steps)
            state, td = update(state, beta)  # td stays on the device: no wait every step
        if step % args.eval_every == 0 or step == args.steps:
            score = evaluate(network, state.params, args.eval_episodes, 10_000 + step)
            best = max(best, score)
            print(
                f"step {step:6d}  greedy return {score:6.1f}  mean |td| {float(td):.3f}",
                flush=True,
            )
            if score >= args.target_return:
                break
    elapsed = time.perf_counter() - start
    print("Summary")
    print(f"  environment steps   {step}")
    print(f"  best greedy return  {best:.1f}")
    print(f"  wall time           {elapsed:.1f} s")
    print(
        f"  replay size         {int(state.replay.size)}  "
        f"total priority {float(state.replay.sums.root_value):.3f}"
    )
    return {"steps": float(step), "best": best, "seconds": elapsed}


if __name__ == "__main__":
    main()
