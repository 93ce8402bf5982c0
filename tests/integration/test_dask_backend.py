"""`analyze --backend dask`: the same files, byte for byte, as the local backend, on a real local cluster of
worker processes (the model loaded on each worker from its spec), for every golden case (tabular, JSON
Lines, multiclass, text) at several partition sizes, and for PDP and bias."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from openclarify.cli import main
from support.abalone import abalone_classifier
from support.served import job_files

pytestmark = [pytest.mark.integration, pytest.mark.slow]

distributed = pytest.importorskip("distributed")

CASES = Path(__file__).resolve().parents[1] / "compat" / "cases"


@pytest.fixture(scope="module")
def scheduler():
    """One local cluster of two worker processes for the module (starting one costs seconds)."""
    import dask

    with dask.config.set({"distributed.worker.profile.enabled": False}):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
        )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def _models_on_workers(address: str) -> list[str]:
    """The model specs the cluster's workers have loaded (the per-worker cache of work items' models)."""

    def loaded() -> list[str]:
        from openclarify.backends import _base

        return sorted(_base._models)

    with distributed.Client(address, set_as_default=False) as client:
        return sorted({key for keys in client.run(loaded).values() for key in keys})


def _analyze(config: Path, data: Path, model: str, out: Path, *extra: str) -> None:
    args = ["analyze", "--config", str(config), "--data", str(data), "--model", model, "--output", str(out)]
    assert main([*args, "--quiet", *extra]) == 0


@pytest.mark.filterwarnings("ignore::openclarify.OpenClarifyWarning")
@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_every_golden_case_gives_the_same_bytes_on_the_cluster(case, tmp_path, scheduler):
    work = tmp_path / case
    shutil.copytree(CASES / case, work, ignore=shutil.ignore_patterns("expected"))
    data = next(p for p in work.iterdir() if p.name.startswith("dataset"))
    model = f"{work / 'model.py'}:predict"
    _analyze(work / "analysis_config.json", data, model, work / "local", "--chunk-size", "7")
    want = job_files(work / "local")
    for chunk in ("3", "7", "1000"):
        out = work / f"dask{chunk}"
        _analyze(work / "analysis_config.json", data, model, out, "--chunk-size", chunk, "--backend", "dask",
                 "--scheduler", scheduler)  # fmt: skip
        assert job_files(out) == want, chunk
        summary = json.loads((out / "run_summary.json").read_text())
        local = json.loads((work / "local" / "run_summary.json").read_text())
        assert summary["model_rows"] == local["model_rows"]
    # the work ran on the worker processes, each loading the model from its file
    assert any(key.startswith(f"file:{model}:") for key in _models_on_workers(scheduler))


def test_pdp_and_bias_give_the_same_bytes_on_the_cluster(tmp_path, scheduler):
    abalone_classifier(tmp_path)
    config = {
        "dataset_type": "text/csv",
        "label": "old",
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "Sex"}],
        "predictor": {"label_headers": ["0", "1"]},
        "methods": {
            "shap": {"baseline": [["M", 0.5, 0.4, 0.14, 0.8, 0.34, 0.17, 0.23]], "num_samples": 40, "seed": 3},
            "pdp": {"features": ["Length", "Sex"], "grid_resolution": 4},
            "pre_training_bias": {"methods": "all"},
            "post_training_bias": {"methods": "all"},
        },
    }
    (tmp_path / "cfg.json").write_text(json.dumps(config))
    model_path = str(tmp_path / "model.joblib")
    _analyze(tmp_path / "cfg.json", tmp_path / "test.csv", model_path, tmp_path / "local", "--chunk-size", "64")
    _analyze(tmp_path / "cfg.json", tmp_path / "test.csv", model_path, tmp_path / "dask", "--chunk-size", "16",
             "--backend", "dask", "--scheduler", scheduler)  # fmt: skip
    assert job_files(tmp_path / "dask") == job_files(tmp_path / "local")
    analysis = json.loads((tmp_path / "dask" / "analysis.json").read_text())
    assert {"pre_training_bias_metrics", "post_training_bias_metrics"} <= set(analysis)
    assert [e["feature_name"] for e in analysis["explanations"]["pdp"]] == ["Length", "Sex"]


SLOW_MODEL = """
import os, time
import numpy as np

def predict(records):
    marks = os.environ.get("OPENCLARIFY_TEST_MARKS")  # a worker started before the test has none
    if marks:
        with open(os.path.join(marks, f"{os.getpid()}-{time.monotonic_ns()}"), "w"):
            pass
    time.sleep(0.05)
    x = records.to_numpy(dtype=float)
    if np.any(x[:, 0] == -999):
        raise ValueError("the model refuses -999 in column a")
    return np.c_[x @ np.arange(1.0, x.shape[1] + 1), np.tanh(x).sum(axis=1)]
"""


def _tabular_job(tmp_path: Path, n: int = 240, poison: bool = False) -> tuple[Path, Path, str]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    if poison:
        frame.loc[n - 5, "a"] = -999
    frame.to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "model.py").write_text(SLOW_MODEL)
    config = {
        "dataset_type": "text/csv",
        "predictor": {"content_type": "text/csv", "accept_type": "text/csv"},
        "methods": {"shap": {"baseline": [[0, 0, 0, 0]], "num_samples": 14, "seed": 2, "save_local_shap_values": True}},
    }
    (tmp_path / "cfg.json").write_text(json.dumps(config))
    return tmp_path / "cfg.json", tmp_path / "data.csv", f"{tmp_path / 'model.py'}:predict"


def test_a_worker_killed_mid_job_costs_nothing(tmp_path, monkeypatch):
    """SIGKILL one of two worker processes once work has started: its partitions run again elsewhere
    (the nanny restarts it) and the files are the same bytes as the local run."""
    import os
    import signal
    import threading
    import time

    import dask

    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv("OPENCLARIFY_TEST_MARKS", str(marks))
    config, data, model = _tabular_job(tmp_path)
    _analyze(config, data, model, tmp_path / "local", "--chunk-size", "20")
    with dask.config.set(
        {"distributed.worker.profile.enabled": False, "distributed.deploy.lost-worker-timeout": "120s"}
    ):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
        )
    killed: list[int] = []
    try:
        with distributed.Client(cluster, set_as_default=False) as client:
            pids = sorted(client.run(os.getpid).values())

        def kill_one() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                on_workers = [p for p in marks.iterdir() if int(p.name.split("-")[0]) in pids]
                if len(on_workers) >= 6:  # a few model calls done on the workers: the job is under way
                    victim = int(on_workers[-1].name.split("-")[0])
                    os.kill(victim, signal.SIGKILL)
                    killed.append(victim)
                    return
                time.sleep(0.01)

        killer = threading.Thread(target=kill_one)
        killer.start()
        _analyze(config, data, model, tmp_path / "dask", "--chunk-size", "20", "--backend", "dask",
                 "--scheduler", cluster.scheduler_address)  # fmt: skip
        killer.join()
    finally:
        cluster.close()
    assert killed, "no worker was killed: the job ended before the killer saw it start"
    assert job_files(tmp_path / "dask") == job_files(tmp_path / "local")


def test_a_model_error_stops_the_job_with_the_models_message(tmp_path, scheduler, capsys):
    config, data, model = _tabular_job(tmp_path, n=60, poison=True)
    args = ["analyze", "--config", str(config), "--data", str(data), "--model", model, "--output",
            str(tmp_path / "out"), "--quiet", "--chunk-size", "20", "--backend", "dask",
            "--scheduler", scheduler]  # fmt: skip
    assert main(args) == 4
    err = capsys.readouterr().err
    assert "the model refuses -999 in column a" in err
    assert "Traceback" not in err and "distributed" not in err
    assert not (tmp_path / "out" / "analysis.json").exists()


def test_a_model_that_cannot_travel_is_refused_before_the_work(tmp_path, scheduler):
    import pandas as pd

    from openclarify import run_analysis
    from openclarify.config import parse_analysis_config
    from openclarify.errors import ModelError
    from openclarify.models import CallablePredictor

    pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}).to_csv(tmp_path / "d.csv", index=False)
    config = parse_analysis_config(
        {
            "dataset_type": "text/csv",
            "predictor": {"content_type": "text/csv", "accept_type": "text/csv"},
            "methods": {"shap": {"baseline": [[0, 0]], "num_samples": 2, "seed": 1}},
        }
    )
    here = CallablePredictor(lambda df: df.to_numpy().sum(axis=1), name="a lambda")
    with pytest.raises(ModelError, match=r"^--backend dask: the model cannot be sent to the workers .*Give it by path"):
        run_analysis(config, model=here, output_dir=tmp_path / "out", data=tmp_path / "d.csv", backend="dask",
                     scheduler=scheduler)  # fmt: skip


def test_a_model_behind_a_server_gives_the_same_bytes_on_the_cluster(tmp_path, scheduler):
    """With --endpoint-url, each worker opens its own client to the model server."""
    from openclarify.serving import ServeConfig, background_server, create_app
    from support.served import wait_until_ready

    abalone_classifier(tmp_path)
    config = {
        "dataset_type": "text/csv",
        "label": "old",
        "predictor": {"content_type": "text/csv", "accept_type": "text/csv"},
        "methods": {
            "shap": {
                "baseline": [["M", 0.5, 0.4, 0.14, 0.8, 0.34, 0.17, 0.23]],
                "num_samples": 30,
                "seed": 4,
                "save_local_shap_values": True,
            },  # fmt: skip
        },
    }
    (tmp_path / "cfg.json").write_text(json.dumps(config))
    with background_server(create_app(ServeConfig(model=str(tmp_path / "model.joblib")))) as url:
        wait_until_ready(url)
        args = ["analyze", "--config", str(tmp_path / "cfg.json"), "--data", str(tmp_path / "test.csv"),
                "--endpoint-url", url, "--quiet"]  # fmt: skip
        assert main([*args, "--output", str(tmp_path / "local")]) == 0
        dask = ["--chunk-size", "25", "--backend", "dask", "--scheduler", scheduler]
        assert main([*args, "--output", str(tmp_path / "dask"), *dask]) == 0
    assert job_files(tmp_path / "dask") == job_files(tmp_path / "local")
    assert any(key.startswith(f"endpoint:{url}") for key in _models_on_workers(scheduler))


def test_text_models_load_on_the_workers_and_give_the_same_bytes(tmp_path, scheduler):
    """A fastText model and a Hugging Face transformer, each loaded on the workers from its folder."""
    import pandas as pd

    from openclarify.training import TransformerHyperparameters, train_text_classifier, train_transformer_classifier
    from support.tiny_bert import review_rows, tiny_encoder

    rows = review_rows(300, seed=0)
    (tmp_path / "train.txt").write_text("".join(f"__label__{label} {text}\n" for text, label in rows))
    train_text_classifier(tmp_path / "train.txt", tmp_path / "fasttext", hyperparameters={"epochs": 5}, threads=1)
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(tmp_path / "train.csv", index=False)
    train_transformer_classifier(
        tmp_path / "train.csv",
        tmp_path / "bert",
        text_column="text",
        label_column="label",
        base_model=tiny_encoder(tmp_path / "base"),
        hyperparameters=TransformerHyperparameters(epochs=2, learning_rate=3e-3),
    )
    texts = pd.DataFrame({"text": [t for t, _ in review_rows(12, seed=5)]})
    texts.to_csv(tmp_path / "test.csv", index=False, header=False)
    config = {
        "dataset_type": "text/csv",
        "headers": ["text"],
        "predictor": {
            "content_type": "text/csv",
            "accept_type": "application/jsonlines",
            "label": "label",
            "probability": "prob",
        },  # fmt: skip
        "methods": {
            "shap": {
                "baseline": [["<UNK>"]],
                "num_samples": 40,
                "seed": 8,
                "save_local_shap_values": True,
                "text_config": {"granularity": "sentence", "language": "english"},
            },  # fmt: skip
        },
    }
    (tmp_path / "cfg.json").write_text(json.dumps(config))
    for name in ("fasttext", "bert"):
        model = str(tmp_path / name)
        _analyze(tmp_path / "cfg.json", tmp_path / "test.csv", model, tmp_path / f"{name}-local")
        _analyze(tmp_path / "cfg.json", tmp_path / "test.csv", model, tmp_path / f"{name}-dask", "--chunk-size", "5",
                 "--backend", "dask", "--scheduler", scheduler)  # fmt: skip
        assert job_files(tmp_path / f"{name}-dask") == job_files(tmp_path / f"{name}-local"), name
        assert any(key.startswith(f"file:{model}:") for key in _models_on_workers(scheduler)), name


def test_the_progress_counts_every_record_once_on_the_cluster(tmp_path, scheduler):
    from openclarify import run_analysis
    from openclarify.config import load_analysis_config
    from openclarify.models import FileModelSpec, load_model

    config_path, data, model = _tabular_job(tmp_path, n=90)
    seen: list[int] = []
    run_analysis(load_analysis_config(config_path), model=load_model(model), output_dir=tmp_path / "out", data=data,
                 chunksize=20, progress=seen.append, backend="dask", scheduler=scheduler,
                 model_spec=FileModelSpec.of(model))  # fmt: skip
    assert seen == [20, 20, 20, 20, 10]  # one step per partition, as it comes back, in order


class _Stopped(BaseException):
    pass


class _StopAfter:
    def __init__(self, inner, rows):
        self.inner, self.rows, self.seen = inner, rows, 0

    def predict(self, records):
        self.seen += len(records)
        if self.seen > self.rows:
            raise _Stopped
        return self.inner.predict(records)


def test_a_job_stopped_here_resumes_on_the_cluster_to_the_same_bytes(tmp_path, scheduler):
    """The checkpoint does not depend on the backend: a job stopped on the local backend resumes on the
    cluster, which computes only the missing partitions."""
    from openclarify import run_analysis
    from openclarify.config import load_analysis_config
    from openclarify.models import load_model

    config, data, model = _tabular_job(tmp_path)
    _analyze(config, data, model, tmp_path / "whole", "--chunk-size", "20")
    out = tmp_path / "out"
    with pytest.raises(_Stopped):  # the job as the command line names it
        run_analysis(load_analysis_config(config), model=_StopAfter(load_model(model), 100 * 15), output_dir=out,
                     data=str(data), config_dir=config.parent, model_description=model,
                     inputs=[config, Path(model.rsplit(":", 1)[0])], chunksize=20)  # fmt: skip
    committed = len(list((out / ".openclarify-checkpoint").rglob("part-*.json")))
    assert 0 < committed < 12
    _analyze(config, data, model, out, "--chunk-size", "20", "--backend", "dask", "--scheduler", scheduler, "--resume")
    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["checkpoint"] == {"restored_partitions": committed, "computed_partitions": 12 - committed}
    assert job_files(out) == job_files(tmp_path / "whole")
