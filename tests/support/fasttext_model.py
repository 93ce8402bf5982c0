"""A tiny fastText text classifier trained in well under a second, for tests that need a real model.bin."""

from __future__ import annotations

from pathlib import Path

import numpy as np

VOCAB = {
    "sports": ["goal", "match", "team", "score", "league"],
    "music": ["song", "album", "band", "guitar", "tour"],
    "food": ["pizza", "bread", "cheese", "recipe", "oven"],
}
SHARED = ["the", "a", "new", "big", "old"]


def review_texts(n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` (label, text) pairs: four words of the label's vocabulary and two shared ones, shuffled."""
    rng = np.random.default_rng(seed)
    labels = list(VOCAB)
    rows = []
    for _ in range(n):
        label = labels[int(rng.integers(len(labels)))]
        words = [*rng.choice(VOCAB[label], 4), *rng.choice(SHARED, 2)]
        rng.shuffle(words)
        rows.append((label, " ".join(str(w) for w in words)))
    return rows


def tiny_fasttext(folder: Path, *, text_normalization: str = "lower-tokenize") -> Path:
    """Train on 300 lines with ``openclarify train``'s trainer into ``folder`` (``model.bin``, ``model.vec``,
    ``openclarify-model.json``, whose text normalization the predictor applies) and return ``folder``."""
    from openclarify.training import train_text_classifier

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    train = folder.with_name(f"{folder.name}-train.txt")
    train.write_text("".join(f"__label__{label} {text}\n" for label, text in review_texts(300, 0)))
    hp = {"epochs": 5, "learning_rate": 0.5, "vector_dim": 8, "min_count": 1, "buckets": 1000, "word_ngrams": 2}
    train_text_classifier(train, folder, hyperparameters=hp, threads=1, seed=1,
                          text_normalization=text_normalization)  # type: ignore[arg-type]  # fmt: skip
    return folder
