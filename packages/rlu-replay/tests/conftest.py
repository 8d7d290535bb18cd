"""One local Ray for the test session, started by the first test that needs it; the pickles
written by released versions (``fixtures/``), loadable under numpy 1 and 2; JAX's 64-bit mode
for a block."""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest


@pytest.fixture(scope="session")
def _ray_owner() -> Iterator[list[bool]]:
    """Whether this session started a local Ray (then it shuts it down at the end)."""
    started = [False]
    yield started
    import ray

    if started[0] and ray.is_initialized():
        ray.shutdown()


@pytest.fixture
def ray_session(_ray_owner: list[bool]) -> None:
    """A local ``ray.init(num_cpus=2, include_dashboard=False)``, started by the first test that
    needs it and kept for the session; started again after a module that ran its own cluster."""
    import ray

    if not ray.is_initialized():
        # address="local": a new Ray of its own, never a cluster another process left running
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        _ray_owner[0] = True


@pytest.fixture
def make_replay(ray_session: None) -> Iterator[Callable[..., Any]]:
    """``make(**kwargs)``: a ``ShardedPrioritizedReplay``, closed at the end of the test."""
    from rlu_replay.ray import ShardedPrioritizedReplay

    made: list[Any] = []

    def make(**kwargs: Any) -> Any:
        replay = ShardedPrioritizedReplay(**kwargs)
        made.append(replay)
        return replay

    yield make
    for replay in made:
        replay.close()


@pytest.fixture
def chi_square() -> Callable[[Any, Any], bool]:
    """``ok(counts, probs)``: Pearson's test at the 0.1% level (the statistic below the
    quantile, via Wilson-Hilferty)."""
    import numpy as np

    def ok(counts: Any, probs: Any) -> bool:
        expected = counts.sum() * probs
        stat = float(((counts - expected) ** 2 / expected).sum())
        k = len(probs) - 1
        return bool(stat < k * (1 - 2 / (9 * k) + 3.09 * np.sqrt(2 / (9 * k))) ** 3)

    return ok


@pytest.fixture(params=["default", "xla-kernels"])
def kernels(request: Any, monkeypatch: Any) -> Iterator[str]:
    """The CPU's default lowering (compiled calls where this JAX makes them), and the XLA
    kernels' level loops (``RLU_TREES_JAX_CPU_CALLS=0``), which every other platform takes."""
    import jax
    from rlu_trees.jax import _cpu

    if request.param == "xla-kernels":
        monkeypatch.setattr(_cpu, "ENABLED", False)  # read when a tree is made
    jax.clear_caches()
    yield request.param
    monkeypatch.undo()
    jax.clear_caches()


@pytest.fixture
def block_minima() -> Callable[[Any], Any]:
    """``blocks(per_slot)``: the leaves of rlu_replay.jax's min tree, by brute force, from the
    smallest value per slot (``inf`` for an empty slot). A block is the slots whose sum-tree
    leaves share a 64-byte line (16 in float32, 8 in float64): slot ``s`` is in block
    ``(s + K - 1) // K``, so block ``b`` holds slots ``Kb - K + 1`` to ``Kb``."""
    import numpy as np

    def blocks(per_slot: Any) -> Any:
        per_slot = np.asarray(per_slot)
        width = 64 // per_slot.itemsize
        out = np.full((len(per_slot) + width - 2) // width + 1, np.inf, per_slot.dtype)
        for slot, value in enumerate(per_slot):
            block = (slot + width - 1) // width
            out[block] = min(out[block], value)
        return out

    return blocks


RELEASED = Path(__file__).parent / "fixtures" / "pickles_envtools0.2.0_replay0.1.1.pkl"


class CompatUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that maps numpy 2's ``numpy._core`` to numpy 1's ``numpy.core``.

    numpy 2 records its array reconstruction under ``numpy._core``, which numpy 1.24 (the floor
    of rlu-replay) calls ``numpy.core``: the compatibility tests run at the floors too.
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return super().find_class(module, name)
        except ModuleNotFoundError:
            if not module.startswith("numpy._core"):
                raise
            return super().find_class("numpy.core" + module[len("numpy._core") :], name)


def _loads(data: bytes, unpickler: type[pickle.Unpickler] = CompatUnpickler) -> Any:
    return unpickler(io.BytesIO(data)).load()


@pytest.fixture
def released() -> SimpleNamespace:
    """What rlu-replay 0.1.1 saved (``saved``: a pickle of tracer, buffer and uniform buffer) and
    what it answered after loading it (``expected``; see fixtures/write_fixtures.py), with
    ``loads(data, unpickler=Unpickler)`` and ``Unpickler`` to read them."""
    saved, expected = _loads(RELEASED.read_bytes())
    return SimpleNamespace(saved=saved, expected=expected, loads=_loads, Unpickler=CompatUnpickler)


@pytest.fixture
def compat_loads() -> Callable[[bytes], Any]:
    """``pickle.loads`` that reads pickles written under numpy 2 at numpy 1 too."""
    return _loads


# ------------------------------------------------------------------ pixel streams


@pytest.fixture(scope="session")
def frame_stream() -> Callable[..., Iterator[Any]]:
    """``stream(k, n, num_envs, p_end, limit, steps, seed)``: the TransitionBatches an
    ``NStepTracer`` makes of ``steps`` steps of gymnasium's ``FrameStackObservation`` (``k``
    frames) over random uint8 frames of shape (3, 4); one environment (``num_envs=None``) or a
    ``SyncVectorEnv``. Episodes end at random (``p_end``, terminated) or at ``limit`` steps
    (truncated); frames take few values, so they repeat within and across episodes."""
    import gymnasium as gym
    import numpy as np
    from gymnasium.wrappers import FrameStackObservation
    from rlu_replay import NStepTracer

    shape = (3, 4)

    class Flicker(gym.Env[Any, Any]):
        observation_space = gym.spaces.Box(0, 255, shape, np.uint8)
        action_space = gym.spaces.Discrete(2)

        def __init__(self, p_end: float, limit: int) -> None:
            self.p_end, self.limit, self.t = p_end, limit, 0

        def _frame(self) -> Any:
            return self.np_random.integers(0, 3, shape).astype(np.uint8)

        def reset(self, *, seed: Any = None, options: Any = None) -> Any:
            super().reset(seed=seed)
            self.t = 0
            return self._frame(), {}

        def step(self, action: Any) -> Any:
            self.t += 1
            terminated = bool(self.np_random.random() < self.p_end)
            return self._frame(), float(action), terminated, self.t >= self.limit, {}

    def stream(
        k: int, n: int, num_envs: int | None, p_end: float, limit: int, steps: int, seed: int
    ) -> Iterator[Any]:
        tracer = NStepTracer(n, 0.9, num_envs=num_envs)
        if num_envs is None:
            env = FrameStackObservation(Flicker(p_end, limit), k)
            s, _ = env.reset(seed=seed)
            for t in range(steps):
                s_next, r, term, trunc, _ = env.step(t % 2)
                out = tracer.add(s, t % 2, r, term, trunc, s_next)
                if out is not None:
                    yield out
                s = env.reset()[0] if term or trunc else s_next
            return
        envs = gym.vector.SyncVectorEnv(
            [lambda: FrameStackObservation(Flicker(p_end, limit), k) for _ in range(num_envs)]
        )
        s, _ = envs.reset(seed=seed)
        for t in range(steps):
            a = (np.arange(num_envs) + t) % 2
            s_next, r, term, trunc, _ = envs.step(a)
            out = tracer.add(s, a, r, term, trunc, s_next)
            if out is not None:
                yield out
            s = s_next
        envs.close()

    return stream


@pytest.fixture
def x64() -> Callable[[], AbstractContextManager[Any]]:
    """``with x64(): ...``: JAX's 64-bit mode for a block (``jax.enable_x64`` where it exists,
    else, before JAX 0.7 as at the floor 0.4.26, ``jax.experimental.enable_x64``)."""
    import jax

    def mode() -> AbstractContextManager[Any]:
        if hasattr(jax, "enable_x64"):
            return jax.enable_x64(True)  # type: ignore[no-any-return]
        from jax.experimental import enable_x64

        return enable_x64(True)  # type: ignore[no-any-return]

    return mode
