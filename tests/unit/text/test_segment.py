"""Segmenter / segment(): exact spans per granularity and language, edge cases, errors, speed."""

from __future__ import annotations

import random
import sys
import time

import numpy as np
import pytest

from openclarify.errors import ConfigError, DataError, MissingDependencyError, OpenClarifyError
from openclarify.text import EXTRA_PACKAGES, Segment, Segmenter, segment
from openclarify.text import _segment as segment_module


def units(
    text: str, granularity: str = "token", language: str = "en", whitespace: str = "trim"
) -> list[tuple[int, int, str]]:
    """Units in trim mode unless asked (the keep mode, Clarify's, differs only in whitespace: tested below)."""
    return [(s, e, text[s:e]) for s, e in segment(text, granularity, language, whitespace=whitespace)]


def test_keep_mode_is_clarifys_whitespace_handling() -> None:
    text = "  hello\tworld\u00a0again\n\n end  "
    kept = units(text, whitespace="keep")
    assert [u for _, _, u in kept] == ["  ", "hello", "\t", "world", "\u00a0", "again", "\n\n ", "end", " "]
    assert segment(text) == segment(text, whitespace="keep")  # the default
    text = "Great price. \n\nfit: high waist.  Love it!"
    assert units(text, "sentence", whitespace="keep") == [
        (0, 12, "Great price."),
        (13, 31, "\n\nfit: high waist."),
        (32, 41, " Love it!"),
    ]
    assert units("   ", whitespace="keep") == [] and units("", "sentence", whitespace="keep") == []


# --- token -----------------------------------------------------------------------------------------


def test_token_dg_example() -> None:
    """Developer Guide online example: This@0 is@5 a@8 good@10 product@15 (clarify-spec §5.3)."""
    text = "This is a good product"
    assert segment(text) == (Segment(0, 4), Segment(5, 7), Segment(8, 9), Segment(10, 14), Segment(15, 22))


def test_token_english_punctuation_and_contractions() -> None:
    text = "Hello, world! It's 5 p.m. Don't go."
    assert units(text) == [
        (0, 5, "Hello"),
        (5, 6, ","),
        (7, 12, "world"),
        (12, 13, "!"),
        (14, 16, "It"),
        (16, 18, "'s"),
        (19, 20, "5"),
        (21, 25, "p.m."),
        (26, 28, "Do"),
        (28, 31, "n't"),
        (32, 34, "go"),
        (34, 35, "."),
    ]


def test_token_numbers_urls_and_emails_stay_whole() -> None:
    text = "1.5 kg costs $3.50 at https://x.org/a?b=1 or a@b.com"
    assert [u for _, _, u in units(text)] == [
        "1.5", "kg", "costs", "$", "3.50", "at", "https://x.org/a?b=1", "or", "a@b.com",
    ]  # fmt: skip


def test_token_whitespace_is_never_a_unit() -> None:
    text = "  hello\tworld\u00a0again\n\n end  "
    assert units(text) == [(2, 7, "hello"), (8, 13, "world"), (14, 19, "again"), (22, 25, "end")]


def test_token_ellipsis_is_its_own_token() -> None:
    text = "instagram page...and i was"
    assert [u for _, _, u in units(text)] == ["instagram", "page", "...", "and", "i", "was"]


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("ru", "Это хороший товар. Я бы купил!", ["Это", "хороший", "товар", ".", "Я", "бы", "купил", "!"]),
        ("ar", "هذا منتج جيد. سأشتريه!", ["هذا", "منتج", "جيد", ".", "سأشتريه", "!"]),
        ("fr", "Bonjour, c'est l'été.", ["Bonjour", ",", "c'", "est", "l'", "été", "."]),
        ("de", "Hallo Welt! Wie geht's?", ["Hallo", "Welt", "!", "Wie", "geht's", "?"]),
        # spaCy's default Chinese segmenter is per character (no jieba / pkuseg)
        ("zh", "这是好产品。", ["这", "是", "好", "产", "品", "。"]),
        ("hi", "यह अच्छा है।", ["यह", "अच्छा", "है", "।"]),
    ],
)
def test_token_other_languages(language: str, text: str, expected: list[str]) -> None:
    got = units(text, "token", language)
    assert [u for _, _, u in got] == expected
    assert all(text[s:e] == u for s, e, u in got)


# --- sentence --------------------------------------------------------------------------------------


def test_sentence_clarify_review_record() -> None:
    """The two first units of the EX text_explainability out.jsonl record (clarify-spec §3.4)."""
    text = (
        "I caught a sneak peak of this beautiful dress on a local retailer instagram page...and i was so "
        "excited when it arrived at my store. i love this dress! i went with the black because i loved how "
        "bold it was."
    )
    got = units(text, "sentence")
    assert [(s, u) for s, _, u in got] == [
        (0, text[:132]),
        (133, "i love this dress!"),
        (152, "i went with the black because i loved how bold it was."),
    ]
    assert "page...and" in got[0][2]  # an ellipsis inside a word run does not end a sentence


def test_sentence_trims_whitespace_and_keeps_abbreviations() -> None:
    text = "  Mr. Smith went to Washington.  He arrived at 5 p.m. today!  "
    assert units(text, "sentence") == [
        (2, 31, "Mr. Smith went to Washington."),
        (33, 60, "He arrived at 5 p.m. today!"),
    ]


def test_sentence_punctuation_runs() -> None:
    assert [u for _, _, u in units("Wait... what?! No way.", "sentence")] == ["Wait... what?!", "No way."]


def test_sentence_does_not_break_at_a_blank_line_without_punctuation() -> None:
    """The sentencizer only splits after . ! ? (and their script variants), so a blank line does not."""
    assert units("Hello\n\nWorld", "sentence") == [(0, 12, "Hello\n\nWorld")]
    assert units("Hello.\n\nWorld", "sentence") == [(0, 6, "Hello."), (8, 13, "World")]


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("ru", "Это хороший товар. Я бы купил его снова!", ["Это хороший товар.", "Я бы купил его снова!"]),
        ("zh", "这是一个好产品。我还会再买！", ["这是一个好产品。", "我还会再买！"]),
        ("hi", "हम घर जा रहे हैं। बहुत अच्छा!", ["हम घर जा रहे हैं।", "बहुत अच्छा!"]),
        ("ar", "هذا منتج جيد. سأشتريه مرة أخرى!", ["هذا منتج جيد.", "سأشتريه مرة أخرى!"]),
        ("fr", "Ça va? Oui, très bien.", ["Ça va?", "Oui, très bien."]),
        ("xx", "This is good. Это хорошо! 这很好。", ["This is good.", "Это хорошо!", "这很好。"]),
    ],
)
def test_sentence_other_languages(language: str, text: str, expected: list[str]) -> None:
    got = units(text, "sentence", language)
    assert [u for _, _, u in got] == expected
    assert all(text[s:e] == u for s, e, u in got)


# --- paragraph -------------------------------------------------------------------------------------


def test_paragraph_blank_lines_split_single_newlines_do_not() -> None:
    text = "First para line one.\nline two.\n\nSecond para.\r\n\r\nThird.\n \t\nFourth."
    assert units(text, "paragraph") == [
        (0, 30, "First para line one.\nline two."),
        (32, 44, "Second para."),
        (48, 54, "Third."),
        (58, 65, "Fourth."),
    ]


def test_paragraph_trimmed_and_runs_of_blank_lines_collapse() -> None:
    assert units("\n\n  Only one paragraph  \n\n", "paragraph") == [(4, 22, "Only one paragraph")]
    assert units("a\n\n\n\nb", "paragraph") == [(0, 1, "a"), (5, 6, "b")]
    assert units("a\n\u00a0\t \nb", "paragraph") == [(0, 1, "a"), (6, 7, "b")]


def test_paragraph_is_language_independent() -> None:
    text = "这很好。\n\nЭто хорошо."
    assert segment(text, "paragraph", "zh") == segment(text, "paragraph", "ru") == (Segment(0, 4), Segment(6, 17))


# --- edge cases ------------------------------------------------------------------------------------


@pytest.mark.parametrize("granularity", ["token", "sentence", "paragraph"])
@pytest.mark.parametrize("text", ["", " ", "\n\n", " \t\r\n\u00a0\u3000 "])
def test_empty_and_whitespace_only_text_has_no_units(granularity: str, text: str) -> None:
    assert segment(text, granularity) == ()


@pytest.mark.parametrize("granularity", ["token", "sentence", "paragraph"])
def test_units_are_segments_that_slice_the_text(granularity: str) -> None:
    text = " Hi there.  How are you?\n\nFine! "
    got = segment(text, granularity)
    assert got and all(isinstance(u, Segment) for u in got)
    assert all(u.start == u[0] and u.end == u[1] for u in got)
    assert Segmenter(granularity, "en")(text) == got


def test_long_text_segments_quickly() -> None:
    base = "I caught a sneak peak of this beautiful dress. i love this dress!\n\nIt's great... really.  "
    text = (base * (200_000 // len(base) + 1))[:200_000]
    for granularity in ("token", "sentence", "paragraph"):
        segmenter = Segmenter(granularity, "en")
        t0 = time.perf_counter()
        got = segmenter(text)
        assert time.perf_counter() - t0 < 10.0
        assert got[0] == Segment(0, 1 if granularity == "token" else 46 if granularity == "sentence" else 65)
        assert got[-1].end <= len(text)


# --- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("granularity", ["word", "Token", "", "sentences"])
def test_unknown_granularity_is_a_config_error(granularity: str) -> None:
    with pytest.raises(ConfigError) as info:
        Segmenter(granularity, "en")  # type: ignore[arg-type]
    assert info.value.path == "methods.shap.text_config.granularity"
    assert "must be one of 'token', 'sentence', 'paragraph'" in str(info.value)
    assert repr(granularity) in str(info.value)


@pytest.mark.parametrize("language", ["klingon", "english", "", "EN"])
@pytest.mark.parametrize("granularity", ["token", "sentence"])
def test_unknown_language_code_is_a_config_error(language: str, granularity: str) -> None:
    with pytest.raises(ConfigError) as info:
        Segmenter(granularity, language)
    assert info.value.path == "methods.shap.text_config.language"
    assert repr(language) in str(info.value)


def test_paragraph_needs_no_language_pipeline() -> None:
    assert Segmenter("paragraph", "klingon")("a\n\nb") == (Segment(0, 1), Segment(3, 4))


@pytest.mark.parametrize("text", [None, b"bytes", 3, ["a"]])
def test_non_string_text_is_a_type_error(text: object) -> None:
    with pytest.raises(TypeError, match="text must be a str"):
        Segmenter("token", "en")(text)  # type: ignore[arg-type]


def test_repr() -> None:
    assert repr(Segmenter("sentence", "ru")) == "Segmenter(granularity='sentence', language='ru', whitespace='keep')"


@pytest.mark.parametrize(("language", "module"), [("ja", "sudachipy"), ("th", "pythainlp"), ("vi", "pyvi")])
def test_missing_tokenizer_package_names_the_extra(language: str, module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # a None entry makes `import module` (and `from module.sub import x`) raise ImportError
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")] + [module]:
        monkeypatch.setitem(sys.modules, name, None)
    segment_module._pipeline.cache_clear()
    try:
        with pytest.raises(MissingDependencyError) as info:
            Segmenter("token", language)
    finally:
        segment_module._pipeline.cache_clear()
    assert isinstance(info.value, (OpenClarifyError, ImportError))
    assert "openclarify[text-extra]" in str(info.value)
    assert EXTRA_PACKAGES[language] in str(info.value)


# --- languages that need the text-extra packages -----------------------------------------------------


@pytest.mark.parametrize(
    ("language", "module", "text", "tokens", "sentences"),
    [
        (
            "ja",
            "sudachipy",
            "今日は良い天気です。明日は雨！",
            ["今日", "は", "良い", "天気", "です", "。", "明日", "は", "雨", "！"],
            ["今日は良い天気です。", "明日は雨！"],
        ),
        (
            "th",
            "pythainlp",
            "ฉันรักภาษาไทย วันนี้อากาศดี",
            ["ฉัน", "รัก", "ภาษาไทย", "วันนี้", "อากาศ", "ดี"],
            ["ฉันรักภาษาไทย วันนี้อากาศดี"],  # no sentence punctuation in Thai: one sentence
        ),
        (
            "vi",
            "pyvi",
            "Tôi yêu tiếng Việt. Hôm nay trời đẹp!",
            ["Tôi", "yêu", "tiếng", "Việt", ".", "Hôm nay", "trời", "đẹp", "!"],  # pyvi joins words
            ["Tôi yêu tiếng Việt.", "Hôm nay trời đẹp!"],
        ),
    ],
)
def test_extra_languages(language: str, module: str, text: str, tokens: list[str], sentences: list[str]) -> None:
    pytest.importorskip(module)
    assert [u for _, _, u in units(text, "token", language)] == tokens
    assert [u for _, _, u in units(text, "sentence", language)] == sentences


# --- long texts: segmented in pieces, exactly as whole -------------------------------------------------

# words, spaCy special cases (with spaces too: Spanish "EE. UU.", Russian "в н.в."), punctuation, emoticons
_ATOMS = [
    "good", "bad", "EE. UU.", "EE.", "UU.", "p.m.", "Don't", "https://x.org/a?b=1", "a@b.com", "3.50", "$",
    "...", "!", "?", ".", ",", "(", ")", '"', "'", "и др.", "в н.в.", "Dr. med", "Αγ. Γρ.", "да л'", "ب. م",
    ".ق ", "😀", "Hello.World", "e.g.", "U.S.", "-", ":)", "café", "x",
]  # fmt: skip
_GAPS = [" ", " ", " ", " ", "  ", "\n", "\n\n", "\t", "\u00a0", "\u2003", " \n", "\n ", "", ""]


def _random_text(rng: random.Random) -> str:
    text = "".join(rng.choice(_ATOMS) + rng.choice(_GAPS) for _ in range(rng.randint(1, 60)))
    return rng.choice(_GAPS) + text if rng.random() < 0.3 else text


@pytest.mark.parametrize("language", ["en", "es", "ru", "fr", "hu", "id", "el", "xx"])
@pytest.mark.parametrize("granularity", ["token", "sentence"])
@pytest.mark.parametrize("whitespace", ["keep", "trim"])
def test_long_text_in_pieces_gets_the_units_of_the_whole_text(
    language: str, granularity: str, whitespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """spaCy's special cases reach across a single space (``"x:) :)c"``: the second ``":)"`` is not
    merged), so pieces end only next to a whitespace token; tiny pieces cut at every such place."""
    rng = random.Random(f"{language}-{granularity}-{whitespace}")
    segmenter = Segmenter(granularity, language, whitespace=whitespace)  # type: ignore[arg-type]
    texts = [_random_text(rng) for _ in range(15)] + ["x:) :)c\nx:) :)c", "EE. UU. son\n\nEE. UU.  EE. UU."]
    for text in texts:
        monkeypatch.setattr(segment_module, "_PIECE_CHARS", 1 << 30)
        whole = segmenter(text)
        for size in (1, 7):
            monkeypatch.setattr(segment_module, "_PIECE_CHARS", size)
            assert segmenter(text) == whole, (size, text)
            np.testing.assert_array_equal(segmenter.spans(text), np.array(whole, dtype=np.int64).reshape(-1, 2))


def test_pieces_end_next_to_a_whitespace_token_only() -> None:
    cut = segment_module._CUT
    text = "a b  c\nd\te \u00a0f"
    assert [m.start() for m in cut.finditer(text)] == [5, 6, 7, 8, 9, 12]  # not at a single " " after a token
    assert segment_module._cut_pattern("en", False) is cut
    assert segment_module._cut_pattern("en", True) is cut


def test_spacy_holds_a_piece_at_a_time() -> None:
    lines = "I love this dress. It fits well.\n" * 40_000  # 1.3 M characters
    one_line = lines.replace("\n", " ")
    segmenter = Segmenter("token", "en")
    assert segmenter.work_bytes(lines) < segmenter.work_bytes(one_line) / 3
    assert segmenter.work_bytes(one_line) >= 60 * len(one_line)
    assert Segmenter("paragraph", "en").work_bytes(one_line) <= 8 * len(one_line)
    assert segmenter(lines)[-1] == Segment(len(lines) - 1, len(lines))  # the last line break
    assert len(segmenter.spans(lines)) == 40_000 * 10  # 7 words, 2 full stops and a line break a line
    with pytest.raises(TypeError, match="text must be a str"):
        segmenter.work_bytes(None)  # type: ignore[arg-type]


def test_run_that_cannot_be_split_is_a_data_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segment_module, "_PIECE_CHARS", 10)
    monkeypatch.setattr(segment_module, "MAX_RUN_CHARS", 50)
    segmenter = Segmenter("token", "en")
    assert segmenter("x" * 50 + "\ny")[-1] == Segment(51, 52)
    with pytest.raises(DataError) as info:
        segmenter("ab\n" + "x" * 60 + " y")
    assert str(info.value) == (
        "text: 62 characters from offset 3 cannot be split for spaCy, which takes at most 50 at a time; got a "
        "text of 65 characters. Shorten the text, break it with whitespace, or use paragraph granularity."
    )
