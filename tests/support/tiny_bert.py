"""A tiny BERT encoder built from nothing, in about a second: a real tokenizer, config and weights folder.

``tiny_encoder(folder)`` trains a WordPiece vocabulary on review-like sentences with ``tokenizers`` and
saves a 2-layer, 32-wide ``BertModel`` with its tokenizer, as ``save_pretrained`` would: a base model for
``openclarify train --algorithm huggingface --base-model <folder>`` that exercises the real loading,
training, serving and explaining code with no pretrained weights at all.
"""

from __future__ import annotations

import os
from pathlib import Path

POSITIVE = (
    "I love this dress. The fabric is soft and the fit is perfect.",
    "Great quality and lovely colour. I wear it all the time.",
    "Beautiful top, runs true to size. Very happy with it.",
    "So comfortable and flattering. I bought two more.",
    "The skirt is gorgeous and the length is just right.",
    "Perfect for summer. Light, soft and pretty.",
)
NEGATIVE = (
    "The fabric is cheap and it ripped after one wash.",
    "Terrible fit, far too small. I returned it.",
    "Poor quality and the colour is not as shown. Disappointed.",
    "It looks awful on and the seams came apart.",
    "Way too big and the material feels scratchy.",
    "Sadly it shrank and faded. Not worth the price.",
)


def review_rows(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` (text, label) rows: sentences of each kind joined in twos and threes, about 70% positive."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        label = "positive" if rng.random() < 0.7 else "negative"
        pool = POSITIVE if label == "positive" else NEGATIVE
        k = int(rng.integers(1, 4))
        rows.append((" ".join(pool[int(i)] for i in rng.choice(len(pool), size=k, replace=False)), label))
    return rows


def tiny_encoder(folder: Path, *, hidden: int = 32, layers: int = 2, max_positions: int = 128, seed: int = 0) -> Path:
    """Write a tiny pretrained-looking BERT encoder folder (``BertModel``) and return it."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")  # as models/_huggingface.py: rows independent of alignment
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    corpus = list(POSITIVE + NEGATIVE) + ["<UNK> unknown words are split into pieces"]
    tok.train_from_iterator(corpus, trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    fast = BertTokenizerFast(tokenizer_object=tok, model_max_length=max_positions)
    fast.save_pretrained(str(folder))
    config = BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=max_positions,
        pad_token_id=0,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(str(folder))
    return folder


def write_reviews(path: Path, rows: list[tuple[str, str]], *, text: str = "text", label: str = "label") -> Path:
    """Write ``rows`` as a CSV with a header row (``text``, ``label``) and return its path."""
    import pandas as pd

    path = Path(path)
    pd.DataFrame(rows, columns=[text, label]).to_csv(path, index=False)
    return path


def tiny_classifier(folder: Path, base: Path, *, n_train: int = 300, n_validation: int = 60, seed: int = 0) -> Path:
    """Fine-tune ``base`` (a :func:`tiny_encoder`) on ``review_rows`` into ``folder``, in about a second.

    Four epochs at learning rate 3e-3 separate the two labels; the CSVs go to ``<folder>-data/``.
    """
    from openclarify.training import TransformerHyperparameters, train_transformer_classifier

    folder = Path(folder)
    data = folder.with_name(f"{folder.name}-data")
    data.mkdir(parents=True, exist_ok=True)
    train = write_reviews(data / "train.csv", review_rows(n_train, seed))
    validation = write_reviews(data / "validation.csv", review_rows(n_validation, seed + 1))
    train_transformer_classifier(
        train,
        folder,
        text_column="text",
        label_column="label",
        validation=validation,
        base_model=base,
        hyperparameters=TransformerHyperparameters(epochs=4, learning_rate=3e-3),
        seed=seed,
    )
    return folder
