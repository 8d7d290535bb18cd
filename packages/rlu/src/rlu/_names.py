"""Where each public name of rlu lives.

The meta-package holds no code of its own: every public name belongs to one of the small
distributions, and this table says which. ``rlu`` and ``rlu.utils`` read it to load a name
the first time it is asked for, so ``import rlu`` stays cheap.
"""

from __future__ import annotations

OWNERS: dict[str, tuple[str, ...]] = {
    "rlu_core": (
        "docstring",
        "enable_logging",
        "merge_dicts",
        "pretty_repr",
        "pretty_print",
        "reload_recursive",
        "is_policy",
        "is_qfunction",
        "is_vfunction",
        "is_reward_function",
        "is_transition_model",
        "is_stochastic",
        # In coax.utils' __all__ though not among its documented names; code imports it.
        "chunks_pow2",
    ),
    "rlu_noise": ("OrnsteinUhlenbeckNoise", "StepwiseLinearFunction"),
    "rlu_trees": ("SegmentTree", "SumTree", "MinTree", "MaxTree"),
    "rlu_serialize": ("dump", "dumps", "load", "loads"),
    "rlu_jaxtools": (
        "argmax",
        "argmin",
        "batch_to_single",
        "single_to_batch",
        "stack_trees",
        "tree_ravel",
        "unvectorize",
        "jit",
        "double_relu",
        "clipped_logit",
        "get_grads_diagnostics",
        "get_magnitude_quantiles",
        "check_array",
        "isscalar",
        "idx",
        "diff_transform",
        "diff_transform_matrix",
        "sync_shared_params",
    ),
    "rlu_quantiles": ("quantiles", "quantiles_uniform", "quantile_cos_embedding"),
    "rlu_envtools": (
        "get_env_attr",
        "has_env_attr",
        "render_episode",
        "generate_gif",
        "make_dmc",
        "safe_sample",
        "get_transition_batch",
        "default_preprocessor",
        "check_preprocessors",
    ),
}

# Names that are not part of coax.utils: the vocabulary classes the predicates check against,
# TransitionBatch (the type get_transition_batch returns; rlu-core's, so that it loads without
# gymnasium), the errors a checkpoint load raises, the JAX trees (extra rlu-trees[jax], which
# rlu brings), the replay buffers, and their Ray service (extra rlu[ray]: the names load without
# Ray, and using them raises an ImportError that says so).
EXTRAS: dict[str, tuple[str, ...]] = {
    "rlu_core": (
        "Policy",
        "QFunction",
        "VFunction",
        "RewardFunction",
        "TransitionModel",
        "StochasticFunction",
        "TransitionBatch",
    ),
    "rlu_serialize": (
        "CorruptedDataError",
        "ForbiddenGlobalError",
        "LoadRefusedError",
        "SignatureError",
    ),
    "rlu_trees.jax": ("JaxSegmentTree", "JaxSumTree", "JaxMinTree", "JaxMaxTree"),
    "rlu_replay": ("ReplayBuffer", "PrioritizedReplayBuffer", "NStepTracer", "Sample"),
    "rlu_replay.ray": ("ShardedPrioritizedReplay", "ReplayWriter", "RateLimiter", "ShardError"),
}

UTILS_NAMES: dict[str, str] = {name: module for module, names in OWNERS.items() for name in names}
ALL_NAMES: dict[str, str] = {
    **UTILS_NAMES,
    **{name: module for module, names in EXTRAS.items() for name in names},
}
