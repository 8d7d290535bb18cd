"""Run the examples in rlu_noise's docstrings."""

import doctest
import importlib
import pkgutil

import pytest
import rlu_noise

MODULES = [m.name for m in pkgutil.iter_modules(rlu_noise.__path__, "rlu_noise.")]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
