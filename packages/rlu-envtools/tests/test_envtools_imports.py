"""The import surface: cheap imports, and optional extras that fail with a helpful message."""

import base64
import importlib
import pickle
import pkgutil
import subprocess
import sys
import textwrap

import pytest
import rlu_envtools

EXPECTED = {
    "TransitionBatch",
    "check_preprocessors",
    "chunks_pow2",
    "default_preprocessor",
    "generate_gif",
    "get_env_attr",
    "get_transition_batch",
    "has_env_attr",
    "make_dmc",
    "render_episode",
    "safe_sample",
}


def _run(code):
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_public_surface():
    assert set(rlu_envtools.__all__) - {"__version__"} == EXPECTED
    # the version the installed metadata reports is the package's own
    assert rlu_envtools.__version__ == importlib.metadata.version("rlu-envtools")
    for name in EXPECTED:
        assert getattr(rlu_envtools, name).__doc__


def test_import_loads_neither_jax_nor_dm_control():
    out = _run("""
        import sys
        import rlu_envtools
        heavy = sorted(m for m in sys.modules
                       if m.split(".")[0] in {"jax", "jaxlib", "dm_control", "mujoco", "pygame"})
        print(heavy)
    """)
    assert out.strip() == "[]"


def _make_dmc_error(setup, error):
    """The ``error`` make_dmc raises in a fresh interpreter after the line ``setup`` ran."""
    return _run(f"""
        import os, sys
        {setup}
        import rlu_envtools
        try:
            rlu_envtools.make_dmc("cartpole", "swingup")
        except {error} as e:
            print(e)
    """)


def test_missing_dmc_extra_names_it():
    # as if dm-control were not installed
    out = _make_dmc_error('sys.modules["dm_control"] = None', "ImportError")
    assert 'pip install "rlu-envtools[dmc]"' in out
    assert "make_dmc" in out


@pytest.mark.parametrize(
    "func", ["default_preprocessor(Discrete(2))", "check_preprocessors(Discrete(2), print, print)"]
)
def test_missing_jax_extra_names_it(func):
    out = _run(f"""
        import sys
        sys.modules["jax"] = None  # as if jax were not installed
        from gymnasium.spaces import Discrete
        from rlu_envtools import check_preprocessors, default_preprocessor, get_transition_batch
        import gymnasium
        # TransitionBatch and get_transition_batch work without jax
        tb = get_transition_batch(gymnasium.make("CartPole-v1"), batch_size=2, random_seed=0)
        assert tb.batch_size == 2
        try:
            {func}
        except ImportError as e:
            print(e)
    """)
    assert 'pip install "rlu-envtools[jax]"' in out


def test_unusable_gl_backend_is_explained():
    pytest.importorskip("dm_control", reason='needs the dmc extra: pip install "rlu-envtools[dmc]"')
    # dm_control refuses this backend at import
    out = _make_dmc_error('os.environ["MUJOCO_GL"] = "no-such-backend"', "RuntimeError")
    assert "MUJOCO_GL='no-such-backend'" in out
    assert "libegl1 libgl1-mesa-dri" in out


# pickle.dumps(rlu_envtools.preprocessing._split, protocol=4), as rlu-envtools 0.1.0 recorded
# it: a cloudpickled default preprocessor of a Tuple or Dict space (say, in a checkpoint of an
# agent) refers to this helper by name.
SPLIT_0_1_0 = base64.b64decode(
    "gASVKQAAAAAAAACMGnJsdV9lbnZ0b29scy5wcmVwcm9jZXNzaW5nlIwGX3NwbGl0lJOULg=="
)


def test_every_other_module_is_private_or_a_compatibility_module():
    modules = {m.name for m in pkgutil.iter_modules(rlu_envtools.__path__)}
    public = {m for m in modules if not m.startswith("_")}
    assert public == {"transition", "preprocessing"}  # kept for 0.1.0's pickles
    for name in public:
        module = importlib.import_module(f"rlu_envtools.{name}")
        assert module.__doc__.startswith("Compatibility module: exists only so that")


def test_checkpoints_of_rlu_envtools_0_1_0_still_load():
    from rlu_envtools import _preprocessing

    assert pickle.loads(SPLIT_0_1_0) is _preprocessing._split


def test_cloudpickled_preprocessor_of_0_1_0_loads():
    cloudpickle = pytest.importorskip("cloudpickle")
    pytest.importorskip("jax", reason='needs the jax extra: pip install "rlu-envtools[jax]"')
    from gymnasium.spaces import Dict, Discrete
    from rlu_envtools import default_preprocessor

    # a preprocessor made by 0.1.0's module, as a checkpoint would hold it
    from rlu_envtools.preprocessing import default_preprocessor as old_default_preprocessor

    assert old_default_preprocessor is default_preprocessor
    func = default_preprocessor(Dict({"a": Discrete(3)}))
    restored = pickle.loads(cloudpickle.dumps(func))
    assert restored(None, {"a": 2})["a"].tolist() == [[0.0, 0.0, 1.0]]
