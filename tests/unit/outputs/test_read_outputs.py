"""Reading output folders back: Clarify's published layout, record selection, streaming, bad files."""

from __future__ import annotations

import json
import shutil
import tracemalloc
from pathlib import Path

import pytest

from openclarify.errors import ReportError
from openclarify.outputs import RecordSelection, read_output_folder

DATA = Path(__file__).resolve().parents[2] / "compat" / "data"


def test_reads_a_clarify_text_job():
    found = read_output_folder(DATA / "clarify_job_text")
    assert found.labels == ("label0",) and found.is_text
    assert found.n_records == 6 and found.n_failed == 0 and not found.has_predictions
    assert found.config is not None and found.config["methods"]["shap"]["text_config"]["granularity"] == "sentence"
    first = found.records[0]
    (feature,) = first.features
    assert feature.feature_name == "Review Text" and feature.data_type == "free_text"
    assert feature.units[0].attribution == (0.018564795006070663,)
    assert feature.units[1].partial_text == "i love this dress!" and feature.units[1].start_idx == 133
    assert found.summaries[0].global_top_shap_text["Review Text"]


def test_reads_a_clarify_tabular_job():
    found = read_output_folder(DATA / "clarify_job_tabular")
    assert found.labels == ("label0",) and not found.is_text and found.n_records == 5
    record = found.records[1]
    assert [f.feature_name for f in record.features] == ["Age", "Workclass", "fnlwgt"]
    assert [f.total(0) for f in record.features] == [-0.0589, 0.0301, -0.0077]
    assert record.total(0) == pytest.approx(-0.0365, abs=1e-15)


def _jsonl_folder(tmp_path: Path, values: list[list[float]], *, labels=("a", "b"), error_rows=()) -> Path:
    """A text output folder: record i has one unit per value pair in values[i]."""
    out = tmp_path / "out"
    (out / "explanations_shap").mkdir(parents=True)
    section = {lab: {"global_shap_values": {"t": 1.0}, "expected_value": 0.5} for lab in labels}
    (out / "analysis.json").write_text(json.dumps({"version": "1.0", "explanations": {"kernel_shap": section}}))
    with (out / "explanations_shap" / "out.jsonl").open("w") as fh:
        for i, row in enumerate(values):
            if i in error_rows:
                fh.write(json.dumps({"explanations": [], "error": "failed"}) + "\n")
                continue
            attributions = [
                {"attribution": [v, -v], "description": {"partial_text": f"w{i}_{j}", "start_idx": 4 * j}}
                for j, v in enumerate(row)
            ]
            fh.write(
                json.dumps(
                    {"explanations": [{"feature_name": "t", "data_type": "free_text", "attributions": attributions}]}
                )
                + "\n"
            )
    return out


def test_selection_first_top_and_ids(tmp_path):
    values = [[0.1, -0.1], [0.5, 0.4], [0.0], [-0.9], [0.2, 0.2, 0.2]]
    out = _jsonl_folder(tmp_path, values, error_rows=(2,))
    first = read_output_folder(out, RecordSelection.first(2))
    assert [r.row for r in first.records] == [0, 1] and first.n_records == 5 and first.n_failed == 1
    top = read_output_folder(out, RecordSelection.top(2), label="a")
    # total |attribution| per record: 0.2, 0.9, (failed), 0.9, 0.6 -> rows 1 and 3 (ties broken by row), input order
    assert [r.row for r in top.records] == [1, 3]
    ids = read_output_folder(out, RecordSelection.rows([4, 2, 9]))
    assert [r.row for r in ids.records] == [2, 4] and ids.missing_ids == (9,)
    assert ids.records[0].error == "failed" and ids.records[0].features == ()


def test_top_defaults_to_each_records_predicted_label(tmp_path):
    out = _jsonl_folder(tmp_path, [[0.3], [0.1]], labels=("a", "b"))
    (out / "explanations_shap" / "predictions.jsonl").write_text(
        json.dumps({"prediction": [0.2, 0.8], "label": "b"}) + "\n" + json.dumps({"prediction": [0.9, 0.1]}) + "\n"
    )
    found = read_output_folder(out, RecordSelection.top(1))
    assert found.has_predictions
    assert [r.row for r in found.records] == [0]
    assert found.records[0].prediction == (0.2, 0.8) and found.records[0].true_label == "b"


def test_a_hundred_thousand_records_make_a_small_report(tmp_path):
    """100,000 records: the report shows the 10 chosen ones and says so; the HTML stays small."""
    from openclarify.report import build_report, render_html

    out = _jsonl_folder(tmp_path, [[0.01 * (i % 7), 0.02] for i in range(100_000)])
    found = read_output_folder(out, RecordSelection.top(10), label="a")
    assert found.n_records == 100_000 and len(found.records) == 10
    assert all(r.abs_total(0) == pytest.approx(0.08) for r in found.records)
    assert [r.row for r in found.records] == [6, 13, 20, 27, 34, 41, 48, 55, 62, 69]  # ties: earliest rows
    report = build_report(found, label="a")
    html = render_html(report)
    assert len(html.encode()) < 1_000_000
    assert "Showing 10 of 100000 records: the 10 records with the largest total |attribution|" in html
    assert html.count('class="oc-record"') == 10


def test_reading_keeps_only_the_chosen_records_in_memory(tmp_path):
    out = _jsonl_folder(tmp_path, [[0.01, 0.02, 0.03] for _ in range(20_000)])  # a 3.8 MB file
    tracemalloc.start()
    found = read_output_folder(out, RecordSelection.top(10), label="a")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert found.n_records == 20_000 and len(found.records) == 10
    assert peak < 2e6, peak


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda out: (out / "analysis.json").unlink(), "has no analysis.json"),
        (lambda out: (out / "analysis.json").write_text("{not json"), r"not valid JSON \(line 1"),
        (lambda out: (out / "analysis.json").write_text('{"version": "1.0", "explanations": {}}'), "no 'kernel_shap'"),
        (
            lambda out: (out / "explanations_shap" / "out.jsonl").write_text(
                '{"explanations": [{"attributions": [{"attribution": [1.0, 2.0]}]}]}\n'
            ),
            "line 1: not a Clarify local explanation",
        ),
        (
            lambda out: (out / "explanations_shap" / "out.jsonl").write_text(
                json.dumps({"explanations": [{"feature_name": "t", "attributions": [{"attribution": [1.0]}]}]}) + "\n"
            ),
            "has 1 values but analysis.json has 2 labels",
        ),
    ],
)
def test_bad_folders_get_one_clear_error(tmp_path, setup, message):
    out = _jsonl_folder(tmp_path, [[0.1]])
    setup(out)
    with pytest.raises(ReportError, match=message):
        read_output_folder(out)


def test_unknown_label_and_bad_selection(tmp_path):
    out = _jsonl_folder(tmp_path, [[0.1]])
    with pytest.raises(ReportError, match=r"label: not a label of this analysis; got 'c'. The labels are \['a', 'b'\]"):
        read_output_folder(out, label="c")
    with pytest.raises(ReportError, match="must be record numbers >= 0"):
        RecordSelection.rows([-1])
    with pytest.raises(ReportError, match="integer >= 1"):
        RecordSelection.top(0)


def test_csv_with_join_source_and_failed_rows(tmp_path):
    out = tmp_path / "out"
    shutil.copytree(DATA / "clarify_job_tabular", out)
    (out / "explanations_shap" / "out.csv").write_text(
        "id,Age_label0,Workclass_label0,fnlwgt_label0\nr1,0.1,0.2,0.3\nr2,,,\nr3,-0.1,0.0,0.05\n"
    )
    found = read_output_folder(out, RecordSelection.first(3))
    assert found.n_failed == 1 and [r.join_source_value for r in found.records] == ["r1", "r2", "r3"]
    assert found.records[1].error is not None and found.records[1].features == ()
    assert found.records[2].total(0) == pytest.approx(-0.05)


def test_predictions_writer_keeps_labels_as_written(tmp_path):
    import numpy as np

    from openclarify.outputs import PredictionsJsonlWriter

    writer = PredictionsJsonlWriter(tmp_path / "p.jsonl")
    writer.write(np.array([[0.25, 0.75], [np.nan, np.nan], [1.0, 0.0]]), [3.0, float("nan"), "neg"])
    writer.close()
    lines = [json.loads(x) for x in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert lines == [
        {"prediction": [0.25, 0.75], "label": 3},
        {"prediction": None, "label": None},
        {"prediction": [1.0, 0.0], "label": "neg"},
    ]
