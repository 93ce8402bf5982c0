"""A 3-class softmax model on three numeric features and one categorical feature."""

import numpy as np

COLOUR = {"red": 1.0, "green": 0.0, "blue": -1.0}


def predict(df):
    colour = df["colour"].map(COLOUR).to_numpy(dtype=float)
    logits = np.stack([df["a"] + colour, df["b"] * df["a"], df["d"] - colour], axis=1).astype(float)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
