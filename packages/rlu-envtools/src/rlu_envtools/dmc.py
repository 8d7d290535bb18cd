"""DeepMind Control Suite tasks as registered gymnasium environments.

Needs the ``dmc`` extra (``pip install "rlu-envtools[dmc]"``); dm_control is imported only when
an environment is made. Rendering needs an OpenGL backend: on a headless machine set
``MUJOCO_GL=egl`` (Debian packages ``libegl1 libgl1-mesa-dri``) or ``MUJOCO_GL=osmesa``
(``libosmesa6``) before dm_control is first imported.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping
from numbers import Real
from typing import Any

import gymnasium
import numpy as np

from ._optional import import_optional

__all__ = ["DmcEnv", "episode_end", "make_dmc"]

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


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= {minimum}, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")


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

    Examples
    --------
    >>> from collections import namedtuple
    >>> Step = namedtuple("Step", "last discount")  # stands in for dm_env.TimeStep here
    >>> episode_end(Step(lambda: True, 0.0)), episode_end(Step(lambda: True, 1.0))
    ((True, False), (False, True))
    >>> episode_end(Step(lambda: False, 1.0))
    (False, False)
    """
    if not timestep.last():
        return False, False
    terminated = timestep.discount is not None and float(timestep.discount) == 0.0
    return terminated, not terminated


class DmcEnv(gymnasium.Env):
    """A dm_control suite task behind the gymnasium 1.x API; make it with :func:`make_dmc`.

    Observations are the task's observation dict flattened (in the task's key order) into one
    float32 vector, or, with ``from_pixels=True``, the rendered ``(height, width, 3)`` uint8
    frame. Actions are float32 vectors in the task's action bounds. An episode that dm_control
    ends with discount 0 is ``terminated``; one it ends by its time limit (discount > 0) is
    ``truncated``. ``info["discount"]`` holds dm_control's discount of the last step.

    Parameters
    ----------
    domain, task : str
        The suite task, e.g. ``("cartpole", "swingup")``.
    seed : int, optional
        Seed of the task's random state (initial states, noise).
    height, width : int, optional
        Size of rendered frames, in pixels.
    camera_id : int or str, optional
        The camera to render from.
    from_pixels : bool, optional
        Whether observations are rendered frames instead of the state vector.
    frame_skip : int, optional
        How many dm_control steps each :meth:`step` takes, repeating the action.
    task_kwargs, environment_kwargs : dict, optional
        Passed on to :func:`dm_control.suite.load`.
    render_mode : {"rgb_array"}, optional
        The only supported mode.

    Raises
    ------
    ImportError
        If dm_control is not installed (``pip install "rlu-envtools[dmc]"``).
    ValueError
        If ``render_mode`` is not ``"rgb_array"``.
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
        task_kwargs: Mapping[str, Any] | None = None,
        environment_kwargs: Mapping[str, Any] | None = None,
        render_mode: str | None = "rgb_array",
    ) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be 'rgb_array', got {render_mode!r}")
        suite = _import_suite()
        kwargs = dict(task_kwargs or {})
        kwargs["random"] = seed
        self._dmc = suite.load(
            domain,
            task,
            task_kwargs=kwargs,
            environment_kwargs=dict(environment_kwargs) if environment_kwargs else None,
        )
        self.render_mode = "rgb_array"
        self.height, self.width, self.camera_id = int(height), int(width), camera_id
        self.from_pixels, self.frame_skip = bool(from_pixels), int(frame_skip)
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
            An element of :attr:`action_space`.

        Returns
        -------
        tuple
            ``(observation, reward, terminated, truncated, info)``: ``terminated`` when the
            episode ended with discount 0, ``truncated`` when it ended with a positive discount
            (dm_control's time limit).

        Raises
        ------
        RuntimeError
            If the episode has ended (or not started) and :meth:`reset` was not called.
        ValueError
            If ``action`` does not have the action space's shape.
        """
        if self._needs_reset:
            raise RuntimeError("the episode has ended or not started: call env.reset() first")
        a = np.asarray(action, dtype=np.float64)
        if a.shape != self._action_shape:
            raise ValueError(f"action must have shape {self._action_shape}, got {a.shape}")
        reward = 0.0
        for _ in range(self.frame_skip):
            timestep = self._dmc.step(a)
            reward += float(timestep.reward or 0.0)
            if timestep.last():
                break
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
) -> gymnasium.Env:
    """Make a DeepMind Control Suite task as a gymnasium environment.

    The task is registered with gymnasium as ``"rlu_dmc/{domain}-{task}-v0"`` (once) and made
    with :func:`gymnasium.make`, so it comes with gymnasium's usual wrappers, a ``spec`` and,
    if ``max_episode_steps`` is given, a :class:`~gymnasium.wrappers.TimeLimit`. Every call
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
        A task of :data:`dm_control.suite.ALL_TASKS`, e.g. ``"cartpole", "swingup"``.
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
        Passed on to :func:`dm_control.suite.load` (``random`` is always set from ``seed``).

    Returns
    -------
    gymnasium.Env
        The environment.

    Raises
    ------
    ImportError
        If dm_control is not installed (``pip install "rlu-envtools[dmc]"``).
    RuntimeError
        If dm_control is installed but fails to import because the OpenGL backend named by
        ``MUJOCO_GL`` is missing.
    TypeError
        If an argument has the wrong type.
    ValueError
        If the task does not exist or a number is out of range.

    Examples
    --------
    Bad arguments are refused before dm_control is imported:

    >>> make_dmc("cartpole", "swingup", frame_skip=0)
    Traceback (most recent call last):
    ...
    ValueError: frame_skip must be an int >= 1, got 0

    Typical use (needs the ``dmc`` extra and, for rendering, an OpenGL backend):

    .. code-block:: python

        env = make_dmc("cartpole", "swingup", seed=1, max_episode_steps=500, frame_skip=2)
        s, info = env.reset(seed=1)
        s, r, terminated, truncated, info = env.step(env.action_space.sample())
        frame = env.render()  # (84, 84, 3) uint8
    """
    for name, value in (("domain", domain), ("task", task)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if seed is not None:
        _check_int("seed", seed, 0)
    if max_episode_steps is not None:
        _check_int("max_episode_steps", max_episode_steps, 1)
    _check_int("height", height, 1)
    _check_int("width", width, 1)
    if isinstance(camera_id, bool) or not isinstance(camera_id, (int, np.integer, str)):
        raise TypeError(
            f"camera_id must be an int or a camera name, got {type(camera_id).__name__}"
        )
    _check_int("frame_skip", frame_skip, 1)
    if time_limit is not None:
        if isinstance(time_limit, bool) or not isinstance(time_limit, Real):
            raise TypeError(
                f"time_limit must be a positive number of seconds, got {type(time_limit).__name__}"
            )
        if not time_limit > 0:
            raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit}")
    for kw_name, kw in (("task_kwargs", task_kwargs), ("environment_kwargs", environment_kwargs)):
        if kw is not None and not isinstance(kw, Mapping):
            raise TypeError(f"{kw_name} must be None or a dict, got {type(kw).__name__}")

    suite = _import_suite()
    if (domain, task) not in suite.ALL_TASKS:
        known = sorted(t for d, t in suite.ALL_TASKS if d == domain)
        hint = f"tasks of {domain!r}: {known}" if known else f"domains: {sorted(suite._DOMAINS)}"
        raise ValueError(f"no dm_control suite task ({domain!r}, {task!r}); {hint}")

    kwargs = dict(task_kwargs or {})
    if time_limit is not None:
        kwargs["time_limit"] = float(time_limit)

    env_id = f"{_NAMESPACE}/{domain}-{task}-v0"
    if env_id not in gymnasium.registry:
        gymnasium.register(
            env_id, entry_point=f"{__name__}:DmcEnv", kwargs={"domain": domain, "task": task}
        )
    return gymnasium.make(
        env_id,
        max_episode_steps=None if max_episode_steps is None else int(max_episode_steps),
        render_mode="rgb_array",
        seed=None if seed is None else int(seed),
        height=int(height),
        width=int(width),
        camera_id=camera_id,
        from_pixels=bool(from_pixels),
        frame_skip=int(frame_skip),
        task_kwargs=kwargs,
        environment_kwargs=dict(environment_kwargs) if environment_kwargs else None,
    )
