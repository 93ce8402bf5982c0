"""Invariants of text segmentation and masking, for texts in several scripts (hypothesis).

What holds for every text, granularity and language:

* units are ordered, non-overlapping, within bounds, non-empty, and together cover every non-whitespace
  character; with ``whitespace="trim"`` they neither start nor end with whitespace (``str.isspace``),
  with ``"keep"`` (Clarify's units) a run of extra whitespace may be a unit and a sentence may start with
  whitespace;
* masking with every unit kept gives the text back exactly; with every unit dropped and the empty
  replacement, only the whitespace between units is left;
* every token lies inside one sentence, and every token that is not only whitespace inside one
  paragraph.

What does not hold, and is therefore not asserted: sentences do not nest in paragraphs, nor paragraphs
in sentences. spaCy's sentencizer splits only after sentence-final punctuation, so "Hello\\n\\nWorld" is
one sentence across a blank line (two paragraphs), while "A. B." is one paragraph of two sentences.
"""

from __future__ import annotations

import bisect

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from openclarify.text import Segment, Segmenter, TextMasker

LANGUAGES = ("en", "ru", "ar", "hi", "zh", "xx")
GRANULARITIES = ("token", "sentence", "paragraph")

# letters of several scripts, sentence punctuation and the whitespace that matters for spans and paragraphs
LATIN = "abcXYZéß"
CYRILLIC = "абвЖЯё"
ARABIC = "ابتثجح"
DEVANAGARI = "कखगघािी"
CJK = "的一是中国人"
PUNCT = ".,!?;:'\"()-…。！？،।"
SPACE = [" ", " ", "\n", "\t", "\u00a0", "\r\n"]
PIECES = list(LATIN + CYRILLIC + ARABIC + DEVANAGARI + CJK + PUNCT) + SPACE + ["...", "\n\n", "\n \n", "Mr.", "e.g."]

texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
languages = st.sampled_from(LANGUAGES)
MODES = ("keep", "trim")
SEGMENTERS = {
    (g, lang, ws): Segmenter(g, lang, whitespace=ws) for g in GRANULARITIES for lang in LANGUAGES for ws in MODES
}
modes = st.sampled_from(MODES)


def _check_units(text: str, units: tuple[Segment, ...], trim: bool) -> None:
    prev_end = 0
    for start, end in units:
        assert 0 <= prev_end <= start < end <= len(text), units
        unit = text[start:end]
        if trim:
            assert not unit[0].isspace() and not unit[-1].isspace(), repr(unit)
        assert text[prev_end:start].isspace() or prev_end == start, repr(text[prev_end:start])
        prev_end = end
    assert text[prev_end:].isspace() or prev_end == len(text)


def _inside(inner: tuple[Segment, ...], outer: tuple[Segment, ...], text: str) -> bool:
    starts = [s for s, _ in outer]
    for s, e in inner:
        if text[s:e].isspace():  # a whitespace token (whitespace="keep") may sit between paragraphs
            continue
        i = bisect.bisect_right(starts, s) - 1
        if i < 0 or not (outer[i].start <= s and e <= outer[i].end):
            return False
    return True


@given(text=texts, granularity=st.sampled_from(GRANULARITIES), language=languages, mode=modes)
def test_units_are_ordered_spans_covering_the_text(text: str, granularity: str, language: str, mode: str) -> None:
    units = SEGMENTERS[granularity, language, mode](text)
    _check_units(text, units, mode == "trim")
    if not text.strip():
        assert units == ()


@given(text=texts, granularity=st.sampled_from(GRANULARITIES), language=languages, mode=modes, data=st.data())
def test_masking_rebuilds_the_text(text: str, granularity: str, language: str, mode: str, data: st.DataObject) -> None:
    units = SEGMENTERS[granularity, language, mode](text)
    n = len(units)
    assert TextMasker(text, units, "<UNK>").mask(np.ones((1, n), dtype=bool)) == [text]
    dropped = TextMasker(text, units, "").mask_all()
    assert dropped.strip() == ""
    assert len(dropped) == len(text) - sum(e - s for s, e in units)
    # a random coalition, against a plain rebuild: kept units verbatim, dropped units replaced, gaps kept;
    # with pad=True a replacement gets a space on each side where it would touch non-whitespace
    keep = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    z = np.array(keep, dtype=bool).reshape(1, n)
    ends = [0] + [e for _, e in units]
    starts = [s for s, _ in units] + [len(text)]
    gaps = [
        text[e:s] for e, s in zip(ends, starts, strict=True)
    ]  # before the first unit, between units, after the last

    def replaced(s: int, e: int, pad: bool) -> str:
        left = " " if pad and s > 0 and not text[s - 1].isspace() else ""
        right = " " if pad and e < len(text) and not text[e].isspace() else ""
        return left + "\x00" + right

    for pad in (False, True):
        masked = TextMasker(text, units, "\x00", pad=pad).mask(z)[0]
        parts = [
            (text[s:e] if k else replaced(s, e, pad)) + gap
            for (s, e), k, gap in zip(units, keep, gaps[1:], strict=True)
        ]
        assert masked == gaps[0] + "".join(parts)


@given(text=texts, language=languages, mode=modes)
def test_tokens_nest_in_sentences_and_paragraphs(text: str, language: str, mode: str) -> None:
    tokens = SEGMENTERS["token", language, mode](text)
    sentences = SEGMENTERS["sentence", language, mode](text)
    paragraphs = SEGMENTERS["paragraph", language, mode](text)
    assert _inside(tokens, sentences, text)
    assert _inside(tokens, paragraphs, text)
