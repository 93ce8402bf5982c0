"""Reading the bias sections of analysis.json: typed values, Clarify's layout, one clear error per bad entry."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from openclarify.errors import ReportError
from openclarify.outputs import BiasFacet, BiasGroup, BiasMetric, BiasStage, read_output_folder

DATA = Path(__file__).resolve().parents[2] / "compat" / "data"
REPORT_DATA = Path(__file__).resolve().parents[1] / "report" / "data"
BIAS_ONLY = REPORT_DATA / "clarify_job_bias"
SHAP_BIAS = REPORT_DATA / "clarify_job_shap_bias"
NO_GROUP = "Group variable is empty or not provided"


def test_reads_a_bias_only_job_into_typed_stages():
    found = read_output_folder(BIAS_ONLY)
    assert not found.has_shap and found.has_bias and found.pdp == () and found.records == ()
    assert found.labels == () and found.local_file is None and found.n_records == 0
    pre, post = found.bias  # pre-training first, whatever the file's order
    assert (pre.stage, post.stage) == ("pre_training", "post_training")
    assert found.pre_training_bias is pre and found.post_training_bias is post
    assert (pre.key, post.key) == ("pre_training_bias_metrics", "post_training_bias_metrics")
    assert post == BiasStage(
        "post_training",
        "Target",
        "1",
        (
            BiasFacet(
                "Sex",
                (
                    BiasGroup(
                        "0",
                        (
                            BiasMetric("AD", "Accuracy Difference (AD)", -0.15156641604010024),
                            BiasMetric(
                                "CDDPL",
                                "Conditional Demographic Disparity in Predicted Labels (CDDPL)",
                                None,
                                NO_GROUP,
                            ),
                            BiasMetric("DCR", "Difference in Conditional Rejection (DCR)", 0.0),
                            BiasMetric("DI", "Disparate Impact (DI)", math.inf),
                            BiasMetric(
                                "DPPL",
                                "Difference in Positive Proportions in Predicted Labels (DPPL)",
                                0.2199248120300752,
                            ),
                            BiasMetric("TE", "Treatment Equality (TE)", -math.inf),
                        ),
                    ),
                ),
            ),
        ),
    )
    assert [f.name for f in pre.facets] == ["Sex", "Race"]  # file order
    race = pre.facet("Race")
    assert race is not None and [g.value_or_threshold for g in race.groups] == ["White", "Black"]
    ci = race.groups[1].metric("CI")
    assert ci is not None and ci.value == 0.8 and ci.error is None
    assert race.groups[1].metric("DI") is None and pre.facet("Age") is None
    assert isinstance(post.facets[0].groups[0].metric("DCR").value, float)  # Clarify's int 0, as a float


def test_reads_shap_and_bias_together_and_shap_as_before():
    found = read_output_folder(SHAP_BIAS)
    plain = read_output_folder(DATA / "clarify_job_tabular")
    assert found.has_shap and found.labels == plain.labels and found.summaries == plain.summaries
    assert found.records == plain.records and found.n_records == plain.n_records == 5
    assert [b.stage for b in found.bias] == ["post_training"] and found.pre_training_bias is None
    assert plain.bias == () and not plain.has_bias  # a SHAP-only job, as before
    pdp = read_output_folder(REPORT_DATA / "clarify_job_pdp")
    assert pdp.bias == () and len(pdp.pdp) == 3


def _metric(**change: object) -> dict[str, object]:
    entry: dict[str, object] = {"name": "CI", "description": "Class Imbalance (CI)", "value": 0.25}
    entry.update(change)
    return {k: v for k, v in entry.items() if v is not None}


def _section(**change: object) -> dict[str, object]:
    section: dict[str, object] = {
        "label": "Target",
        "facets": {"Sex": [{"value_or_threshold": "0", "metrics": [_metric()]}]},
        "label_value_or_threshold": "1",
    }
    section.update(change)
    return {k: v for k, v in section.items() if v is not None}


def _folder(tmp_path: Path, analysis: dict[str, object]) -> Path:
    out = tmp_path / "bias"
    out.mkdir(parents=True, exist_ok=True)
    (out / "analysis.json").write_text(json.dumps(analysis))
    return out


def _groups(*metrics: object) -> dict[str, object]:
    return {"Sex": [{"value_or_threshold": "0", "metrics": list(metrics)}]}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (["x"], r"pre_training_bias_metrics: must be an object with 'label', 'facets'"),
        (_section(label={"a": 1}), r"pre_training_bias_metrics.label: must be the label column .*; got \{'a': 1\}"),
        (
            _section(label_value_or_threshold=[1]),
            r"pre_training_bias_metrics.label_value_or_threshold: must be the positive label values or threshold",
        ),
        (_section(facets={}), r"pre_training_bias_metrics.facets: must be a non-empty object"),
        (_section(facets={"Sex": {}}), r"pre_training_bias_metrics.facets.Sex: must be a non-empty list"),
        (_section(facets={"Sex": ["0"]}), r"facets.Sex\[0\]: must be a group entry \(an object\); got '0'"),
        (
            _section(facets={"Sex": [{"metrics": [_metric()]}]}),
            r"facets.Sex\[0\].value_or_threshold: must be the group's value .*; got None",
        ),
        (
            _section(facets={"Sex": [{"value_or_threshold": "0", "metrics": []}]}),
            r"facets.Sex\[0\].metrics: must be a non-empty list of metrics; got \[\]",
        ),
        (_section(facets=_groups(_metric(), 3)), r"facets.Sex\[0\].metrics\[1\]: must be a metric entry"),
        (_section(facets=_groups(_metric(name=""))), r"metrics\[0\].name: must be a metric code such as 'CI'"),
        (_section(facets=_groups(_metric(description=1))), r"metrics\[0\].description: must be a string; got 1"),
        (
            _section(facets=_groups(_metric(confidence_interval={"level": 2, "lower": 0, "upper": 1}))),
            r"metrics\[0\].confidence_interval.level: must be a number between 0 and 1; got 2",
        ),
        (
            _section(facets=_groups(_metric(confidence_interval={"level": 0.9, "lower": "x", "upper": 1}))),
            r"metrics\[0\].confidence_interval.lower: must be a number, 'Infinity', '-Infinity' or null; got 'x'",
        ),
        (
            _section(facets=_groups(_metric(value="inf"))),
            r"facets.Sex\[0\].metrics\[0\].value: must be a number, 'Infinity', '-Infinity' or null .*; got 'inf'",
        ),
        (_section(facets=_groups(_metric(value=True))), r"metrics\[0\].value: must be a number.*; got True"),
        (_section(facets=_groups(_metric(value=math.nan))), r"metrics\[0\].value: must be a number.*; got nan"),
        (_section(facets=_groups(_metric(value=None, error=["x"]))), r"metrics\[0\].error: must be a message"),
    ],
)
def test_bad_bias_sections_get_one_clear_error_naming_the_key(tmp_path, section, message):
    for key in ("pre_training_bias_metrics", "post_training_bias_metrics"):
        out = _folder(tmp_path / key, {"version": "1.0", key: section})
        with pytest.raises(ReportError, match=message.replace("pre_training", key.split("_bias")[0])) as info:
            read_output_folder(out)
        text = str(info.value)
        assert "\n" not in text
        assert text.startswith(f"analysis.json '{out / 'analysis.json'}': {key}")
        assert text.endswith("Give the analysis.json the job wrote, complete.")
    # the same check beside SHAP results
    shap = {"kernel_shap": {"label0": {"global_shap_values": {"Age": 0.1}, "expected_value": 0.5}}}
    out = _folder(tmp_path / "shap", {"version": "1.0", "explanations": shap, "pre_training_bias_metrics": section})
    with pytest.raises(ReportError, match=message):
        read_output_folder(out)


def test_values_clarify_may_write(tmp_path):
    metrics = [
        _metric(name="DI", value="-Infinity"),
        _metric(name="X", description=None, value=None),  # not computed, no reason given; no description
        _metric(name="CI", value=float("inf")),  # a bare Infinity token (Python's json)
        _metric(name="DCR", value=0),
    ]
    section = _section(label=3, label_value_or_threshold=0.5, facets=_groups(*metrics))
    found = read_output_folder(_folder(tmp_path, {"version": "1.0", "post_training_bias_metrics": section}))
    (stage,) = found.bias
    assert (stage.stage, stage.label, stage.label_value_or_threshold) == ("post_training", "3", "0.5")
    assert [(m.name, m.description, m.value, m.error) for m in stage.facets[0].groups[0].metrics] == [
        ("DI", "Class Imbalance (CI)", -math.inf, None),
        ("X", "", None, None),
        ("CI", "Class Imbalance (CI)", math.inf, None),
        ("DCR", "Class Imbalance (CI)", 0.0, None),
    ]
    # an empty explanations object beside bias metrics is no error; a null section is no section
    found = read_output_folder(
        _folder(
            tmp_path / "b",
            {"explanations": {}, "pre_training_bias_metrics": _section(), "post_training_bias_metrics": None},
        )
    )
    assert [b.stage for b in found.bias] == ["pre_training"] and not found.has_shap


@pytest.mark.parametrize(
    ("analysis", "message"),
    [
        ({"version": "1.0"}, r"has no 'explanations', 'pre_training_bias_metrics' or 'post_training_bias_metrics'"),
        ({"version": "1.0", "post_training_bias_metrics": None}, r"has no 'explanations', 'pre_training_bias"),
        ({"explanations": []}, r"explanations must be an object \(kernel_shap, pdp\); got \[\]"),
        ({"explanations": {}}, r"explanations has no 'kernel_shap' or 'pdp' results; got \[\]"),
    ],
)
def test_an_analysis_without_explanations_or_bias_is_refused(tmp_path, analysis, message):
    with pytest.raises(ReportError, match=message):
        read_output_folder(_folder(tmp_path, analysis))


def _counts_folder(tmp_path: Path, counts: object) -> Path:
    import shutil

    folder = tmp_path / "job"
    shutil.copytree(BIAS_ONLY, folder)
    (folder / "post_training_bias_counts.json").write_text(json.dumps(counts))
    return folder


def _post_counts(folder: Path) -> dict:
    """Counts matching the fixture's post-training groups, one record each side."""
    analysis = json.loads((folder / "analysis.json").read_text())["post_training_bias_metrics"]
    one = {"records": [3, 5], "positive_labels": [1, 2], "positive_predictions": [2, 2]}
    one["confusion_matrix"] = [[1, 1, 0, 1], [1, 1, 1, 2]]
    return {
        "label": analysis["label"],
        "facets": {
            name: [{"value_or_threshold": g["value_or_threshold"], **one} for g in groups]
            for name, groups in analysis["facets"].items()
        },
    }


def test_reads_the_counts_behind_the_metrics(tmp_path):
    folder = _counts_folder(tmp_path, {})
    (folder / "post_training_bias_counts.json").write_text(json.dumps(_post_counts(folder)))
    found = read_output_folder(folder)
    post = next(s for s in found.bias if s.stage == "post_training")
    counts = post.facets[0].groups[0].counts
    assert counts is not None and counts.records == (3, 5) and counts.confusion == ((1, 1, 0, 1), (1, 1, 1, 2))
    pre = next(s for s in found.bias if s.stage == "pre_training")
    assert all(g.counts is None for f in pre.facets for g in f.groups)  # no counts file for that stage


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(facets=[]), r"bias counts '.*': must be an object with 'facets'"),
        (lambda c: next(iter(c["facets"].values())).pop(), r"must list the \d+ groups of analysis.json"),
        (
            lambda c: next(iter(c["facets"].values()))[0].update(value_or_threshold="zz"),
            r"\[0\]\.value_or_threshold: must be '.*', as in analysis.json; got 'zz'. Give the counts file",
        ),
        (
            lambda c: next(iter(c["facets"].values()))[0].update(records=[1]),
            r"\[0\]\.records: must be \[group, others\]",
        ),
        (
            lambda c: next(iter(c["facets"].values()))[0].update(confusion_matrix=[[1, 2, 3]]),
            r"\[0\]\.confusion_matrix: must be \[\[TP, FP, FN, TN\]",
        ),
    ],
)
def test_bad_counts_files_get_one_clear_error(tmp_path, change, message):
    folder = _counts_folder(tmp_path, {})
    counts = _post_counts(folder)
    change(counts)
    (folder / "post_training_bias_counts.json").write_text(json.dumps(counts))
    with pytest.raises(ReportError, match=message) as err:
        read_output_folder(folder)
    assert "\n" not in str(err.value)
