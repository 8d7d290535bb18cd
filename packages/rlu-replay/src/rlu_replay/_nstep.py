"""The n-step core of NStepTracer: the last ``n`` steps of every environment, in numpy rings.

One ``NStepRing`` serves ``K`` environments (``K = 1`` for a single one). Each leaf of the states
and actions lives in an array of shape ``(n, K, ...)``, rewards and log-propensities in
``(n, K)``; per environment, ``head`` is the ring slot of its oldest pending step and ``count``
how many steps are pending. ``push`` appends one step to chosen environments, ``pop`` removes the
oldest steps of each environment as n-step transitions, all environments at once: one fancy index
per leaf, the returns of every transition in one matrix product.

``as_leaves`` turns what a caller passed into those leaves, checked against the layout the first
step fixed: the structure, each leaf's shape after the environment axis, and its dtype (later
steps are cast where numpy's ``same_kind`` rule allows).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from rlu_replay._checks import check_castable
from rlu_replay._pytree import TreeDef, flatten, leaves_as


class Layout(NamedTuple):
    """What the first step fixed of a pytree argument: structure, leaf dtypes, leaf shapes."""

    treedef: TreeDef
    dtypes: tuple[np.dtype[Any], ...]
    shapes: tuple[tuple[int, ...], ...]  # each leaf's shape after the environment axis


def leaf_name(name: str, path: str) -> str:
    """How an error names a leaf: ``s``, ``s['pos']``, ``a[0]``, ``s.pos``."""
    if path == "<root>":
        return name
    return f"{name}{path}" if path.startswith("[") else f"{name}.{path}"


def as_leaves(
    name: str, tree: Any, layout: Layout | None, num_envs: int | None
) -> tuple[list[np.ndarray], Layout]:
    """The leaves of ``tree`` as numpy arrays with a leading environment axis, and their layout.

    With ``num_envs`` None, ``tree`` is one environment's value and each leaf gains an axis of
    length 1; otherwise every leaf must lead with an axis of length ``num_envs``. With a
    ``layout``, the structure must match it, the shapes equal it, and each dtype cast to it under
    ``same_kind`` (the arrays returned are cast); without one, ``tree`` defines it.

    Raises ``ValueError`` (structure, shape) or ``TypeError`` (dtype) naming the leaf.
    """
    raw: list[Any] = []
    if layout is not None and leaves_as(layout.treedef, tree, raw):
        treedef = layout.treedef
    else:
        raw, treedef = flatten(tree)
        if layout is not None and treedef.paths != layout.treedef.paths:
            raise ValueError(
                f"{name} must have the structure fixed by the first step: "
                f"{layout.treedef.describe_difference(treedef)}"
            )
    arrays: list[np.ndarray] = []
    for i, leaf in enumerate(raw):
        x = np.asarray(leaf)
        if x.dtype == object:
            raise TypeError(
                f"{leaf_name(name, treedef.paths[i])} must be an array (of numbers or bools), "
                f"got {type(leaf).__name__}: {leaf!r}"
            )
        if num_envs is None:
            x = x[np.newaxis]
        elif x.ndim == 0 or x.shape[0] != num_envs:
            raise ValueError(
                f"{leaf_name(name, treedef.paths[i])} must have a leading axis of length "
                f"num_envs={num_envs} (one entry per environment), got shape {x.shape}"
            )
        if layout is not None:
            shape, dtype = layout.shapes[i], layout.dtypes[i]
            if x.shape[1:] != shape:
                expected = shape if num_envs is None else (num_envs, *shape)
                raise ValueError(
                    f"{leaf_name(name, treedef.paths[i])} must have shape {expected}, fixed by "
                    f"the first step, got shape {x.shape[1:] if num_envs is None else x.shape}"
                )
            if x.dtype != dtype:
                check_castable(
                    leaf_name(name, treedef.paths[i]),
                    x.dtype,
                    stored=dtype,
                    fixed_by="the first step",
                )
                x = x.astype(dtype)
        arrays.append(x)
    if layout is None:
        layout = Layout(treedef, tuple(x.dtype for x in arrays), tuple(x.shape[1:] for x in arrays))
    return arrays, layout


class Popped(NamedTuple):
    """Transitions taken out of a ring: leaves with a leading transition axis; float64 numbers."""

    S: list[np.ndarray]
    A: list[np.ndarray]
    logP: np.ndarray
    Rn: np.ndarray
    In: np.ndarray
    S_next: list[np.ndarray]


class NStepRing:
    """The pending steps of ``num_envs`` environments, at most ``n`` each."""

    def __init__(self, n: int, gamma: float, num_envs: int) -> None:
        self.n = n
        self.num_envs = num_envs
        self.powers = gamma ** np.arange(n + 1, dtype=np.float64)
        self.envs = np.arange(num_envs)
        self.lags = np.arange(n)
        self.windows = (self.lags[:, None] + self.lags) % n  # row j: the n slots from slot j
        self.steady_in = np.full(num_envs, self.powers[n])
        self.head = np.zeros(num_envs, dtype=np.int64)
        self.count = np.zeros(num_envs, dtype=np.int64)
        # whether every environment has the same head and count (always, for one environment;
        # for a vector until an environment skips a step or ends alone): one slot for all
        self.aligned = True
        self.rewards = np.zeros((n, num_envs), dtype=np.float64)
        self.logps = np.zeros((n, num_envs), dtype=np.float64)
        # allocated by the first push, in the layout of its states and actions
        self.s_layout: Layout | None = None
        self.a_layout: Layout | None = None
        self.states: list[np.ndarray] = []
        self.actions: list[np.ndarray] = []
        self.last: list[np.ndarray] = []  # each environment's state to bootstrap from

    def __len__(self) -> int:
        return int(self.count.sum())

    def _allocate(self, s_layout: Layout, a_layout: Layout) -> None:
        n, k = self.n, self.num_envs
        self.s_layout, self.a_layout = s_layout, a_layout
        self.states = [np.zeros((n, k, *sh), dt) for dt, sh in zip(*s_layout[1:], strict=True)]
        self.actions = [np.zeros((n, k, *sh), dt) for dt, sh in zip(*a_layout[1:], strict=True)]
        self.last = [np.zeros((k, *sh), dt) for dt, sh in zip(*s_layout[1:], strict=True)]

    def push(
        self,
        envs: np.ndarray | None,
        s: list[np.ndarray],
        a: list[np.ndarray],
        r: np.ndarray,
        logp: np.ndarray | float,
        s_next: list[np.ndarray],
        layouts: tuple[Layout, Layout],
    ) -> None:
        """Append one step to each environment in ``envs`` (all if None); arrays hold all ``K``.

        ``logp`` may be one number for all; ``s_next`` is what the step's transitions bootstrap
        from. The arrays were checked by ``as_leaves`` against ``layouts`` (which the first push
        fixes); an environment with ``n`` pending steps must have been popped first.
        """
        if self.s_layout is None:
            self._allocate(*layouts)
        if envs is None and self.aligned:  # one slot for every environment: plain indexing
            j = int(self.head[0] + self.count[0]) % self.n
            for ring, x in zip(self.states, s, strict=True):
                ring[j] = x
            for ring, x in zip(self.actions, a, strict=True):
                ring[j] = x
            for last, x in zip(self.last, s_next, strict=True):
                last[...] = x
            self.rewards[j] = r
            self.logps[j] = logp
            self.count += 1
            return
        if envs is None:
            slot = (self.head + self.count) % self.n
            for ring, x in zip(self.states, s, strict=True):
                ring[slot, self.envs] = x
            for ring, x in zip(self.actions, a, strict=True):
                ring[slot, self.envs] = x
            for last, x in zip(self.last, s_next, strict=True):
                last[...] = x
            self.rewards[slot, self.envs] = r
            self.logps[slot, self.envs] = logp
            self.count += 1
            return
        slot = (self.head[envs] + self.count[envs]) % self.n
        for ring, x in zip(self.states, s, strict=True):
            ring[slot, envs] = x[envs]
        for ring, x in zip(self.actions, a, strict=True):
            ring[slot, envs] = x[envs]
        for last, x in zip(self.last, s_next, strict=True):
            last[envs] = x[envs]
        self.rewards[slot, envs] = r[envs]
        self.logps[slot, envs] = logp[envs] if isinstance(logp, np.ndarray) else logp
        self.count[envs] += 1
        self.aligned = False

    def pop(self, counts: np.ndarray, terminated: np.ndarray, s_next: list[np.ndarray]) -> Popped:
        """Remove the ``counts[i]`` oldest steps of each environment ``i`` as transitions.

        Environment by environment, oldest first. Each transition sums the rewards from its step
        to the last pending one of its environment (at most ``n``) and bootstraps from
        ``s_next[.][i]`` with ``gamma ** m``, or 0 where ``terminated[i]``.
        """
        n = self.n
        total = int(counts.sum())
        env = np.repeat(self.envs, counts)
        k = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)  # rank in its env
        m = self.count[env] - k  # the rewards that follow, this step's included
        slot = (self.head[env] + k) % n
        window = self.windows[slot]
        rewards = np.where(self.lags < m[:, None], self.rewards[window, env[:, None]], 0.0)
        popped = self._gather(env, slot, rewards, np.where(terminated[env], 0.0, self.powers[m]))
        popped.S_next.extend(x[env] for x in s_next)
        self.head = (self.head + counts) % n
        self.count = self.count - counts
        self.aligned = bool(
            (self.head == self.head[0]).all() and (self.count == self.count[0]).all()
        )
        return popped

    def pop_oldest(self, s_next: list[np.ndarray]) -> Popped:
        """``pop`` of one step from every environment, each with ``n`` pending: the steady state."""
        if self.aligned:  # every environment's oldest step is in one slot: plain indexing
            j = int(self.head[0])
            rewards = self.rewards[self.windows[j]].T  # (K, n): each environment's n rewards
            popped = Popped(
                S=[ring[j].copy() for ring in self.states],
                A=[ring[j].copy() for ring in self.actions],
                logP=self.logps[j].copy(),
                Rn=(rewards * self.powers[:-1]).sum(axis=1),  # as _gather computes it
                In=self.steady_in.copy(),
                S_next=[x.copy() for x in s_next],
            )
            self.head = (self.head + 1) % self.n
            self.count = self.count - 1
            return popped
        slot = self.head
        rewards = self.rewards[self.windows[slot], self.envs[:, None]]
        popped = self._gather(self.envs, slot, rewards, self.steady_in.copy())
        popped.S_next.extend(x.copy() for x in s_next)
        self.head = (slot + 1) % self.n
        self.count = self.count - 1
        return popped

    def _gather(
        self, env: np.ndarray, slot: np.ndarray, rewards: np.ndarray, bootstrap: np.ndarray
    ) -> Popped:
        return Popped(
            S=[ring[slot, env] for ring in self.states],
            A=[ring[slot, env] for ring in self.actions],
            logP=self.logps[slot, env],
            Rn=(rewards * self.powers[:-1]).sum(axis=1),  # row by row: the same for any batch
            In=bootstrap,
            S_next=[],
        )
