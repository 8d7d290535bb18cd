"""Prioritized DQN on CartPole-v1, written with rlu.

A double DQN agent with n-step returns and proportional prioritized experience replay learns
to balance the pole of gymnasium's ``CartPole-v1``. rlu supplies the pieces around the
learning rule:

* ``rlu.NStepTracer`` turns the steps into 3-step transitions and
  ``rlu.PrioritizedReplayBuffer`` (rlu-replay, on rlu-trees' SumTree) replays them
  by priority, with importance weights; ``rlu.StepwiseLinearFunction`` anneals epsilon, alpha
  and beta;
* ``rlu.argmax`` picks greedy actions, ``rlu.jit`` compiles the acting and update steps;
* ``rlu.TransitionBatch`` carries the sampled transitions, ``rlu.pretty_print`` shows one;
* ``rlu.dump`` / ``rlu.load`` write and read back the checkpoint that is evaluated at the end,
  ``rlu.generate_gif`` records the trained agent, ``rlu.enable_logging`` writes the log.

The Q-network is a dm-haiku MLP, trained with optax. During training the greedy policy is
evaluated every ``--eval-every`` steps; the checkpoint holds the parameters of the best such
evaluation (the last one among equals), and training ends early once an evaluation reaches
``--target-return``. The final evaluation runs on the reloaded checkpoint with environment
seeds that training never used.

Run it with ``python examples/dqn_cartpole.py`` (or ``hatch run demo``); everything is
written to ``./demo-output/``. ``--help`` lists the flags.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # render CartPole without a display
os.environ.setdefault("JAX_PLATFORMS", "cpu")  # a network this small runs fastest on the CPU

import gymnasium
import haiku as hk
import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
import rlu
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after choosing the backend

logger = logging.getLogger("dqn_cartpole")

Params = Any  # a haiku parameter tree
Policy = Callable[[np.ndarray], int]
GreedyAction = Callable[[Params, jax.Array, jax.Array], tuple[jax.Array, jax.Array]]
Update = Callable[..., tuple["TrainState", jax.Array]]

SOLVED_RETURN = 475.0  # CartPole-v1's reward threshold


# --------------------------------------------------------------------------------------------
# Hyperparameters (the command line only sets the budget)
# --------------------------------------------------------------------------------------------

GAMMA = 0.99
N_STEP = 3  # n-step returns
HIDDEN = (128, 128)
LEARNING_RATE = 1e-3
MAX_GRAD_NORM = 10.0
BATCH_SIZE = 64
WARMUP_STEPS = 1_000  # steps before the first update (down to a quarter of short budgets)
TARGET_UPDATE_RATE = 0.01  # Polyak averaging of the target network, every update
BUFFER_CAPACITY = 100_000
PRIORITY_EPSILON = 1e-3  # keeps every transition's priority positive
EXPLORATION_STEPS = 10_000  # epsilon falls from 1 to FINAL_EPSILON over these steps
FINAL_EPSILON = 0.02
EVAL_EPISODES_DURING_TRAINING = 5


def schedules(total_steps: int) -> dict[str, rlu.StepwiseLinearFunction]:
    """The annealed quantities, as functions of the environment step.

    epsilon: exploration rate, from 1 down to FINAL_EPSILON; alpha: how strongly priorities
    skew sampling (0 is uniform), eased off as training goes on; beta: how fully importance
    weights correct that skew, up to fully (1) by the end of the budget.
    """
    exploration_steps = max(1, min(EXPLORATION_STEPS, total_steps // 2))
    return {
        "epsilon": rlu.StepwiseLinearFunction((0, 1.0), (exploration_steps, FINAL_EPSILON)),
        "alpha": rlu.StepwiseLinearFunction((0, 0.6), (total_steps, 0.4)),
        "beta": rlu.StepwiseLinearFunction((0, 0.4), (total_steps, 1.0)),
    }


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


def make_greedy_action(q_network: hk.Transformed) -> GreedyAction:
    """``greedy_action(params, observation, rng) -> (action, next_rng)``, compiled by rlu.jit.

    Ties between Q-values are broken at random by ``rlu.argmax``; the key for that is split
    off ``rng`` inside the compiled function. The compiled function can be pickled, so it goes
    into the checkpoint beside the parameters.
    """

    def greedy_action(
        params: Params, observation: jax.Array, rng: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        rng, tie_rng = jax.random.split(rng)
        q = q_network.apply(params, observation[None])[0]
        return rlu.argmax(tie_rng, q), rng

    return rlu.jit(greedy_action)


def make_update(q_network: hk.Transformed, optimizer: optax.GradientTransformation) -> Update:
    """``update(state, batch) -> (state, td_errors)``, compiled by rlu.jit.

    Double DQN: the online network picks the next action, the target network values it. The
    Huber loss of each TD error is weighted by the batch's importance weights ``W``; the
    target network follows the online one by Polyak averaging.
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
        loss = jnp.mean(batch.W * optax.huber_loss(td_errors))
        return loss, td_errors

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
# Evaluation and reporting
# --------------------------------------------------------------------------------------------


def make_policy(greedy_action: GreedyAction, params: Params, seed: int) -> Policy:
    """A policy ``a = policy(s)`` that acts greedily with ``params``."""
    rng = jax.random.key(seed)

    def policy(observation: np.ndarray) -> int:
        nonlocal rng
        action, rng = greedy_action(params, observation, rng)
        return int(action)

    return policy


def evaluate(env: gymnasium.Env, policy: Policy, episodes: int, seed: int) -> list[float]:
    """Run ``episodes`` episodes (environment seeds ``seed``, ``seed + 1``, ...); their returns."""
    returns = []
    for episode in range(episodes):
        observation, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            observation, reward, terminated, truncated, _ = env.step(policy(observation))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return returns


def plot_learning_curve(
    path: Path,
    episode_ends: list[int],
    episode_returns: list[float],
    evaluations: list[tuple[int, float]],
    window: int = 20,
) -> None:
    """Plot the return of each training episode, its moving average and the evaluations."""
    returns = np.asarray(episode_returns)
    moving_average = np.array(
        [returns[max(0, i - window + 1) : i + 1].mean() for i in range(len(returns))]
    )
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(episode_ends, returns, ".", alpha=0.35, label="training episode return")
    ax.plot(episode_ends, moving_average, lw=2, label=f"moving average ({window} episodes)")
    steps, scores = zip(*evaluations, strict=True)
    ax.plot(steps, scores, "s-", ms=4, label="greedy evaluation")
    ax.axhline(SOLVED_RETURN, color="gray", ls="--", lw=1, label=f"solved ({SOLVED_RETURN:g})")
    ax.set(xlabel="environment step", ylabel="return", title="Prioritized DQN on CartPole-v1")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def print_summary(rows: list[tuple[str, str]], files: list[Path]) -> None:
    """Print the run's figures and the files it wrote as a two-column table."""
    rows = rows + [("files written", str(files[0]))] + [("", str(f)) for f in files[1:]]
    width = max(len(label) for label, _ in rows)
    rule = "-" * (width + 2 + max(len(value) for _, value in rows))
    print(f"\n{rule}\nSummary\n{rule}")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print(rule)


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


class TrainingResult(NamedTuple):
    """What training hands on: the best parameters and the record of the run."""

    params: Params  # of the best periodic evaluation
    step: int  # the step those parameters are from
    score: float  # their periodic evaluation return
    steps_taken: int
    episode_ends: list[int]  # the step at which each training episode ended
    episode_returns: list[float]
    evaluations: list[tuple[int, float]]  # (step, mean greedy return)
    replay_batch: rlu.TransitionBatch  # one batch as the update step sees it


def train(
    args: argparse.Namespace, greedy_action: GreedyAction, q_network: hk.Transformed
) -> TrainingResult:
    """Run DQN for at most ``args.steps`` steps; evaluate greedily every ``args.eval_every``."""
    env = gymnasium.make("CartPole-v1")
    eval_env = gymnasium.make("CartPole-v1")
    num_actions = int(env.action_space.n)
    optimizer = optax.chain(optax.clip_by_global_norm(MAX_GRAD_NORM), optax.adam(LEARNING_RATE))
    update = make_update(q_network, optimizer)
    schedule = schedules(args.steps)
    warmup_steps = max(BATCH_SIZE, min(WARMUP_STEPS, args.steps // 4))

    init_rng, act_rng, update_rng = jax.random.split(jax.random.key(args.seed), 3)
    params = q_network.init(init_rng, jnp.zeros((1, *env.observation_space.shape)))
    state = TrainState(params, params, optimizer.init(params), update_rng)
    # beta is a schedule of the sample calls: one per step after the warm-up
    buffer = rlu.PrioritizedReplayBuffer(
        BUFFER_CAPACITY,
        alpha=schedule["alpha"](0),
        beta=lambda calls: schedule["beta"](warmup_steps + 1 + calls),
        epsilon=PRIORITY_EPSILON,
        random_seed=args.seed,
    )
    tracer = rlu.NStepTracer(N_STEP, GAMMA)
    explore = np.random.default_rng(args.seed)

    episode_ends: list[int] = []
    episode_returns: list[float] = []
    evaluations: list[tuple[int, float]] = []
    best_score, best_step, best_params = -np.inf, 0, params
    logger.info("training for at most %d steps, seed %d", args.steps, args.seed)
    observation, _ = env.reset(seed=args.seed)
    episode_return = 0.0
    with logging_redirect_tqdm(), tqdm(total=args.steps, desc="training", unit="step") as bar:
        for step in range(1, args.steps + 1):
            # act epsilon-greedily and record the n-step transitions that are complete
            epsilon = schedule["epsilon"](step)
            greedy, act_rng = greedy_action(state.params, observation, act_rng)
            greedy = int(greedy)
            action = int(explore.integers(num_actions)) if explore.random() < epsilon else greedy
            logp = np.log(epsilon / num_actions + (1 - epsilon) * (action == greedy))
            observation_next, reward, terminated, truncated, _ = env.step(action)
            transitions = tracer.add(
                observation, action, float(reward), terminated, truncated, observation_next, logp
            )
            if transitions is not None:
                buffer.add(transitions)
            observation = observation_next
            episode_return += float(reward)
            if terminated or truncated:
                episode_ends.append(step)
                episode_returns.append(episode_return)
                bar.set_postfix(episode=len(episode_returns), ret=f"{episode_return:.0f}")
                buffer.alpha = schedule["alpha"](step)
                observation, _ = env.reset()
                episode_return = 0.0

            # learn from a prioritized batch, then re-prioritize it by its new TD errors
            if step > warmup_steps:
                batch = buffer.sample(BATCH_SIZE)
                state, td_errors = update(state, batch)
                buffer.update_priorities(batch.idx, np.abs(np.asarray(td_errors)))
            bar.update()

            # evaluate the greedy policy now and then; keep the best parameters
            if step % args.eval_every == 0 or step == args.steps:
                policy = make_policy(greedy_action, state.params, args.seed)
                returns = evaluate(eval_env, policy, EVAL_EPISODES_DURING_TRAINING, 10_000 + step)
                score = float(np.mean(returns))
                evaluations.append((step, score))
                logger.info("step %d: greedy evaluation return %.1f", step, score)
                if score >= best_score:
                    best_score, best_step, best_params = score, step, state.params
                if score >= args.target_return:
                    logger.info("target return %g reached, training ends", args.target_return)
                    break

    return TrainingResult(
        params=best_params,
        step=best_step,
        score=best_score,
        steps_taken=step,
        episode_ends=episode_ends,
        episode_returns=episode_returns,
        evaluations=evaluations,
        replay_batch=buffer.sample(BATCH_SIZE),
    )


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line: the training budget and where to write the results."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--steps", type=int, default=40_000, help="most environment steps")
    parser.add_argument("--seed", type=int, default=0, help="seed of the whole run")
    parser.add_argument(
        "--output-dir", type=Path, default=Path("demo-output"), help="where results go"
    )
    parser.add_argument(
        "--eval-episodes", type=int, default=10, help="episodes of the final evaluation"
    )
    parser.add_argument(
        "--eval-every", type=int, default=2_500, help="steps between greedy evaluations"
    )
    parser.add_argument(
        "--target-return",
        type=float,
        default=500.0,
        help="stop training once a periodic evaluation averages this much",
    )
    parser.add_argument("--no-gif", action="store_true", help="skip recording the GIF")
    args = parser.parse_args(argv)
    for name, minimum in (("steps", 2 * BATCH_SIZE), ("eval_episodes", 1), ("eval_every", 1)):
        if getattr(args, name) < minimum:
            parser.error(f"--{name.replace('_', '-')} must be at least {minimum}")
    return args


def main(argv: list[str] | None = None) -> None:
    """Train, checkpoint, reload, evaluate, record and summarise."""
    args = parse_args(argv)
    started = time.perf_counter()
    out = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    print(f"Writing everything to {out.resolve()}")
    log_path = out / "train.log"
    checkpoint_path = out / "dqn_cartpole.pkl.lz4"
    curve_path = out / "learning_curve.png"
    gif_path = out / "cartpole.gif"
    rlu.enable_logging("demo", output_filepath=log_path)

    q_network = make_q_network(num_actions=2)  # CartPole: push the cart left or right
    greedy_action = make_greedy_action(q_network)
    result = train(args, greedy_action, q_network)
    train_seconds = time.perf_counter() - started
    print("One replayed batch, as the update step sees it:")
    rlu.pretty_print(result.replay_batch)

    # the checkpoint holds the compiled (picklable) policy function beside its parameters
    checkpoint = {"params": result.params, "greedy_action": greedy_action, "step": result.step}
    rlu.dump(checkpoint, checkpoint_path)
    logger.info("checkpoint of step %d written to %s", result.step, checkpoint_path)
    checkpoint = rlu.load(checkpoint_path)
    policy = make_policy(checkpoint["greedy_action"], checkpoint["params"], args.seed)
    eval_seed = 1_000_000 + args.seed  # environment seeds that training never used
    returns = evaluate(gymnasium.make("CartPole-v1"), policy, args.eval_episodes, eval_seed)
    logger.info("reloaded checkpoint, evaluation returns: %s", returns)

    plot_learning_curve(curve_path, result.episode_ends, result.episode_returns, result.evaluations)
    files = [checkpoint_path, curve_path, log_path]
    if not args.no_gif:
        gif_env = gymnasium.make("CartPole-v1", render_mode="rgb_array")
        rlu.generate_gif(
            gif_env, gif_path, policy, resize_to=(300, 200), duration=20, seed=eval_seed
        )
        gif_env.close()
        files.insert(2, gif_path)

    mean_return = float(np.mean(returns))
    verdict = "solved" if mean_return >= SOLVED_RETURN else "not solved"
    steps = f"{result.steps_taken:,} of {args.steps:,} ({len(result.episode_returns)} episodes)"
    wall_time = f"{time.perf_counter() - started:.1f} s (training {train_seconds:.1f} s)"
    kept = f"parameters of step {result.step:,} (best periodic evaluation: {result.score:.1f})"
    evaluation = (
        f"{mean_return:.1f} ± {np.std(returns):.1f} over {len(returns)} episodes "
        f"({verdict}: threshold {SOLVED_RETURN:g})"
    )
    print_summary(
        [
            ("seed", str(args.seed)),
            ("environment steps", steps),
            ("wall time", wall_time),
            ("checkpoint", kept),
            ("evaluation (reloaded)", evaluation),
        ],
        files,
    )


if __name__ == "__main__":
    main()
