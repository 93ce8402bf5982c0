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
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Callable
from functools import cache
from typing import Any, Literal, NamedTuple

from .._typing import GRANULARITIES, Granularity
from ..errors import ConfigError, MissingDependencyError

__all__ = ["EXTRA_PACKAGES", "Segment", "Segmenter", "WhitespaceMode", "segment"]

# spaCy languages whose tokenizer needs a third-party package, and the package(s) to install
EXTRA_PACKAGES: dict[str, str] = {
    "ja": "sudachipy sudachidict-core",
    "th": "pythainlp",
    "vi": "pyvi",
}
WhitespaceMode = Literal["keep", "trim"]
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
# Long documents: the tokenizer-only pipeline has no per-character memory cost worth limiting.
_MAX_LENGTH = 100_000_000


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
    nlp.max_length = _MAX_LENGTH
    if sentences:
        nlp.add_pipe("sentencizer")
    return nlp


def _tokens(nlp: Any, text: str, trim: bool) -> tuple[Segment, ...]:
    doc = nlp.make_doc(text)
    if not trim:
        return tuple(Segment(tok.idx, tok.idx + len(tok.text)) for tok in doc if tok.text)
    out = []
    for tok in doc:
        if tok.is_space:
            continue
        seg = _trimmed(text, tok.idx, tok.idx + len(tok.text))
        if seg is not None:
            out.append(seg)
    return tuple(out)


def _sentences(nlp: Any, text: str, trim: bool) -> tuple[Segment, ...]:
    doc = nlp(text)
    if not trim:
        return tuple(Segment(s.start_char, s.end_char) for s in doc.sents if s.end_char > s.start_char)
    out = []
    for sent in doc.sents:
        seg = _trimmed(text, sent.start_char, sent.end_char)
        if seg is not None:
            out.append(seg)
    return tuple(out)


def _paragraphs(text: str) -> tuple[Segment, ...]:
    out = []
    start = 0
    for m in _BLANK_LINE.finditer(text):
        seg = _trimmed(text, start, m.start())
        if seg is not None:
            out.append(seg)
        start = m.end()
    seg = _trimmed(text, start, len(text))
    if seg is not None:
        out.append(seg)
    return tuple(out)


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
        self._split: Callable[[str], tuple[Segment, ...]]
        if granularity == "paragraph":
            self._split = _paragraphs
        else:
            with _lock:
                nlp = _pipeline(language, granularity == "sentence")
            if granularity == "token":
                self._split = lambda text: _tokens(nlp, text, trim)
            else:
                self._split = lambda text: _sentences(nlp, text, trim)

    def __call__(self, text: str) -> tuple[Segment, ...]:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}")
        if not text or text.isspace():
            return ()
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
