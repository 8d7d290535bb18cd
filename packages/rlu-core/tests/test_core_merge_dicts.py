import types
import warnings

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


def test_no_warning_without_duplicates():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        merge_dicts({"a": 1}, {"b": 2}, strict=False)


# --- duplicates, by default: coax's behaviour (warn, the last value wins) --------------------


def test_duplicate_key_warns_and_the_last_value_wins():
    a, b, c = {"a": 1, "b": 2}, {"c": 3}, {"b": 20}
    with pytest.warns(UserWarning, match=r"duplicate|overlapping") as record:
        merged = merge_dicts(a, b, c)
    assert merged == {"a": 1, "b": 20, "c": 3}
    assert list(merged) == ["a", "b", "c"]  # a key keeps its first position
    assert a == {"a": 1, "b": 2} and c == {"b": 20}  # the arguments are not modified
    assert len(record) == 1
    message = str(record[0].message)
    # starts like coax's warning, so filters written for coax still match ...
    assert message.startswith("merge_dicts found overlapping keys: ('b',)")
    # ... and says where the key came from
    assert "key 'b' in arguments 0 and 2" in message and "strict=True" in message
    assert record[0].filename == __file__  # points at the caller


def test_several_duplicates_are_named_in_one_warning():
    with pytest.warns(UserWarning) as record:
        merged = merge_dicts({"a": 1, "b": 2}, {"a": 10, "b": 20}, {"a": 100})
    assert merged == {"a": 100, "b": 20}
    assert len(record) == 1
    message = str(record[0].message)
    assert message.startswith("merge_dicts found overlapping keys: ('a', 'b')")
    assert "'a' in arguments 0 and 1, 'b' in arguments 0 and 1, 'a' in arguments 1 and 2" in message


def test_warning_filters_written_for_coax_still_work():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message="merge_dicts found overlapping keys")
        assert merge_dicts({"a": 1}, {"a": 2}) == {"a": 2}


# --- strict=True: duplicates are an error ----------------------------------------------------


def test_strict_duplicate_key_is_an_error_naming_key_and_arguments():
    with pytest.raises(ValueError, match=r"duplicate key 'b' in arguments 0 and 2"):
        merge_dicts({"a": 1, "b": 2}, {"c": 3}, {"b": 2}, strict=True)


def test_strict_several_duplicate_keys_are_all_named():
    with pytest.raises(ValueError, match=r"duplicate keys 'a' in arguments 0 and 1, 'b' in"):
        merge_dicts({"a": 1, "b": 2}, {"a": 1, "b": 2}, strict=True)


def test_strict_equal_values_still_count_as_duplicates():
    with pytest.raises(ValueError):
        merge_dicts({"a": 1}, {"a": 1}, strict=True)


def test_strict_must_be_a_bool_and_keyword_only():
    with pytest.raises(TypeError, match="'strict' must be a bool"):
        merge_dicts({"a": 1}, strict=1)
    with pytest.raises(TypeError, match="argument 1 must be a mapping"):
        merge_dicts({"a": 1}, True)  # a positional True is a dict, not strict


@pytest.mark.parametrize("bad", [[("a", 1)], None, "ab"])
def test_non_mapping_argument_is_a_type_error(bad):
    with pytest.raises(TypeError, match="argument 1 must be a mapping"):
        merge_dicts({"a": 1}, bad)


@pytest.mark.parametrize("bad", [None, 3, "ab", [1, 2]])
def test_non_mapping_argument_is_also_a_value_error_as_in_coax(bad):
    # coax raised TypeError (None, 3) or ValueError ("ab", [1, 2]) here: both still catch it
    with pytest.raises(ValueError, match="argument 1 must be a mapping"):
        merge_dicts({"a": 1}, bad)
