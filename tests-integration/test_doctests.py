"""Each docstring example in every module of every rlu distribution runs and prints what it says."""

from __future__ import annotations

import doctest
import importlib
import logging
import pkgutil

import pytest
from workspace import MODULES


def _modules():
    for top in MODULES:
        package = importlib.import_module(top)
        yield top
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{top}."):
            yield info.name


@pytest.fixture
def root_logger_restored():
    """Examples of logging set-up (enable_logging) leave the root logger as they found it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


@pytest.mark.parametrize("module_name", sorted(_modules()))
def test_docstring_examples_run(module_name, tmp_path, monkeypatch, root_logger_restored):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, (
        f"{result.failed} of {result.attempted} examples failed in {module_name}"
    )


def test_every_public_name_has_a_runnable_example():
    import rlu
    from rlu._names import ALL_NAMES

    finder = doctest.DocTestFinder(recurse=False)
    missing = []
    for name in sorted(ALL_NAMES):
        obj = getattr(rlu, name)
        examples = [ex for test in finder.find(obj, name) for ex in test.examples]
        if not any(not ex.options.get(doctest.SKIP) for ex in examples):
            missing.append(name)  # none, or all marked +SKIP: nothing of it runs
    assert not missing, f"public names without a docstring example that runs: {missing}"
