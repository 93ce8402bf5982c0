"""TextMasker: coalition rows -> texts rebuilt from spans of the original string."""

from __future__ import annotations

import numpy as np
import pytest

from openclarify.text import Segment, TextMasker, segment

GOOD = "This is a good product"


def masked(
    text: str,
    rows: list[list[int]] | None = None,
    replacement: str = "<UNK>",
    granularity: str = "token",
    language: str = "en",
    pad: bool = True,
    whitespace: str = "trim",
) -> list[str]:
    units = segment(text, granularity, language, whitespace=whitespace)
    z = np.array(rows, dtype=bool) if rows is not None else np.zeros((1, len(units)), dtype=bool)
    return TextMasker(text, units, replacement, pad=pad).mask(z)


def test_spec_example_keep_good() -> None:
    """clarify-spec §2.3: coalition {good} of "This is a good product" with "<UNK>"."""
    assert masked(GOOD, [[0, 0, 0, 1, 0]]) == ["<UNK> <UNK> <UNK> good <UNK>"]


def test_empty_replacement_removes_units_and_keeps_separators() -> None:
    assert masked(GOOD, [[0, 0, 0, 1, 0]], replacement="") == ["   good "]
    assert masked(GOOD, replacement="") == ["    "]


def test_multi_row_coalitions() -> None:
    rows = [[1, 1, 1, 1, 1], [0, 0, 0, 0, 0], [1, 0, 1, 0, 1], [0, 1, 0, 1, 0]]
    assert masked(GOOD, rows) == [
        GOOD,
        "<UNK> <UNK> <UNK> <UNK> <UNK>",
        "This <UNK> a <UNK> product",
        "<UNK> is <UNK> good <UNK>",
    ]


def test_leading_and_trailing_whitespace_kept() -> None:
    text = "  Hello world.  "
    assert masked(text, [[1, 1, 1]]) == [text]
    assert masked(text, replacement="X", pad=False) == ["  X XX  "]
    assert masked(text, replacement="") == ["     "]


def test_pad_keeps_a_replacement_from_fusing_with_its_neighbour() -> None:
    """Padding: where "bad" and "." touch, a whitespace tokenizer still sees "<UNK>" as its own token."""
    assert masked("really bad.", [[1, 1, 0]]) == ["really bad <UNK>"]
    assert masked("really bad.", [[1, 1, 0]], pad=False) == ["really bad<UNK>"]
    assert masked("really bad.") == ["<UNK> <UNK>  <UNK>"]
    assert masked("really bad.", pad=False) == ["<UNK> <UNK><UNK>"]
    assert masked("really bad.", [[1, 1, 0]], replacement="") == ["really bad"]  # nothing to pad


def test_scripts_without_spaces_use_pad_false() -> None:
    text = "这是好产品。"
    assert masked(text, [[0, 0, 1, 0, 0, 0]], replacement="X", language="zh", pad=False) == ["XX好XXX"]


def test_sentence_and_paragraph_masking_keep_the_separators() -> None:
    text = "Great dress!  Runs small.\n\nWould buy again."
    assert masked(text, [[1, 0, 1], [0, 1, 0]], replacement="[MASK]", granularity="sentence") == [
        "Great dress!  [MASK]\n\nWould buy again.",
        "[MASK]  Runs small.\n\n[MASK]",
    ]
    assert masked(text, [[0, 1], [1, 0]], replacement="", granularity="paragraph") == [
        "\n\nWould buy again.",
        "Great dress!  Runs small.\n\n",
    ]


def test_partial_texts_units_and_mask_all() -> None:
    units = segment(GOOD)
    masker = TextMasker(GOOD, units, "[MASK]")
    assert masker.n_units == 5
    assert masker.partial_texts() == ["This", "is", "a", "good", "product"]
    assert masker.mask_all() == "[MASK] [MASK] [MASK] [MASK] [MASK]"
    assert masker.text == GOOD and masker.segments == units and masker.replacement == "[MASK]"


def test_single_unit() -> None:
    masker = TextMasker("  word  ", (Segment(2, 6),), "<PAD>")
    assert masker.mask(np.array([[True], [False]])) == ["  word  ", "  <PAD>  "]


def test_no_units_returns_the_text_for_every_row() -> None:
    masker = TextMasker("   ", (), "<UNK>")
    assert masker.n_units == 0
    assert masker.mask(np.zeros((3, 0), dtype=bool)) == ["   "] * 3
    assert masker.mask_all() == "   "
    assert masker.partial_texts() == []


def test_no_rows() -> None:
    assert TextMasker(GOOD, segment(GOOD), "<UNK>").mask(np.zeros((0, 5), dtype=bool)) == []


@pytest.mark.parametrize("shape", [(5,), (1, 4), (2, 6), (1, 1, 5)])
def test_wrong_shape_is_rejected(shape: tuple[int, ...]) -> None:
    masker = TextMasker(GOOD, segment(GOOD), "<UNK>")
    with pytest.raises(ValueError, match=r"z must have shape \(n_coalitions, 5\)"):
        masker.mask(np.ones(shape, dtype=bool))


def test_many_rows_match_a_plain_rebuild(rng: np.random.Generator) -> None:
    text = "Love it!  The fit is perfect, the colour (navy) too.\n\nWould buy again... maybe."
    units = segment(text)
    z = rng.random((200, len(units))) < 0.5
    got = TextMasker(text, units, "<UNK>", pad=False).mask(z)
    for row, out in zip(z, got, strict=True):
        expected, pos = "", 0
        for (s, e), keep in zip(units, row, strict=True):
            expected += text[pos:s] + (text[s:e] if keep else "<UNK>")
            pos = e
        assert out == expected + text[pos:]


def test_spans_array_and_blocks_of_rows_give_the_same_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    import openclarify.text._mask as mask_module
    from openclarify.text import Segmenter

    text = "  Good dress, good fit.\n\nGood price!good  " * 3
    units = segment(text)
    z = np.random.default_rng(0).random((40, len(units))) < 0.5
    expected = TextMasker(text, units, "<UNK>").mask(z)
    spans = Segmenter("token", "en").spans(text)
    masker = TextMasker(text, spans, "<UNK>")
    assert masker.segments == units and masker.partial_texts() == [text[s:e] for s, e in units]
    monkeypatch.setattr(mask_module, "_GATHER_ELEMENTS", 7)  # a row or two at a time
    assert masker.mask(z) == expected
    assert TextMasker(text, spans[:0], "<UNK>").mask(np.zeros((2, 0), dtype=bool)) == [text, text]
