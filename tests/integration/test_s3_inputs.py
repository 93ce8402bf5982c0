"""Every input of ``openclarify analyze`` read from s3://, against a real S3-compatible HTTP server on 127.0.0.1
(moto's server mode, tests/support/s3.py): the config, the dataset (an object or a prefix of parts, CSV, JSON
Lines, Parquet), a baseline file (next to the config, or its own URL) and the model (fastText, joblib, a
Hugging Face folder), with the output folder here; the files are the bytes of the same job run from local
files. A missing object, a missing bucket, or s3fs missing is one line on stderr and the exit code of its
kind of error."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from openclarify.cli import main
from openclarify.cli._main import EXIT_CONFIG, EXIT_DATA, EXIT_MODEL, EXIT_UNEXPECTED
from support.abalone import abalone_classifier
from support.fasttext_model import review_texts, tiny_fasttext
from support.served import job_files

pytestmark = [pytest.mark.integration]

CASES = Path(__file__).resolve().parents[1] / "compat" / "cases"


def _analyze(*args: str) -> int:
    return main(["analyze", *args, "--quiet"])


@pytest.fixture(scope="module")
def abalone(tmp_path_factory) -> Path:
    """A job folder read through relative paths only: ``cfg.json`` (``dataset_uri`` ``data/``, baseline
    ``baseline.csv``), ``data/`` (two CSV parts with their header, a ``_SUCCESS`` and a hidden file, which are
    skipped), ``model.joblib`` (a scikit-learn pipeline)."""
    work = tmp_path_factory.mktemp("abalone")
    abalone_classifier(work)
    test = pd.read_csv(work / "test.csv").iloc[:60]
    (work / "data").mkdir()
    test.iloc[:25].to_csv(work / "data" / "part-00000.csv", index=False)
    test.iloc[25:].to_csv(work / "data" / "part-00001.csv", index=False)
    (work / "data" / "_SUCCESS").write_text("")
    (work / "data" / ".part-00000.csv.crc").write_text("not, data\n")
    (work / "baseline.csv").write_text("M,0.5,0.4,0.14,0.8,0.34,0.17,0.23\nF,0.6,0.5,0.16,1.0,0.4,0.2,0.3\n")
    config = {
        "dataset_type": "text/csv",
        "dataset_uri": "data/",
        "label": "old",
        "predictor": {"label_headers": ["young", "old"]},
        "methods": {
            "shap": {"baseline": "baseline.csv", "num_samples": 40, "seed": 3, "save_local_shap_values": True},
            "report": {"name": "report", "title": "s3"},
        },
    }
    (work / "cfg.json").write_text(json.dumps(config))
    (work / "test.csv").unlink()
    assert _analyze("--config", str(work / "cfg.json"), "--model", str(work / "model.joblib"),
                    "--output", str(work.parent / f"{work.name}-local")) == 0  # fmt: skip
    return work


def _local(work: Path) -> dict[str, bytes]:
    return job_files(work.parent / f"{work.name}-local")


def test_config_data_baseline_and_model_all_on_s3(abalone, s3_bucket, tmp_path):
    """The config's relative dataset_uri (a prefix of parts) and baseline file resolve next to it, on S3."""
    s3_bucket.upload(abalone, "jobs/abalone")
    out = tmp_path / "out"
    code = _analyze("--config", s3_bucket.url("jobs/abalone/cfg.json"),
                    "--model", s3_bucket.url("jobs/abalone/model.joblib"), "--output", str(out))  # fmt: skip
    assert code == 0
    assert job_files(out) == _local(abalone)
    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["dataset"] == s3_bucket.url("jobs/abalone/data/")
    assert summary["model"] == s3_bucket.url("jobs/abalone/model.joblib")
    assert (out / "report.html").is_file()


def test_urls_given_in_the_config_and_on_the_command_line(abalone, s3_bucket, tmp_path):
    """An absolute s3:// baseline in a local config, ``--data`` as a prefix and a '..' path next to the config."""
    s3_bucket.upload(abalone / "data", "parts/")
    s3_bucket.upload(abalone / "baseline.csv", "base/baseline.csv")
    config = json.loads((abalone / "cfg.json").read_text())
    config["methods"]["shap"]["baseline"] = s3_bucket.url("base/baseline.csv")
    (tmp_path / "cfg.json").write_text(json.dumps(config))
    want = {name: content for name, content in _local(abalone).items() if name != "analysis_config.json"}
    out = tmp_path / "given"
    code = _analyze("--config", str(tmp_path / "cfg.json"), "--data", s3_bucket.url("parts/"),
                    "--model", str(abalone / "model.joblib"), "--output", str(out))  # fmt: skip
    assert code == 0
    got = job_files(out)
    assert json.loads(got.pop("analysis_config.json")) == config  # the config as given, baseline URL included
    assert got == want
    config["methods"]["shap"]["baseline"] = "../base/baseline.csv"
    s3_bucket.put("jobs/cfg.json", json.dumps(config).encode())
    out = tmp_path / "relative"
    code = _analyze("--config", s3_bucket.url("jobs/cfg.json"), "--data", s3_bucket.url("parts"),
                    "--model", str(abalone / "model.joblib"), "--output", str(out))  # fmt: skip
    assert code == 0
    got = job_files(out)
    assert json.loads(got.pop("analysis_config.json")) == config
    assert got == want


def _parquet_case(work: Path) -> Path:
    shutil.copytree(CASES / "tabular_exact", work, ignore=shutil.ignore_patterns("expected"))
    pd.read_csv(work / "dataset.csv").to_parquet(work / "dataset.parquet", index=False)
    (work / "dataset.csv").unlink()
    config = json.loads((work / "analysis_config.json").read_text())
    config["dataset_type"] = "application/x-parquet"
    (work / "analysis_config.json").write_text(json.dumps(config))
    return work


@pytest.mark.filterwarnings("ignore::openclarify.OpenClarifyWarning")
@pytest.mark.parametrize(
    ("case", "as_prefix"),
    [
        pytest.param("tabular_exact", False, id="csv-object"),
        pytest.param("jsonlines_sampled_seed", False, id="jsonlines-object"),
        pytest.param("jsonlines_sampled_seed", True, id="jsonlines-prefix"),
        pytest.param("parquet", False, id="parquet-object"),
        pytest.param("parquet", True, id="parquet-prefix"),
    ],
)
def test_each_dataset_format_from_an_object_or_a_prefix(case, as_prefix, s3_bucket, tmp_path):
    work = _parquet_case(tmp_path / case) if case == "parquet" else tmp_path / case
    if case != "parquet":
        shutil.copytree(CASES / case, work, ignore=shutil.ignore_patterns("expected"))
    data = next(p for p in work.iterdir() if p.name.startswith("dataset"))
    args = ["--config", str(work / "analysis_config.json"), "--model", f"{work / 'model.py'}:predict"]
    assert _analyze(*args, "--data", str(data), "--output", str(work / "local")) == 0
    if as_prefix:  # the same records in two parts, and a marker that is no data
        folder = work / "parts"
        folder.mkdir()
        if case == "parquet":
            frame = pd.read_parquet(data)
            frame.iloc[:4].to_parquet(folder / "part-0.parquet", index=False)
            frame.iloc[4:].to_parquet(folder / "part-1.parquet", index=False)
        else:
            lines = data.read_text().splitlines(keepends=True)
            (folder / "part-0.jsonl").write_text("".join(lines[:4]))
            (folder / "part-1.jsonl").write_text("".join(lines[4:]))
        (folder / "_SUCCESS").write_text("")
        url = s3_bucket.upload(folder, "data/")
    else:
        url = s3_bucket.upload(data, f"data/{data.name}")
    assert _analyze(*args, "--data", url, "--output", str(work / "s3")) == 0
    assert job_files(work / "s3") == job_files(work / "local")


@pytest.fixture(scope="module")
def fasttext_job(tmp_path_factory) -> Path:
    """A tiny fastText model (with the metadata openclarify train writes beside it: labels, lower-tokenize),
    12 texts and a token-level text config; the local run in ``local/``."""
    work = tmp_path_factory.mktemp("fasttext")
    tiny_fasttext(work / "model")
    texts = [text for _, text in review_texts(12, seed=5)]
    texts[0] = texts[0].upper() + "!"  # lower-tokenize makes it score as the others do
    pd.DataFrame({"Text": texts}).to_csv(work / "test.csv", index=False, header=False)
    config = {
        "dataset_type": "text/csv",
        "headers": ["Text"],
        "predictor": {
            "content_type": "text/csv",
            "accept_type": "application/jsonlines",
            "label": "label",
            "probability": "prob",
        },  # fmt: skip
        "methods": {
            "shap": {
                "baseline": [["<UNK>"]],
                "num_samples": 30,
                "seed": 11,
                "save_local_shap_values": True,
                "text_config": {"granularity": "token", "language": "english"},
            }
        },
    }
    (work / "cfg.json").write_text(json.dumps(config))
    args = ["--config", str(work / "cfg.json"), "--data", str(work / "test.csv")]
    assert _analyze(*args, "--model", str(work / "model" / "model.bin"), "--output", str(work / "local")) == 0
    return work


@pytest.mark.parametrize("given", ["model/model.bin", "model/"], ids=["model.bin", "its folder"])
def test_a_fasttext_model_on_s3(given, fasttext_job, s3_bucket, tmp_path, monkeypatch):
    s3_bucket.upload(fasttext_job, "ft")
    out = tmp_path / "out"
    args = ["--config", s3_bucket.url("ft/cfg.json"), "--data", s3_bucket.url("ft/test.csv")]
    assert _analyze(*args, "--model", s3_bucket.url(f"ft/{given}"), "--output", str(out)) == 0
    assert job_files(out) == job_files(fasttext_job / "local")
    # copied once into the model cache (XDG_CACHE_HOME), with its metadata; a second job downloads nothing
    cache = Path(s3_bucket.env["XDG_CACHE_HOME"]) / "openclarify" / "models"
    (entry,) = cache.iterdir()
    assert {"model.bin", "openclarify-model.json"} <= {p.name for p in entry.iterdir()}
    import s3fs

    async def no_download(*args, **kwargs):  # a coroutine, as s3fs's own: get_file wraps it
        raise AssertionError("downloaded again")

    monkeypatch.setattr(s3fs.S3FileSystem, "_get_file", no_download)
    s3fs.S3FileSystem.clear_instance_cache()  # an instance binds its sync methods when it is made
    assert _analyze(*args, "--model", s3_bucket.url(f"ft/{given}"), "--output", str(tmp_path / "again")) == 0
    assert job_files(tmp_path / "again") == job_files(fasttext_job / "local")


def test_a_hugging_face_folder_on_s3(s3_bucket, tmp_path):
    pytest.importorskip("transformers")
    from support.tiny_bert import review_rows, tiny_classifier, tiny_encoder

    model = tiny_classifier(tmp_path / "hf", tiny_encoder(tmp_path / "base"), n_train=80, n_validation=20)
    pd.DataFrame([text for text, _ in review_rows(6, seed=3)], columns=["text"]).to_csv(
        tmp_path / "test.csv", index=False, header=False
    )
    config = {
        "dataset_type": "text/csv",
        "headers": ["text"],
        "predictor": {"content_type": "text/csv", "accept_type": "application/jsonlines", "label": "label",
                      "probability": "prob"},
        "methods": {"shap": {"baseline": [["<UNK>"]], "num_samples": 16, "seed": 2, "save_local_shap_values": True,
                             "text_config": {"granularity": "sentence", "language": "english"}}},
    }  # fmt: skip
    (tmp_path / "cfg.json").write_text(json.dumps(config))
    args = ["--config", str(tmp_path / "cfg.json"), "--data", str(tmp_path / "test.csv")]
    assert _analyze(*args, "--model", str(model), "--output", str(tmp_path / "local")) == 0
    url = s3_bucket.upload(model, "models/hf")
    assert _analyze(*args, "--model", url, "--output", str(tmp_path / "s3")) == 0
    assert job_files(tmp_path / "s3") == job_files(tmp_path / "local")


@pytest.mark.slow
def test_dask_workers_download_the_model_themselves(fasttext_job, s3_bucket, tmp_path):
    """The workers get the URL (a driver's cache path would not exist on another machine) and load it."""
    pytest.importorskip("distributed")
    s3_bucket.upload(fasttext_job, "ft")
    args = ["--config", s3_bucket.url("ft/cfg.json"), "--data", s3_bucket.url("ft/test.csv"),
            "--model", s3_bucket.url("ft/model/model.bin")]  # fmt: skip
    out = tmp_path / "dask"
    assert _analyze(*args, "--output", str(out), "--backend", "dask", "--workers", "1", "--chunk-size", "4") == 0
    assert job_files(out) == job_files(fasttext_job / "local")


# -- errors: one line, the exit code of the kind of input, no traceback ---------------------------------


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


@pytest.mark.parametrize(
    ("missing", "code", "message"),
    [
        pytest.param(
            "config-key",
            EXIT_CONFIG,
            r"config error: analysis config 's3://B/none.json': no such S3 "
            r"object or prefix; check the URI\.",
            id="config-key",
        ),  # fmt: skip
        pytest.param(
            "config-bucket",
            EXIT_CONFIG,
            r"config error: analysis config 's3://no-such-bucket-0/cfg.json'"
            r": the S3 bucket 'no-such-bucket-0' does not exist \(or these credentials cannot see it\); "
            r"check the URI\.",
            id="config-bucket",
        ),  # fmt: skip
        pytest.param(
            "data-key",
            EXIT_DATA,
            r"data error: dataset: no such S3 object or prefix; got "
            r"'s3://B/none/'\. Check the URI\.",
            id="data-key",
        ),  # fmt: skip
        pytest.param(
            "data-bucket",
            EXIT_DATA,
            r"data error: dataset: the S3 bucket 'no-such-bucket-0' does not "
            r"exist",
            id="data-bucket",
        ),  # fmt: skip
        pytest.param(
            "baseline-key",
            EXIT_DATA,
            r"data error: methods.shap.baseline: no such S3 object or prefix; "
            r"got 's3://B/none.csv'",
            id="baseline-key",
        ),  # fmt: skip
        pytest.param(
            "model-key",
            EXIT_MODEL,
            r"model error: --model 's3://B/none.joblib': no such S3 object or "
            r"prefix; check the URI\.",
            id="model-key",
        ),  # fmt: skip
        pytest.param(
            "model-bucket",
            EXIT_MODEL,
            r"model error: --model 's3://no-such-bucket-0/m.joblib': the S3 "
            r"bucket 'no-such-bucket-0' does not exist",
            id="model-bucket",
        ),  # fmt: skip
        pytest.param(
            "model-python",
            EXIT_MODEL,
            r"model error: --model 's3://B/model.py:predict': a Python model "
            r"is not loaded from a URL",
            id="model-python",
        ),  # fmt: skip
    ],
)
def test_a_missing_input_is_one_line(missing, code, message, abalone, s3_bucket, tmp_path, capsys):
    s3_bucket.upload(abalone, "")
    config = json.loads((abalone / "cfg.json").read_text())
    if missing == "baseline-key":
        config["methods"]["shap"]["baseline"] = s3_bucket.url("none.csv")
    s3_bucket.put("cfg.json", json.dumps(config).encode())
    given = {"config": s3_bucket.url("cfg.json"), "data": s3_bucket.url("data/"),
             "model": s3_bucket.url("model.joblib")}  # fmt: skip
    given.update(
        {
            "config-key": {"config": s3_bucket.url("none.json")},
            "config-bucket": {"config": "s3://no-such-bucket-0/cfg.json"},
            "data-key": {"data": s3_bucket.url("none/")},
            "data-bucket": {"data": "s3://no-such-bucket-0/data/"},
            "baseline-key": {},
            "model-key": {"model": s3_bucket.url("none.joblib")},
            "model-bucket": {"model": "s3://no-such-bucket-0/m.joblib"},
            "model-python": {"model": s3_bucket.url("model.py:predict")},
        }[missing]
    )
    args = ["--config", given["config"], "--data", given["data"], "--model", given["model"]]
    assert _analyze(*args, "--output", str(tmp_path / "out")) == code
    assert re.fullmatch(f"openclarify: {message}.*", _one_line(capsys).replace(s3_bucket.name, "B"))
    assert not (tmp_path / "out" / "analysis.json").exists()


@pytest.mark.parametrize("which", ["config", "data", "model"])
def test_without_s3fs_each_input_is_one_line_with_the_install_hint(which, abalone, s3_bucket, tmp_path, capsys,
                                                                  monkeypatch):  # fmt: skip
    s3_bucket.upload(abalone, "job")
    given = {"config": str(abalone / "cfg.json"), "data": str(abalone / "data"), "model": str(abalone / "model.joblib")}
    given[which] = s3_bucket.url({"config": "job/cfg.json", "data": "job/data/", "model": "job/model.joblib"}[which])
    monkeypatch.setitem(sys.modules, "s3fs", None)  # makes `import s3fs` fail
    args = ["--config", given["config"], "--data", given["data"], "--model", given["model"]]
    assert _analyze(*args, "--output", str(tmp_path / "out")) == EXIT_UNEXPECTED
    assert _one_line(capsys) == (
        f"openclarify: missing dependency: reading '{given[which]}' needs the optional dependency 's3fs'. "
        "Install it with: pip install 'openclarify[s3]'."
    )


def test_in_a_subprocess_the_environment_is_all_it_takes(abalone, s3_bucket, tmp_path):
    """``openclarify analyze`` as a user runs it: AWS_ENDPOINT_URL and credentials in the environment only (the
    errors' single line, exit code and missing traceback are checked in process above)."""
    s3_bucket.upload(abalone, "job")
    command = [sys.executable, "-m", "openclarify", "analyze", "--quiet", "--config", s3_bucket.url("job/cfg.json"),
               "--model", s3_bucket.url("job/model.joblib")]  # fmt: skip
    env = {**s3_bucket.env, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    done = subprocess.run([*command, "--output", str(tmp_path / "out")], env=env, capture_output=True, text=True,
                          check=False, timeout=120)  # fmt: skip  # noqa: S603
    assert done.returncode == 0, done.stderr
    assert job_files(tmp_path / "out") == _local(abalone)
