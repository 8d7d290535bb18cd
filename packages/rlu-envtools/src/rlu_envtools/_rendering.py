"""Watch an episode (render_episode) or record one to an animated GIF (generate_gif)."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np
from PIL import Image

from rlu_envtools._checks import (
    check_int,
    check_optional_callable,
    check_path,
    check_real,
    check_seed,
    check_size,
)

Policy = Callable[[Any], Any]

_DEFAULT_MAX_EPISODE_STEPS = 10000
_POLICY = "None or a callable a = policy(s)"


def _pick_action(env: gymnasium.Env[Any, Any], policy: Policy | None, s: Any) -> Any:
    return env.action_space.sample() if policy is None else policy(s)


def render_episode(
    env: gymnasium.Env[Any, Any],
    policy: Policy | None = None,
    step_delay_ms: float = 0,
    *,
    seed: int | None = None,
) -> None:
    """Run one episode and render every time step.

    The episode uses the gymnasium API: ``s, info = env.reset(seed=seed)``, then
    ``s, r, terminated, truncated, info = env.step(a)`` until ``terminated or truncated``.
    With ``render_mode="human"`` the environment shows every frame itself, as gymnasium
    requires of human-mode environments (it draws during ``reset`` and ``step``); with any
    other mode (e.g. ``"rgb_array"``) ``env.render()`` is called after the reset and after
    every step, and the frames are computed and discarded. Between steps it sleeps
    ``step_delay_ms`` milliseconds, and five times as long after the last step so that the
    final frame stays visible. The environment is not closed.

    Parameters
    ----------
    env : gymnasium.Env
        An environment made with a ``render_mode`` (``"human"`` to watch it). Give it a time
        limit (e.g. ``max_episode_steps``) if its episodes might not end by themselves.
    policy : callable, optional
        Picks actions, ``a = policy(s)``. If left out, actions are sampled from
        ``env.action_space``.
    step_delay_ms : non-negative float, optional
        Pause between consecutive time steps, in milliseconds, to slow the rendering down.
    seed : non-negative int, optional
        Passed to ``env.reset(seed=seed)``.

    Raises
    ------
    TypeError
        If ``policy`` is not callable, ``step_delay_ms`` is not a number or ``seed`` not an
        int.
    ValueError
        If ``step_delay_ms`` or ``seed`` is negative, or ``env`` has no ``render_mode``.

    Examples
    --------
    >>> import gymnasium
    >>> from rlu_envtools import render_episode
    >>> env = gymnasium.make("CartPole-v1", render_mode="rgb_array", max_episode_steps=3)
    >>> render_episode(env, policy=lambda s: 0, seed=0)
    """
    policy = check_optional_callable("policy", policy, expected=_POLICY)
    seed = check_seed("seed", seed)
    delay = check_real("step_delay_ms", step_delay_ms, low=0.0) / 1e3
    if getattr(env, "render_mode", None) is None:
        raise ValueError(
            "env has no render_mode; make it with render_mode='human' to watch it (or "
            "'rgb_array'), e.g. gymnasium.make('CartPole-v1', render_mode='human')"
        )
    # human-mode envs draw during reset() and step(); calling render() again would draw twice
    render = env.render if env.render_mode != "human" else (lambda: None)

    s, _ = env.reset(seed=seed)
    render()
    while True:
        a = _pick_action(env, policy, s)
        s, _, terminated, truncated, _ = env.step(a)
        render()
        time.sleep(delay)
        if terminated or truncated:
            break
    time.sleep(5 * delay)


def _frame_to_image(frame: Any, resize_to: tuple[int, int] | None) -> Image.Image:
    arr = np.asarray(frame) if frame is not None else None
    if arr is None or arr.ndim != 3 or arr.shape[-1] not in (3, 4) or arr.dtype != np.uint8:
        desc = "None" if arr is None else f"shape {arr.shape}, dtype {arr.dtype}"
        raise RuntimeError(
            "env.render() must return an RGB frame, a uint8 array of shape (height, width, 3), "
            f"got {desc}; make the env with render_mode='rgb_array'"
        )
    img = Image.fromarray(arr[..., :3])
    if resize_to is not None:
        img = img.resize(resize_to, Image.Resampling.LANCZOS)
    return img.convert("P", palette=Image.Palette.ADAPTIVE)


def generate_gif(
    env: gymnasium.Env[Any, Any],
    filepath: str | os.PathLike[str],
    policy: Policy | None = None,
    resize_to: tuple[int, int] | None = None,
    duration: float = 50,
    max_episode_steps: int | None = None,
    *,
    loop: int = 0,
    seed: int | None = None,
) -> None:
    """Record one episode to an animated GIF.

    Runs an episode on the gymnasium API (``env.reset(seed=seed)``, then ``env.step`` until
    ``terminated or truncated`` or ``max_episode_steps`` steps), grabbing ``env.render()`` after
    the reset and after every step, so an episode of ``T`` steps gives ``T + 1`` frames. Frames
    are turned into Pillow images (resized first if asked, then quantized to an adaptive
    palette) and written as one GIF. Pillow merges consecutive identical frames into one
    frame shown for their summed duration. Missing parent directories are created; the file is
    written to a temporary name and moved into place, so a failure leaves an existing file
    untouched. The environment is not closed.

    Parameters
    ----------
    env : gymnasium.Env
        An environment made with ``render_mode="rgb_array"``.
    filepath : str or os.PathLike
        Where to write the GIF.
    policy : callable, optional
        Picks actions, ``a = policy(s)``. If left out, actions are sampled from
        ``env.action_space``.
    resize_to : tuple of two ints, optional
        The size of the output frames, ``(width, height)`` -- width first, as Pillow has it.
    duration : positive float, optional
        How long each frame is shown, in milliseconds.
    max_episode_steps : positive int, optional
        The most steps to record. If left out, ``env.spec.max_episode_steps`` is used, and if
        that is missing too (no spec, or a spec without a limit), 10000.
    loop : non-negative int, optional
        How often the GIF repeats; 0 means forever.
    seed : non-negative int, optional
        Passed to ``env.reset(seed=seed)``.

    Raises
    ------
    RuntimeError
        If ``env`` cannot render RGB frames (its ``render_mode`` is not ``"rgb_array"`` or
        ``render()`` does not return a ``(height, width, 3)`` uint8 array).
    TypeError
        If an argument has the wrong type (``policy`` not callable, ``resize_to`` not a pair of
        ints, ...).
    ValueError
        If ``duration``, ``max_episode_steps`` or ``resize_to`` is not positive, or ``loop`` or
        ``seed`` is negative.

    Examples
    --------
    >>> import os, tempfile
    >>> import gymnasium
    >>> import numpy as np
    >>> from PIL import Image
    >>> from rlu_envtools import generate_gif
    >>> env = gymnasium.make("Pendulum-v1", render_mode="rgb_array", max_episode_steps=4)
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "gifs", "pendulum.gif")  # "gifs" does not exist yet
    >>> generate_gif(env, path, policy=lambda s: np.array([2.0]), resize_to=(64, 48), seed=0)
    >>> with Image.open(path) as gif:
    ...     gif.size, gif.n_frames  # 4 steps: the reset frame and one frame per step
    ((64, 48), 5)
    >>> tmp.cleanup()
    """
    policy = check_optional_callable("policy", policy, expected=_POLICY)
    seed = check_seed("seed", seed)
    size = None if resize_to is None else check_size("resize_to", resize_to)
    path = check_path("filepath", filepath)
    frame_ms = check_real("duration", duration, positive=True)
    loop = check_int("loop", loop, minimum=0)
    if max_episode_steps is None:
        spec = getattr(env, "spec", None)
        max_episode_steps = getattr(spec, "max_episode_steps", None)
        if max_episode_steps is None:
            max_episode_steps = _DEFAULT_MAX_EPISODE_STEPS
    n_steps = check_int("max_episode_steps", max_episode_steps, minimum=1)
    render_mode = getattr(env, "render_mode", None)
    if render_mode != "rgb_array":
        raise RuntimeError(
            f"generate_gif needs RGB frames, but env.render_mode is {render_mode!r}; make the env "
            "with render_mode='rgb_array', e.g. "
            "gymnasium.make('CartPole-v1', render_mode='rgb_array')"
        )

    s, _ = env.reset(seed=seed)
    frames = [_frame_to_image(env.render(), size)]
    for _ in range(n_steps):
        a = _pick_action(env, policy, s)
        s, _, terminated, truncated, _ = env.step(a)
        frames.append(_frame_to_image(env.render(), size))
        if terminated or truncated:
            break

    dirname = os.path.dirname(os.path.abspath(path))
    os.makedirs(dirname, exist_ok=True)
    # A uniquely named sibling opened like any new file, so the GIF gets the usual permissions
    # (0o666 less the umask; mkstemp's files are 0o600), then renamed over the target.
    tmp = os.path.join(dirname, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as f:
            frames[0].save(
                f,
                format="GIF",
                save_all=True,
                append_images=frames[1:],
                duration=frame_ms,
                loop=loop,
            )
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    logging.getLogger(__name__).info("recorded %d frames to %s", len(frames), path)
