"""Prioritized DQN on CartPole-v1 whose whole update step is one jitted function.

The replay buffer lives in JAX arrays and its priorities in ``rlu_trees.jax.JaxSumTree`` and
``JaxMinTree``: sampling (stratified, with an explicit PRNG key), the importance weights, the
double-DQN loss and gradient step, and the priority update all run inside one ``jax.jit``
with the whole training state donated, so XLA updates the trees in place. Only the
environment steps in Python. Compare with ``examples/dqn_cartpole.py``, which keeps the
priorities in the host (numba) trees.

Run it with ``python examples/dqn_cartpole_jit.py`` (or ``hatch run demo-jit``); ``--steps``
sets the budget (``--steps 400`` is a smoke run). Training stops once a greedy evaluation
reaches ``--target-return``.
"""

from __future__ import annotations

import argparse
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
from rlu_trees.jax import JaxMinTree, JaxSumTree

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


class Replay(NamedTuple):
    """Transitions in preallocated arrays, with their priorities in two JAX trees."""

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    discount: jax.Array  # gamma, or 0 at a terminal state
    next_obs: jax.Array
    priorities: JaxSumTree  # priority ** alpha, for sampling
    minimum: JaxMinTree  # the same values, for the largest importance weight
    max_priority: jax.Array
    size: jax.Array


class State(NamedTuple):
    params: Any
    target_params: Any
    opt_state: Any
    replay: Replay
    key: jax.Array


def make_network() -> hk.Transformed:
    def q_values(obs: jax.Array) -> jax.Array:
        return hk.nets.MLP([*HIDDEN, 2])(obs)

    return hk.without_apply_rng(hk.transform(q_values))


def empty_replay(obs_dim: int) -> Replay:
    return Replay(
        obs=jnp.zeros((CAPACITY, obs_dim)),
        action=jnp.zeros(CAPACITY, jnp.int32),
        reward=jnp.zeros(CAPACITY),
        discount=jnp.zeros(CAPACITY),
        next_obs=jnp.zeros((CAPACITY, obs_dim)),
        priorities=JaxSumTree(CAPACITY),
        minimum=JaxMinTree(CAPACITY),
        max_priority=jnp.array(1.0),
        size=jnp.array(0, jnp.int32),
    )


@jax.jit
def add(replay: Replay, index: jax.Array, transition: tuple[jax.Array, ...]) -> Replay:
    """Store one transition at ``index`` with the largest priority seen so far."""
    obs, action, reward, discount, next_obs = transition
    p = jnp.full(1, replay.max_priority**ALPHA)
    return replay._replace(
        obs=replay.obs.at[index].set(obs),
        action=replay.action.at[index].set(action),
        reward=replay.reward.at[index].set(reward),
        discount=replay.discount.at[index].set(discount),
        next_obs=replay.next_obs.at[index].set(next_obs),
        priorities=replay.priorities.set_values(index[None], p),
        minimum=replay.minimum.set_values(index[None], p),
        size=jnp.minimum(replay.size + 1, CAPACITY),
    )


def make_update(network: hk.Transformed, optimizer: optax.GradientTransformation) -> Any:
    def loss_fn(params: Any, target_params: Any, batch: tuple[jax.Array, ...], w: jax.Array) -> Any:
        obs, action, reward, discount, next_obs = batch
        q = jnp.take_along_axis(network.apply(params, obs), action[:, None], axis=1)[:, 0]
        next_action = jnp.argmax(network.apply(params, next_obs), axis=1)
        q_next = network.apply(target_params, next_obs)
        q_next = jnp.take_along_axis(q_next, next_action[:, None], axis=1)[:, 0]
        td = reward + discount * jax.lax.stop_gradient(q_next) - q
        return jnp.mean(w * optax.huber_loss(td)), td

    def update(state: State, beta: jax.Array) -> tuple[State, jax.Array]:
        """Sample, weigh, learn and update the priorities: one compiled function."""
        replay = state.replay
        key, sample_key = jax.random.split(state.key)
        idx = replay.priorities.sample(sample_key, BATCH_SIZE, stratified=True)
        total = replay.priorities.root_value
        probs = replay.priorities.values[idx] / total
        min_prob = replay.minimum.root_value / total
        weights = (probs / min_prob) ** (-beta)  # importance weights, the largest is 1
        batch = tuple(x[idx] for x in replay[:5])
        grads, td = jax.grad(loss_fn, has_aux=True)(
            state.params, state.target_params, batch, weights
        )
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        target = optax.incremental_update(params, state.target_params, TARGET_UPDATE_RATE)
        new_priority = jnp.abs(td) + PRIORITY_EPSILON
        p = new_priority**ALPHA
        replay = replay._replace(
            priorities=replay.priorities.set_values(idx, p),
            minimum=replay.minimum.set_values(idx, p),
            max_priority=jnp.maximum(replay.max_priority, new_priority.max()),
        )
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
    best, step, td = -1.0, 0, float("nan")
    for step in range(1, args.steps + 1):
        epsilon = max(FINAL_EPSILON, 1.0 - step / min(EXPLORATION_STEPS, args.steps // 2 or 1))
        if rng.random() < epsilon:
            action = int(rng.integers(2))
        else:
            action = int(act(state.params, obs))
        next_obs, reward, terminated, truncated, _ = env.step(action)
        transition = (obs, action, float(reward), 0.0 if terminated else GAMMA, next_obs)
        index = jnp.asarray((step - 1) % CAPACITY, jnp.int32)
        state = state._replace(replay=add(state.replay, index, transition))
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
        if step >= warmup:
            beta = jnp.asarray(0.4 + 0.6 * step / args.steps)
            state, td_mean = update(state, beta)
            td = float(td_mean) if step % 500 == 0 else td
        if step % args.eval_every == 0 or step == args.steps:
            score = evaluate(network, state.params, args.eval_episodes, 10_000 + step)
            best = max(best, score)
            print(f"step {step:6d}  greedy return {score:6.1f}  mean |td| {td:.3f}", flush=True)
            if score >= args.target_return:
                break
    elapsed = time.perf_counter() - start
    print("Summary")
    print(f"  environment steps   {step}")
    print(f"  best greedy return  {best:.1f}")
    print(f"  wall time           {elapsed:.1f} s")
    print(
        f"  replay size         {int(state.replay.size)}  "
        f"total priority {float(state.replay.priorities.root_value):.3f}"
    )
    return {"steps": float(step), "best": best, "seconds": elapsed}


if __name__ == "__main__":
    main()
