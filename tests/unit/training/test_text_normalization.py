"""normalize_text: lower-case, punctuation split off, mask tokens kept; the batch form agrees with it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openclarify.training import normalize_text, normalize_texts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Hello, World!", "hello , world !", id="punctuation"),
        pytest.param("It's John's DOG's", "it's john's dog's", id="apostrophes"),
        pytest.param("l’homme d’affaires", "l’homme d’affaires", id="curly-apostrophe"),
        pytest.param("'quoted' words'", "' quoted ' words '", id="outer-apostrophes"),
        pytest.param("a <UNK> b [MASK] c <mask> <PAD> </s>", "a <unk> b [mask] c <mask> <pad> </s>", id="masks"),
        pytest.param("x<UNK>y [MASK].", "x <unk> y [mask] .", id="masks-attached"),
        pytest.param("< UNK > [ mask ]", "< unk > [ mask ]", id="spaced-brackets-split"),
        pytest.param("snake_case 3.14 $5", "snake_case 3 . 14 $ 5", id="underscore-numbers"),
        pytest.param("  many\t\tspaces\nand\r\nlines  ", "many spaces and lines", id="whitespace"),
        pytest.param("", "", id="empty"),
        pytest.param("Ünïcödé ÉTÉ", "ünïcödé été", id="unicode"),
    ],
)
def test_examples(text, expected):
    assert normalize_text(text) == expected
    assert normalize_texts([text]) == [expected]


PIECES = list("aZ9_ '’<>/[].,!-\t\n\r\x1c\u00a0\u2028ΣσİÉ") + ["<UNK>", "[MASK]", "</s>", "don't"]
TEXTS = st.lists(st.sampled_from(PIECES), max_size=15).map("".join)


@given(st.lists(TEXTS, max_size=6))
def test_batch_form_equals_one_by_one(texts):
    assert normalize_texts(texts) == [normalize_text(t) for t in texts]


@given(TEXTS)
def test_idempotent(text):
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert "  " not in once and once == once.strip()
