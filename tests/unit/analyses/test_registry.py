"""The common suite of the analyses registry, run for every registered analysis and every executor.

- merging the partial results of any split of the records gives the bits of the whole;
- a whole job gives the same bytes on ``local`` and on ``threads``, whatever the chunking;
- every registry entry imports, names a method of the config, and its slot is Clarify's key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import typing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from openclarify import parse_analysis_config, run_analysis
from openclarify.analyses import ANALYSES, Job, JobOptions, MethodKey, RecordSum, load_analysis
from openclarify.backends import BACKENDS, get_executor
from openclarify.config import MethodsConfig
from openclarify.data import DataChunk, open_dataset
from openclarify.models import CallablePredictor
from openclarify.outputs import OutputStaging

WORDS = ["good", "bad", "fine", "awful", "great", "dress", "size"]


def _tabular_score(df: pd.DataFrame) -> np.ndarray:
    colour = df["colour"].map({"red": 1.0, "green": 0.0, "blue": -1.0}).to_numpy(dtype=float)
    a, b = df["a"].to_numpy(dtype=float), df["b"].to_numpy(dtype=float)
    out = np.tanh(a * b) + colour * a
    return np.stack([1 / (1 + np.exp(-out)), 1 - 1 / (1 + np.exp(-out))], axis=1)


def _text_score(df: pd.DataFrame) -> np.ndarray:
    text = df["text"].fillna("").astype(str)
    s = text.str.count("good") - text.str.count("bad") + 0.1 * text.str.len()
    return np.tanh(s.to_numpy(dtype=float) / 5 + df["x"].to_numpy(dtype=float))


def _case(kind: str, tmp: Path, rng: np.random.Generator):
    n = 150
    if kind == "text":
        frame = pd.DataFrame(
            {
                "text": [" ".join(rng.choice(WORDS, size=rng.integers(0, 9))) for _ in range(n)],
                "x": rng.normal(size=n),
            }
        )
        shap = {"num_samples": 24, "seed": 5, "text_config": {"granularity": "token", "language": "english"}}
        model = CallablePredictor(_text_score, name="text")
    else:
        frame = pd.DataFrame(
            {
                "a": rng.normal(size=n),
                "b": rng.normal(size=n),
                "colour": rng.choice(["red", "green", "blue"], size=n).astype(object),
            }
        )
        shap = {"num_samples": 20, "seed": 5, "baseline": [[0.0, 0.0, "red"]], "agg_method": kind}
        model = CallablePredictor(_tabular_score, name="tab")
    frame["y"] = rng.integers(0, 2, size=n)
    frame.to_csv(tmp / "d.csv", index=False)
    pdp = {"features": ["x"] if kind == "text" else ["a", "colour"], "grid_resolution": 6}
    facet = [{"name_or_index": "x", "value_or_threshold": [0.0]}] if kind == "text" else [{"name_or_index": "colour"}]
    config = parse_analysis_config(
        {
            "dataset_type": "text/csv",
            "label": "y",
            "label_values_or_threshold": [1],
            "facet": facet,
            # the tabular model's two scores are the classes 0 and 1 (post-training bias reads them by name)
            "predictor": {"content_type": "text/csv", **({} if kind == "text" else {"label_headers": ["0", "1"]})},
            "methods": {
                "shap": shap,
                "pdp": pdp,
                "pre_training_bias": {"methods": "all"},
                "post_training_bias": {"methods": "all"},
            },
        }
    )
    return config, model


def _bits(value) -> bytes:
    """Every float of a partial result's sums, as bytes (so equality is bit for bit)."""
    if isinstance(value, RecordSum):
        return (
            f"{value.start}:{value.stop}:{value.count}".encode()
            + (value.total().tobytes() if value.count and not value.keep_all else b"")
            + (value.terms().tobytes() if value.count and value.keep_all else b"")
        )
    if isinstance(value, np.ndarray):
        return value.tobytes()
    if isinstance(value, pd.DataFrame):  # every value written out exactly (floats by repr)
        return value.to_csv(index=False).encode()
    if isinstance(value, dict):
        return b"".join(k.encode() + _bits(v) for k, v in sorted(value.items()))
    if dataclasses.is_dataclass(value):
        # model calls depend on how records are grouped into calls; the results do not
        skip = {"model_seconds", "model_rows", "model_calls", "text", "label", "join_source", "totals", "f_x", "ok",
                "stderr"}  # fmt: skip
        return b"".join(
            f.name.encode() + _bits(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name not in skip
        )
    return repr(value).encode()


@pytest.mark.filterwarnings("ignore::openclarify.OpenClarifyWarning")  # records with empty text
# the in-process backends run closures; dask's work items travel to other processes, and
# tests/integration/test_dask_backend.py holds it to the same bytes on a real cluster
@pytest.mark.parametrize("backend", sorted(set(BACKENDS) - {"dask"}))
@pytest.mark.parametrize("key", [k for k, v in ANALYSES.items() if v is not None])
@pytest.mark.parametrize("kind", ["mean_abs", "median", "text"])
def test_merging_any_split_equals_the_whole(tmp_path, rng, key: MethodKey, kind, backend):
    config, model = _case(kind, tmp_path, rng)
    dataset = open_dataset(tmp_path / "d.csv", dataset_type="text/csv", label="y")
    with OutputStaging(tmp_path / "out") as stage:
        job = Job(config, dataset, dataset.schema, model, stage, 5, "d.csv", None, JobOptions())
        if key == "pdp":  # pdp may use the SHAP results; plan SHAP first as the job does
            job.earlier["shap"] = _finish(load_analysis("shap"), job)
        analysis = load_analysis(key)
        plan = analysis.plan(job)
        whole = dataset.read_all()
        executor = get_executor(backend, 2)
        (full,) = list(executor.map(lambda c: analysis.run(plan, c, model), [whole]))
        for trial in range(4):
            cuts = sorted(set(rng.integers(1, len(whole.features), size=trial + 1).tolist()))
            bounds = [0, *cuts, len(whole.features)]
            chunks = [_slice(whole, a, b) for a, b in zip(bounds, bounds[1:], strict=False)]
            parts = list(executor.map(lambda c: analysis.run(plan, c, model), chunks))
            merged = parts[0]
            for part in parts[1:]:
                merged = analysis.merge(merged, part)
            assert _bits(merged) == _bits(full), f"{key} {kind}: split at {cuts}"
        analysis.close(plan)


def _slice(chunk: DataChunk, a: int, b: int) -> DataChunk:
    return DataChunk(
        start_row=a,
        features=chunk.features.iloc[a:b].reset_index(drop=True),
        label=chunk.label.iloc[a:b].reset_index(drop=True) if chunk.label is not None else None,
        join_source=None,
    )


def _finish(analysis, job):
    plan = analysis.plan(job)
    total = None
    for chunk in job.dataset.chunks(64):
        part = analysis.run(plan, chunk, job.model)
        analysis.consume(plan, part, job)
        total = part if total is None else analysis.merge(total, part)
    return analysis.finish(plan, total, job)


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".") and p.name != "run_summary.json"
    }


@pytest.mark.filterwarnings("ignore::openclarify.OpenClarifyWarning")
@pytest.mark.parametrize("kind", ["mean_abs", "median", "text"])
def test_same_bytes_on_every_executor_and_chunking(tmp_path, rng, kind):
    config, model = _case(kind, tmp_path, rng)
    digests = []
    for i, (threads, chunksize, max_batch_rows) in enumerate([(1, 8192, 16384), (2, 7, 100), (2, 64, 33)]):
        run_analysis(
            config,
            model=model,
            output_dir=tmp_path / f"out{i}",
            data=tmp_path / "d.csv",
            n_jobs=threads,
            chunksize=chunksize,
            max_batch_rows=max_batch_rows,
        )
        digests.append(_digest(tmp_path / f"out{i}"))
    assert "analysis.json" in digests[0]
    assert digests[1] == digests[0] and digests[2] == digests[0]


def test_every_registry_slot_is_a_method_key_of_the_config():
    keys = set(typing.get_args(MethodKey))
    assert set(ANALYSES) == keys
    assert keys <= {f.name for f in dataclasses.fields(MethodsConfig)}
    for key, target in ANALYSES.items():
        if target is not None:
            assert load_analysis(key).key == key
    for name in BACKENDS:
        if name == "dask" and importlib.util.find_spec("distributed") is None:
            continue
        executor = get_executor(name, 2)
        try:
            assert executor.workers >= 1
            assert executor.in_process is (name != "dask")
        finally:
            getattr(executor, "close", lambda: None)()


@pytest.mark.parametrize("keep_all", [False, True])
def test_record_sums_merge_exactly_with_missing_records(rng, keep_all):
    n = 700
    terms = rng.normal(size=(n, 3, 2)) * 10.0 ** rng.integers(-8, 8, size=(n, 1, 1))
    present = rng.random(n) > 0.1
    whole = RecordSum.of(0, terms, present, keep_all=keep_all)
    for _ in range(20):
        cuts = sorted(set(rng.integers(1, n, size=rng.integers(1, 30)).tolist()))
        bounds = [0, *cuts, n]
        merged = RecordSum()
        for a, b in zip(bounds, bounds[1:], strict=False):
            merged = merged.merge(RecordSum.of(a, terms[a:b], present[a:b], keep_all=keep_all))
        assert merged.count == whole.count == int(present.sum())
        for how in ("mean", "median") if keep_all else ("mean",):
            assert merged.aggregate(how).tobytes() == whole.aggregate(how).tobytes()
    # blocks of 64 record numbers: the sum is the block sums added in order
    want = None
    for b in range(0, n, 64):
        part = terms[b : b + 64][present[b : b + 64]].sum(axis=0)
        want = part if want is None else want + part
    assert RecordSum.of(0, terms, present).total().tobytes() == want.tobytes()
    with pytest.raises(ValueError, match="adjacent"):
        RecordSum.of(0, terms[:10]).merge(RecordSum.of(11, terms[11:20]))


def test_a_new_analysis_is_one_registry_line(tmp_path, rng, monkeypatch):
    """An analysis the job has never heard of runs from its registry line alone: its section lands in
    analysis.json, its facts in run_summary.json, its check's problems join the job's one error, the
    files it reads are protected from --overwrite, and the seed it asks for is the job's."""
    import json
    import sys

    from openclarify.errors import ConfigError, OutputError

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))
    monkeypatch.setitem(ANALYSES, "pre_training_bias", "support.count_analysis:CountAnalysis")
    frame = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40), "y": rng.integers(0, 2, size=40)})
    (tmp_path / "data").mkdir()
    data = tmp_path / "data" / "d.csv"
    frame.to_csv(data, index=False)
    job = tmp_path / "job"
    job.mkdir()
    (job / "facets.csv").write_text("kept\n")
    config = parse_analysis_config(
        {
            "dataset_type": "text/csv",
            "label": "y",
            "label_values_or_threshold": [1],
            "facet": [{"name_or_index": "a", "value_or_threshold": [0.0]}],
            "methods": {"pre_training_bias": {"methods": "all"}},
        }
    )
    model = CallablePredictor(lambda x: np.stack([x["a"].to_numpy() + x["b"].to_numpy()], axis=1), name="sum")
    res = run_analysis(config, model=model, data=data, output_dir=tmp_path / "out", config_dir=job, chunksize=7)
    assert json.loads((tmp_path / "out" / "analysis.json").read_text())["explanations"]["count"] == {"records": 40}
    summary = json.loads((tmp_path / "out" / "run_summary.json").read_text())
    assert summary["count_rows"] == 40 and res.seed == 123
    # the file its check named is protected: --overwrite of the folder holding it is refused
    with pytest.raises(OutputError, match="facets.csv"):
        run_analysis(config, model=model, data=data, output_dir=job, config_dir=job, overwrite=True)
    assert (job / "facets.csv").read_text() == "kept\n"
    # its problems are reported with the job's, in one error
    (job / "refuse-me.txt").write_text("")
    bad = dataclasses.replace(config, dataset_type="application/x-image")
    with pytest.raises(ConfigError) as err:
        run_analysis(bad, model=model, data=data, output_dir=tmp_path / "out2", config_dir=job)
    assert "methods.pre_training_bias: refused because refuse-me.txt exists." in str(err.value)
    assert "dataset_type" in str(err.value)
    sys.modules.pop("support.count_analysis", None)


@pytest.mark.filterwarnings("ignore::openclarify.OpenClarifyWarning")  # records with empty text
@pytest.mark.parametrize("key", [k for k, v in ANALYSES.items() if v is not None])
@pytest.mark.parametrize("kind", ["mean_abs", "text"])
def test_work_items_cross_a_process_boundary(tmp_path, rng, key: MethodKey, kind):
    """What the job sends a worker (method key, plan, partition, model spec) pickles, and a worker that
    unpickles it computes the same bits: nothing of the driver (open files, counters) travels."""
    import pickle

    from openclarify._pipeline import _run_partition
    from openclarify.backends import loaded

    config, model = _case(kind, tmp_path, rng)
    dataset = open_dataset(tmp_path / "d.csv", dataset_type="text/csv", label="y")
    with OutputStaging(tmp_path / "out") as stage:
        job = Job(config, dataset, dataset.schema, model, stage, 5, "d.csv", None, JobOptions())
        if key == "pdp":
            job.earlier["shap"] = _finish(load_analysis("shap"), job)
        analysis = load_analysis(key)
        plan = analysis.plan(job)
        chunk = _slice(dataset.read_all(), 20, 61)
        item = (((key, plan),), chunk, loaded(model))
        (here,) = _run_partition(item)
        (there,) = _run_partition(pickle.loads(pickle.dumps(item)))
        assert _bits(there) == _bits(here)
        analysis.close(plan)
