"""Headless defaults for rendering, and a probe for an OpenGL backend usable by MuJoCo."""

import os

import pytest

# Must be set before dm_control / pygame are first imported.
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

_NO_GL = (
    "no OpenGL backend for MuJoCo rendering (MUJOCO_GL={gl}): {err}. Install one, e.g. "
    "`apt-get install libegl1 libgl1-mesa-dri` with MUJOCO_GL=egl, or `apt-get install "
    "libosmesa6` with MUJOCO_GL=osmesa"
)


@pytest.fixture(scope="session")
def dm_suite():
    """dm_control.suite, or a skip that names what to install."""
    pytest.importorskip("dm_control", reason='needs the dmc extra: pip install "rlu-envtools[dmc]"')
    try:
        from dm_control import suite
    except ImportError:
        raise
    except Exception as err:  # dm_control sets up its GL backend at import: none works here
        pytest.skip(_NO_GL.format(gl=os.environ.get("MUJOCO_GL"), err=err))
    return suite


@pytest.fixture(scope="session")
def mujoco_gl(dm_suite):
    """Skip the test unless MuJoCo can render offscreen here (probed once, on a tiny model)."""
    from dm_control import mujoco

    try:
        physics = mujoco.Physics.from_xml_string("<mujoco><worldbody/></mujoco>")
        frame = physics.render(height=8, width=8)
    except Exception as err:  # any failure to create a GL context means: no backend here
        pytest.skip(_NO_GL.format(gl=os.environ.get("MUJOCO_GL"), err=err))
    assert frame.shape == (8, 8, 3)
    return os.environ.get("MUJOCO_GL")
