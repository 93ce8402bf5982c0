"""A small scikit-learn job on the bundled abalone data, for tests that need a real pipeline model."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FEATURES = ["Sex", "Length", "Diameter", "Height", "Whole_weight", "Shucked_weight", "Viscera_weight",
            "Shell_weight"]  # fmt: skip


def abalone_classifier(folder: Path) -> None:
    """``model.joblib`` (is an abalone old, Rings > 9? a pipeline of one-hot Sex and a logistic regression,
    fitted on 800 abalones) and ``test.csv`` (200 others, the label column ``old``) in ``folder``."""
    import joblib
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.read_csv(ROOT / "data" / "abalone" / "abalone.csv")
    frame["old"] = (frame["Rings"] > 9).astype(int)
    model = Pipeline(
        [
            ("cols", ColumnTransformer([("num", "passthrough", FEATURES[1:]), ("sex", OneHotEncoder(), ["Sex"])])),
            ("lr", LogisticRegression(max_iter=500)),
        ]
    ).fit(frame[FEATURES].iloc[:800], frame["old"].iloc[:800])
    joblib.dump(model, folder / "model.joblib")
    frame[[*FEATURES, "old"]].iloc[800:1000].to_csv(folder / "test.csv", index=False)
