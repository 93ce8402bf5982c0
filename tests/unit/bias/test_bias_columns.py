"""Column typing, value matching and analysis.json group strings (bias-drift-spec.md sections 2.3-2.4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openclarify.bias._columns import (
    UNIQUENESS_THRESHOLD,
    check_threshold,
    column_kind,
    facet_codes,
    positive_mask,
    value_string,
)
from openclarify.errors import ConfigError, DataError


def mask(series: pd.Series, values: list[object], kind: str | None = None) -> list[bool]:
    kind = kind or column_kind(series, values)
    return positive_mask(series, values, kind, what="facet[0].value_or_threshold").tolist()  # type: ignore[arg-type]


# -- typing -------------------------------------------------------------------------------------------------


def test_threshold_constant() -> None:
    assert UNIQUENESS_THRESHOLD == 0.05


def test_category_dtype_is_categorical_even_when_numeric_and_unique() -> None:
    assert column_kind(pd.Series(np.arange(100), dtype="category"), [5]) == "categorical"


def test_several_values_make_any_column_categorical() -> None:
    assert column_kind(pd.Series(np.linspace(0, 1, 100)), [0.0, 1.0]) == "categorical"
    assert column_kind(pd.Series(np.arange(100)), [1, 2]) == "categorical"


def test_int_castable_strings_by_uniqueness() -> None:
    high = pd.Series([str(i) for i in range(20)] * 5, dtype=object)  # 20 / 100 = 0.2
    low = pd.Series([str(i % 3) for i in range(100)], dtype=object)  # 3 / 100 = 0.03
    assert column_kind(high, [10]) == "continuous"
    assert column_kind(low, []) == "categorical"
    assert column_kind(pd.Series([str(i) for i in range(100)]), []) == "continuous"  # default str dtype


def test_strings_that_do_not_cast_to_int_are_categorical() -> None:
    assert column_kind(pd.Series([f"{i}.5" for i in range(100)]), ["1.5"]) == "categorical"
    assert column_kind(pd.Series([f"name{i}" for i in range(100)]), ["name1"]) == "categorical"
    assert column_kind(pd.Series(["1", "2", "3", None] * 25, dtype=object), ["1"]) == "categorical"  # NaN


def test_exactly_at_the_threshold_is_continuous() -> None:
    ints = pd.Series([i % 5 for i in range(100)])  # 5 / 100 = 0.05
    assert column_kind(ints, [3]) == "continuous"
    assert column_kind(pd.Series([i % 4 for i in range(100)]), [3]) == "categorical"  # 0.04


def test_floats_are_always_continuous() -> None:
    assert column_kind(pd.Series([0.0, 1.0, 2.0] * 100), [1]) == "continuous"
    assert column_kind(pd.Series([0.5, 1.5] * 100), [3.0]) == "continuous"  # value not in the column


def test_ints_by_uniqueness() -> None:
    assert column_kind(pd.Series(np.arange(40) % 3), [5]) == "continuous"  # 3 / 40 = 0.075
    assert column_kind(pd.Series(np.arange(400) % 3), [5]) == "categorical"  # 3 / 400
    assert column_kind(pd.Series(np.arange(400) % 3), []) == "categorical"


def test_bool_is_categorical() -> None:
    assert column_kind(pd.Series([True, False]), [True]) == "categorical"
    assert column_kind(pd.Series([True, False, None], dtype="boolean"), []) == "categorical"


def test_oc_fix_small_binary_int_column_with_one_value() -> None:
    zero_one = pd.Series([0, 1] * 15)  # 30 rows: 2 / 30 >= 0.05, smclarify says continuous
    assert column_kind(zero_one, [1]) == "categorical"
    assert column_kind(zero_one, ["1"]) == "categorical"
    assert column_kind(zero_one, []) == "continuous"  # no value: smclarify's rule unchanged
    assert column_kind(zero_one, [5]) == "continuous"  # a value not in the column: a threshold
    assert mask(zero_one, [1]) == [False, True] * 15


def test_oc_fix_float_binary_label_with_one_value() -> None:
    label = pd.Series([0.0, 1.0, 1.0, np.nan] * 250)
    assert column_kind(label, [1]) == "categorical"
    assert mask(label, [1]) == [False, True, True, False] * 250


def test_all_missing_column_is_a_data_error() -> None:
    empty = pd.Series([np.nan, np.nan], name="age")
    with pytest.raises(DataError, match="'age'.*every value is missing"):
        column_kind(empty, [1])
    with pytest.raises(DataError, match="every value is missing"):
        facet_codes(pd.Series([None, None], dtype=object))


# -- matching -----------------------------------------------------------------------------------------------


def test_numbers_match_numerically_across_types() -> None:
    ints = pd.Series([1, 2, 1, 3] * 100)
    floats = pd.Series([1.0, 2.0, 1.0, 3.0])
    strings = pd.Series(["1", "2", "1", "3"])
    for value in (1, 1.0, "1", "1.0", np.int64(1)):
        assert mask(ints, [value], "categorical")[:4] == [True, False, True, False]
        assert mask(floats, [value], "categorical") == [True, False, True, False]
        assert mask(strings, [value], "categorical") == [True, False, True, False]
    assert mask(ints, [1.5, 2], "categorical")[:4] == [False, True, False, False]


def test_strings_match_as_strings() -> None:
    region = pd.Series(["south", "east", "north", "South", " south"], dtype=object)
    assert mask(region, ["south", "east"]) == [True, True, False, False, False]
    mixed = pd.Series(["a", 1, "1.0", None], dtype=object)
    assert mask(mixed, [1], "categorical") == [False, True, True, False]


def test_missing_values_never_match() -> None:
    s = pd.Series(["nan", None, np.nan, "x"], dtype=object)
    assert mask(s, ["nan", "None"], "categorical") == [True, False, False, False]
    assert mask(pd.Series([1.0, np.nan, 3.0]), [5], "continuous") == [False, False, False]


def test_bool_column_matches_bools_and_true_false_strings() -> None:
    s = pd.Series([True, False, True])
    for value in (True, "true", "True", "TRUE", 1):
        assert mask(s, [value]) == [True, False, True]
    assert mask(s, ["false"]) == [False, True, False]


def test_value_that_never_occurs_gives_an_empty_group() -> None:
    assert mask(pd.Series(["a", "b"] * 50), ["zzz"]) == [False, False] * 50


def test_threshold_is_exclusive() -> None:
    age = pd.Series([18, 40, 41, 69, 50] * 10)
    assert column_kind(age, [40]) == "continuous"
    assert mask(age, [40])[:5] == [False, False, True, True, True]
    assert mask(age, ["40"])[:5] == [False, False, True, True, True]
    assert mask(age, [40.5])[:5] == [False, False, True, True, True]
    assert mask(pd.Series([2.5, 2.6, 4.424]), [2.5], "continuous") == [False, True, True]
    assert mask(pd.Series(["1", "5", "9"]), [4], "continuous") == [False, True, True]
    assert mask(pd.Series([1, None, 7], dtype="Int64"), [2], "continuous") == [False, False, True]


def test_threshold_at_or_above_max_is_empty() -> None:
    s = pd.Series(np.arange(100))
    assert not any(mask(s, [99]))
    assert not any(mask(s, [1000]))


def test_continuous_without_one_threshold_is_a_config_error() -> None:
    s = pd.Series(np.linspace(0, 1, 50), name="income")
    for values in ([], [0.2, 0.5]):
        with pytest.raises(ConfigError, match="threshold values must be provided for continuous") as err:
            positive_mask(s, values, "continuous", what="facet[0].value_or_threshold")
        assert err.value.path == "facet[0].value_or_threshold"
        assert str(err.value).startswith("facet[0].value_or_threshold: column 'income' is continuous")


def test_non_numeric_threshold_or_column_is_a_config_error() -> None:
    s = pd.Series(np.arange(100), name="age")
    with pytest.raises(ConfigError, match="must be a number; got 'old'") as err:
        positive_mask(s, ["old"], "continuous", what="label_values_or_threshold")
    assert err.value.path == "label_values_or_threshold"
    with pytest.raises(ConfigError, match="must be a number; got True"):
        check_threshold(s, [True], what="facet[1].value_or_threshold")
    words = pd.Series(["a", "b", "c"], name="city")
    with pytest.raises(ConfigError, match="column 'city' holds non-numeric values") as err:
        positive_mask(words, [3], "continuous", what="facet[2].value_or_threshold")
    assert err.value.path == "facet[2].value_or_threshold"


def test_categorical_mask_needs_values() -> None:
    with pytest.raises(ValueError, match="facet_codes"):
        positive_mask(pd.Series(["a"]), [], "categorical", what="facet[0].value_or_threshold")


# -- one-vs-all ---------------------------------------------------------------------------------------------


def test_facet_codes_in_order_of_first_appearance() -> None:
    codes, values = facet_codes(pd.Series(["m", "f", None, "x", "f", "m"], dtype=object))
    assert values == ["m", "f", "x"]
    assert codes.tolist() == [0, 1, -1, 2, 1, 0]
    assert codes.dtype == np.int64
    codes, values = facet_codes(pd.Series([3, 1, 3, 2]))
    assert values == [3, 1, 2] and all(type(v) is int for v in values)
    assert codes.tolist() == [0, 1, 0, 2]
    codes, values = facet_codes(pd.Series(["b", "a", "b"], dtype=pd.CategoricalDtype(["a", "b"])))
    assert values == ["b", "a"] and codes.tolist() == [0, 1, 0]
    _, values = facet_codes(pd.Series([1.0, 0.0]))
    assert [str(v) for v in values] == ["1.0", "0.0"]


# -- strings ------------------------------------------------------------------------------------------------


def test_categorical_strings_keep_the_config_spelling() -> None:
    s = pd.Series([0, 1] * 50)
    assert value_string(["1"], "categorical", s) == "1"
    assert value_string([1.0], "categorical", s) == "1.0"
    assert value_string(["south", "east"], "categorical", pd.Series(["south"])) == "south,east"
    assert value_string(["cat", "dog"], "categorical", pd.Series(["cat"])) == "cat,dog"
    assert value_string([0], "categorical", s) == "0"  # one-vs-all group: str(value)


def test_interval_strings() -> None:
    ages = pd.Series([18, 40, 69, 33])
    assert value_string([40], "continuous", ages) == "(40, 69]"
    assert value_string([40.5], "continuous", ages) == "(40.5, 69.0]"
    assert value_string([2.5], "continuous", pd.Series([1.0, 4.424, 3.0])) == "(2.5, 4.424]"
    assert value_string([5], "continuous", pd.Series([0.5, 9.538])) == "(5.0, 9.538]"
    assert value_string(["40"], "continuous", ages) == "(40, 69]"
    assert value_string([40], "continuous", pd.Series([18, None, 69], dtype="Int64")) == "(40, 69]"


def test_interval_max_over_label_and_prediction() -> None:
    predicted = pd.Series([1, 7, 3])
    label = pd.Series([2, 9, np.nan])
    assert value_string([5], "continuous", predicted, extra=label) == "(5.0, 9.0]"
    assert value_string([5], "continuous", predicted, extra=pd.Series([8, 2])) == "(5, 8]"


def test_degenerate_interval_strings_are_smclarifys() -> None:
    assert value_string([69], "continuous", pd.Series([18, 69])) == ""
    assert value_string([70], "continuous", pd.Series([18, 69])) == "(69, 70]"
    assert value_string([5], "continuous", pd.Series([-9, -5])) == ""  # abs(max) == t quirk
