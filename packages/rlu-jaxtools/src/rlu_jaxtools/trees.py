"""Batching, stacking and flattening of pytrees.

A pytree is any nesting of lists, tuples, dicts (and other registered containers) with
arrays at the leaves, such as a batch of observations or the parameters of a haiku model.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jax.typing import ArrayLike

__all__ = ["batch_to_single", "single_to_batch", "stack_trees", "tree_ravel"]

PyTree = Any


def _as_static_index(index: Any) -> int | None:
    """Return ``index`` as a Python int if it is a concrete integer, None if it is traced."""
    if isinstance(index, jax.core.Tracer):
        return None
    if isinstance(index, (bool, np.bool_)):
        raise TypeError(f"batch_to_single: index must be an integer, got {index!r}")
    try:
        return operator.index(index)
    except TypeError:
        pass
    if isinstance(index, (np.ndarray, jax.Array)) and index.ndim == 0:
        if jnp.issubdtype(index.dtype, jnp.integer):
            return int(index)
    raise TypeError(
        f"batch_to_single: index must be an integer or a 0-d integer array, got {index!r}"
    )


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
        If a leaf has no batch axis (is 0-d).
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
    static_index = _as_static_index(index)
    leaves_with_paths, _ = jax.tree_util.tree_flatten_with_path(pytree)
    for path, leaf in leaves_with_paths:
        shape = np.shape(leaf)
        where = jax.tree_util.keystr(path) or "<root>"
        if len(shape) == 0:
            raise ValueError(
                f"batch_to_single: the leaf at {where} is 0-d; every leaf needs a leading "
                "batch axis"
            )
        if static_index is not None and not -shape[0] <= static_index < shape[0]:
            raise IndexError(
                f"batch_to_single: index {static_index} is out of range for the batch axis "
                f"of size {shape[0]} of the leaf at {where}"
            )
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
    treedef = jax.tree.structure(trees[0])
    for i, tree in enumerate(trees[1:], start=1):
        other = jax.tree.structure(tree)
        if other != treedef:  # type: ignore[operator]  # PyTreeDef stub lacks __ne__
            raise ValueError(
                f"stack_trees: in argument {position}, pytree {i} has structure {other}, "
                f"which differs from pytree 0: {treedef}"
            )
    leaves_per_tree = [jax.tree.leaves(tree) for tree in trees]
    stacked = []
    for leaf_number, leaves in enumerate(zip(*leaves_per_tree, strict=True)):
        shapes = {np.shape(leaf) for leaf in leaves}
        if len(shapes) > 1:
            raise ValueError(
                f"stack_trees: in argument {position}, leaf {leaf_number} has different "
                f"shapes across the pytrees: {sorted(shapes)}"
            )
        stacked.append(jnp.stack(leaves))
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
        If a sequence is empty, the sequences differ in length, or pytrees within a sequence
        differ in structure or leaf shapes.

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
    if not trees:
        raise TypeError("stack_trees: expected at least one sequence of pytrees, got none")
    for position, sequence in enumerate(trees):
        if not isinstance(sequence, Sequence) or isinstance(sequence, (str, bytes)):
            raise TypeError(
                f"stack_trees: argument {position} must be a sequence (list or tuple) of "
                f"pytrees, got {type(sequence).__name__}"
            )
        if len(sequence) == 0:
            raise ValueError(f"stack_trees: argument {position} is an empty sequence")
    lengths = [len(sequence) for sequence in trees]
    if len(set(lengths)) > 1:
        raise ValueError(
            f"stack_trees: all arguments must have the same length, got lengths {lengths}"
        )
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
