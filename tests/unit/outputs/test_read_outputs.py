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


PDP_DATA = Path(__file__).resolve().parents[1] / "report" / "data"
PDP_ERROR = "Detected data type is not supported for PDP. PDP can only be computed for numerical or categorical columns"


def test_reads_a_pdp_only_job_without_explanations_shap():
    from openclarify.outputs import PdpFeature

    found = read_output_folder(PDP_DATA / "clarify_job_pdp")
    assert not (PDP_DATA / "clarify_job_pdp" / "explanations_shap").exists()
    assert not found.has_shap and found.labels == () and found.summaries == () and found.records == ()
    assert found.local_file is None and found.n_records == 0 and found.config is not None
    assert found.pdp == (
        PdpFeature("Age", "numerical", (20.87, 24.6, 28.33), (0.05, 0.165, 0.15), ((0.70, 0.67, 0.70),), ("label0",)),
        PdpFeature(
            "Animal",
            "categorical",
            ("Cat", "Dog"),
            (0.1, 0.9),
            ((0.81, 0.78), (0.19, 0.22)),
            ("cat_lover", "dog_lover"),
        ),
        PdpFeature("text_column", "free_text", error=PDP_ERROR),
    )
    assert not found.pdp[0].is_categorical and found.pdp[1].is_categorical


def test_reads_a_job_with_shap_and_pdp():
    found = read_output_folder(PDP_DATA / "clarify_job_shap_pdp")
    plain = read_output_folder(DATA / "clarify_job_tabular")
    assert found.has_shap and found.labels == plain.labels and found.summaries == plain.summaries
    assert found.records == plain.records and found.n_records == 5 and found.local_file == plain.local_file
    assert [f.feature_name for f in found.pdp] == ["Age", "Animal", "text_column"]
    assert plain.pdp == () and plain.has_shap  # a SHAP-only job, as before


def test_a_pdp_only_folder_ignores_stray_local_values_and_refuses_a_label(tmp_path):
    out = tmp_path / "out"
    shutil.copytree(PDP_DATA / "clarify_job_pdp", out)
    (out / "explanations_shap").mkdir()
    (out / "explanations_shap" / "out.csv").write_text("Age_label0\n0.1\n")  # no kernel_shap to read it with
    found = read_output_folder(out)
    assert found.local_file is None and found.records == () and len(found.pdp) == 3
    with pytest.raises(ReportError, match=r"label: this analysis has no SHAP results.*; got 'label0'"):
        read_output_folder(out, label="label0")


def _pdp_folder(tmp_path: Path, pdp: object, *, shap: bool = False) -> Path:
    out = tmp_path / "pdp"
    out.mkdir(parents=True)
    explanations: dict[str, object] = {"pdp": pdp}
    if shap:
        explanations["kernel_shap"] = {"label0": {"global_shap_values": {"Age": 0.1}, "expected_value": 0.5}}
    (out / "analysis.json").write_text(json.dumps({"version": "1.0", "explanations": explanations}))
    return out


def _age(**change: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "feature_name": "Age",
        "data_type": "numerical",
        "feature_values": [20.0, 30.0],
        "data_distribution": [0.4, 0.6],
        "model_predictions": [[0.7, 0.6], [0.3, 0.4]],
        "label_headers": ["a", "b"],
    }
    entry.update(change)
    return {k: v for k, v in entry.items() if v is not None}


@pytest.mark.parametrize(
    ("pdp", "message"),
    [
        ({"Age": {}}, r"explanations.pdp: must be a list of feature entries; got \{'Age'"),
        (["Age"], r"explanations.pdp\[0\]: must be a feature entry \(an object\); got 'Age'"),
        ([_age(feature_name=None)], r"pdp\[0\].feature_name: must be a feature name; got None"),
        ([_age(), _age(data_type="free_text")], r"pdp\[1\].data_type: must be one of 'numerical', 'categorical'"),
        ([_age(error=["x"])], r"pdp\[0\].error: must be a message \(a string\); got \['x'\]"),
        ([_age(feature_values=[])], r"pdp\[0\].feature_values: must be a non-empty list; got \[\]"),
        ([_age(feature_values=[20.0, "thirty"])], r"pdp\[0\].feature_values: must hold finite numbers; got 'thirty'"),
        ([_age(feature_values=[20.0, True])], r"pdp\[0\].feature_values: must hold finite numbers; got True"),
        (
            [_age(data_type="categorical", feature_values=["a", {"b": 1}])],
            r"pdp\[0\].feature_values: must be single values",
        ),
        (
            [_age(data_distribution=[0.4, 0.3, 0.3])],
            r"pdp\[0\].data_distribution: has 3 values but feature_values has 2; got \[0.4, 0.3, 0.3\]",
        ),
        ([_age(data_distribution=None)], r"pdp\[0\].data_distribution: must be a list of 2 numbers; got None"),
        ([_age(data_distribution=[0.4, -0.1])], r"pdp\[0\].data_distribution: fractions of records must be >= 0"),
        ([_age(model_predictions=[])], r"pdp\[0\].model_predictions: must be a non-empty list, one list per label"),
        (
            [_age(model_predictions=[[0.7, 0.6], [0.3]])],
            r"pdp\[0\].model_predictions\[1\]: has 1 values but feature_values has 2",
        ),
        ([_age(model_predictions=[[0.7, float("nan")], [0.3, 0.4]])], r"model_predictions\[0\]: must hold finite"),
        ([_age(model_predictions=[[0.7, float("inf")], [0.3, 0.4]])], r"model_predictions\[0\]: must hold finite"),
        (
            [_age(label_headers=["a"])],
            r"pdp\[0\].label_headers: has 1 names but model_predictions has 2 lists \(one per label\)",
        ),
        ([_age(label_headers="ab")], r"pdp\[0\].label_headers: must be a list of label names; got 'ab'"),
    ],
)
def test_bad_pdp_entries_get_one_clear_error(tmp_path, pdp, message):
    out = _pdp_folder(tmp_path, pdp)
    with pytest.raises(ReportError, match=message) as info:
        read_output_folder(out)
    assert str(info.value).startswith(f"analysis.json '{out / 'analysis.json'}': explanations.pdp")
    assert str(info.value).endswith("Give the analysis.json the job wrote, complete.")
    with pytest.raises(ReportError, match=message):  # the same check beside SHAP results
        read_output_folder(_pdp_folder(tmp_path / "shap", pdp, shap=True))


def test_pdp_entries_clarify_may_write(tmp_path):
    entries = [
        _age(label_headers=None),  # no label_headers: Clarify's default names
        _age(
            feature_name=3,
            data_type="categorical",
            feature_values=[1, True],
            model_predictions=[[0.5, 0.5]],
            label_headers=None,
        ),
        {"feature_name": "notes", "data_type": "free_text", "error": "not supported"},
        {"feature_name": "x", "error": "failed"},  # an error, whatever the data type
    ]
    found = read_output_folder(_pdp_folder(tmp_path, entries))
    assert found.pdp[0].label_headers == ("label0", "label1")
    assert found.pdp[1].feature_name == "3" and found.pdp[1].feature_values == ("1", "true")  # as JSON
    assert found.pdp[1].label_headers == ("label0",)
    assert [(f.data_type, f.error, f.feature_values) for f in found.pdp[2:]] == [
        ("free_text", "not supported", ()),
        ("", "failed", ()),
    ]


def test_an_analysis_without_shap_or_pdp_is_refused(tmp_path):
    out = _pdp_folder(tmp_path, [])
    with pytest.raises(ReportError, match=r"explanations has no 'kernel_shap' or 'pdp' results; got \['pdp'\]"):
        read_output_folder(out)
