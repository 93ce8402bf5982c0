"""The DBpedia fastText model the benchmarks explain and serve: data, parameters, a cached model file.

bench/text_games.py and bench/serving.py use the same model (same parameters, same cache file), trained
here on lower-tokenized text the first time and kept under ``bench/.cache/``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from openclarify.training import normalize_texts

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"
DATA = ROOT / "data" / "dbpedia"

# fastText train_supervised arguments
FT_PARAMS: dict[str, Any] = {
    "epoch": 10,
    "wordNgrams": 2,
    "dim": 10,
    "minCount": 2,
    "lr": 0.5,
    "thread": 1,
    "seed": 0,
    "verbose": 0,
}


def load_split(name: str) -> tuple[np.ndarray, list[str]]:
    """DBpedia csv (class, "title", "content"): 1-based class index and title + content."""
    labels: list[int] = []
    texts: list[str] = []
    with (DATA / f"{name}.csv").open(newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            labels.append(int(row[0]))
            texts.append(" ".join(f"{row[1]} {row[2]}".split()))
    return np.array(labels), texts


def cached_model() -> tuple[Path, dict[str, Any]]:
    """The model file, trained on the lower-tokenized training split unless already cached (keyed by the
    data and the parameters); with what was done, for the results."""
    import fasttext

    digest = hashlib.sha256((DATA / "train.csv").read_bytes())
    digest.update(json.dumps(FT_PARAMS, sort_keys=True).encode())
    digest.update(b"lower-tokenize")
    key = digest.hexdigest()[:16]
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"dbpedia_fasttext_{key}.bin"
    info: dict[str, Any] = {
        "params": FT_PARAMS,
        "normalization": "lower-tokenize",
        "cache": str(path.relative_to(ROOT)),
        "cached": path.is_file(),
        "train_seconds": None,
    }
    if not path.is_file():
        train_labels, train_texts = load_split("train")
        train_file = CACHE / f"dbpedia_train_{key}.txt"
        with train_file.open("w", encoding="utf-8") as f:
            for y, t in zip(train_labels, normalize_texts(train_texts), strict=True):
                f.write(f"__label__{y} {t}\n")
        t0 = time.perf_counter()
        fasttext.train_supervised(str(train_file), **FT_PARAMS).save_model(str(path))
        info["train_seconds"] = time.perf_counter() - t0
        train_file.unlink()
    return path, info
