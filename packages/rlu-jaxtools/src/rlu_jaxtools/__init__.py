"""rlu-jaxtools: the JAX helpers of rlu.

Random tie-breaking argmax/argmin, pytree batching and stacking, ``unvectorize``, a
picklable ``jit``, activations, gradient diagnostics, array checks, frame differencing and
shared-parameter syncing. Every array function accepts numpy input and works under
``jax.jit`` and ``jax.vmap``.
"""

from rlu_jaxtools.__about__ import __version__ as __version__
from rlu_jaxtools._activations import clipped_logit as clipped_logit
from rlu_jaxtools._activations import double_relu as double_relu
from rlu_jaxtools._arrays import check_array as check_array
from rlu_jaxtools._arrays import idx as idx
from rlu_jaxtools._arrays import isscalar as isscalar
from rlu_jaxtools._diagnostics import get_grads_diagnostics as get_grads_diagnostics
from rlu_jaxtools._diagnostics import get_magnitude_quantiles as get_magnitude_quantiles
from rlu_jaxtools._differencing import diff_transform as diff_transform
from rlu_jaxtools._differencing import diff_transform_matrix as diff_transform_matrix
from rlu_jaxtools._jit import jit as jit
from rlu_jaxtools._random_argmax import argmax as argmax
from rlu_jaxtools._random_argmax import argmin as argmin
from rlu_jaxtools._sharing import sync_shared_params as sync_shared_params
from rlu_jaxtools._trees import batch_to_single as batch_to_single
from rlu_jaxtools._trees import single_to_batch as single_to_batch
from rlu_jaxtools._trees import stack_trees as stack_trees
from rlu_jaxtools._trees import tree_ravel as tree_ravel
from rlu_jaxtools._vectorize import unvectorize as unvectorize

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
