"""Prioritized DQN on CartPole-v1 from pixels, with each frame stored once in the replay buffer.

The agent sees what a camera would: CartPole's rendered frames, cut down to 40 x 60 grayscale
and stacked four deep by gymnasium's ``FrameStackObservation``; a small convolutional network
maps a stack to Q-values. Each transition holds two stacks (``S`` and the n-step ``S_next``),
eight frames, of which one is new. ``PrioritizedReplayBuffer(..., frame_stack=4)`` stores each
distinct frame once and rebuilds the stacks when it samples; the run ends by printing how much
memory the buffer's frames take beside what the same transitions would take stored whole.

Run it with ``python examples/dqn_pixels.py`` (or ``hatch run demo-pixels``); ``--steps`` sets
the budget (``--steps 300`` is a smoke run). CartPole from pixels is a slow task on a CPU: on
this project's 2-core machine, seed 0's 30,000 steps took 10 minutes, its training return rose
to about 55-62 and its best greedy evaluation to 72.8, against about 22 for a random policy;
its buffer then held 29,998 transitions in 24,785 frames (identical frames are stored once
too), 57 MiB where whole stacks would take 549 MiB.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, NamedTuple

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame renders without a display

import gymnasium
import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import optax
from gymnasium.wrappers import AddRenderObservation, FrameStackObservation, TransformObservation
from rlu_replay import NStepTracer, PrioritizedReplayBuffer

STACK = 4  # frames per observation
FRAME = (40, 60)  # CartPole's 400 x 600 render, every 10th pixel, grayscale
GAMMA = 0.99
N_STEP = 3
LEARNING_RATE = 5e-4
BATCH_SIZE = 32
CAPACITY = 100_000
WARMUP_STEPS = 1_000
TARGET_UPDATE_RATE = 0.005
ALPHA, BETA, PRIORITY_EPSILON = 0.6, 0.4, 1e-3
EXPLORATION_STEPS = 20_000
FINAL_EPSILON = 0.05


def make_env(seed: int) -> gymnasium.Env[Any, Any]:
    """CartPole-v1 whose observations are stacks of 4 grayscale frames of 40 x 60 pixels."""
    env = gymnasium.make("CartPole-v1", render_mode="rgb_array")
    env = AddRenderObservation(env, render_only=True)
    space = gymnasium.spaces.Box(0, 255, FRAME, np.uint8)

    def shrink(frame: np.ndarray) -> np.ndarray:
        return frame[::10, ::10].mean(axis=-1).astype(np.uint8)

    env = TransformObservation(env, shrink, space)
    env = FrameStackObservation(env, stack_size=STACK)
    env.action_space.seed(seed)
    return env


def make_q_network(num_actions: int) -> hk.Transformed:
    def q_values(stacks: jax.Array) -> jax.Array:
        x = jnp.moveaxis(stacks, 1, -1).astype(jnp.float32) / 255.0  # (B, 40, 60, 4)
        x = jax.nn.relu(hk.Conv2D(16, 5, stride=2)(x))
        x = jax.nn.relu(hk.Conv2D(32, 3, stride=2)(x))
        x = hk.Flatten()(x)
        x = jax.nn.relu(hk.Linear(256)(x))
        return hk.Linear(num_actions)(x)

    return hk.without_apply_rng(hk.transform(q_values))


class TrainState(NamedTuple):
    params: Any
    target_params: Any
    opt_state: Any


def make_update(q_network: hk.Transformed, optimizer: optax.GradientTransformation) -> Any:
    """Double DQN on a sampled TransitionBatch, weighted by its importance weights ``W``."""

    def loss_fn(params: Any, target_params: Any, batch: Any) -> tuple[jax.Array, jax.Array]:
        q = q_network.apply(params, batch.S)
        q_taken = jnp.take_along_axis(q, batch.A[:, None], axis=1)[:, 0]
        next_action = jnp.argmax(q_network.apply(params, batch.S_next), axis=1)
        q_next = q_network.apply(target_params, batch.S_next)
        q_next = jnp.take_along_axis(q_next, next_action[:, None], axis=1)[:, 0]
        td = batch.Rn + batch.In * jax.lax.stop_gradient(q_next) - q_taken
        return jnp.mean(batch.W * optax.huber_loss(td)), td

    @jax.jit
    def update(state: TrainState, batch: Any) -> tuple[TrainState, jax.Array]:
        grads, td = jax.grad(loss_fn, has_aux=True)(state.params, state.target_params, batch)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        target = optax.incremental_update(params, state.target_params, TARGET_UPDATE_RATE)
        return TrainState(params, target, opt_state), td

    return update


def evaluate(env: Any, greedy: Any, params: Any, episodes: int, seed: int) -> float:
    returns = []
    for episode in range(episodes):
        s, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            s, r, terminated, truncated, _ = env.step(int(greedy(params, s[None])[0]))
            total += float(r)
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


def train(args: argparse.Namespace) -> None:
    env, eval_env = make_env(args.seed), make_env(args.seed + 10_000)
    q_network = make_q_network(int(env.action_space.n))
    optimizer = optax.adam(LEARNING_RATE)
    s, _ = env.reset(seed=args.seed)
    params = q_network.init(jax.random.key(args.seed), s[None])
    state = TrainState(params, params, optimizer.init(params))
    update = make_update(q_network, optimizer)
    greedy = jax.jit(lambda p, stacks: jnp.argmax(q_network.apply(p, stacks), axis=1))

    tracer = NStepTracer(n=N_STEP, gamma=GAMMA)
    buffer = PrioritizedReplayBuffer(
        CAPACITY, ALPHA, BETA, PRIORITY_EPSILON, random_seed=args.seed, frame_stack=STACK
    )
    rng = np.random.default_rng(args.seed)
    warmup = min(WARMUP_STEPS, max(BATCH_SIZE, args.steps // 4))
    explore = max(1, min(EXPLORATION_STEPS, args.steps // 2))
    episode_return, returns, best = 0.0, [], float("-inf")
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        epsilon = max(FINAL_EPSILON, 1.0 - (1.0 - FINAL_EPSILON) * step / explore)
        if rng.random() < epsilon:
            a = int(rng.integers(env.action_space.n))
        else:
            a = int(greedy(state.params, s[None])[0])
        s_next, r, terminated, truncated, _ = env.step(a)
        transitions = tracer.add(s, a, r, terminated, truncated, s_next)
        if transitions is not None:
            buffer.add(transitions)
        episode_return += float(r)
        if terminated or truncated:
            returns.append(episode_return)
            episode_return = 0.0
            s, _ = env.reset()
        else:
            s = s_next
        if step >= warmup and len(buffer) >= BATCH_SIZE:
            batch = buffer.sample(BATCH_SIZE)
            state, td = update(state, batch)
            buffer.update_priorities(batch.idx, np.abs(np.asarray(td)))
        if step % args.eval_every == 0 or step == args.steps:
            score = evaluate(eval_env, greedy, state.params, args.eval_episodes, args.seed)
            best = max(best, score)
            recent = np.mean(returns[-10:]) if returns else float("nan")
            print(
                f"step {step:>7,}  training return (last 10) {recent:7.1f}  "
                f"greedy evaluation {score:7.1f}  ({time.perf_counter() - start:.0f} s)"
            )
    print(f"best greedy return {best:.1f}")
    report_memory(buffer)


def report_memory(buffer: PrioritizedReplayBuffer) -> None:
    """The buffer's frames beside the same transitions stored whole (two stacks each)."""
    frame_bytes = int(np.prod(FRAME))
    stored = buffer.stored_frames or 0
    whole = len(buffer) * 2 * STACK * frame_bytes
    print(
        f"replay: {len(buffer):,} transitions, {stored:,} frames stored "
        f"({stored / max(1, len(buffer)):.3f} per transition)"
    )
    print(
        f"replay frames: {stored * frame_bytes / 2**20:.1f} MiB stored once, "
        f"{whole / 2**20:.1f} MiB if every stack were stored whole "
        f"(ratio {stored * frame_bytes / max(1, whole):.3f})"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--steps", type=int, default=50_000, help="environment steps")
    parser.add_argument("--seed", type=int, default=0, help="seed of the whole run")
    parser.add_argument("--eval-every", type=int, default=5_000, help="steps between evaluations")
    parser.add_argument("--eval-episodes", type=int, default=5, help="episodes per evaluation")
    args = parser.parse_args(argv)
    for name in ("steps", "eval_every", "eval_episodes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


if __name__ == "__main__":
    train(parse_args())
