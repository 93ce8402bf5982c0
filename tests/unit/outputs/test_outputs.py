"""Output layout, aggregation and atomic staging."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from openclarify.outputs import (
    GlobalAggregator,
    LocalShapCsvWriter,
    OutputStaging,
    aggregate,
    kernel_shap_section,
    write_analysis_json,
    write_baseline_csv,
)

phis = arrays(
    np.float64, st.tuples(st.integers(1, 20), st.integers(1, 5), st.integers(1, 3)), elements=st.floats(-1e6, 1e6)
)


@given(phis)
def test_aggregations_agree_with_numpy(phi):
    np.testing.assert_allclose(aggregate(phi, "mean_abs"), np.abs(phi).mean(axis=0))
    np.testing.assert_allclose(aggregate(phi, "median"), np.median(phi, axis=0))
    np.testing.assert_allclose(aggregate(phi, "mean_sq"), (phi**2).mean(axis=0), rtol=1e-12)
    assert (aggregate(phi, "mean_abs") >= 0).all()


@given(phis, st.integers(1, 7))
def test_chunked_aggregation_equals_whole(phi, cut):
    for method in ("mean_abs", "median", "mean_sq"):
        agg = GlobalAggregator(method)
        agg.add(phi[:cut])
        agg.add(phi[cut:])
        np.testing.assert_allclose(agg.result(), aggregate(phi, method), rtol=1e-12)


def test_analysis_json_layout(tmp_path):
    section = kernel_shap_section(
        ["cat", "dog"], ["Age", "Income"], np.array([[0.5, 0.25], [1.5, 0.125]]), np.array([0.75, 0.25])
    )
    write_analysis_json(tmp_path / "analysis.json", {"kernel_shap": section})
    assert json.loads((tmp_path / "analysis.json").read_text()) == {
        "version": "1.0",
        "explanations": {
            "kernel_shap": {
                "cat": {"global_shap_values": {"Age": 0.5, "Income": 1.5}, "expected_value": 0.75},
                "dog": {"global_shap_values": {"Age": 0.25, "Income": 0.125}, "expected_value": 0.25},
            }
        },
    }


def test_local_csv_columns_label_major_with_join_source(tmp_path):
    writer = LocalShapCsvWriter(tmp_path / "out.csv", ["a", "b"], ["label0", "label1"], "id")
    phi = np.arange(8, dtype=float).reshape(2, 2, 2)  # (records, features, outputs)
    writer.write(phi, ["r1", "r2"])
    writer.close()
    assert (tmp_path / "out.csv").read_text().splitlines() == [
        "id,a_label0,b_label0,a_label1,b_label1",
        "r1,0.0,2.0,1.0,3.0",
        "r2,4.0,6.0,5.0,7.0",
    ]


def test_local_csv_round_trips_full_precision(tmp_path):
    phi = np.array([[[0.1 + 1e-17], [1 / 3]]])
    writer = LocalShapCsvWriter(tmp_path / "out.csv", ["x", "y"], ["label0"], None)
    writer.write(phi)
    writer.close()
    back = np.array(
        [[float(v) for v in line.split(",")] for line in (tmp_path / "out.csv").read_text().splitlines()[1:]]
    )
    assert np.array_equal(back, phi[:, :, 0])


def test_baseline_csv_has_no_header(tmp_path):
    write_baseline_csv(tmp_path / "b.csv", pd.DataFrame({"Sex": ["M"], "Length": [0.5]}))
    assert (tmp_path / "b.csv").read_text() == "M,0.5\n"


def test_staging_commits_only_on_success(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with OutputStaging(out) as stage:
            stage.path("analysis.json").write_text("{}")
            raise RuntimeError("interrupted")
    assert not out.exists()  # the failed job created it, and leaves nothing behind
    with OutputStaging(out) as stage:
        stage.path("explanations_shap/out.csv").write_text("a\n")
        stage.path("analysis.json").write_text("{}")
        stage.commit()
    assert sorted(p.name for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")) == [
        "analysis.json",
        "out.csv",
    ]
    # the bookkeeping: the lock and the manifest, no staging left
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".openclarify")) == [
        ".openclarify-manifest.json",
        ".openclarify.lock",
    ]


@given(phis, st.lists(st.integers(1, 9), min_size=1, max_size=6))
def test_aggregation_is_bit_identical_for_any_chunking(phi, cuts):
    for method in ("mean_abs", "mean_sq"):
        whole = GlobalAggregator(method, block=4)
        whole.add(phi)
        chunked = GlobalAggregator(method, block=4)
        start = 0
        for cut in cuts:
            chunked.add(phi[start : start + cut])
            start += cut
        chunked.add(phi[start:])
        assert np.array_equal(whole.result(), chunked.result())
