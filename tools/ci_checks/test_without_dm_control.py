"""Where rlu-envtools' ``dmc`` extra installs nothing (its requirements carry the environment
marker ``python_version < "3.13"``), make_dmc says so and why.

``tools/matrix.py pythons`` runs this file, instead of rlu-envtools' dm_control tests, on every
Python where that marker keeps dm-control off; elsewhere those tests run and this file does not.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest
from rlu_envtools import make_dmc


def test_the_dmc_extra_brought_no_dm_control():
    assert importlib.util.find_spec("dm_control") is None
    assert importlib.util.find_spec("mujoco") is None


def test_make_dmc_raises_an_import_error_that_says_why():
    with pytest.raises(ImportError) as info:
        make_dmc("cartpole", "swingup")
    message = str(info.value)
    assert "make_dmc" in message
    assert "dm_control" in message or "dm-control" in message
    # why: dm-control cannot be installed on this Python, which the message names
    assert f"{sys.version_info[0]}.{sys.version_info[1]}" in message, message
