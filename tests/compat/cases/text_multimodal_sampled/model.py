"""A nonlinear two-output model of a rating, a review text and a size (probabilities of two classes).

Word weights, an interaction between "not" and "good", and terms that mix the text with the tabular
features, so no part of the game is additive and a seeded sampled run pins the sampler.
"""

import numpy as np

WEIGHTS = {"good": 1.5, "great": 2.0, "love": 1.2, "bad": -1.8, "small": -0.6, "not": -0.4, "returned": -1.0}


def predict(df):
    out = []
    for rating, text, size in zip(df["rating"], df["review"], df["size"], strict=True):
        words = [w.strip(".,!?").lower() for w in str(text).split()]
        s = sum(WEIGHTS.get(w, 0.0) for w in words)
        if "not" in words and "good" in words:
            s -= 2.0
        s += 0.4 * (float(rating) - 3.0) * (1.0 + 0.1 * len(words)) + (0.5 if size == "S" else -0.2)
        p = 1.0 / (1.0 + np.exp(-s))
        out.append([1.0 - p, p])
    return np.array(out)
