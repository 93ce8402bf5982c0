"""The text languages Clarify accepts in ``text_config.language``, by name and by spaCy code."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["LANGUAGES", "language_code"]

# Clarify's 63 entries (62 languages + multi-language), in the SDK's order
# (``sagemaker.clarify.TextConfig._SUPPORTED_LANGUAGES``). Every code is a spaCy language class
# (``spacy.blank(code)``), which is how the text is segmented (clarify-spec §2.1-2.2).
LANGUAGES: Mapping[str, str] = MappingProxyType(
    {
        "chinese": "zh",
        "danish": "da",
        "dutch": "nl",
        "english": "en",
        "french": "fr",
        "german": "de",
        "greek": "el",
        "italian": "it",
        "japanese": "ja",
        "lithuanian": "lt",
        "multi-language": "xx",
        "norwegian bokmål": "nb",
        "polish": "pl",
        "portuguese": "pt",
        "romanian": "ro",
        "russian": "ru",
        "spanish": "es",
        "afrikaans": "af",
        "albanian": "sq",
        "arabic": "ar",
        "armenian": "hy",
        "basque": "eu",
        "bengali": "bn",
        "bulgarian": "bg",
        "catalan": "ca",
        "croatian": "hr",
        "czech": "cs",
        "estonian": "et",
        "finnish": "fi",
        "gujarati": "gu",
        "hebrew": "he",
        "hindi": "hi",
        "hungarian": "hu",
        "icelandic": "is",
        "indonesian": "id",
        "irish": "ga",
        "kannada": "kn",
        "kyrgyz": "ky",
        "latvian": "lv",
        "ligurian": "lij",
        "luxembourgish": "lb",
        "macedonian": "mk",
        "malayalam": "ml",
        "marathi": "mr",
        "nepali": "ne",
        "persian": "fa",
        "sanskrit": "sa",
        "serbian": "sr",
        "setswana": "tn",
        "sinhala": "si",
        "slovak": "sk",
        "slovenian": "sl",
        "swedish": "sv",
        "tagalog": "tl",
        "tamil": "ta",
        "tatar": "tt",
        "telugu": "te",
        "thai": "th",
        "turkish": "tr",
        "ukrainian": "uk",
        "urdu": "ur",
        "vietnamese": "vi",
        "yoruba": "yo",
    }
)

_BY_NAME_OR_CODE: Mapping[str, str] = MappingProxyType({**{code: code for code in LANGUAGES.values()}, **LANGUAGES})


def language_code(value: str) -> str | None:
    """Return the spaCy code of a Clarify language given by name or code, case-insensitively.

    Parameters
    ----------
    value
        A language name (``"english"``, ``"Norwegian Bokmål"``) or code (``"en"``, ``"XX"``).

    Returns
    -------
    str or None
        The code (``"en"``), or None when Clarify does not support the language.

    Examples
    --------
    >>> language_code("English"), language_code("xx"), language_code("klingon")
    ('en', 'xx', None)
    """
    return _BY_NAME_OR_CODE.get(value.lower())
