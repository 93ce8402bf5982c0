"""The DBpedia and reviews demos (examples/*/run_demo.py) end to end, in a temporary work folder."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _demo(name: str):
    spec = importlib.util.spec_from_file_location(f"demo_{name}", EXAMPLES / name / "run_demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_dbpedia_demo(tmp_path, capsys):
    facts = _demo("dbpedia").run(tmp_path)
    printed = capsys.readouterr().out
    assert "$ openclarify train --train" in printed and "$ openclarify analyze --config" in printed
    assert facts["test_accuracy"] > 0.9  # 0.949 with the demo's settings
    assert facts["n_explained"] == 42 == len(_jsonl(tmp_path / "clarify_output" / "explanations_shap" / "out.jsonl"))
    assert facts["river_prediction"] == "NaturalPlace"
    tokens = [t for t, _ in facts["river_tokens"]]
    assert sorted(tokens) == sorted("Klosterbeurener Bach is a river of Bavaria Germany .".split())
    assert tokens[0] == "river"
    assert facts["top_tokens"]["NaturalPlace"][0] == "river"


def test_reviews_demo(tmp_path, capsys):
    facts = _demo("reviews").run(tmp_path)
    printed = capsys.readouterr().out
    assert "sentence attributions for" in printed
    assert facts["accuracy"] > facts["majority_accuracy"] + 0.03  # 0.945 vs 0.880
    assert facts["balanced_accuracy"] > 0.75  # 0.840
    assert facts["recall_negative"] > 0.5  # 0.70
    lines = _jsonl(tmp_path / "clarify_output" / "explanations_shap" / "out.jsonl")
    assert facts["n_explained"] == len(lines) == 20
    assert min(facts["n_sentences"]) >= 3  # chosen for 4+ sentence ends; spaCy may join two
    for line in lines:
        (feature,) = line["explanations"]
        assert feature["feature_name"] == "Review Text" and feature["data_type"] == "free_text"
        assert all(len(u["attribution"]) == 2 for u in feature["attributions"])
