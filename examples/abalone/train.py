"""The abalone workflow's train step: the demo's random forest pipeline, its metrics, its held-out data.

``python examples/abalone/train.py --data data/abalone/abalone.csv --output DIR [--trees N]`` writes
``DIR/model.joblib``, ``DIR/metrics.json`` (``{"r2": ..., "n_train": ..., "n_test": ...}``) and ``DIR/test.csv``
(the held-out 20%, with the label column ``Rings``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--trees", type=int, default=100)
    args = parser.parse_args()
    frame = pd.read_csv(args.data)
    train_set, test_set = train_test_split(frame, test_size=0.2, random_state=0)
    features = [c for c in frame.columns if c != "Rings"]
    numeric = [c for c in features if c != "Sex"]
    columns = ColumnTransformer(
        [("numeric", "passthrough", numeric), ("sex", OneHotEncoder(handle_unknown="ignore"), ["Sex"])]
    )
    forest = RandomForestRegressor(n_estimators=args.trees, min_samples_leaf=5, random_state=0, n_jobs=1)
    model = Pipeline([("columns", columns), ("forest", forest)]).fit(train_set[features], train_set["Rings"])
    args.output.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, args.output / "model.joblib")
    test_set.to_csv(args.output / "test.csv", index=False)
    r2 = float(model.score(test_set[features], test_set["Rings"]))
    metrics = {"r2": r2, "n_train": len(train_set), "n_test": len(test_set)}
    (args.output / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"trained on {len(train_set)} abalones; test R^2 = {r2:.3f}")


if __name__ == "__main__":
    main()
