"""Text -> units (tokens, sentences, paragraphs) as character spans of the original string.

Segmentation never rebuilds text from tokens: a unit is a ``Segment(start, end)`` into the string,
so ``text[start:end]`` is its ``partial_text`` and ``start`` its ``start_idx`` (clarify-spec §2.2).

* ``token``: the tokenizer of spaCy's blank pipeline for the language.
* ``sentence``: the same pipeline with spaCy's rule-based ``sentencizer``.
* ``paragraph``: the text between blank lines (a line holding only whitespace), trimmed.

``whitespace="keep"`` (the default) is Clarify's behaviour, observed in its published outputs: units are
spaCy's tokens and sentence spans as they are, so a run of extra whitespace (``"\n\n"``) is a token unit
of its own and a sentence may start with the whitespace that precedes it (``"\n\nfit: ..."``).
``whitespace="trim"`` drops whitespace-only tokens and trims sentences. Either way, a single space after
a token is never part of a unit, and a text holding only whitespace has no units.

Japanese, Thai and Vietnamese tokenizers need extra packages (SudachiPy + sudachidict-core,
pythainlp, pyvi: ``pip install 'openclarify[text-extra]'``).

Long texts are segmented in pieces of about ``_PIECE_CHARS`` characters, so that spaCy's ``Doc`` of a
whole document (about 60 bytes a character) never exists at once. A piece ends only where spaCy's
tokenizer starts afresh whatever came before (next to a line break, a tab or a run of spaces: see
``_CUT``), and a sentence piece only at a sentence start found in the previous piece, so the units are
exactly those of the whole text segmented at once (tested against it). A text with no such place (one
line of single spaces), and Chinese, Japanese, Thai and Vietnamese (tokenizers of their own), are
segmented whole. A run of more than ``MAX_RUN_CHARS`` characters that cannot be cut is refused with a
:class:`~openclarify.errors.DataError`.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Callable
from functools import cache
from typing import Any, Literal, NamedTuple

import numpy as np

from .._typing import GRANULARITIES, Granularity, IntArray
from ..errors import ConfigError, DataError, MissingDependencyError

__all__ = ["EXTRA_PACKAGES", "MAX_RUN_CHARS", "Segment", "Segmenter", "WhitespaceMode", "segment"]

# spaCy languages whose tokenizer needs a third-party package, and the package(s) to install
EXTRA_PACKAGES: dict[str, str] = {
    "ja": "sudachipy sudachidict-core",
    "th": "pythainlp",
    "vi": "pyvi",
}
WhitespaceMode = Literal["keep", "trim"]
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
# spaCy's own limit on one call (nlp.max_length), and so the longest run of text without a place to cut
# it into pieces: a text holding a longer run stops with a DataError.
MAX_RUN_CHARS = 100_000_000
# Characters of text handed to spaCy at a time (more when there is no place to cut sooner): spaCy holds
# about 60 bytes a character while it segments, so this bounds that to about 16 MB.
_PIECE_CHARS = 1 << 18
# spaCy's Doc (and our copy of its token offsets) while a piece is segmented, per character of the piece
_SEGMENT_CHAR_BYTES = 72


class Segment(NamedTuple):
    """A unit of text: ``text[start:end]``."""

    start: int
    end: int


def _trimmed(text: str, start: int, end: int) -> Segment | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Segment(start, end) if end > start else None


_lock = threading.Lock()


@cache
def _pipeline(language: str, sentences: bool) -> Any:
    try:
        import spacy
    except ImportError as exc:  # pragma: no cover - spaCy is a dependency
        raise MissingDependencyError("text segmentation needs spaCy; pip install spacy") from exc
    try:
        with warnings.catch_warnings():
            # spaCy 3.8's Japanese tokenizer calls SudachiPy's Dictionary.create(), deprecated in SudachiPy 0.7
            warnings.filterwarnings("ignore", r"Dictionary\.create\(\) is deprecated", DeprecationWarning)
            nlp = spacy.blank(language)
    except ImportError as exc:
        extra = EXTRA_PACKAGES.get(language)
        if extra is None:  # spaCy raises ImportError (E048) for a code it has no language for
            raise ConfigError(
                f"no spaCy language for code {language!r}. "
                "Use one of the languages listed in openclarify.config.LANGUAGES.",
                path="methods.shap.text_config.language",
            ) from exc
        raise MissingDependencyError(
            f"methods.shap.text_config.language: the {language!r} tokenizer needs extra packages ({exc}). "
            f"Install them with: pip install 'openclarify[text-extra]' (or: pip install {extra})."
        ) from exc
    except Exception as exc:  # noqa: BLE001 - spaCy raises its own errors for unknown codes
        raise ConfigError(
            f"no spaCy language for code {language!r} ({type(exc).__name__}: {exc}). "
            "Use one of the languages listed in openclarify.config.LANGUAGES.",
            path="methods.shap.text_config.language",
        ) from exc
    nlp.max_length = MAX_RUN_CHARS
    if sentences:
        nlp.add_pipe("sentencizer")
    return nlp


# Where spaCy's tokenizer can be resumed. It splits the text into runs of whitespace and of other
# characters and tokenizes each run on its own, keeping a whitespace run as a token unless it is the
# single " " after a token; then its special cases (a PhraseMatcher over the whole Doc) merge or split
# neighbouring tokens, and a candidate match can block another one next to it, across a single " ".
# No special case holds a whitespace token, so where one lies between two tokens nothing reaches
# across it: text[:p] and text[p:] segmented apart give the units of text when p is next to a
# whitespace run that becomes a token (any run but a single " " after a token). ``\s`` is
# ``str.isspace``, as in spaCy.
_CUT = re.compile(r"(?<=[^\S ])(?=\S)|(?<=\s\s)(?=\S)|(?<=\S)(?=[^\S ])")
# a special case that would put a whitespace token in its pattern (none in spaCy 3.8's languages)
_WHITESPACE_TOKEN = re.compile(r"^\s|\s\s|[^\S ]")
_SEARCH_BACK = 4096  # characters searched at a time for the last cut before a position


@cache
def _cut_pattern(language: str, sentences: bool) -> re.Pattern[str] | None:
    """The places where this pipeline's tokenizer can be resumed; None when it cannot (Chinese,
    Japanese, Thai, Vietnamese have tokenizers of their own)."""
    from spacy.tokenizer import Tokenizer

    with _lock:
        nlp = _pipeline(language, sentences)
    if type(nlp.tokenizer) is not Tokenizer:
        return None
    if any(len(rule) > 1 and _WHITESPACE_TOKEN.search(rule) for rule in nlp.tokenizer.rules):
        return None
    return _CUT


def _cut_before(text: str, lo: int, hi: int, cut: re.Pattern[str]) -> int:
    """The last cut in ``(lo, hi]``, or ``-1``."""
    while hi > lo:
        w0 = max(lo + 1, hi - _SEARCH_BACK)
        last = -1
        for m in cut.finditer(text, w0, hi + 1):
            last = m.start()
        if last >= 0:
            return last
        hi = w0 - 1
    return -1


def _cut_after(text: str, pos: int, cut: re.Pattern[str]) -> int:
    """The first cut at or after ``pos``, or ``len(text)``."""
    m = cut.search(text, pos)
    return len(text) if m is None else m.start()


def _piece_end(text: str, start: int, size: int, cut: re.Pattern[str] | None) -> int:
    """End of the piece of at most about ``size`` characters from ``start`` (itself a cut, or 0)."""
    n = len(text)
    if cut is None or n - start <= size:
        end = n
    else:
        end = _cut_before(text, start, start + size, cut)
        if end < 0:  # no place to cut within size: the first one after
            end = _cut_after(text, start + size + 1, cut)
    if end - start > MAX_RUN_CHARS:
        raise DataError(
            f"text: {end - start:,} characters from offset {start:,} cannot be split for spaCy, which takes at "
            f"most {MAX_RUN_CHARS:,} at a time; got a text of {n:,} characters. Shorten the text, break it "
            "with whitespace, or use paragraph granularity."
        )
    return end


def _token_spans(nlp: Any, text: str, trim: bool, cut: re.Pattern[str] | None) -> IntArray:
    from spacy.attrs import IDX, IS_SPACE, LENGTH

    parts: list[IntArray] = []
    start = 0
    while start < len(text):
        end = _piece_end(text, start, _PIECE_CHARS, cut)
        doc = nlp.make_doc(text[start:end])
        arr = doc.to_array([IDX, LENGTH, IS_SPACE]).astype(np.int64)
        del doc
        keep = (arr[:, 1] > 0) & (arr[:, 2] == 0) if trim else arr[:, 1] > 0
        spans = np.empty((int(keep.sum()), 2), dtype=np.int64)
        spans[:, 0] = arr[keep, 0] + start
        spans[:, 1] = spans[:, 0] + arr[keep, 1]
        if trim:
            spans = _trim_spans(text, spans)
        parts.append(spans)
        start = end
    return _joined(parts)


def _trim_spans(text: str, spans: IntArray) -> IntArray:
    """``_trimmed`` applied to every span (tokens that are not whitespace seldom touch any)."""
    rows: list[tuple[int, int]] = []
    for s, e in spans.tolist():
        if text[s].isspace() or text[e - 1].isspace():
            seg = _trimmed(text, s, e)
            if seg is None:
                continue
            s, e = seg
        rows.append((s, e))
    return np.array(rows, dtype=np.int64).reshape(-1, 2)


def _sentence_spans(nlp: Any, text: str, trim: bool, cut: re.Pattern[str] | None) -> IntArray:
    parts: list[IntArray] = []
    n = len(text)
    start = 0
    size = _PIECE_CHARS
    while start < n:
        end = _piece_end(text, start, size, cut)
        doc = nlp(text[start:end])
        sents = [(s.start_char + start, s.end_char + start) for s in doc.sents]
        del doc
        if end < n:
            # The last sentence may go on in the next piece: resume at the start of the last sentence that
            # spaCy's tokenizer can be resumed at (a sentence start depends only on the tokens before it).
            assert cut is not None  # noqa: S101 - only a resumable tokenizer is cut into pieces
            j = len(sents) - 1
            while j > 0 and cut.match(text, sents[j][0]) is None:
                j -= 1
            if j <= 0:  # no such sentence in the piece: take a longer one
                size *= 2
                continue
            end = sents[j][0]
            sents = sents[:j]
            size = _PIECE_CHARS
        parts.append(_sentence_rows(text, sents, trim))
        start = end
    return _joined(parts)


def _sentence_rows(text: str, sents: list[tuple[int, int]], trim: bool) -> IntArray:
    rows: list[tuple[int, int]] = []
    for s, e in sents:
        if trim:
            seg = _trimmed(text, s, e)
            if seg is not None:
                rows.append(seg)
        elif e > s:
            rows.append((s, e))
    return np.array(rows, dtype=np.int64).reshape(-1, 2)


def _joined(parts: list[IntArray]) -> IntArray:
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.int64)


def _paragraphs(text: str) -> IntArray:
    out: list[Segment] = []
    start = 0
    for m in _BLANK_LINE.finditer(text):
        seg = _trimmed(text, start, m.start())
        if seg is not None:
            out.append(seg)
        start = m.end()
    seg = _trimmed(text, start, len(text))
    if seg is not None:
        out.append(seg)
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def _segmenter(granularity: Granularity, language: str, whitespace: WhitespaceMode) -> Segmenter:
    return Segmenter(granularity, language, whitespace=whitespace)


class Segmenter:
    """Splits strings into units of one granularity for one language (a spaCy code, e.g. ``"en"``).

    Calling it returns the units in text order: ordered, non-overlapping, within bounds, together
    covering every non-whitespace character (and, with ``whitespace="trim"``, neither starting nor ending
    with whitespace). Empty or whitespace-only text has no units. The spaCy pipeline is loaded once per
    language and shared.
    """

    def __init__(
        self, granularity: Granularity = "token", language: str = "en", *, whitespace: WhitespaceMode = "keep"
    ) -> None:
        if whitespace not in ("keep", "trim"):
            raise ConfigError(f"must be 'keep' or 'trim'; got {whitespace!r}.", path="whitespace")
        self.whitespace: WhitespaceMode = whitespace
        trim = whitespace == "trim"
        if granularity not in GRANULARITIES:
            raise ConfigError(
                f"must be one of {', '.join(repr(g) for g in GRANULARITIES)}; got {granularity!r}.",
                path="methods.shap.text_config.granularity",
            )
        self.granularity: Granularity = granularity
        self.language = language
        self._split: Callable[[str], IntArray]
        self._cut: re.Pattern[str] | None = None
        if granularity == "paragraph":
            self._split = _paragraphs
        else:
            with _lock:
                nlp = _pipeline(language, granularity == "sentence")
            cut = self._cut = _cut_pattern(language, granularity == "sentence")
            if granularity == "token":
                self._split = lambda text: _token_spans(nlp, text, trim, cut)
            else:
                self._split = lambda text: _sentence_spans(nlp, text, trim, cut)

    def __call__(self, text: str) -> tuple[Segment, ...]:
        return tuple(Segment._make(row) for row in self.spans(text).tolist())

    def __reduce__(self) -> tuple[Any, tuple[str, str, str]]:
        """Pickled by what it is (granularity, language, whitespace): a worker loads its own pipeline."""
        return _segmenter, (self.granularity, self.language, self.whitespace)

    def work_bytes(self, text: str) -> int:
        """About how many bytes segmenting ``text`` holds at once: spaCy's ``Doc`` of its longest piece
        (the whole text when it has no line break, tab or run of spaces to cut it at), and the units."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}")
        units = 16 * len(text) // 2  # at most a unit every other character
        if self.granularity == "paragraph":
            return units
        longest = len(text)
        cut = self._cut
        if cut is not None and len(text) > _PIECE_CHARS:
            longest = start = 0
            while start < len(text):
                end = _piece_end(text, start, _PIECE_CHARS, cut)
                longest = max(longest, end - start)
                start = end
        return _SEGMENT_CHAR_BYTES * longest + units

    def spans(self, text: str) -> IntArray:
        """The units of ``text`` as an int64 array of shape ``(n_units, 2)``: ``start, end`` per row.

        The same units as calling the segmenter, without a Python object per unit (a long document's
        tokens take 16 bytes each).
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}")
        if not text or text.isspace():
            return np.zeros((0, 2), dtype=np.int64)
        return self._split(text)

    def __repr__(self) -> str:
        return (
            f"Segmenter(granularity={self.granularity!r}, language={self.language!r}, whitespace={self.whitespace!r})"
        )


def segment(
    text: str, granularity: Granularity = "token", language: str = "en", *, whitespace: WhitespaceMode = "keep"
) -> tuple[Segment, ...]:
    """Units of ``text`` as :class:`Segment` spans; see :class:`Segmenter`."""
    return Segmenter(granularity, language, whitespace=whitespace)(text)
