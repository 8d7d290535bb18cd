"""DeepMind Control Suite tasks as registered gymnasium environments.

Needs the ``dmc`` extra (``pip install "rlu-envtools[dmc]"``); dm_control is imported only when
an environment is made. Rendering needs an OpenGL backend: on a headless machine set
``MUJOCO_GL=egl`` (Debian packages ``libegl1 libgl1-mesa-dri``) or ``MUJOCO_GL=osmesa``
(``libosmesa6``) before dm_control is first imported.

``DmcEnv`` checks its arguments in its constructor, which every way of making one goes
through: [`make_dmc`][rlu_envtools.make_dmc], ``gymnasium.make("rlu_dmc/<domain>-<task>-v0", ...)``
once make_dmc has registered that id, and ``DmcEnv(...)`` itself.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np

from rlu_envtools._checks import (
    TypeAndValueError,
    check_camera,
    check_choice,
    check_int,
    check_optional_int,
    check_optional_mapping,
    check_real,
    check_seed,
    check_str,
)
from rlu_envtools._optional import import_optional

_NAMESPACE = "rlu_dmc"


def _import_suite() -> Any:
    """Import dm_control.suite, explaining the two ways this fails: no extra, no GL backend."""
    try:
        return import_optional("dm_control.suite", "make_dmc")
    except ImportError:
        raise
    except Exception as exc:  # dm_control sets up the MUJOCO_GL backend at import and can fail
        gl = os.environ.get("MUJOCO_GL")
        raise RuntimeError(
            f"dm_control failed to import with MUJOCO_GL={gl!r} ({type(exc).__name__}: {exc}). "
            "Install that OpenGL backend (MUJOCO_GL=egl: apt-get install libegl1 "
            "libgl1-mesa-dri; MUJOCO_GL=osmesa: apt-get install libosmesa6) or choose another "
            "one before dm_control is imported"
        ) from exc


def _spec_to_box(spec: Any) -> gymnasium.spaces.Box:
    """A float Box for a dm_env array spec (bounded or not)."""
    shape = tuple(spec.shape)
    if hasattr(spec, "minimum") and hasattr(spec, "maximum"):
        low = np.broadcast_to(np.asarray(spec.minimum, dtype=np.float64), shape)
        high = np.broadcast_to(np.asarray(spec.maximum, dtype=np.float64), shape)
    else:
        low, high = np.full(shape, -np.inf), np.full(shape, np.inf)
    return gymnasium.spaces.Box(low, high, shape=shape, dtype=np.float64)


def episode_end(timestep: Any) -> tuple[bool, bool]:
    """Translate a dm_env TimeStep into gymnasium's ``(terminated, truncated)``.

    A last step with discount 0 is a true termination: the next state is terminal and must
    not be bootstrapped. A last step with a positive discount (what dm_control returns when
    its time limit runs out) only cuts the episode short: it is a truncation. A step that is
    not the last is neither.

    Parameters
    ----------
    timestep : dm_env.TimeStep
        A time step returned by a dm_control environment.

    Returns
    -------
    tuple of bool
        ``(terminated, truncated)``; at most one of them is True.
    """
    if not timestep.last():
        return False, False
    terminated = timestep.discount is not None and float(timestep.discount) == 0.0
    return terminated, not terminated


class DmcEnv(gymnasium.Env[np.ndarray, np.ndarray]):
    """A dm_control suite task behind the gymnasium 1.x API.

    Made by [`make_dmc`][rlu_envtools.make_dmc], which documents the behaviour and the parameters
    (all of them but ``max_episode_steps``, which is gymnasium's, and ``render_mode``, which can
    only be ``"rgb_array"``). The constructor checks every argument, so ``gymnasium.make`` with an
    id that make_dmc registered, or a direct call, refuses bad ones just as make_dmc does.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(
        self,
        domain: str,
        task: str,
        seed: int | None = 0,
        height: int = 84,
        width: int = 84,
        camera_id: int | str = 0,
        from_pixels: bool = False,
        frame_skip: int = 1,
        time_limit: float | None = None,
        task_kwargs: Mapping[str, Any] | None = None,
        environment_kwargs: Mapping[str, Any] | None = None,
        render_mode: str | None = "rgb_array",
    ) -> None:
        # coax passed a domain or task of the wrong type to dm_control, which raised
        # ValueError: the error is both
        domain = check_str("domain", domain, error=TypeAndValueError)
        task = check_str("task", task, error=TypeAndValueError)
        seed = check_seed("seed", seed)
        self.height = check_int("height", height, minimum=1)
        self.width = check_int("width", width, minimum=1)
        self.camera_id = check_camera("camera_id", camera_id)
        self.from_pixels = bool(from_pixels)
        self.frame_skip = check_int("frame_skip", frame_skip, minimum=1)
        if time_limit is not None:
            time_limit = check_real("time_limit", time_limit, positive=True)
        task_kwargs = check_optional_mapping("task_kwargs", task_kwargs)
        environment_kwargs = check_optional_mapping("environment_kwargs", environment_kwargs)
        check_choice("render_mode", render_mode, choices=(None, "rgb_array"))

        suite = _import_suite()
        if (domain, task) not in suite.ALL_TASKS:
            known = sorted(t for d, t in suite.ALL_TASKS if d == domain)
            hint = (
                f"tasks of {domain!r}: {known}" if known else f"domains: {sorted(suite._DOMAINS)}"
            )
            raise ValueError(f"no dm_control suite task ({domain!r}, {task!r}); {hint}")
        kwargs = dict(task_kwargs or {})
        kwargs["random"] = seed
        if time_limit is not None:
            kwargs["time_limit"] = time_limit
        self._dmc = suite.load(
            domain,
            task,
            task_kwargs=kwargs,
            environment_kwargs=dict(environment_kwargs) if environment_kwargs else None,
        )
        self.render_mode = "rgb_array"
        fps = 1.0 / (self._dmc.control_timestep() * self.frame_skip)
        self.metadata = {**type(self).metadata, "render_fps": int(round(fps))}

        self._action_shape = tuple(self._dmc.action_spec().shape)
        act = _spec_to_box(self._dmc.action_spec())
        self.action_space = gymnasium.spaces.Box(
            act.low.astype(np.float32), act.high.astype(np.float32), dtype=np.float32
        )
        self._state_space = gymnasium.spaces.Dict(
            OrderedDict((k, _spec_to_box(s)) for k, s in self._dmc.observation_spec().items())
        )
        if self.from_pixels:
            self.observation_space = gymnasium.spaces.Box(
                0, 255, shape=(self.height, self.width, 3), dtype=np.uint8
            )
        else:
            flat = gymnasium.spaces.flatten_space(self._state_space)
            assert isinstance(flat, gymnasium.spaces.Box)  # a Dict of Boxes flattens to a Box
            self.observation_space = gymnasium.spaces.Box(
                flat.low.astype(np.float32), flat.high.astype(np.float32), dtype=np.float32
            )
        self._needs_reset = True

    @property
    def dmc_env(self) -> Any:
        """dm_control.rl.control.Environment: The wrapped dm_control environment."""
        return self._dmc

    def _observe(self, timestep: Any) -> np.ndarray:
        if self.from_pixels:
            return self.render()
        obs = OrderedDict((k, timestep.observation[k]) for k in self._state_space.spaces)
        return np.asarray(gymnasium.spaces.flatten(self._state_space, obs), dtype=np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; a ``seed`` reseeds the task's random state first.

        Parameters
        ----------
        seed : int, optional
            Reseeds the task, so the same seed gives the same initial state.
        options : dict, optional
            Unused.

        Returns
        -------
        tuple
            ``(observation, info)``.
        """
        super().reset(seed=seed)
        if seed is not None:
            self._dmc.task.random.seed(seed)
        timestep = self._dmc.reset()
        self._needs_reset = False
        return self._observe(timestep), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Take ``frame_skip`` dm_control steps with ``action``, summing their rewards.

        Parameters
        ----------
        action : array_like
            An element of ``action_space``.

        Returns
        -------
        tuple
            ``(observation, reward, terminated, truncated, info)``: ``terminated`` when the
            episode ended with discount 0, ``truncated`` when it ended with a positive discount
            (dm_control's time limit).

        Raises
        ------
        RuntimeError
            If the episode has ended (or not started) and ``reset`` was not called.
        ValueError
            If ``action`` does not have the action space's shape.
        """
        if self._needs_reset:
            raise RuntimeError("the episode has ended or not started: call env.reset() first")
        a = np.asarray(action, dtype=np.float64)
        if a.shape != self._action_shape:
            raise ValueError(f"action must have shape {self._action_shape}, got {a.shape}")
        timestep = self._dmc.step(a)
        reward = float(timestep.reward or 0.0)
        for _ in range(self.frame_skip - 1):  # the repeats, unless the episode ended
            if timestep.last():
                break
            timestep = self._dmc.step(a)
            reward += float(timestep.reward or 0.0)
        terminated, truncated = episode_end(timestep)
        discount = 1.0 if timestep.discount is None else float(timestep.discount)
        self._needs_reset = terminated or truncated
        return self._observe(timestep), reward, terminated, truncated, {"discount": discount}

    def render(self) -> np.ndarray:
        """Render the current scene.

        Returns
        -------
        numpy.ndarray
            A ``(height, width, 3)`` uint8 RGB frame.
        """
        return np.asarray(
            self._dmc.physics.render(height=self.height, width=self.width, camera_id=self.camera_id)
        )

    def close(self) -> None:
        """Release dm_control's resources."""
        self._dmc.close()


def make_dmc(
    domain: str,
    task: str,
    seed: int | None = 0,
    max_episode_steps: int | None = 1000,
    height: int = 84,
    width: int = 84,
    camera_id: int | str = 0,
    *,
    from_pixels: bool = False,
    frame_skip: int = 1,
    time_limit: float | None = None,
    task_kwargs: Mapping[str, Any] | None = None,
    environment_kwargs: Mapping[str, Any] | None = None,
) -> gymnasium.Env[np.ndarray, np.ndarray]:
    """Make a DeepMind Control Suite task as a gymnasium environment.

    The task is registered with gymnasium as ``"rlu_dmc/{domain}-{task}-v0"`` (once) and made
    with ``gymnasium.make``, so it comes with gymnasium's usual wrappers, a ``spec`` and,
    if ``max_episode_steps`` is given, a ``TimeLimit``. Every call
    makes its own environment with its own settings.

    * Observations: the task's observations flattened into one float32 vector (a Box), or the
      rendered frame, a ``(height, width, 3)`` uint8 Box, if ``from_pixels=True``.
    * Actions: a float32 Box with the task's bounds.
    * ``render()`` returns a ``(height, width, 3)`` uint8 frame (``render_mode`` is
      ``"rgb_array"``).
    * ``reset(seed=...)`` reseeds the task, so equal seeds give equal initial states.
    * Episode ends: a dm_control last step with discount 0 is a true termination,
      ``terminated=True``. dm_control's own time limit *cuts* the episode: ``truncated=True,
      terminated=False``, as does ``max_episode_steps``; such states must still be
      bootstrapped.
    * ``frame_skip=k`` repeats each action for ``k`` dm_control steps, sums their rewards and
      stops early if the episode ends. ``max_episode_steps`` counts these outer steps.

    Parameters
    ----------
    domain, task : str
        A task of ``dm_control.suite.ALL_TASKS``, e.g. ``"cartpole", "swingup"``.
    seed : int, optional
        Seed of the task's random state; None for fresh entropy.
    max_episode_steps : positive int, optional
        gymnasium time limit, in (frame-skipped) steps; None for dm_control's own limit only.
    height, width : positive int, optional
        Size of rendered frames (and of pixel observations).
    camera_id : int or str, optional
        The camera to render from.
    from_pixels : bool, optional
        Whether observations are rendered frames instead of the state vector.
    frame_skip : positive int, optional
        dm_control steps per environment step.
    time_limit : positive float, optional
        dm_control's episode length in seconds of simulated time (the suite default is
        usually 10 s, i.e. 1000 steps of 0.01 s for cartpole). Shorthand for
        ``task_kwargs={"time_limit": ...}``.
    task_kwargs, environment_kwargs : dict, optional
        Passed on to ``dm_control.suite.load`` (``random`` is always set from ``seed``).

    Returns
    -------
    gymnasium.Env
        The environment.

    Raises
    ------
    ImportError
        If dm_control is not installed (``pip install "rlu-envtools[dmc]"``; on Python >= 3.13,
        where dm-control does not install, the message says to use Python <= 3.12).
    RuntimeError
        If dm_control is installed but fails to import because the OpenGL backend named by
        ``MUJOCO_GL`` is missing.
    TypeError
        If an argument has the wrong type (for ``domain`` and ``task`` the error is a
        ValueError too, as coax's was).
    ValueError
        If the task does not exist or a number is out of range.

    Notes
    -----
    The arguments are checked by the environment's constructor, so they are checked the same
    way when the registered id is made with ``gymnasium.make``. A refused call registers
    nothing.

    Examples
    --------
    Bad arguments are refused before dm_control is imported:

    >>> from rlu_envtools import make_dmc
    >>> make_dmc("cartpole", "swingup", frame_skip=0)
    Traceback (most recent call last):
    ...
    ValueError: frame_skip must be an int >= 1, got 0

    Typical use (needs the ``dmc`` extra and, for rendering, an OpenGL backend):

    ```python
    env = make_dmc("cartpole", "swingup", seed=1, max_episode_steps=500, frame_skip=2)
    s, info = env.reset(seed=1)
    s, r, terminated, truncated, info = env.step(env.action_space.sample())
    frame = env.render()  # (84, 84, 3) uint8
    ```
    """
    # DmcEnv checks the environment's arguments (on every path that makes one); make_dmc
    # checks only its own, max_episode_steps, which it hands to gymnasium's TimeLimit
    steps = check_optional_int("max_episode_steps", max_episode_steps, minimum=1)
    env_kwargs: dict[str, Any] = {
        "seed": seed,
        "height": height,
        "width": width,
        "camera_id": camera_id,
        "from_pixels": from_pixels,
        "frame_skip": frame_skip,
        "time_limit": time_limit,
        "task_kwargs": task_kwargs,
        "environment_kwargs": environment_kwargs,
    }
    env_id = f"{_NAMESPACE}/{domain}-{task}-v0"
    added = env_id not in gymnasium.registry
    if added:
        try:
            gymnasium.register(
                env_id, entry_point=f"{__name__}:DmcEnv", kwargs={"domain": domain, "task": task}
            )
        except gymnasium.error.Error:
            # gymnasium refuses the id, so (domain, task) is no suite task: DmcEnv says why
            DmcEnv(domain, task, **env_kwargs).close()
            raise
    try:
        return gymnasium.make(
            env_id, max_episode_steps=steps, render_mode="rgb_array", **env_kwargs
        )
    except BaseException:
        if added:  # a refused call leaves the registry as it was
            del gymnasium.registry[env_id]
        raise
