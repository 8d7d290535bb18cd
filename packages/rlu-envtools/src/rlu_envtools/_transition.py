"""get_transition_batch: a dummy TransitionBatch whose states and actions fit an environment.

TransitionBatch and chunks_pow2 live in rlu-core (numpy only); rlu_envtools re-exports them.
"""

from __future__ import annotations

from typing import Any, cast

import gymnasium
import numpy as np
from gymnasium.vector.utils import concatenate, create_empty_array
from rlu_core import TransitionBatch

from rlu_envtools._checks import (
    TypeAndAttributeError,
    TypeAndValueError,
    check_int,
    check_real,
    check_seed,
    check_space,
)
from rlu_envtools._spaces import safe_sample


def get_transition_batch(
    env: gymnasium.Env,
    batch_size: int = 1,
    gamma: float = 0.9,
    random_seed: int | None = None,
) -> TransitionBatch:
    """Make a dummy TransitionBatch whose states and actions are valid for ``env``.

    Nothing is stepped: states and actions are drawn with [`safe_sample`][rlu_envtools.safe_sample]
    from the environment's observation and action spaces and stacked with gymnasium's
    ``gymnasium.vector.utils.concatenate``. The other fields get random values of the right
    shape: ``logP`` and ``logP_next`` in ``[log 0.01, log 0.99]``, ``Rn`` standard normal
    clipped to ``[-5, 5]``, ``In`` either 0 or ``gamma``, ``W`` in ``[0.01, 100]``. This is
    meant for initialising and testing function approximators and updaters.

    Parameters
    ----------
    env : gymnasium.Env
        An environment, or anything with ``observation_space`` and ``action_space`` attributes
        holding gymnasium spaces.
    batch_size : positive int, optional
        The number of transitions.
    gamma : float in [0, 1], optional
        The discount factor used for the non-zero bootstrap factors.
    random_seed : int, optional
        Seed for all random draws; the same seed gives the same batch.

    Returns
    -------
    TransitionBatch
        A batch of ``batch_size`` transitions.

    Raises
    ------
    TypeError
        If ``env`` lacks gymnasium spaces (where an attribute is missing, the error is an
        AttributeError too, as in coax), ``batch_size`` or ``random_seed`` is not an int, or
        ``gamma`` is not a number.
    ValueError
        If ``batch_size`` is not positive or ``gamma`` is outside ``[0, 1]`` (these errors are
        TypeErrors too, as in coax), or ``random_seed`` is negative.

    Examples
    --------
    >>> import gymnasium
    >>> from rlu_envtools import get_transition_batch
    >>> env = gymnasium.make("CartPole-v1")
    >>> tb = get_transition_batch(env, batch_size=7, gamma=0.99, random_seed=42)
    >>> tb.batch_size, tb.S.shape, tb.A.shape, tb.S_next.dtype
    (7, (7, 4), (7,), dtype('float32'))
    >>> bool(set(tb.In.tolist()) <= {0.0, 0.99})
    True
    """
    # coax raised TypeError for a batch_size < 1 and a gamma outside [0, 1]: the errors are both
    n = check_int("batch_size", batch_size, minimum=1, error=TypeAndValueError)
    gamma = check_real("gamma", gamma, low=0.0, high=1.0, error=TypeAndValueError)
    seed = check_seed("random_seed", random_seed)
    spaces: dict[str, gymnasium.Space[Any]] = {}
    for name in ("observation_space", "action_space"):
        # coax read the attribute unchecked (AttributeError where it is missing): both
        missing = TypeAndAttributeError if not hasattr(env, name) else TypeError
        spaces[name] = check_space(f"env.{name}", getattr(env, name, None), type_error=missing)

    rng = np.random.default_rng(seed)

    def batch_sample(space: gymnasium.Space[Any]) -> Any:
        items = [safe_sample(space, rng) for _ in range(n)]
        return concatenate(space, items, cast(Any, create_empty_array(space, n)))

    return TransitionBatch(
        S=batch_sample(spaces["observation_space"]),
        A=batch_sample(spaces["action_space"]),
        logP=np.log(np.clip(rng.random(n), 0.01, 0.99)),
        Rn=np.clip(rng.standard_normal(n), -5.0, 5.0),
        In=rng.choice(np.array([0.0, gamma]), n),
        S_next=batch_sample(spaces["observation_space"]),
        A_next=batch_sample(spaces["action_space"]),
        logP_next=np.log(np.clip(rng.random(n), 0.01, 0.99)),
        W=np.clip(rng.random(n) / (1.0 - rng.random(n)), 0.01, 100.0),
    )
