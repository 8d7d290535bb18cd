"""Prioritized DQN on 8 CartPole-v1 environments stepped together, written with rlu.

The agent is the double DQN of ``examples/dqn_cartpole.py`` (3-step returns, proportional
prioritized replay, a dm-haiku MLP trained with optax), fed by a gymnasium vector environment:
``gymnasium.vector.AsyncVectorEnv`` runs 8 copies of ``CartPole-v1`` in worker processes and
every step moves all 8 at once. The library does all of the replay:

* ``rlu.NStepTracer(n, gamma, num_envs=8, autoreset_mode=...)`` takes each vector step whole
  (arrays with a leading axis of 8) and returns the 3-step transitions that step completed, of
  every environment, as one ``TransitionBatch``. The vector environment resets an environment
  on the step after its episode ended; the tracer knows that step from the autoreset mode and
  never stores it, so the loop below has no loop over the environments and no code for resets
  (it only adds up the episodes' returns, to report them);
* ``rlu.PrioritizedReplayBuffer`` stores those batches and samples by priority, with the
  importance weights in the sampled batch's ``W`` and the identifiers to re-prioritize in
  its ``idx``; its ``beta`` is a ``rlu.StepwiseLinearFunction`` of the number of samples drawn.

Every ``--eval-every`` environment steps (counted over all 8 environments) the greedy policy
plays 20 episodes side by side; training keeps the parameters of the best such evaluation and ends
early once one reaches ``--target-return``. Those parameters are then evaluated on environment seeds
that training never used: ``main`` returns that mean return, and the script prints it with the
rest of the run's figures.

Run it with ``python examples/dqn_cartpole_vector.py``; ``--help`` lists the flags.
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import time
from collections.abc import Callable
from typing import Any, NamedTuple

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # a network this small runs fastest on the CPU

import gymnasium
import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import optax
import rlu

Params = Any  # a haiku parameter tree
GreedyActions = Callable[[Params, Any, jax.Array], tuple[jax.Array, jax.Array]]
Update = Callable[..., tuple["TrainState", jax.Array]]

SOLVED_RETURN = 475.0  # CartPole-v1's reward threshold


# --------------------------------------------------------------------------------------------
# Hyperparameters (the command line sets the budget and the seed)
# --------------------------------------------------------------------------------------------

NUM_ENVS = 8  # CartPole-v1 environments stepped together
GAMMA = 0.99
N_STEP = 3  # n-step returns
HIDDEN = (128, 128)
LEARNING_RATE = 1e-3
MAX_GRAD_NORM = 10.0
BATCH_SIZE = 128
UPDATES_PER_STEP = 2  # learner updates per vector step (of 8 transitions)
WARMUP_STEPS = 2_000  # environment steps before the first update
TARGET_UPDATE_RATE = 0.01  # Polyak averaging of the target network, every update
BUFFER_CAPACITY = 100_000
ALPHA = 0.6  # how strongly priorities skew sampling
PRIORITY_EPSILON = 1e-3  # keeps every transition's priority positive
EXPLORATION_STEPS = 20_000  # epsilon falls from 1 to FINAL_EPSILON over these env steps
FINAL_EPSILON = 0.02
EVAL_EPISODES_DURING_TRAINING = 20  # played side by side


# --------------------------------------------------------------------------------------------
# The vector environment
# --------------------------------------------------------------------------------------------


make_cartpole = functools.partial(gymnasium.make, "CartPole-v1")


def make_vector_env(num_envs: int) -> gymnasium.vector.AsyncVectorEnv:
    """``num_envs`` CartPole-v1 environments, each in a worker process of its own.

    The workers are started with ``fork`` (``spawn`` where there is none, on Windows).
    ``spawn`` and ``forkserver`` start fresh interpreters that run this script's imports again
    (JAX, haiku, optax): about 2 s of CPU each, 10-20 s for 8 workers on a 2-core machine,
    where a fork copies the parent at once. JAX warns that forking a process in which it runs
    may deadlock; its thread pools start with its first computation, so ``train`` makes the
    vector environment before JAX computes anything, and the workers only ever run gymnasium.
    """
    start_method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return gymnasium.vector.AsyncVectorEnv([make_cartpole] * num_envs, context=start_method)


# --------------------------------------------------------------------------------------------
# Q-network, acting and learning
# --------------------------------------------------------------------------------------------


def make_q_network(num_actions: int) -> hk.Transformed:
    """An MLP that maps a batch of observations to one Q-value per action."""

    def q_values(observations: jax.Array) -> jax.Array:
        return hk.nets.MLP([*HIDDEN, num_actions])(observations)

    return hk.without_apply_rng(hk.transform(q_values))


class TrainState(NamedTuple):
    """Everything the update step changes."""

    params: Params
    target_params: Params
    opt_state: optax.OptState
    rng: jax.Array  # for rlu.argmax's tie breaking


def make_greedy_actions(q_network: hk.Transformed) -> GreedyActions:
    """``greedy_actions(params, observations, rng) -> (actions, next_rng)`` for a batch.

    One compiled call picks the greedy action of every environment; ties between Q-values
    are broken at random by ``rlu.argmax``.
    """

    def greedy_actions(
        params: Params, observations: jax.Array, rng: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        rng, tie_rng = jax.random.split(rng)
        return rlu.argmax(tie_rng, q_network.apply(params, observations)), rng

    return rlu.jit(greedy_actions)


def make_update(q_network: hk.Transformed, optimizer: optax.GradientTransformation) -> Update:
    """``update(state, batch) -> (state, td_errors)``, compiled by rlu.jit.

    Double DQN on n-step transitions: the target is ``Rn + In * Q_target(S_next, a*)``, where
    the online network picks ``a*``; ``In`` is ``gamma ** n``, or 0 after a termination. The
    Huber loss of each TD error is weighted by the importance weights ``W``; the target
    network follows the online one by Polyak averaging.
    """

    def loss_fn(
        params: Params, target_params: Params, batch: rlu.TransitionBatch, rng: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        q = q_network.apply(params, batch.S)
        q_taken = jnp.take_along_axis(q, batch.A[:, None], axis=1)[:, 0]
        next_action = rlu.argmax(rng, q_network.apply(params, batch.S_next))
        q_next = q_network.apply(target_params, batch.S_next)
        q_next = jnp.take_along_axis(q_next, next_action[:, None], axis=1)[:, 0]
        target = batch.Rn + batch.In * jax.lax.stop_gradient(q_next)
        td_errors = target - q_taken
        return jnp.mean(batch.W * optax.huber_loss(td_errors)), td_errors

    def update(state: TrainState, batch: rlu.TransitionBatch) -> tuple[TrainState, jax.Array]:
        rng, tie_rng = jax.random.split(state.rng)
        grad_fn = jax.grad(loss_fn, has_aux=True)
        grads, td_errors = grad_fn(state.params, state.target_params, batch, tie_rng)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        target_params = optax.incremental_update(params, state.target_params, TARGET_UPDATE_RATE)
        return TrainState(params, target_params, opt_state, rng), td_errors

    return rlu.jit(update)


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def evaluate(greedy_actions: GreedyActions, params: Params, episodes: int, seed: int) -> np.ndarray:
    """Greedy returns of ``episodes`` episodes played side by side, one per environment.

    Environment ``i`` is seeded ``seed + i`` and plays one episode; what it does after its
    episode ended (the vector environment resets it and plays on) is not counted.
    """
    envs = gymnasium.vector.SyncVectorEnv([make_cartpole] * episodes)
    rng = jax.random.key(seed)
    observations, _ = envs.reset(seed=seed)
    returns = np.zeros(episodes)
    done = np.zeros(episodes, dtype=bool)
    while not done.all():
        actions, rng = greedy_actions(params, observations, rng)
        observations, rewards, terminated, truncated, _ = envs.step(np.asarray(actions))
        returns += np.where(done, 0.0, rewards)
        done |= terminated | truncated
    envs.close()
    return returns


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


class TrainingResult(NamedTuple):
    """What training hands on: the best parameters and the figures of the run."""

    params: Params  # of the best periodic evaluation
    step: int  # the environment step those parameters are from
    score: float  # their periodic evaluation return
    env_steps: int  # environment steps taken, over all environments
    updates: int  # learner updates made
    episodes: int  # training episodes finished
    transitions: int  # n-step transitions stored


def train(
    args: argparse.Namespace, greedy_actions: GreedyActions, q_network: hk.Transformed
) -> TrainingResult:
    """Make the vector environment, train on it, close it."""
    envs = make_vector_env(NUM_ENVS)  # first: before JAX computes anything (see there)
    try:
        return train_on(envs, args, greedy_actions, q_network)
    finally:
        envs.close()


def train_on(
    envs: gymnasium.vector.VectorEnv,
    args: argparse.Namespace,
    greedy_actions: GreedyActions,
    q_network: hk.Transformed,
) -> TrainingResult:
    """Run DQN on ``envs`` for at most ``args.steps`` environment steps (over all of them).

    Every ``args.eval_every`` environment steps the greedy policy plays
    ``EVAL_EPISODES_DURING_TRAINING`` episodes; the best parameters so far are kept, and
    training ends once their mean return reaches ``args.target_return``.
    """
    num_actions = int(envs.single_action_space.n)
    vector_steps = args.steps // NUM_ENVS
    warmup_steps = max(BATCH_SIZE, min(WARMUP_STEPS, args.steps // 4))
    total_updates = max(1, (args.steps - warmup_steps) // NUM_ENVS * UPDATES_PER_STEP)
    exploration_steps = max(1, min(EXPLORATION_STEPS, args.steps // 2))
    epsilon = rlu.StepwiseLinearFunction((0, 1.0), (exploration_steps, FINAL_EPSILON))

    optimizer = optax.chain(optax.clip_by_global_norm(MAX_GRAD_NORM), optax.adam(LEARNING_RATE))
    update = make_update(q_network, optimizer)
    init_rng, act_rng, update_rng = jax.random.split(jax.random.key(args.seed), 3)
    params = q_network.init(init_rng, jnp.zeros((1, *envs.single_observation_space.shape)))
    state = TrainState(params, params, optimizer.init(params), update_rng)

    # the replay: a tracer that reads whole vector steps, and a prioritized buffer whose beta
    # rises from 0.4 to 1 over the updates (it is called with the number of samples drawn)
    # (gymnasium 1.0's vector environments have no autoreset_mode: they reset on the next step)
    mode = envs.metadata.get("autoreset_mode", "next_step")
    tracer = rlu.NStepTracer(N_STEP, GAMMA, num_envs=NUM_ENVS, autoreset_mode=mode)
    buffer = rlu.PrioritizedReplayBuffer(
        BUFFER_CAPACITY,
        alpha=ALPHA,
        beta=rlu.StepwiseLinearFunction((0, 0.4), (total_updates, 1.0)),
        epsilon=PRIORITY_EPSILON,
        random_seed=args.seed,
    )
    explore = np.random.default_rng(args.seed)

    episode_returns = np.zeros(NUM_ENVS)  # of the episodes under way
    finished: list[float] = []  # returns of the training episodes that ended
    updates, env_steps = 0, 0
    best_score, best_step, best_params = -np.inf, 0, params
    observations, _ = envs.reset(seed=args.seed)  # environment i gets seed args.seed + i
    print(f"training on {NUM_ENVS} environments for at most {args.steps:,} steps, seed {args.seed}")
    for _ in range(vector_steps):
        # act epsilon-greedily in every environment at once
        env_steps += NUM_ENVS
        eps = epsilon(env_steps)
        greedy, act_rng = greedy_actions(state.params, observations, act_rng)
        greedy = np.asarray(greedy)
        random_actions = explore.integers(num_actions, size=NUM_ENVS)
        actions = np.where(explore.random(NUM_ENVS) < eps, random_actions, greedy)
        logp = np.log(eps / num_actions + (1 - eps) * (actions == greedy))
        next_observations, rewards, terminated, truncated, _ = envs.step(actions)

        # the whole vector step goes to the tracer; out come the n-step transitions it completed
        transitions = tracer.add(
            observations, actions, rewards, terminated, truncated, next_observations, logp
        )
        if transitions is not None:
            buffer.add(transitions)
        observations = next_observations

        # the returns of the episodes that ended (a reset step adds a reward of 0)
        episode_returns += rewards
        ended = terminated | truncated
        finished.extend(episode_returns[ended].tolist())
        episode_returns[ended] = 0.0

        # learn from prioritized batches, then re-prioritize them by their new TD errors
        if env_steps > warmup_steps:
            for _ in range(UPDATES_PER_STEP):
                batch = buffer.sample(BATCH_SIZE)
                state, td_errors = update(state, batch)
                buffer.update_priorities(batch.idx, np.abs(np.asarray(td_errors)))
                updates += 1

        # evaluate the greedy policy now and then; keep the best parameters
        if env_steps % args.eval_every < NUM_ENVS or env_steps + NUM_ENVS > args.steps:
            eval_seed = 10_000 + env_steps
            returns = evaluate(
                greedy_actions, state.params, EVAL_EPISODES_DURING_TRAINING, eval_seed
            )
            score = float(np.mean(returns))
            recent = np.mean(finished[-20:]) if finished else float("nan")
            print(
                f"step {env_steps:7,d}  episodes {len(finished):5d}  training return "
                f"{recent:6.1f}  greedy evaluation {score:6.1f}  updates {updates:6,d}",
                flush=True,
            )
            if score >= best_score:
                best_score, best_step, best_params = score, env_steps, state.params
            if score >= args.target_return:
                print(f"target return {args.target_return:g} reached, training ends")
                break

    return TrainingResult(
        params=best_params,
        step=best_step,
        score=best_score,
        env_steps=env_steps,
        updates=updates,
        episodes=len(finished),
        transitions=buffer.inserted,
    )


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line: the budget, the seed and the evaluations."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--steps", type=int, default=100_000, help="most environment steps, over all environments"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the whole run")
    parser.add_argument(
        "--eval-every", type=int, default=4_000, help="environment steps between evaluations"
    )
    parser.add_argument(
        "--eval-episodes", type=int, default=10, help="episodes of the final evaluation"
    )
    parser.add_argument(
        "--target-return",
        type=float,
        default=500.0,
        help="stop training once a periodic evaluation averages this much",
    )
    args = parser.parse_args(argv)
    minimums = (("steps", 2 * BATCH_SIZE), ("eval_every", NUM_ENVS), ("eval_episodes", 1))
    for name, minimum in minimums:
        if getattr(args, name) < minimum:
            parser.error(f"--{name.replace('_', '-')} must be at least {minimum}")
    return args


def main(argv: list[str] | None = None) -> float:
    """Train, evaluate the best parameters on fresh seeds, print a summary; return that mean."""
    args = parse_args(argv)
    started = time.perf_counter()
    q_network = make_q_network(num_actions=2)  # CartPole: push the cart left or right
    greedy_actions = make_greedy_actions(q_network)
    result = train(args, greedy_actions, q_network)
    train_seconds = time.perf_counter() - started

    eval_seed = 1_000_000 + args.seed  # environment seeds that training never used
    returns = evaluate(greedy_actions, result.params, args.eval_episodes, eval_seed)
    mean_return = float(np.mean(returns))
    verdict = "solved" if mean_return >= SOLVED_RETURN else "not solved"
    rows = [
        ("seed", str(args.seed)),
        (
            "environment steps",
            f"{result.env_steps:,} of {args.steps:,} ({NUM_ENVS} environments, "
            f"{result.episodes} episodes)",
        ),
        ("updates", f"{result.updates:,} of batches of {BATCH_SIZE}"),
        ("transitions stored", f"{result.transitions:,} ({N_STEP}-step)"),
        ("wall time", f"{time.perf_counter() - started:.1f} s (training {train_seconds:.1f} s)"),
        ("kept", f"parameters of step {result.step:,} (evaluation {result.score:.1f})"),
        (
            "final evaluation",
            f"{mean_return:.1f} ± {np.std(returns):.1f} over {len(returns)} episodes "
            f"({verdict}: threshold {SOLVED_RETURN:g})",
        ),
    ]
    width = max(len(label) for label, _ in rows)
    print("\nSummary")
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    return mean_return


if __name__ == "__main__":  # not in the workers (spawned ones import this file)
    main()
