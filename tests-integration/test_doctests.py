"""Every docstring example in every module of every rlu distribution runs and prints what it says."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest
from landed import LANDED

DISTRIBUTION_MODULES = ("rlu", *(dist.replace("-", "_") for dist in LANDED))


def _modules():
    for top in DISTRIBUTION_MODULES:
        package = importlib.import_module(top)
        yield top
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{top}."):
            yield info.name


@pytest.mark.parametrize("module_name", sorted(_modules()))
def test_docstring_examples_run(module_name, tmp_path, monkeypatch):
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
    for name, owner in sorted(ALL_NAMES.items()):
        if owner not in DISTRIBUTION_MODULES:
            continue  # not landed yet
        obj = getattr(rlu, name)
        if not any(test.examples for test in finder.find(obj, name)):
            missing.append(name)
    assert not missing, f"public names without a docstring example: {missing}"
