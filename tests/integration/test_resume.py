"""Resumable jobs: a job stopped part-way (an exception here, SIGKILL of the driver process there) and
resumed with ``resume=True`` / ``--resume`` computes only the partitions its checkpoint lacks, and its files
are those of an uninterrupted run, byte for byte; a checkpoint of another job is refused with one line."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from openclarify import run_analysis
from openclarify.cli import main
from openclarify.config import load_analysis_config
from openclarify.errors import DataError, OutputError
from openclarify.models import load_model
from support.abalone import abalone_classifier
from support.served import job_files

pytestmark = pytest.mark.integration

CASES = Path(__file__).resolve().parents[1] / "compat" / "cases"
CHECKPOINT = ".openclarify-checkpoint"


class Stopped(BaseException):
    """The job's process 'dies' here (nothing in openclarify catches a BaseException that is not its own)."""


class StopAfter:
    """A predictor that stops the job once it has been asked for more than ``rows`` predictions."""

    def __init__(self, inner: Any, rows: int | None) -> None:
        self.inner = inner
        self.rows = rows
        self.seen = 0

    def predict(self, records: Any) -> Any:
        self.seen += len(records)
        if self.rows is not None and self.seen > self.rows:
            raise Stopped
        return self.inner.predict(records)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _records(out: Path) -> list[Path]:
    return sorted((out / CHECKPOINT).rglob("part-*.json"))


def _job(config_path: Path, data: Path, model: Any, out: Path, **options: Any) -> Any:
    return run_analysis(
        load_analysis_config(config_path),
        model=model,
        output_dir=out,
        data=data,
        config_dir=config_path.parent,
        model_description="model",
        **options,
    )


def _stop_then_resume(config: Path, data: Path, model: Any, tmp_path: Path, stop_at: int, **options: Any) -> Any:
    """Run the job until ``stop_at`` predictions, check a checkpoint was left, resume it; the result."""
    out = tmp_path / "resumed"
    with pytest.raises(Stopped):
        _job(config, data, StopAfter(model, stop_at), out, **options)
    assert _records(out), "the job was stopped before any partition was committed: stop it later"
    assert not (out / "analysis.json").exists()  # nothing published
    return _job(config, data, StopAfter(model, None), out, resume=True, **options)


@pytest.mark.filterwarnings("ignore::openclarify.OpenClarifyWarning")
@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_every_golden_case_resumes_to_the_same_bytes(case, tmp_path):
    work = tmp_path / case
    shutil.copytree(CASES / case, work, ignore=shutil.ignore_patterns("expected"))
    data = next(p for p in work.iterdir() if p.name.startswith("dataset"))
    config = work / "analysis_config.json"
    model = load_model(f"{work / 'model.py'}:predict")
    whole = _job(config, data, model, work / "whole", chunksize=3)
    assert not (work / "whole" / CHECKPOINT).exists()  # removed once the files are published
    stopped_at = None
    for stop_at in (whole.model_rows // 2, whole.model_rows * 3 // 4):
        shutil.rmtree(tmp_path / "resumed", ignore_errors=True)
        out = tmp_path / "resumed"
        with pytest.raises(Stopped):
            _job(config, data, StopAfter(model, stop_at), out, chunksize=3)
        if _records(out):
            stopped_at = stop_at
            break
    assert stopped_at is not None
    committed = len(_records(tmp_path / "resumed"))
    resumed = _job(config, data, StopAfter(model, None), tmp_path / "resumed", chunksize=3, resume=True)
    assert resumed.restored_partitions == committed
    assert job_files(tmp_path / "resumed") == job_files(work / "whole")
    assert not (tmp_path / "resumed" / CHECKPOINT).exists()
    summary = json.loads((tmp_path / "resumed" / "run_summary.json").read_text())
    assert summary["checkpoint"]["restored_partitions"] == committed
    # the resumed run asked the model only for the partitions it lacked (and the baseline once more)
    assert resumed.model_rows == whole.model_rows


@pytest.fixture(scope="module")
def abalone(tmp_path_factory):
    """model.joblib (is an abalone old?), test.csv of 200 other abalones, and a config of SHAP without a
    seed (the job draws one, which the resume must reuse), PDP after SHAP's top features, and bias."""
    root = tmp_path_factory.mktemp("abalone")
    abalone_classifier(root)
    config = {
        "dataset_type": "text/csv",
        "label": "old",
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "Sex"}],
        "predictor": {"label_headers": ["0", "1"]},
        "methods": {
            "shap": {"baseline": [["M", 0.5, 0.4, 0.14, 0.8, 0.34, 0.17, 0.23]], "num_samples": 40},
            "pdp": {"top_k_features": 2, "grid_resolution": 4},
            "pre_training_bias": {"methods": "all"},
            "post_training_bias": {"methods": "all"},
        },
    }
    (root / "cfg.json").write_text(json.dumps(config))
    return root


@pytest.mark.parametrize("stop_share", [0.3, 0.8])
def test_a_job_of_two_passes_without_a_seed_resumes_to_the_same_bytes(abalone, tmp_path, stop_share):
    """SHAP, then PDP of SHAP's top features in a second pass over the data: stopped in either pass, the
    resumed job reuses the seed the first run drew and gives the bytes of an uninterrupted run with it."""
    model = load_model(str(abalone / "model.joblib"))
    config, data = abalone / "cfg.json", abalone / "test.csv"
    out = tmp_path / "resumed"
    probe = _job(config, data, model, tmp_path / "probe", chunksize=16)
    with pytest.raises(Stopped):
        _job(config, data, StopAfter(model, int(probe.model_rows * stop_share)), out, chunksize=16)
    seed = json.loads((out / CHECKPOINT / "job.json").read_text())["seed"]
    resumed = _job(config, data, model, out, chunksize=16, resume=True)
    assert resumed.seed == seed and resumed.restored_partitions > 0
    # the uninterrupted run with the seed the interrupted one drew
    document = json.loads(config.read_text())
    document["methods"]["shap"]["seed"] = seed
    (tmp_path / "seeded.json").write_text(json.dumps(document))
    _job(tmp_path / "seeded.json", data, model, tmp_path / "whole", chunksize=16)
    want = job_files(tmp_path / "whole")
    del want["analysis_config.json"]  # the config as given, seed added
    got = job_files(out)
    assert json.loads(got.pop("analysis_config.json")) == json.loads(config.read_text())
    assert got == want


def test_a_corrupt_or_torn_part_is_computed_again(abalone, tmp_path):
    model = load_model(str(abalone / "model.joblib"))
    config, data = abalone / "cfg.json", abalone / "test.csv"
    document = json.loads(config.read_text())
    document["methods"] = {"shap": {**document["methods"]["shap"], "seed": 5}}
    (tmp_path / "cfg.json").write_text(json.dumps(document))
    config = tmp_path / "cfg.json"
    _job(config, data, model, tmp_path / "whole", chunksize=16)
    out = tmp_path / "resumed"
    with pytest.raises(Stopped):
        _job(config, data, StopAfter(model, 9 * 16 * 42), out, chunksize=16)
    records = _records(out)
    assert len(records) >= 4
    pickle_of = [r.with_suffix(".pickle") for r in records]
    flipped = bytearray(pickle_of[1].read_bytes())
    flipped[len(flipped) // 2] ^= 0xFF
    pickle_of[1].write_bytes(bytes(flipped))  # a part that does not hash to its record
    records[2].unlink()  # a part without its record (the kill came between the two)
    (records[0].parent / ".openclarify-0123.tmp").write_bytes(b"torn")  # a torn temporary file
    resumed = _job(config, data, model, out, chunksize=16, resume=True)
    assert resumed.restored_partitions == len(records) - 2
    assert job_files(out) == job_files(tmp_path / "whole")


def test_a_checkpoint_is_never_reused_silently(abalone, tmp_path):
    model = load_model(str(abalone / "model.joblib"))
    config, data = abalone / "cfg.json", abalone / "test.csv"
    out = tmp_path / "out"
    with pytest.raises(Stopped):
        _job(config, data, StopAfter(model, 3000), out, chunksize=16)
    n = len(_records(out))
    assert n
    with pytest.raises(OutputError, match=rf"holds the checkpoint of an interrupted job \({n} partitions done, "):
        _job(config, data, model, out, chunksize=16)
    assert len(_records(out)) == n  # refused, and nothing lost
    # --overwrite discards it and starts over
    fresh = _job(config, data, model, out, chunksize=16, overwrite=True)
    assert fresh.restored_partitions == 0 and not (out / CHECKPOINT).exists()


def _stopped(abalone: Path, out: Path, config: Path | None = None, data: Path | None = None) -> None:
    model = load_model(str(abalone / "model.joblib"))
    with pytest.raises(Stopped):
        _job(config or abalone / "cfg.json", data or abalone / "test.csv", StopAfter(model, 3000), out, chunksize=16)
    assert _records(out)


def test_a_checkpoint_of_another_job_is_refused_in_one_line(abalone, tmp_path):
    model = load_model(str(abalone / "model.joblib"))
    shutil.copy(abalone / "test.csv", tmp_path / "test.csv")
    shutil.copy(abalone / "cfg.json", tmp_path / "cfg.json")
    config, data = tmp_path / "cfg.json", tmp_path / "test.csv"
    out = tmp_path / "out"
    _stopped(abalone, out, config, data)
    n = len(_records(out))
    original, stat = data.read_bytes(), data.stat()

    def refused(pattern: str, **options: Any) -> None:
        with pytest.raises(OutputError, match=pattern) as caught:
            _job(config, data, model, out, resume=True, **{"chunksize": 16, **options})
        assert "\n" not in str(caught.value)
        assert len(_records(out)) == n  # the checkpoint is kept for when the job is the same again

    refused(r"--resume: the checkpoint in '.*' is of another job: the options the partitions depend on", chunksize=8)
    with data.open("a") as handle:  # one more record
        handle.write("M,0.5,0.4,0.14,0.8,0.34,0.17,0.23,1\n")
    refused(r"of another job: the dataset changed since it was written\. Restore them to resume, or run without")
    data.write_bytes(original)
    os.utime(data, ns=(0, 0))  # the same bytes, but not the same file as far as its listing tells
    refused(r"the dataset changed")
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    document = json.loads(config.read_text())
    document["methods"]["shap"]["num_samples"] = 41
    config.write_text(json.dumps(document))
    refused(r"of another job: the analysis config changed since")
    config.write_text((abalone / "cfg.json").read_text())  # the job as it was: it resumes
    assert _job(config, data, model, out, chunksize=16, resume=True).restored_partitions == n


def test_a_changed_model_file_is_named(abalone, tmp_path):
    shutil.copy(abalone / "model.joblib", tmp_path / "model.joblib")
    config, data = abalone / "cfg.json", abalone / "test.csv"
    model_path = tmp_path / "model.joblib"
    out = tmp_path / "out"
    model = load_model(str(model_path))
    with pytest.raises(Stopped):
        _job(config, data, StopAfter(model, 3000), out, chunksize=16, inputs=[model_path])
    with model_path.open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(OutputError, match=rf"of another job: '{model_path}' changed since it was written"):
        _job(config, data, model, out, chunksize=16, inputs=[model_path], resume=True)


def test_resume_without_a_checkpoint_runs_the_whole_job(abalone, tmp_path):
    model = load_model(str(abalone / "model.joblib"))
    result = _job(abalone / "cfg.json", abalone / "test.csv", model, tmp_path / "out", chunksize=64, resume=True)
    assert result.restored_partitions == 0
    assert (tmp_path / "out" / "analysis.json").exists()


def test_no_checkpoint_keeps_none(abalone, tmp_path):
    out = tmp_path / "out"
    model = load_model(str(abalone / "model.joblib"))
    with pytest.raises(Stopped):
        _job(abalone / "cfg.json", abalone / "test.csv", StopAfter(model, 3000), out, chunksize=16, checkpoint=False)
    assert not (out / CHECKPOINT).exists()


# -- the real thing: SIGKILL of the driver process ----------------------------------------------------------

SLOW_MODEL = """
import time
import numpy as np

def predict(records):
    time.sleep(0.02)
    x = records.to_numpy(dtype=float)
    return np.c_[x @ np.arange(1.0, x.shape[1] + 1), np.tanh(x).sum(axis=1)]
"""


def _slow_job(tmp_path: Path, n: int = 300) -> list[str]:
    """The arguments of a job of ``n`` records in partitions of 10 that takes a few seconds."""
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(n, 5))
    lines = ["a,b,c,d,e", *(",".join(repr(float(v)) for v in row) for row in rows)]
    (tmp_path / "data.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "model.py").write_text(SLOW_MODEL)
    config = {
        "dataset_type": "text/csv",
        "predictor": {"label_headers": ["linear", "tanh"]},
        "methods": {"shap": {"baseline": [[0, 0, 0, 0, 0]], "num_samples": 20, "save_local_shap_values": True}},
    }
    (tmp_path / "cfg.json").write_text(json.dumps(config))
    model = f"{tmp_path / 'model.py'}:predict"
    return ["--config", str(tmp_path / "cfg.json"), "--data", str(tmp_path / "data.csv"), "--model", model,
            "--chunk-size", "10", "--max-batch-rows", "64"]  # fmt: skip


def _cli(args: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.Popen(  # noqa: S603 - this interpreter running openclarify
        [sys.executable, "-m", "openclarify", "analyze", "--quiet", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill_when(out: Path, process: subprocess.Popen[bytes], parts: int) -> int:
    """SIGKILL ``process`` once ``parts`` partitions are committed; the number committed at the kill."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the job ended (exit {process.returncode}) before the kill")
        if len(_records(out)) >= parts:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return len(_records(out))
        time.sleep(0.005)
    process.kill()
    pytest.fail("the job committed too few partitions in time")


@pytest.mark.slow
def test_the_driver_killed_at_a_random_point_resumes_to_the_same_bytes(tmp_path):
    """The job has no seed, so it draws one: the resumed job must find it in the checkpoint. The killed
    job is resumed once more after a second kill, then finishes."""
    args = _slow_job(tmp_path)
    chance = random.Random()
    first, second = sorted(chance.sample(range(2, 29), 2))
    out = tmp_path / "out"
    process = _cli([*args, "--output", str(out)])
    assert process.returncode is None
    committed = _kill_when(out, process, first)
    assert process.returncode == -signal.SIGKILL
    assert not (out / "analysis.json").exists()
    seed = json.loads((out / CHECKPOINT / "job.json").read_text())["seed"]
    # resumed, killed again, resumed again
    process = _cli([*args, "--output", str(out), "--resume"])
    _kill_when(out, process, max(second, committed + 1))
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "openclarify", "analyze", *args, "--output", str(out), "--resume"],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "resumed with " in done.stderr, (first, second, done.stderr)
    summary = json.loads((out / "run_summary.json").read_text())
    restored, computed = summary["checkpoint"]["restored_partitions"], summary["checkpoint"]["computed_partitions"]
    assert restored >= second - 1 and restored + computed == 30, (first, second, summary["checkpoint"])
    # the uninterrupted job with the seed the first run drew
    config = json.loads((tmp_path / "cfg.json").read_text())
    config["methods"]["shap"]["seed"] = seed
    (tmp_path / "seeded.json").write_text(json.dumps(config))
    seeded = [*args]
    seeded[1] = str(tmp_path / "seeded.json")
    assert main(["analyze", "--quiet", *seeded, "--output", str(tmp_path / "whole")]) == 0
    want, got = job_files(tmp_path / "whole"), job_files(out)
    assert json.loads(got.pop("analysis_config.json"))["methods"]["shap"].get("seed") is None
    del want["analysis_config.json"]
    assert got == want, (first, second)
    lines = (out / "explanations_shap" / "out.csv").read_text().splitlines()
    assert len(lines) == 301  # nothing lost, nothing duplicated


def test_resume_on_the_command_line(abalone, tmp_path, capsys):
    out = tmp_path / "out"
    config, model_path = abalone / "cfg.json", abalone / "model.joblib"
    model = load_model(str(model_path))
    with pytest.raises(Stopped):  # the job as the command line names it: the model by its path
        run_analysis(load_analysis_config(config), model=StopAfter(model, 3000), output_dir=out,
                     data=str(abalone / "test.csv"), config_dir=config.parent, model_description=str(model_path),
                     inputs=[config, model_path], chunksize=16)  # fmt: skip
    n = len(_records(out))
    base = ["analyze", "--config", str(config), "--data", str(abalone / "test.csv"), "--model", str(model_path),
            "--output", str(out), "--chunk-size", "16"]  # fmt: skip
    capsys.readouterr()
    assert main(base) == 5  # a checkpoint, no --resume: an output error
    err = capsys.readouterr().err
    assert "holds the checkpoint of an interrupted job" in err and "Traceback" not in err
    assert main([*base, "--resume", "--overwrite"]) == 2
    assert main([*base, "--resume", "--no-checkpoint"]) == 2
    assert main([*base, "--chunk-size", "8", "--resume"]) == 5
    assert "the options the partitions depend on (--chunk-size" in capsys.readouterr().err
    assert main([*base, "--resume"]) == 0
    assert f"resumed with {n} partitions from the checkpoint" in capsys.readouterr().err


def test_data_error_on_resume_when_partitions_move(abalone, tmp_path):
    """A checkpoint whose partition bounds no longer match the data (which the listing missed) is refused."""
    from openclarify.outputs import _checkpoint

    model = load_model(str(abalone / "model.joblib"))
    out = tmp_path / "out"
    _stopped(abalone, out)
    record = _records(out)[0]
    document = json.loads(record.read_text())
    document["first_row"] += 1
    record.write_text(json.dumps(document))
    assert _checkpoint.CHECKPOINT_DIR == CHECKPOINT
    with pytest.raises(DataError, match="partition 0 holds records 0 to 15, not 1 to 16"):
        _job(abalone / "cfg.json", abalone / "test.csv", model, out, chunksize=16, resume=True)


def test_a_new_job_replaces_the_checkpoint_of_a_different_one_with_a_warning(abalone, tmp_path):
    from openclarify import OpenClarifyWarning

    model = load_model(str(abalone / "model.joblib"))
    out = tmp_path / "out"
    _stopped(abalone, out)
    n = len(_records(out))
    with pytest.warns(OpenClarifyWarning, match=rf"discarded the checkpoint of an earlier, different job \({n} parti"):
        result = _job(abalone / "cfg.json", abalone / "test.csv", model, out, chunksize=32)
    assert result.restored_partitions == 0 and not (out / CHECKPOINT).exists()
