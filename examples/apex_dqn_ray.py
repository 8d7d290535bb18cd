"""Ape-X DQN on CartPole-v1: actors in Ray processes, prioritized replay sharded over Ray actors.

The distributed-prioritized-replay recipe of Horgan et al. (2018), on one machine or a cluster:

* ``--actors`` actor processes (Ray actors) each play their own CartPole with their own
  epsilon (``0.4 ** (1 + 3 i / (N - 1))``: one explores a lot, the last little), turn the steps
  into 3-step transitions with ``rlu_replay.NStepTracer``, give each its initial priority from
  their own copy of the Q-network (``|TD error|``) and add them through a
  ``rlu_replay.ray.ReplayWriter``: batched, non-blocking calls to the shards;
* ``--shards`` replay shards (``rlu_replay.ray.ShardedPrioritizedReplay``) hold the
  transitions; the learner draws from them proportionally over all shards, with importance
  weights, through ``replay.stream`` (``--prefetch`` draws ahead, half of them per call round,
  so the next ones travel while it trains), under a ``RateLimiter`` (a minimum size and a
  samples-per-insert ratio);
* one learner (this process) runs double DQN in JAX (optax), sends the new priorities back to
  the owning shards, and broadcasts its parameters: one ``ray.put`` per broadcast, whose
  reference every actor's next chunk of steps receives.

The actors act with a numpy copy of the network (a few microseconds per step, no JAX in the
actor processes). On a small machine actors that run freely take the learner's CPU, so the
learner paces them: an actor gets its next chunk of steps only while the steps handed out
stay below ``--steps-per-update`` times the updates done (after a warm-up). The run stops when
the greedy policy averages ``--target-return`` over 10 evaluation episodes, or after
``--seconds``; it prints the throughput (environment steps, transitions stored and items
sampled per second). ``--address`` joins an existing Ray cluster instead of starting one.

Run it with ``python examples/apex_dqn_ray.py`` (or ``hatch run apex``); ``--help`` lists the
flags.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # a network this small runs fastest on the CPU

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import optax
import ray
from rlu_replay import NStepTracer
from rlu_replay.ray import RateLimiter, ReplayWriter, ShardedPrioritizedReplay

Params = dict[str, Any]  # {"w0", "b0", "w1", "b1", "w2", "b2"}: numpy or jax arrays

GAMMA = 0.99
N_STEP = 3
HIDDEN = 128
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
TARGET_UPDATE_RATE = 0.01
MAX_GRAD_NORM = 10.0
REPLAY_CAPACITY = 100_000
ALPHA, BETA, PRIORITY_EPSILON = 0.6, 0.4, 1e-3
SOLVED_RETURN = 475.0


# --------------------------------------------------------------------------------------------
# The Q-network: one parameter dict, a numpy forward pass (actors) and a JAX one (learner)
# --------------------------------------------------------------------------------------------


def init_params(rng: np.random.Generator, sizes: tuple[int, ...]) -> Params:
    """An MLP's weights (scaled uniform) and zero biases."""
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        bound = 1 / np.sqrt(fan_in)
        params[f"w{i}"] = rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32)
        params[f"b{i}"] = np.zeros(fan_out, np.float32)
    return params


def q_numpy(params: Params, obs: np.ndarray) -> np.ndarray:
    h = np.maximum(obs @ params["w0"] + params["b0"], 0)
    h = np.maximum(h @ params["w1"] + params["b1"], 0)
    return h @ params["w2"] + params["b2"]


def q_jax(params: Params, obs: jax.Array) -> jax.Array:
    h = jax.nn.relu(obs @ params["w0"] + params["b0"])
    h = jax.nn.relu(h @ params["w1"] + params["b1"])
    return h @ params["w2"] + params["b2"]


# --------------------------------------------------------------------------------------------
# Actors
# --------------------------------------------------------------------------------------------


@ray.remote(num_cpus=1)
class Actor:
    """One environment, one epsilon; plays chunks of steps with the parameters it is sent."""

    def __init__(self, actor_id: int, epsilon: float, writer: ReplayWriter, seed: int) -> None:
        self.epsilon = epsilon
        self.writer = writer
        self.env = gymnasium.make("CartPole-v1")
        self.rng = np.random.default_rng(seed)
        self.tracer = NStepTracer(N_STEP, GAMMA)
        self.obs, _ = self.env.reset(seed=seed)
        self.episode_return = 0.0
        self.actor_id = actor_id

    def run(self, params: Params, steps: int) -> dict[str, Any]:
        """Play ``steps`` steps; return the steps played and the returns of finished episodes."""
        returns = []
        for _ in range(steps):
            q = q_numpy(params, self.obs)
            if self.rng.random() < self.epsilon:
                action = int(self.rng.integers(2))
            else:
                action = int(np.argmax(q))
            obs_next, reward, terminated, truncated, _ = self.env.step(action)
            tb = self.tracer.add(self.obs, action, float(reward), terminated, truncated, obs_next)
            if tb is not None:  # initial priorities: |TD error| under the actor's own copy
                target = tb.Rn + tb.In * q_numpy(params, tb.S_next).max(axis=1)
                taken = q_numpy(params, tb.S)[np.arange(tb.batch_size), tb.A]
                self.writer.add(tb, priorities=np.abs(target - taken))
            self.episode_return += float(reward)
            self.obs = obs_next
            if terminated or truncated:
                returns.append(self.episode_return)
                self.episode_return = 0.0
                self.obs, _ = self.env.reset()
        return {"actor": self.actor_id, "steps": steps, "returns": returns}


# --------------------------------------------------------------------------------------------
# Learner
# --------------------------------------------------------------------------------------------


def make_update(optimizer: optax.GradientTransformation) -> Any:
    """Double DQN with importance-weighted Huber loss; Polyak-averaged target network."""

    def loss_fn(params: Params, target: Params, batch: Any) -> tuple[jax.Array, jax.Array]:
        q = q_jax(params, batch.S)
        q_taken = jnp.take_along_axis(q, batch.A[:, None], axis=1)[:, 0]
        next_action = jnp.argmax(q_jax(params, batch.S_next), axis=1)
        q_next = jnp.take_along_axis(q_jax(target, batch.S_next), next_action[:, None], axis=1)
        td = batch.Rn + batch.In * jax.lax.stop_gradient(q_next[:, 0]) - q_taken
        return jnp.mean(batch.W * optax.huber_loss(td)), td

    @jax.jit
    def update(params: Params, target: Params, opt_state: Any, batch: Any) -> Any:
        grads, td = jax.grad(loss_fn, has_aux=True)(params, target, batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        target = optax.incremental_update(params, target, TARGET_UPDATE_RATE)
        return params, target, opt_state, td

    return update


def evaluate(params: Params, episodes: int, seed: int) -> float:
    """Mean return of the greedy policy over ``episodes`` episodes."""
    env = gymnasium.make("CartPole-v1")
    total = 0.0
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(int(np.argmax(q_numpy(params, obs))))
            total += float(reward)
            done = terminated or truncated
    return total / episodes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--actors", type=int, default=2, help="actor processes")
    parser.add_argument("--shards", type=int, default=2, help="replay shards")
    parser.add_argument("--seconds", type=float, default=300.0, help="wall-time budget")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target-return", type=float, default=SOLVED_RETURN)
    parser.add_argument("--chunk", type=int, default=200, help="steps per actor call")
    parser.add_argument("--steps-per-update", type=float, default=2.0, help="actor pacing")
    parser.add_argument("--min-replay", type=int, default=1_000, help="rate limiter min size")
    parser.add_argument("--samples-per-insert", type=float, default=64.0)
    parser.add_argument("--eval-every", type=int, default=1_000, help="updates between evals")
    parser.add_argument("--updates-per-sample", type=int, default=4, help="minibatches per draw")
    parser.add_argument("--prefetch", type=int, default=4, help="draws ahead of the learner")
    parser.add_argument("--broadcast-every", type=int, default=50, help="updates per ray.put")
    parser.add_argument("--max-updates", type=int, default=None, help="stop after this many")
    parser.add_argument("--address", default=None, help="join this Ray cluster")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    if args.address:
        ray.init(address=args.address)
    else:
        ray.init(num_cpus=max(2, args.actors), include_dashboard=False, log_to_driver=False)
    replay = ShardedPrioritizedReplay(
        capacity=REPLAY_CAPACITY,
        num_shards=args.shards,
        alpha=ALPHA,
        beta=BETA,
        epsilon=PRIORITY_EPSILON,
        rate_limiter=RateLimiter(args.samples_per_insert, min_size=args.min_replay),
        random_seed=args.seed,
    )
    rng = np.random.default_rng(args.seed)
    params = init_params(rng, (4, HIDDEN, HIDDEN, 2))
    n = args.actors
    epsilons = [0.4 ** (1 + 3 * i / max(1, n - 1)) for i in range(n)]
    actors = [
        Actor.remote(i, epsilons[i], replay.writer(flush_every=64, first_shard=i), args.seed + i)
        for i in range(n)
    ]
    optimizer = optax.chain(optax.clip_by_global_norm(MAX_GRAD_NORM), optax.adam(LEARNING_RATE))
    update = make_update(optimizer)
    learner_params = jax.tree.map(jnp.asarray, params)
    target_params, opt_state = learner_params, optimizer.init(learner_params)
    params_ref = ray.put(params)  # one object in the store per broadcast, read by every actor
    running = {actor.run.remote(params_ref, args.chunk): i for i, actor in enumerate(actors)}
    launched = n * args.chunk
    setup_seconds = time.perf_counter() - started
    print(
        f"{n} actors (epsilon {', '.join(f'{e:.3g}' for e in epsilons)}), "
        f"{args.shards} shards, set up in {setup_seconds:.1f} s"
    )

    # the learner's batches: prefetch draws ahead, half a call round (k minibatches a draw)
    k = args.updates_per_sample
    stream = replay.stream(k * BATCH_SIZE, prefetch=args.prefetch)
    train_start = time.perf_counter()
    env_steps, updates, episodes, broadcasts = 0, 0, 0, 1
    recent: list[float] = []
    score, solved, final = -np.inf, False, None
    idle: list[int] = []
    while time.perf_counter() - train_start < args.seconds:
        done, _ = ray.wait(list(running), num_returns=len(running), timeout=0)
        for ref in done:
            result = ray.get(ref)
            env_steps += result["steps"]
            episodes += len(result["returns"])
            recent = (recent + result["returns"])[-20:]
            idle.append(running.pop(ref))
        # pacing: hand out steps while they stay below steps-per-update times the updates
        while idle and launched < args.min_replay + args.steps_per_update * updates:
            i = idle.pop()
            running[actors[i].run.remote(params_ref, args.chunk)] = i
            launched += args.chunk
        if updates == 0 and len(replay) < args.min_replay:
            time.sleep(0.01)
            if not running and idle:  # the warm-up is not full yet: keep every actor busy
                for i in idle:
                    running[actors[i].run.remote(params_ref, args.chunk)] = i
                    launched += args.chunk
                idle = []
            continue
        batch = next(stream)
        td_errors = []
        for j in range(k):
            part = jax.tree.map(lambda x, j=j: x[j * BATCH_SIZE : (j + 1) * BATCH_SIZE], batch)
            learner_params, target_params, opt_state, td = update(
                learner_params, target_params, opt_state, part._replace(idx=None)
            )
            td_errors.append(np.asarray(td))
        replay.update_priorities(batch.idx, np.abs(np.concatenate(td_errors)))
        previous, updates = updates, updates + k
        if updates // args.broadcast_every > previous // args.broadcast_every:
            params = jax.device_get(learner_params)
            params_ref = ray.put(params)
            broadcasts += 1
        if updates // args.eval_every > previous // args.eval_every:
            score = evaluate(jax.device_get(learner_params), 5, 10_000 + updates)
            elapsed = time.perf_counter() - train_start
            print(
                f"{elapsed:6.1f} s  updates {updates:6d}  env steps {env_steps:7d}  "
                f"episodes {episodes:5d}  recent return {np.mean(recent or [0]):6.1f}  "
                f"greedy {score:6.1f}",
                flush=True,
            )
            if score >= args.target_return:
                final = evaluate(jax.device_get(learner_params), 10, 1_000_000 + args.seed)
                if final >= args.target_return:
                    solved = True
                    break
        if args.max_updates is not None and updates >= args.max_updates:
            break
    train_seconds = time.perf_counter() - train_start
    stats = replay.stats()
    stored = sum(s["inserted"] for s in stats)
    sampled = sum(s["sampled"] for s in stats)
    if final is None:
        final = evaluate(jax.device_get(learner_params), 10, 1_000_000 + args.seed)
    print(
        f"\nApe-X DQN, {n} actors, {args.shards} shards, {train_seconds:.1f} s of training "
        f"({time.perf_counter() - started:.1f} s in all)"
    )
    print(
        f"  {'solved' if solved else 'not solved'}: greedy return {final:.1f} over 10 episodes "
        f"(threshold {SOLVED_RETURN:g})"
    )
    print(
        f"  throughput: {env_steps / train_seconds:,.0f} env steps/s, "
        f"{stored / train_seconds:,.0f} transitions stored/s, "
        f"{updates / train_seconds:,.0f} updates/s ({sampled / train_seconds:,.0f} items "
        f"sampled/s), {broadcasts} parameter broadcasts"
    )
    replay.close()
    ray.shutdown()


if __name__ == "__main__":
    main()
