import types

import pytest
from rlu_core import merge_dicts


def test_merges_in_order_into_a_new_dict():
    a, b = {"x": 1, "y": 2}, {"z": 3}
    merged = merge_dicts(a, b, {})
    assert merged == {"x": 1, "y": 2, "z": 3}
    assert list(merged) == ["x", "y", "z"]
    assert merged is not a and a == {"x": 1, "y": 2} and b == {"z": 3}


def test_no_arguments_and_one_argument():
    assert merge_dicts() == {}
    a = {"x": [1]}
    merged = merge_dicts(a)
    assert merged == a and merged is not a
    assert merged["x"] is a["x"]  # a shallow merge


def test_accepts_any_mapping():
    assert merge_dicts(types.MappingProxyType({"a": 1}), {"b": 2}) == {"a": 1, "b": 2}


def test_duplicate_key_is_an_error_naming_key_and_arguments():
    with pytest.raises(ValueError, match=r"duplicate key 'b' in arguments 0 and 2"):
        merge_dicts({"a": 1, "b": 2}, {"c": 3}, {"b": 2})


def test_several_duplicate_keys_are_all_named():
    with pytest.raises(ValueError, match=r"duplicate keys 'a' in arguments 0 and 1, 'b' in"):
        merge_dicts({"a": 1, "b": 2}, {"a": 1, "b": 2})


def test_equal_values_still_count_as_duplicates():
    with pytest.raises(ValueError):
        merge_dicts({"a": 1}, {"a": 1})


@pytest.mark.parametrize("bad", [[("a", 1)], None, "ab"])
def test_non_mapping_argument_is_a_type_error(bad):
    with pytest.raises(TypeError, match="argument 1 must be a mapping"):
        merge_dicts({"a": 1}, bad)
