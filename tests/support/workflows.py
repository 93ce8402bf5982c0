"""The example abalone workflow, made quick, for tests that run it."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "abalone"


def quick_abalone_workflow(folder: Path, *, r2: float = 0.5, trees: int = 10, samples: int = 60) -> Path:
    """The example workflow, made quick (10 trees, 60 samples, 200 test rows) and with the given objective."""
    config = json.loads((EXAMPLE / "analysis_config.json").read_text())
    config["methods"]["shap"].update({"baseline": str(EXAMPLE / "baseline.csv"), "num_samples": samples})
    config["methods"].pop("report")
    (folder / "analysis_config.json").write_text(json.dumps(config))
    spec = yaml.safe_load((EXAMPLE / "workflow.yaml").read_text())
    train, explain, gate = spec["steps"][0], spec["steps"][1], spec["steps"][2]
    train["script"] = str(EXAMPLE / "train.py")
    train["args"] = ["--data", str(ROOT / "data" / "abalone" / "abalone.csv"), "--output", "{step}", "--trees",
                     str(trees)]  # fmt: skip
    explain["config"] = "analysis_config.json"
    gate["checks"][0][">="] = r2
    path = folder / "workflow.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path
