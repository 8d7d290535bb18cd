"""The public surface of rlu_core, and the old paths that released pickles record."""

import base64
import importlib
import os
import pickle
import pkgutil
import subprocess
import sys
import textwrap

import pytest
import rlu_core

PUBLIC = {
    "Policy",
    "QFunction",
    "RewardFunction",
    "StochasticFunction",
    "TransitionBatch",
    "TransitionModel",
    "VFunction",
    "chunks_pow2",
    "docstring",
    "enable_logging",
    "is_policy",
    "is_qfunction",
    "is_reward_function",
    "is_stochastic",
    "is_transition_model",
    "is_vfunction",
    "merge_dicts",
    "pretty_print",
    "pretty_repr",
    "reload_recursive",
}
VOCABULARY = ("Policy", "QFunction", "VFunction", "RewardFunction", "TransitionModel")
VOCABULARY += ("StochasticFunction",)

# pickle.dumps((Policy, QFunction, VFunction, RewardFunction, TransitionModel,
# StochasticFunction), protocol=4) made with rlu-core 0.1.0, where the classes lived in
# rlu_core.vocabulary. A class pickled by reference, or the base of a class that cloudpickle
# pickles by value (one defined in __main__ or a notebook), is recorded this way.
VOCABULARY_0_1_0 = base64.b64decode(
    "gASViQAAAAAAAAAojBNybHVfY29yZS52b2NhYnVsYXJ5lIwGUG9saWN5lJOUaACMCVFGdW5jdGlvbpSTlGgAjAlW"
    "RnVuY3Rpb26Uk5RoAIwOUmV3YXJkRnVuY3Rpb26Uk5RoAIwPVHJhbnNpdGlvbk1vZGVslJOUaACMElN0b2NoYXN0"
    "aWNGdW5jdGlvbpSTlHSULg=="
)


def test_public_names_are_exactly_the_exported_ones():
    assert set(rlu_core.__all__) - {"__version__"} == PUBLIC
    for name in PUBLIC:
        assert getattr(rlu_core, name).__doc__


def _new_modules(code):
    """Top-level modules that ``code`` imports in a fresh interpreter."""
    probe = textwrap.dedent(
        f"""
        import sys
        before = set(sys.modules)
        {code}
        print(" ".join(sorted({{m.split(".")[0] for m in set(sys.modules) - before}})))
        """
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(out.stdout.split()) - set(sys.stdlib_module_names)


def test_import_loads_no_third_party_package():
    assert _new_modules("import rlu_core") == {"rlu_core"}
    # every eager name works without numpy
    assert _new_modules("import rlu_core; rlu_core.pretty_repr({'a': [1]})") == {"rlu_core"}


def test_transition_batch_loads_numpy_on_first_use_only():
    code = "import rlu_core; rlu_core.TransitionBatch; from rlu_core import chunks_pow2"
    loaded = _new_modules(code)  # numpy may bring its own helpers (cython_runtime, numpy < 2)
    assert {"rlu_core", "numpy"} <= loaded
    assert not loaded & {"rlu_envtools", "gymnasium", "PIL", "jax", "jaxlib", "numba"}
    assert rlu_core.TransitionBatch is vars(rlu_core)["TransitionBatch"]  # cached after first use
    assert {"TransitionBatch", "chunks_pow2"} <= set(dir(rlu_core))
    with pytest.raises(AttributeError, match="module 'rlu_core' has no attribute 'TransitionBach'"):
        rlu_core.TransitionBach  # noqa: B018


def test_every_other_module_is_private_or_a_compatibility_module():
    modules = {m.name for m in pkgutil.iter_modules(rlu_core.__path__)}
    public = {m for m in modules if not m.startswith("_")}
    assert public == {"vocabulary"}  # kept for rlu-core 0.1.0's pickles
    compat = importlib.import_module("rlu_core.vocabulary")
    assert "only so that pickles" in compat.__doc__


def test_pickles_of_rlu_core_0_1_0_still_load():
    classes = pickle.loads(VOCABULARY_0_1_0)
    assert classes == tuple(getattr(rlu_core, name) for name in VOCABULARY)


def test_old_import_path_still_works():
    from rlu_core.vocabulary import QFunction, is_qfunction

    assert QFunction is rlu_core.QFunction and is_qfunction is rlu_core.is_qfunction


@pytest.mark.parametrize("name", VOCABULARY)
def test_new_pickles_record_the_public_path(name):
    cls = getattr(rlu_core, name)
    assert cls.__module__ == "rlu_core"
    data = pickle.dumps(cls, protocol=4)
    assert b"rlu_core" in data and b"vocabulary" not in data
    assert pickle.loads(data) is cls


def test_pickled_subclass_instances_load_in_a_fresh_process(tmp_path):
    # a user's subclass is recorded under the user's module; its bases are not pickled at all
    (tmp_path / "user_roles.py").write_text(
        "from rlu_core import Policy, StochasticFunction\n"
        "class Coin(Policy, StochasticFunction):\n"
        "    def __call__(self, s):\n"
        "        return 0\n"
    )
    code = textwrap.dedent(
        """
        import pickle, sys
        from rlu_core import is_policy, is_stochastic
        obj = pickle.loads(sys.stdin.buffer.read())
        print(is_policy(obj), is_stochastic(obj))
        """
    )
    sys.path.insert(0, str(tmp_path))
    try:
        import user_roles

        data = pickle.dumps(user_roles.Coin())
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("user_roles", None)
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=data,
        capture_output=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert out.stdout.decode().split() == ["True", "True"]
