"""rlu-jaxtools: the JAX helpers of rlu.

Random tie-breaking argmax/argmin, pytree batching and stacking, ``unvectorize``, a
picklable ``jit``, activations, gradient diagnostics, array checks, frame differencing and
shared-parameter syncing. Every array function accepts numpy input and works under
``jax.jit`` and ``jax.vmap``.
"""

from .__about__ import __version__
from .activations import clipped_logit, double_relu
from .checks import check_array, idx, isscalar
from .diagnostics import get_grads_diagnostics, get_magnitude_quantiles
from .differencing import diff_transform, diff_transform_matrix
from .picklable_jit import jit
from .random_argmax import argmax, argmin
from .sharing import sync_shared_params
from .trees import batch_to_single, single_to_batch, stack_trees, tree_ravel
from .vectorize import unvectorize

__all__ = [
    "__version__",
    "argmax",
    "argmin",
    "batch_to_single",
    "check_array",
    "clipped_logit",
    "diff_transform",
    "diff_transform_matrix",
    "double_relu",
    "get_grads_diagnostics",
    "get_magnitude_quantiles",
    "idx",
    "isscalar",
    "jit",
    "single_to_batch",
    "stack_trees",
    "sync_shared_params",
    "tree_ravel",
    "unvectorize",
]
