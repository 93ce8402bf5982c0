"""Golden-file compatibility suite: each case runs `openclarify analyze` and compares Clarify's output
layout exactly (files, JSON keys, CSV headers and column order) and the numbers within the case's
tolerance. Regenerate with ``pytest --update-golden`` (the run then fails so the diff gets reviewed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from openclarify.cli import main

CASES = Path(__file__).parent / "cases"


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def _compare_json(actual, expected, tol, where="analysis.json"):
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and list(actual) == list(expected), (
            f"{where}: keys {list(actual)} != {list(expected)}"
        )
        for key in expected:
            _compare_json(actual[key], expected[key], tol, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: {actual!r} != {expected!r}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _compare_json(a, e, tol, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=tol["rtol"], abs=tol["atol"]), where
    else:
        assert actual == expected, where


def _check_predictions(out: Path) -> None:
    """predictions.jsonl has one line per record; for tabular outputs expected_value + Σφ is the score."""
    text = (out / "explanations_shap" / "predictions.jsonl").read_text(encoding="utf-8")
    predictions = [json.loads(x)["prediction"] for x in text.splitlines()]
    section = json.loads((out / "analysis.json").read_text())["explanations"]["kernel_shap"]
    local = out / "explanations_shap" / "out.csv"
    if local.exists():
        table = pd.read_csv(local)
        assert len(predictions) == len(table)
        for k, (label, entry) in enumerate(section.items()):
            columns = [f"{f}_{label}" for f in entry["global_shap_values"]]
            totals = entry["expected_value"] + table[columns].sum(axis=1).to_numpy()
            np.testing.assert_allclose([p[k] for p in predictions], totals, rtol=1e-9, atol=1e-9)
    else:
        lines = (out / "explanations_shap" / "out.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(predictions) == len(lines)
        assert all(len(p) == len(section) for p in predictions)


@pytest.mark.filterwarnings("ignore::openclarify.OpenClarifyWarning")  # e.g. a record with empty text
@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_golden_case(case, tmp_path, request, capsys):
    src = CASES / case
    work = tmp_path / case
    shutil.copytree(src, work, ignore=shutil.ignore_patterns("expected"))
    data = next(p for p in work.iterdir() if p.name.startswith("dataset"))
    code = main(
        [
            "analyze",
            "--config",
            str(work / "analysis_config.json"),
            "--data",
            str(data),
            "--model",
            f"{work / 'model.py'}:predict",
            "--output",
            str(work / "out"),
            "--quiet",
            "--chunk-size",
            "7",
        ]
    )
    assert code == 0, capsys.readouterr().err
    expected_dir = src / "expected"
    if request.config.getoption("--update-golden"):
        shutil.rmtree(expected_dir, ignore_errors=True)
        shutil.copytree(work / "out", expected_dir)
        pytest.fail(f"golden files of {case} rewritten; review and commit the diff")
    assert expected_dir.is_dir(), f"{case}: no expected/ folder; run pytest --update-golden"
    tol = json.loads((src / "tolerance.json").read_text())
    # Clarify's files, plus what openclarify adds next to them (run facts, per-record scores, the config)
    additions = {"run_summary.json", "analysis_config.json", "explanations_shap/predictions.jsonl"}
    report = json.loads((src / "analysis_config.json").read_text())["methods"].get("report")
    if report:
        additions |= {f"{report['name']}.{ext}" for ext in ("html", "pdf", "ipynb")}
    assert _files(work / "out") == sorted(set(_files(expected_dir)) | additions)
    _check_predictions(work / "out")
    _compare_json(
        json.loads((work / "out" / "analysis.json").read_text()),
        json.loads((expected_dir / "analysis.json").read_text()),
        tol,
    )
    for rel in _files(expected_dir):
        if rel.endswith(".csv"):
            header = (expected_dir / rel).read_text().splitlines()[0]
            assert (work / "out" / rel).read_text().splitlines()[0] == header, rel
    jsonl = expected_dir / "explanations_shap" / "out.jsonl"
    if jsonl.exists():
        got_lines = (work / "out" / "explanations_shap" / "out.jsonl").read_text(encoding="utf-8").splitlines()
        want_lines = jsonl.read_text(encoding="utf-8").splitlines()
        assert len(got_lines) == len(want_lines)
        for i, (got_line, want_line) in enumerate(zip(got_lines, want_lines, strict=True)):
            _compare_json(json.loads(got_line), json.loads(want_line), tol, f"out.jsonl line {i + 1}")
    local = expected_dir / "explanations_shap" / "out.csv"
    if local.exists():
        got = pd.read_csv(work / "out" / "explanations_shap" / "out.csv")
        want = pd.read_csv(local)
        for column in want.columns:
            if pd.api.types.is_float_dtype(want[column]):
                np.testing.assert_allclose(
                    got[column], want[column], rtol=tol["rtol"], atol=tol["atol"], err_msg=column
                )
            else:
                assert got[column].tolist() == want[column].tolist(), column
