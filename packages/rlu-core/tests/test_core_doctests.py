"""Run the examples in rlu_core's docstrings."""

import doctest
import importlib
import pkgutil

import pytest
import rlu_core

MODULES = [m.name for m in pkgutil.iter_modules(rlu_core.__path__, "rlu_core.")]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    pytest.importorskip("numpy")  # one example summarises a numpy array
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
