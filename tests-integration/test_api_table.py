"""The 52 documented names of coax.utils, each reachable from rlu and rlu.utils.

This table is written out here on purpose, from coax.utils' documented API and the project's
design (which distribution owns which name), rather than read from the meta-package: it is the
truth the meta-package's own table is checked against.
"""

from __future__ import annotations

import importlib
import importlib.util

import pytest
from workspace import DISTRIBUTIONS

CANONICAL = {
    "docstring": "rlu-core",
    "enable_logging": "rlu-core",
    "merge_dicts": "rlu-core",
    "pretty_repr": "rlu-core",
    "pretty_print": "rlu-core",
    "reload_recursive": "rlu-core",
    "is_policy": "rlu-core",
    "is_qfunction": "rlu-core",
    "is_vfunction": "rlu-core",
    "is_reward_function": "rlu-core",
    "is_transition_model": "rlu-core",
    "is_stochastic": "rlu-core",
    "OrnsteinUhlenbeckNoise": "rlu-noise",
    "StepwiseLinearFunction": "rlu-noise",
    "SegmentTree": "rlu-trees",
    "SumTree": "rlu-trees",
    "MinTree": "rlu-trees",
    "MaxTree": "rlu-trees",
    "dump": "rlu-serialize",
    "dumps": "rlu-serialize",
    "load": "rlu-serialize",
    "loads": "rlu-serialize",
    "argmax": "rlu-jaxtools",
    "argmin": "rlu-jaxtools",
    "batch_to_single": "rlu-jaxtools",
    "single_to_batch": "rlu-jaxtools",
    "stack_trees": "rlu-jaxtools",
    "tree_ravel": "rlu-jaxtools",
    "unvectorize": "rlu-jaxtools",
    "jit": "rlu-jaxtools",
    "double_relu": "rlu-jaxtools",
    "clipped_logit": "rlu-jaxtools",
    "get_grads_diagnostics": "rlu-jaxtools",
    "get_magnitude_quantiles": "rlu-jaxtools",
    "check_array": "rlu-jaxtools",
    "isscalar": "rlu-jaxtools",
    "idx": "rlu-jaxtools",
    "diff_transform": "rlu-jaxtools",
    "diff_transform_matrix": "rlu-jaxtools",
    "sync_shared_params": "rlu-jaxtools",
    "quantiles": "rlu-quantiles",
    "quantiles_uniform": "rlu-quantiles",
    "quantile_cos_embedding": "rlu-quantiles",
    "get_env_attr": "rlu-envtools",
    "has_env_attr": "rlu-envtools",
    "render_episode": "rlu-envtools",
    "generate_gif": "rlu-envtools",
    "make_dmc": "rlu-envtools",
    "safe_sample": "rlu-envtools",
    "get_transition_batch": "rlu-envtools",
    "default_preprocessor": "rlu-envtools",
    "check_preprocessors": "rlu-envtools",
}


# In coax.utils' __all__ but not among its documented names; code imports it all the same. It
# splits TransitionBatches, which live in rlu-core (numpy, not gymnasium), and so does it.
UNDOCUMENTED = {"chunks_pow2": "rlu-core"}

# Beyond coax.utils, served by rlu and rlu.utils all the same (the whole list is the meta-package's
# own business; these are the ones whose home is part of the design).
BEYOND = {"TransitionBatch": "rlu-core"}


def test_table_has_all_52_names_each_owned_by_a_workspace_distribution():
    assert len(CANONICAL) == 52
    assert set(CANONICAL.values()) | set(UNDOCUMENTED.values()) <= set(DISTRIBUTIONS)


@pytest.mark.parametrize(("name", "dist"), sorted({**CANONICAL, **UNDOCUMENTED, **BEYOND}.items()))
def test_name_is_reexported_from_its_owner(name: str, dist: str):
    module_name = dist.replace("-", "_")
    assert importlib.util.find_spec(module_name) is not None, f"{dist} is not installed"
    owner = importlib.import_module(module_name)
    assert name in owner.__all__, f"{module_name}.__all__ lacks {name}"
    obj = getattr(owner, name)

    import rlu
    import rlu.utils

    assert getattr(rlu, name) is obj
    assert getattr(rlu.utils, name) is obj
    assert name in rlu.__all__ and name in dir(rlu)
    assert name in rlu.utils.__all__ and name in dir(rlu.utils)


def test_envtools_still_exports_what_moved_to_rlu_core():
    import rlu
    import rlu_core
    import rlu_envtools

    for name in ("TransitionBatch", "chunks_pow2"):
        assert name in rlu_envtools.__all__
        assert getattr(rlu_envtools, name) is getattr(rlu_core, name) is getattr(rlu, name)
