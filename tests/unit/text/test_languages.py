"""Every Clarify language code segments a sample in its script into tokens and sentences.

Japanese, Thai and Vietnamese need the ``text-extra`` packages and are skipped without them.
"""

from __future__ import annotations

import importlib.util

import pytest

from openclarify.config import LANGUAGES
from openclarify.text import EXTRA_PACKAGES, Segmenter

LATIN = "This is a good product. I would buy it again! Would you?"
SAMPLES = {
    "zh": "这是一个好产品。我还会再买！你呢？",
    "ja": "これは良い製品です。また買います！あなたは？",
    "el": "Αυτό είναι ένα καλό προϊόν. Θα το αγόραζα ξανά! Εσείς;",
    "ru": "Это хороший товар. Я бы купил его снова! А вы?",
    "uk": "Це хороший товар. Я купив би його знову! А ви?",
    "bg": "Това е добър продукт. Бих го купил отново! А вие?",
    "mk": "Ова е добар производ. Би го купил повторно! А вие?",
    "sr": "Ово је добар производ. Купио бих га поново! А ви?",
    "ky": "Бул жакшы буюм. Мен аны кайра сатып алмакмын! А сиз?",
    "tt": "Бу яхшы әйбер. Мин аны тагын сатып алыр идем! Ә сез?",
    "ar": "هذا منتج جيد. سأشتريه مرة أخرى! وأنت؟",
    "fa": "این محصول خوبی است. دوباره آن را می‌خرم! شما چطور؟",
    "ur": "یہ ایک اچھی چیز ہے۔ میں اسے دوبارہ خریدوں گا! آپ؟",
    "he": "זה מוצר טוב. הייתי קונה אותו שוב! ואתה?",
    "hy": "Սա լավ ապրանք է։ Ես նորից կգնեի։ Իսկ դո՞ւք",
    "hi": "यह एक अच्छा उत्पाद है। मैं इसे फिर से खरीदूँगा! आप?",
    "mr": "हे एक चांगले उत्पादन आहे. मी ते पुन्हा विकत घेईन! तुम्ही?",
    "ne": "यो राम्रो उत्पादन हो। म यसलाई फेरि किन्छु! तपाईं?",
    "sa": "एतत् उत्तमं वस्तु अस्ति। अहं पुनः क्रेष्यामि! भवान्?",
    "bn": "এটি একটি ভালো পণ্য। আমি আবার কিনব! আপনি?",
    "gu": "આ એક સારું ઉત્પાદન છે. હું તેને ફરીથી ખરીદીશ! તમે?",
    "kn": "ಇದು ಉತ್ತಮ ಉತ್ಪನ್ನ. ನಾನು ಅದನ್ನು ಮತ್ತೆ ಖರೀದಿಸುತ್ತೇನೆ! ನೀವು?",
    "ml": "ഇത് നല്ല ഉൽപ്പന്നമാണ്. ഞാൻ ഇത് വീണ്ടും വാങ്ങും! നിങ്ങൾ?",
    "ta": "இது ஒரு நல்ல பொருள். நான் அதை மீண்டும் வாங்குவேன்! நீங்கள்?",
    "te": "ఇది మంచి ఉత్పత్తి. నేను దీన్ని మళ్ళీ కొంటాను! మీరు?",
    "si": "මෙය හොඳ නිෂ්පාදනයකි. මම එය නැවත මිලදී ගන්නෙමි! ඔබ?",
    "th": "นี่เป็นสินค้าที่ดี ฉันจะซื้ออีก! คุณล่ะ?",
    "vi": "Đây là một sản phẩm tốt. Tôi sẽ mua lại! Còn bạn?",
    "yo": "Èyí jẹ́ ọjà tó dára. Màá tún rà á! Ìwọ ńkọ́?",
    "xx": "This is good. Это хорошо! 这很好。",
}
# Where spaCy's blank tokenizer leaves the full stop attached to the word before it, the sentencizer
# (which splits after punctuation *tokens*) cannot split there: Armenian "է։", Gujarati "છે.",
# Malayalam "ഉൽപ്പന്നമാണ്."; Thai has no full stop at all.
SENTENCES = {"hy": 1, "gu": 2, "ml": 2, "th": 2}
EXTRA_MODULES = {"ja": "sudachipy", "th": "pythainlp", "vi": "pyvi"}


def test_samples_cover_the_extra_languages() -> None:
    assert set(EXTRA_MODULES) == set(EXTRA_PACKAGES)
    assert len(LANGUAGES) == 63


@pytest.mark.slow
@pytest.mark.parametrize(("name", "code"), sorted(LANGUAGES.items(), key=lambda kv: kv[1]), ids=lambda v: v)
def test_every_clarify_language_segments(name: str, code: str) -> None:
    if code in EXTRA_MODULES and importlib.util.find_spec(EXTRA_MODULES[code]) is None:
        pytest.skip(f"{name} needs pip install 'openclarify[text-extra]'")
    text = SAMPLES.get(code, LATIN)
    tokens = Segmenter("token", code, whitespace="trim")(text)
    sentences = Segmenter("sentence", code, whitespace="trim")(text)
    assert len(tokens) >= 6
    assert len(sentences) == SENTENCES.get(code, 3)
    for start, end in tokens + sentences:
        unit = text[start:end]
        assert unit and unit == unit.strip()
    # Clarify's units (whitespace="keep") are the same ones plus whitespace-only tokens, sentences untrimmed
    kept = Segmenter("token", code)(text)
    assert [u for u in kept if not text[u.start : u.end].isspace()] == list(tokens)
    assert [text[s:e].strip() for s, e in Segmenter("sentence", code)(text)] == [text[s:e] for s, e in sentences]
