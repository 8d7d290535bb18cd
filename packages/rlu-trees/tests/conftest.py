"""Fixtures shared by the JAX-tree tests."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest


@pytest.fixture
def x64() -> Callable[[], AbstractContextManager[Any]]:
    """``with x64(): ...``: JAX's 64-bit mode for a block (``jax.enable_x64`` where it exists,
    else, before JAX 0.7 as at the declared floor 0.4.26, ``jax.experimental.enable_x64``)."""
    import jax

    def mode() -> AbstractContextManager[Any]:
        if hasattr(jax, "enable_x64"):
            return jax.enable_x64(True)  # type: ignore[no-any-return]
        from jax.experimental import enable_x64

        return enable_x64(True)  # type: ignore[no-any-return]

    return mode
