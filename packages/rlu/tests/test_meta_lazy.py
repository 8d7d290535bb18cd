"""The meta-package's lazy loading: attributes appear on demand and unknown names fail clearly."""

import subprocess
import sys

import pytest
import rlu
import rlu.utils
from rlu._names import ALL_NAMES, OWNERS


def test_unknown_name_raises_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="no_such_thing"):
        rlu.no_such_thing  # noqa: B018
    with pytest.raises(AttributeError, match="no_such_thing"):
        rlu.utils.no_such_thing  # noqa: B018


def test_dir_and_all_list_every_name():
    assert set(ALL_NAMES) <= set(dir(rlu))
    assert set(ALL_NAMES) <= set(dir(rlu.utils))
    assert set(rlu.__all__) == set(ALL_NAMES) == set(rlu.utils.__all__)
    assert "utils" in dir(rlu)


def test_table_has_coax_utils_names_without_repeats():
    names = [name for names in OWNERS.values() for name in names]
    assert len(names) == 53  # the 52 documented names and chunks_pow2
    assert len(set(names)) == 53


def test_first_access_imports_only_the_owner():
    code = (
        "import sys, rlu\n"
        "before = set(sys.modules)\n"
        "rlu.merge_dicts\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "new -= set(sys.stdlib_module_names)\n"
        "print(sorted(new))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['rlu_core']"


def test_rlu_utils_is_reachable_as_attribute():
    code = "import rlu; print(rlu.utils.merge_dicts is rlu.merge_dicts)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
