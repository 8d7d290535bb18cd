"""Batching, stacking and flattening of pytrees.

A pytree is any nesting of lists, tuples, dicts (and other registered containers) with
arrays at the leaves, such as a batch of observations or the parameters of a haiku model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jax.typing import ArrayLike

from rlu_jaxtools._checks import (
    check_alike,
    check_batch_leaves,
    check_static_index,
    check_tree_sequences,
)

PyTree = Any


def batch_to_single(pytree: PyTree, index: ArrayLike = 0) -> PyTree:
    """Take one instance out of a pytree of batched arrays.

    Every leaf is indexed as ``leaf[index]`` along its leading (batch) axis, so a leaf of
    shape ``(batch_size, *rest)`` becomes one of shape ``rest``. numpy leaves stay numpy
    arrays when ``index`` is a Python int.

    Parameters
    ----------
    pytree : pytree with array leaves
        A batch, e.g. a batch of observations; every leaf needs a leading batch axis.
    index : int or 0-d integer array, optional
        Which instance to take; negative values count from the end. It may be a traced
        value inside ``jax.jit`` / ``jax.vmap``, in which case it is not range-checked and
        JAX's clamping rules for out-of-range indices apply.

    Returns
    -------
    pytree
        A pytree of the same structure holding the selected instance.

    Raises
    ------
    TypeError
        If ``index`` is not an integer.
    ValueError
        If a leaf has no batch axis (is 0-d); also an IndexError, as coax raised.
    IndexError
        If a concrete ``index`` is out of range for the batch axis of some leaf.

    Examples
    --------
    >>> import numpy as np
    >>> from rlu_jaxtools import batch_to_single
    >>> batch = {"obs": np.arange(6).reshape(3, 2), "done": np.array([False, False, True])}
    >>> single = batch_to_single(batch, index=2)
    >>> single["obs"].tolist(), bool(single["done"])
    ([4, 5], True)
    """
    static_index = check_static_index("index", index, where="batch_to_single")
    check_batch_leaves("pytree", pytree, index=static_index, where="batch_to_single")
    if static_index is not None:
        return jax.tree.map(lambda leaf: leaf[static_index], pytree)
    return jax.tree.map(lambda leaf: jnp.asarray(leaf)[index], pytree)


def single_to_batch(pytree: PyTree) -> PyTree:
    """Turn a single instance into a batch of size one.

    Every leaf gets a new leading axis of size 1 (``jnp.expand_dims(leaf, 0)``); leaves come
    back as JAX arrays. This is the inverse of ``batch_to_single(pytree, 0)``.

    Parameters
    ----------
    pytree : pytree with array or scalar leaves
        A single instance, e.g. one observation.

    Returns
    -------
    pytree
        A pytree of the same structure whose leaves have shape ``(1, *leaf.shape)``.

    Raises
    ------
    TypeError
        If a leaf cannot be converted to a JAX array (e.g. a string).

    Examples
    --------
    >>> import numpy as np
    >>> from rlu_jaxtools import single_to_batch
    >>> batch = single_to_batch({"obs": np.array([0.5, 1.5]), "step": 3})
    >>> batch["obs"].shape, batch["step"].tolist()
    ((1, 2), [3])
    """
    return jax.tree.map(lambda leaf: jnp.expand_dims(leaf, 0), pytree)


def _stack_sequence(trees: Sequence[PyTree], position: int) -> PyTree:
    treedef = check_alike(
        f"argument {position}",
        trees,
        structure_message=lambda i, other, first: (
            f"stack_trees: in argument {position}, pytree {i} has structure {other}, "
            f"which differs from pytree 0: {first}"
        ),
        shapes_message=lambda leaf_number, shapes: (
            f"stack_trees: in argument {position}, leaf {leaf_number} has different "
            f"shapes across the pytrees: {sorted(set(shapes))}"
        ),
    )
    leaves_per_tree = [jax.tree.leaves(tree) for tree in trees]
    stacked = [jnp.stack(leaves) for leaves in zip(*leaves_per_tree, strict=True)]
    return jax.tree.unflatten(treedef, stacked)


def stack_trees(*trees: Sequence[PyTree]) -> tuple[PyTree, ...]:
    """Stack sequences of like-structured pytrees leaf by leaf.

    Each positional argument is a sequence (list or tuple) of pytrees with one structure,
    e.g. the parameters of several copies of a model. Their leaves are combined with
    ``jnp.stack`` along a new leading axis, which is the layout ``jax.vmap`` expects for an
    ensemble. The result holds one stacked pytree per argument, so parameters and states
    are stacked in one call::

        params, states = stack_trees(param_list, state_list)

    Parameters
    ----------
    *trees : sequence of pytrees
        One or more non-empty sequences of equal length. Within a sequence all pytrees must
        share their structure and leaf shapes.

    Returns
    -------
    tuple of pytrees
        ``len(trees)`` pytrees; the one at position ``i`` has the structure of
        ``trees[i][0]`` and leaves of shape ``(len(trees[i]), *leaf.shape)``. A single
        argument gives a 1-tuple.

    Raises
    ------
    TypeError
        If no argument is given or an argument is not a sequence of pytrees.
    ValueError
        If a sequence is empty (also a TypeError, as coax raised), the sequences differ in
        length, or pytrees within a sequence differ in structure or leaf shapes.

    Examples
    --------
    >>> import numpy as np
    >>> from rlu_jaxtools import stack_trees
    >>> param_list = [{"w": np.full(2, float(i))} for i in range(3)]
    >>> state_list = [{"count": np.array(i)} for i in range(3)]
    >>> params, states = stack_trees(param_list, state_list)
    >>> params["w"].tolist(), states["count"].tolist()
    ([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], [0, 1, 2])
    """
    check_tree_sequences("trees", trees, where="stack_trees")
    return tuple(_stack_sequence(sequence, position) for position, sequence in enumerate(trees))


def tree_ravel(pytree: PyTree) -> jax.Array:
    """Flatten all leaves of a pytree and concatenate them into one 1-d array.

    Leaves are taken in ``jax.tree.leaves`` order and flattened in C order; their dtypes are
    promoted to a common one (as ``jax.flatten_util.ravel_pytree`` does). An empty pytree
    gives an empty float32 array.

    Parameters
    ----------
    pytree : pytree with array leaves
        For example model parameters or their gradients.

    Returns
    -------
    jax.Array
        A 1-d array of length equal to the total number of entries of all leaves.

    Examples
    --------
    >>> import numpy as np
    >>> from rlu_jaxtools import tree_ravel
    >>> tree_ravel({"b": np.array([5.0]), "a": np.array([[1.0, 2.0], [3.0, 4.0]])}).tolist()
    [1.0, 2.0, 3.0, 4.0, 5.0]
    """
    flat, _ = ravel_pytree(pytree)
    return flat
