"""``--output s3://bucket/prefix/``: against a real S3-compatible HTTP server on 127.0.0.1 (moto's server
mode), the objects are the bytes of a local run, published with the manifest last; the checkpoint lives
under the prefix, so a driver killed mid-job resumes there; foreign objects and races are refused."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from openclarify.cli import main
from support.served import job_files

pytestmark = [pytest.mark.integration]

s3fs = pytest.importorskip("s3fs")

CASES = Path(__file__).resolve().parents[1] / "compat" / "cases"
MANIFEST = ".openclarify-manifest.json"


@pytest.fixture
def bucket(s3_bucket):
    """A new bucket on the local server (tests/support/s3.py), the AWS variables pointing there."""
    return s3_bucket.name, s3_bucket.fs


def _objects(fs, prefix: str) -> dict[str, bytes]:
    """The objects under ``prefix`` as job_files gives a local folder's files."""
    fs.invalidate_cache()
    found = {}
    for key in sorted(fs.find(prefix)):
        relative = key[len(prefix) :].lstrip("/")
        name = relative.rsplit("/", 1)[-1]
        if name != "run_summary.json" and not name.startswith(("report.", ".")):
            found[relative] = fs.cat_file(key)
    return found


def _case(tmp_path: Path, name: str = "tabular_exact") -> list[str]:
    work = CASES / name
    data = next(p for p in work.iterdir() if p.name.startswith("dataset"))
    return [
        "--config",
        str(work / "analysis_config.json"),
        "--data",
        str(data),
        "--model",
        f"{work / 'model.py'}:predict",
    ]


@pytest.mark.filterwarnings("ignore::openclarify.OpenClarifyWarning")
@pytest.mark.parametrize("case", ["tabular_exact", "text_multimodal_sampled"])
def test_the_objects_are_the_bytes_of_a_local_run(case, bucket, tmp_path):
    name, fs = bucket
    args = _case(tmp_path, case)
    assert main(["analyze", *args, "--output", str(tmp_path / "local"), "--quiet"]) == 0
    assert main(["analyze", *args, "--output", f"s3://{name}/runs/one/", "--quiet", "--chunk-size", "2"]) == 0
    assert _objects(fs, f"{name}/runs/one") == job_files(tmp_path / "local")
    keys = {k[len(f"{name}/runs/one/") :] for k in fs.find(f"{name}/runs/one")}
    assert MANIFEST in keys and "run_summary.json" in keys
    assert not any(k.startswith(".openclarify-checkpoint") for k in keys)  # removed once published
    manifest = json.loads(fs.cat_file(f"{name}/runs/one/{MANIFEST}"))
    assert sorted(f["path"] for f in manifest["files"]) == sorted(keys - {MANIFEST})
    assert all(fs.info(f"{name}/runs/one/{f['path']}")["size"] == f["bytes"] for f in manifest["files"])


def test_a_second_job_replaces_the_first_ones_objects(bucket, tmp_path):
    name, fs = bucket
    args = _case(tmp_path)
    out = f"s3://{name}/out"
    assert main(["analyze", *args, "--output", out, "--quiet"]) == 0
    config = json.loads((CASES / "tabular_exact" / "analysis_config.json").read_text())
    config["methods"]["shap"]["save_local_shap_values"] = False
    (tmp_path / "cfg.json").write_text(json.dumps(config))
    args[1] = str(tmp_path / "cfg.json")
    assert main(["analyze", *args, "--output", out, "--quiet"]) == 0
    assert main(["analyze", *args, "--output", str(tmp_path / "local"), "--quiet"]) == 0
    assert _objects(fs, f"{name}/out") == job_files(tmp_path / "local")  # the first run's out.csv is gone


def test_foreign_objects_are_refused_and_an_overwrite_replaces_them(bucket, tmp_path, capsys):
    name, fs = bucket
    fs.pipe_file(f"{name}/out/notes.txt", b"mine")
    args = _case(tmp_path)
    assert main(["analyze", *args, "--output", f"s3://{name}/out", "--quiet"]) == 5
    err = capsys.readouterr().err
    assert "holds 1 object no openclarify job wrote ('notes.txt')" in err and len(err.strip().splitlines()) == 1
    assert fs.cat_file(f"{name}/out/notes.txt") == b"mine"
    assert main(["analyze", *args, "--output", f"s3://{name}/out", "--quiet", "--overwrite"]) == 0
    fs.invalidate_cache()
    assert not fs.exists(f"{name}/out/notes.txt")


def test_a_missing_bucket_is_one_line(bucket, tmp_path, capsys):
    args = _case(tmp_path)
    assert main(["analyze", *args, "--output", "s3://no-such-bucket-here/out", "--quiet"]) == 5
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-bucket-here" in err and "Traceback" not in err


def test_two_jobs_never_both_claim_a_prefix(bucket, tmp_path):
    """The manifest is written only if none appeared while the files were uploaded (If-None-Match)."""
    from openclarify.errors import OutputError
    from openclarify.outputs import RemoteOutputStaging

    name, fs = bucket
    stage = RemoteOutputStaging(f"s3://{name}/race")
    with stage:
        stage.path("analysis.json").write_text("{}")
        upload = stage._fs.put_file

        def and_another_job_publishes(local, key, **kwargs):
            upload(local, key, **kwargs)
            s3fs.S3FileSystem(skip_instance_cache=True).pipe_file(f"{name}/race/{MANIFEST}", b'{"files": []}')

        stage._fs.put_file = and_another_job_publishes
        with pytest.raises(OutputError, match="another job published into it while this one did"):
            stage.commit()
    fs.invalidate_cache()
    assert fs.cat_file(f"{name}/race/{MANIFEST}") == b'{"files": []}'  # the other job's manifest stands


SLOW_MODEL = """
import time
import numpy as np

def predict(records):
    time.sleep(0.02)
    x = records.to_numpy(dtype=float)
    return np.c_[x @ np.arange(1.0, x.shape[1] + 1), np.tanh(x).sum(axis=1)]
"""


@pytest.mark.slow
def test_a_driver_killed_while_writing_to_s3_resumes_to_the_same_bytes(bucket, tmp_path):
    import numpy as np

    name, fs = bucket
    rng = np.random.default_rng(1)
    lines = ["a,b,c,d", *(",".join(repr(float(v)) for v in row) for row in rng.normal(size=(200, 4)))]
    (tmp_path / "data.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "model.py").write_text(SLOW_MODEL)
    config = {
        "dataset_type": "text/csv",
        "predictor": {"label_headers": ["linear", "tanh"]},
        "methods": {"shap": {"baseline": [[0, 0, 0, 0]], "num_samples": 12, "seed": 4, "save_local_shap_values": True}},
    }
    (tmp_path / "cfg.json").write_text(json.dumps(config))
    args = ["--config", str(tmp_path / "cfg.json"), "--data", str(tmp_path / "data.csv"), "--model",
            f"{tmp_path / 'model.py'}:predict", "--chunk-size", "10"]  # fmt: skip
    out = f"s3://{name}/killed"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    command = [sys.executable, "-m", "openclarify", "analyze", "--quiet", *args, "--output", out]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    wanted = random.Random().randrange(2, 18)
    records = f"{name}/killed/.openclarify-checkpoint/pass-0"
    deadline = time.monotonic() + 120
    committed = 0
    while time.monotonic() < deadline and process.poll() is None:
        fs.invalidate_cache()
        committed = len(fs.glob(f"{records}/part-*.json")) if fs.exists(records) else 0
        if committed >= wanted:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    process.wait()
    assert process.returncode == -signal.SIGKILL, f"the job ended before the kill ({committed} parts)"
    fs.invalidate_cache()
    assert not fs.exists(f"{name}/killed/analysis.json")
    done = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True, check=False)  # noqa: S603
    assert done.returncode == 0, done.stderr
    summary = json.loads(fs.cat_file(f"{name}/killed/run_summary.json"))
    assert summary["checkpoint"]["restored_partitions"] >= wanted
    assert main(["analyze", "--quiet", *args, "--output", str(tmp_path / "local")]) == 0
    assert _objects(fs, f"{name}/killed") == job_files(tmp_path / "local")
