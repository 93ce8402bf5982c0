"""run_analysis on text datasets: out.jsonl, global_top_shap_text, multi-modal records, formats, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from openclarify import ConfigError, parse_analysis_config, run_analysis
from openclarify.errors import DataError, OpenClarifyWarning
from openclarify.models import CallablePredictor
from openclarify.shapley import kernel_shap_text
from openclarify.text import Segmenter

WEIGHTS = {"good": 2.0, "love": 1.5, "bad": -1.75, "dress": 0.25, "not": -0.5}


def _proba(df: pd.DataFrame) -> np.ndarray:
    text = df["review"] if "review" in df else df.iloc[:, 0]
    s = np.array([sum(WEIGHTS.get(t.strip(".,!").lower(), 0.0) for t in str(x).split()) for x in text])
    if "stars" in df:
        s = s + 0.5 * (df["stars"].to_numpy(dtype=float) - 3) + np.where(df["size"] == "small", 0.3, -0.1)
    p = 1 / (1 + np.exp(-s))
    return np.stack([1 - p, p], axis=1)


MODEL = CallablePredictor(_proba, name="proba")
REVIEWS = [
    "I love this dress! It is good.",
    "Bad fit, not good at all.",
    "",
    "The dress is good. I love it. Not bad.",
    "ok",
]


def _config(granularity="token", language="english", **shap):
    return parse_analysis_config(
        {
            "dataset_type": "text/csv",
            "headers": ["review"],
            "predictor": {"content_type": "text/csv", "label_headers": ["negative", "positive"]},
            "methods": {
                "shap": {
                    "save_local_shap_values": True,
                    "baseline": [["<UNK>"]],
                    "seed": 5,
                    "text_config": {"granularity": granularity, "language": language, "max_top_tokens": 4},
                    **shap,
                }
            },
        }
    )


def _write(path, texts):
    pd.DataFrame({"review": texts}).to_csv(path, index=False, header=False)


def _lines(out):
    return [json.loads(line) for line in (out / "explanations_shap" / "out.jsonl").read_text().splitlines()]


def test_token_job_writes_clarify_jsonl_and_top_tokens(tmp_path):
    _write(tmp_path / "d.csv", REVIEWS)
    with pytest.warns(OpenClarifyWarning, match="1 records have a text with no units"):
        res = run_analysis(_config(num_samples=2000), model=MODEL, output_dir=tmp_path / "out", data=tmp_path / "d.csv")
    lines = _lines(tmp_path / "out")
    assert len(lines) == len(REVIEWS) == res.n_rows
    first = lines[0]["explanations"][0]
    assert first["feature_name"] == "review" and first["data_type"] == "free_text"
    units = [(a["description"]["partial_text"], a["description"]["start_idx"]) for a in first["attributions"]]
    assert units == [
        ("I", 0),
        ("love", 2),
        ("this", 7),
        ("dress", 12),
        ("!", 17),
        ("It", 19),
        ("is", 22),
        ("good", 25),
        (".", 29),
    ]
    assert all(len(a["attribution"]) == 2 for a in first["attributions"])
    assert lines[2]["explanations"][0]["attributions"] == []
    # efficiency per record, with that record's own base value (all units replaced)
    seg = Segmenter("token", "en")
    for text, line in zip(REVIEWS, lines, strict=True):
        phi = np.array([a["attribution"] for a in line["explanations"][0]["attributions"]]).reshape(-1, 2)
        masked = " ".join("<UNK>" for _ in seg(text)) if text else ""
        expected = _proba(pd.DataFrame({"review": [text]}))[0] - _proba(pd.DataFrame({"review": [masked]}))[0]
        if text:
            np.testing.assert_allclose(phi.sum(0), expected, atol=1e-9)
    analysis = json.loads((tmp_path / "out" / "analysis.json").read_text())
    section = analysis["explanations"]["kernel_shap"]
    assert list(section) == ["negative", "positive"]
    # global_top_shap_text: mean |phi| of each unit text over all its occurrences, top 4, largest first
    occurrences: dict[str, list[float]] = {}
    for line in lines:
        for a in line["explanations"][0]["attributions"]:
            occurrences.setdefault(a["description"]["partial_text"], []).append(abs(a["attribution"][1]))
    agg = {u: float(np.mean(v)) for u, v in occurrences.items()}
    top = sorted(agg.items(), key=lambda kv: (-kv[1], kv[0]))[:4]
    got = section["positive"]["global_top_shap_text"]["review"]
    assert list(got) == [u for u, _ in top]
    np.testing.assert_allclose(list(got.values()), [v for _, v in top], rtol=1e-12)
    # global_shap_values: the text feature's record value is the sum of its units
    totals = [abs(sum(a["attribution"][1] for a in line["explanations"][0]["attributions"])) for line in lines]
    assert section["positive"]["global_shap_values"]["review"] == pytest.approx(np.mean(totals), rel=1e-12)
    assert (tmp_path / "out" / "explanations_shap" / "baseline.csv").read_text() == "<UNK>\n"
    assert not (tmp_path / "out" / "explanations_shap" / "out.csv").exists()


def test_sentence_granularity_units_and_chunk_invariance(tmp_path):
    _write(tmp_path / "d.csv", REVIEWS * 3)
    cfg = _config("sentence", num_samples=50)
    with pytest.warns(OpenClarifyWarning):
        run_analysis(cfg, model=MODEL, output_dir=tmp_path / "a", data=tmp_path / "d.csv")
    with pytest.warns(OpenClarifyWarning):
        run_analysis(
            cfg, model=MODEL, output_dir=tmp_path / "b", data=tmp_path / "d.csv", chunksize=2, max_batch_rows=3
        )
    a = (tmp_path / "a" / "explanations_shap" / "out.jsonl").read_text()
    assert a == (tmp_path / "b" / "explanations_shap" / "out.jsonl").read_text()
    assert (tmp_path / "a" / "analysis.json").read_text() == (tmp_path / "b" / "analysis.json").read_text()
    units = [x["description"] for x in _lines(tmp_path / "a")[3]["explanations"][0]["attributions"]]
    assert units == [
        {"partial_text": "The dress is good.", "start_idx": 0},
        {"partial_text": "I love it.", "start_idx": 19},
        {"partial_text": "Not bad.", "start_idx": 30},
    ]


def test_multimodal_record_with_join_source(tmp_path):
    frame = pd.DataFrame(
        {
            "id": ["r1", "r2", "r3"],
            "stars": [5, 1, 3],
            "review": ["I love this dress, it is good", "bad and not good, really bad", "the dress is ok I think"],
            "size": ["small", "large", "small"],
        }
    )
    frame.to_csv(tmp_path / "d.csv", index=False)
    cfg = parse_analysis_config(
        {
            "dataset_type": "text/csv",
            "joinsource_name_or_index": "id",
            "predictor": {"content_type": "text/csv"},
            "methods": {
                "shap": {
                    "baseline": [[3, "[MASK]", "large"]],
                    "save_local_shap_values": True,
                    "num_samples": 4000,
                    "seed": 1,
                    "text_config": {"granularity": "token", "language": "en"},
                }
            },
        }
    )
    res = run_analysis(cfg, model=MODEL, output_dir=tmp_path / "out", data=tmp_path / "d.csv")
    assert res.text_columns == ("review",)
    lines = _lines(tmp_path / "out")
    assert [line["join_source_value"] for line in lines] == ["r1", "r2", "r3"]
    kinds = [(e["feature_name"], e["data_type"]) for e in lines[0]["explanations"]]
    assert kinds == [("stars", "numerical"), ("review", "free_text"), ("size", "categorical")]
    assert "description" not in lines[0]["explanations"][0]["attributions"][0]
    # the same values as the estimator on the same records (players: stars, units..., size)
    direct = kernel_shap_text(
        MODEL,
        frame[["stars", "review", "size"]].astype({"stars": float}),
        pd.DataFrame({"stars": [3.0], "review": ["[MASK]"], "size": ["large"]}),
        text_columns=["review"],
        num_samples=4000,
        seed=1,
    )
    for i, line in enumerate(lines):
        flat = [a["attribution"] for e in line["explanations"] for a in e["attributions"]]
        np.testing.assert_array_equal(np.array(flat), direct.phi[i])


def test_jsonlines_text_dataset_and_no_local_file(tmp_path):
    rows = [{"features": [t], "label": 1} for t in REVIEWS if t]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = parse_analysis_config(
        {
            "dataset_type": "application/jsonlines",
            "features": "features",
            "label": "label",
            "headers": ["review", "label"],
            "predictor": {"content_type": "application/jsonlines", "content_template": '{"features":$features}'},
            "methods": {
                "shap": {
                    "save_local_shap_values": False,
                    "seed": 2,
                    "text_config": {"granularity": "paragraph", "language": "xx"},
                }
            },
        }
    )
    res = run_analysis(cfg, model=MODEL, output_dir=tmp_path / "out", data=tmp_path / "d.jsonl")
    assert res.n_rows == 4
    assert not (tmp_path / "out" / "explanations_shap" / "out.jsonl").exists()
    section = json.loads((tmp_path / "out" / "analysis.json").read_text())["explanations"]["kernel_shap"]
    # one paragraph per review, default baseline '<PAD>'
    assert set(section["label1"]["global_top_shap_text"]["review"]) == {t for t in REVIEWS if t}
    assert (tmp_path / "out" / "explanations_shap" / "baseline.csv").read_text() == "<PAD>\n"


def test_numbers_in_the_only_text_column_are_text(tmp_path):
    (tmp_path / "d.csv").write_text("5\n2.5\n")
    res = run_analysis(_config(), model=MODEL, output_dir=tmp_path / "out", data=tmp_path / "d.csv")
    lines = _lines(tmp_path / "out")
    texts = [line["explanations"][0]["attributions"][0]["description"]["partial_text"] for line in lines]
    assert texts == ["5", "2.5"] and res.n_rows == 2


def test_no_text_column_among_several_features_is_a_config_error(tmp_path):
    pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "x"] * 1}).to_csv(tmp_path / "d.csv", index=False)
    cfg = parse_analysis_config(
        {
            "dataset_type": "text/csv",
            "predictor": {"content_type": "text/csv"},
            "methods": {"shap": {"text_config": {"granularity": "token", "language": "en"}}},
        }
    )
    # 'b' is categorical here only because its values repeat; it has one word per value
    pd.DataFrame({"a": [1, 2, 3, 4], "b": ["x", "y", "x", "y"]}).to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(ConfigError, match="no column holds free text; the features are a \\(numerical\\), b"):
        run_analysis(cfg, model=MODEL, output_dir=tmp_path / "out", data=tmp_path / "d.csv")
    assert not (tmp_path / "out").exists()


def test_non_utf8_text_is_a_data_error_and_writes_nothing(tmp_path):
    (tmp_path / "d.csv").write_bytes(b'"good dress"\n"caf\xe9 bad"\n')
    with pytest.raises(DataError, match="line 2.*not valid UTF-8"):
        run_analysis(_config(), model=MODEL, output_dir=tmp_path / "out", data=tmp_path / "d.csv")
    assert not (tmp_path / "out").exists()
