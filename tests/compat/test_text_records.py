"""Our segmentation against text units published in real SageMaker Clarify outputs.

tests/compat/data/clarify_text_records.json holds every record we found (sources in each record): the
EX text_explainability notebook's sentence- and token-granularity out.jsonl (one record printed with
start_idx, ten shown as partial_text in its captum visualisations) and the Developer Guide's online token
example "This is a good product". Plain spaCy (``spacy.blank(lang)`` tokens, + ``sentencizer`` spans, no
trimming) reproduces all of them exactly; that is checked here too, so a spaCy upgrade that changes
tokenization shows up as a failure of ``test_plain_spacy_reproduces_clarify``.

Two records keep whitespace (a "\n\n" token unit, a sentence starting with "\n\n"): the default
``whitespace="keep"`` reproduces them; ``whitespace="trim"`` is checked to differ only there.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from openclarify.text import Segmenter

DATA = Path(__file__).parent / "data" / "clarify_text_records.json"
REVIEWS = Path(__file__).parents[2] / "data" / "reviews" / "reviews.csv.gz"
RECORDS = json.loads(DATA.read_text(encoding="utf-8"))["records"]

# records whose published units keep whitespace that our Segmenter trims or drops
KEEPS_WHITESPACE = {r["id"] for r in RECORDS if "clarify_keeps_whitespace" in r}


@cache
def _reviews() -> pd.Series:
    return pd.read_csv(REVIEWS).set_index("review_id")["Review Text"]


def _expected(record: dict) -> list[tuple[str, int]]:
    return [(u["partial_text"], u["start_idx"]) for u in record["units"]]


def _params() -> list:
    return [pytest.param(r, id=r["id"]) for r in RECORDS]


def test_records_found() -> None:
    assert len(RECORDS) >= 4
    assert {r["granularity"] for r in RECORDS} == {"token", "sentence"}
    assert sum(r["start_idx_published"] for r in RECORDS) >= 2


@pytest.mark.parametrize("record", [pytest.param(r, id=r["id"]) for r in RECORDS])
def test_record_is_consistent(record: dict) -> None:
    """Every unit is text[start_idx:start_idx + len]; units are in order; only whitespace between them."""
    text = record["text"]
    pos = 0
    for part, start in _expected(record):
        assert text[start : start + len(part)] == part
        assert start >= pos and text[pos:start].strip() == ""
        pos = start + len(part)
    assert text[pos:].strip() == ""


@pytest.mark.parametrize("record", [pytest.param(r, id=r["id"]) for r in RECORDS if r["review_id"] is not None])
def test_record_text_is_the_review(record: dict) -> None:
    assert _reviews()[record["review_id"]] == record["text"]


@pytest.mark.parametrize("record", _params())
def test_segmenter_matches_clarify(record: dict) -> None:
    text = record["text"]
    got = [(text[s:e], s) for s, e in Segmenter(record["granularity"], record["language"])(text)]
    assert got == _expected(record)


@pytest.mark.parametrize("record", _params())
def test_trim_mode_differs_only_by_whitespace(record: dict) -> None:
    text = record["text"]
    got = [(text[s:e], s) for s, e in Segmenter(record["granularity"], record["language"], whitespace="trim")(text)]
    expected = [(p.strip(), s + len(p) - len(p.lstrip())) for p, s in _expected(record) if p.strip()]
    assert got == expected
    assert (got == _expected(record)) == (record["id"] not in KEEPS_WHITESPACE)


@pytest.mark.parametrize("record", [pytest.param(r, id=r["id"]) for r in RECORDS])
def test_plain_spacy_reproduces_clarify(record: dict) -> None:
    import spacy

    nlp = spacy.blank(record["language"])
    if record["granularity"] == "token":
        got = [(tok.text, tok.idx) for tok in nlp.make_doc(record["text"])]
    else:
        nlp.add_pipe("sentencizer")
        got = [(sent.text, sent.start_char) for sent in nlp(record["text"]).sents]
    assert got == _expected(record)


def test_ellipsis_does_not_split_a_sentence() -> None:
    """clarify-spec §2.2: '...instagram page...and i was so excited...' is one published sentence."""
    record = next(r for r in RECORDS if r["id"] == "ex-text-explainability-sentence-0")
    first = record["units"][0]["partial_text"]
    assert "page...and" in first
    text = record["text"]
    s, e = Segmenter("sentence", "en")(text)[0]
    assert text[s:e] == first
