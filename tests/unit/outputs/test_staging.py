"""Output folders published as a whole: manifest written last, lock, stale staging, foreign files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from openclarify.errors import OutputError, ReportError
from openclarify.outputs import (
    MANIFEST_FILE,
    OutputStaging,
    add_published,
    published_files,
    read_output_folder,
    write_atomic,
)
from openclarify.outputs import _staging as staging

ANALYSIS = {"explanations": {"kernel_shap": {"label0": {"global_shap_values": {"a": 1.0}, "expected_value": 0.5}}}}


def _publish(out, files, **kwargs):
    with OutputStaging(out, **kwargs) as stage:
        for name, text in files.items():
            stage.path(name).write_text(text)
        stage.commit()


def _visible(out):
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))


def test_a_second_job_replaces_the_first_as_a_whole(tmp_path):
    out = tmp_path / "out"
    _publish(out, {"analysis.json": "{}", "explanations_shap/out.csv": "a\n", "report.html": "<p>"})
    _publish(out, {"analysis.json": '{"new": 1}', "other.html": "<p>"})
    assert _visible(out) == ["analysis.json", "other.html"]
    assert not (out / "explanations_shap").exists()  # the folder the first job's files were in
    assert published_files(out) == {"analysis.json", "other.html"}
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    assert manifest["schema_version"] == 1
    assert manifest["files"] == [{"bytes": 10, "path": "analysis.json"}, {"bytes": 3, "path": "other.html"}]


def test_a_folder_with_files_no_job_wrote_is_refused_unless_overwrite(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "sub").mkdir()
    with pytest.raises(
        OutputError, match=r"holds 2 files no openclarify job wrote \('notes.txt', 'sub/'\).*--overwrite"
    ):
        _publish(out, {"analysis.json": "{}"})
    assert (out / "notes.txt").read_text() == "mine"  # nothing was touched
    assert sorted(p.name for p in out.iterdir()) == [".openclarify.lock", "notes.txt", "sub"]
    _publish(out, {"analysis.json": "{}"}, overwrite=True)
    assert _visible(out) == ["analysis.json"]
    assert not (out / "sub").exists()


def test_overwrite_never_deletes_an_input_of_the_job(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "data.csv").write_text("a\n1\n")
    with pytest.raises(OutputError, match=r"holds '.*data.csv', an input of this job, which --overwrite would delete"):
        _publish(out, {"analysis.json": "{}"}, overwrite=True, protected=[out / "data.csv"])
    assert (out / "data.csv").read_text() == "a\n1\n"


def test_a_folder_an_earlier_version_wrote_is_ours_by_its_run_summary(tmp_path):
    out = tmp_path / "out"
    (out / "explanations_shap").mkdir(parents=True)
    (out / "run_summary.json").write_text(json.dumps({"tool": "openclarify 0.0.9"}))
    (out / "analysis_config.json").write_text(json.dumps({"methods": {"report": {"name": "mine"}}}))
    for name in ("analysis.json", "explanations_shap/out.csv", "mine.html", "mine.pdf"):
        (out / name).write_text("x")
    _publish(out, {"analysis.json": "{}"})
    assert _visible(out) == ["analysis.json"]
    # a Clarify job's folder (no run_summary.json) is not ours
    clarify = tmp_path / "clarify"
    clarify.mkdir()
    (clarify / "analysis.json").write_text("{}")
    with pytest.raises(OutputError, match="no openclarify job wrote"):
        _publish(clarify, {"analysis.json": "{}"})


def test_a_second_job_into_a_locked_folder_stops_at_once(tmp_path):
    out = tmp_path / "out"
    with OutputStaging(out) as stage:
        stage.path("analysis.json").write_text("{}")
        with pytest.raises(OutputError, match=rf"another openclarify job is writing it \(pid {os.getpid()} on "):
            _publish(out, {"analysis.json": "{}"})
        stage.commit()
    assert _visible(out) == ["analysis.json"]
    _publish(out, {"analysis.json": "{}"})  # the lock went with the first job


def test_the_lock_of_a_killed_process_is_gone_and_its_staging_is_cleared(tmp_path):
    out = tmp_path / "out"
    script = textwrap.dedent(
        f"""
        import os
        from openclarify.outputs import OutputStaging
        stage = OutputStaging({str(out)!r}).__enter__()
        stage.path("explanations_shap/out.csv").write_text("partial")
        os.kill(os.getpid(), 9)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], check=False)
    assert done.returncode == -9
    stale = [p.name for p in out.iterdir() if p.name.startswith(".openclarify-staging-")]
    assert len(stale) == 1
    _publish(out, {"analysis.json": "{}"})
    assert [p.name for p in out.iterdir() if p.name.startswith(".openclarify-staging-")] == []
    assert _visible(out) == ["analysis.json"]


class _Stop(BaseException):
    pass


@pytest.mark.parametrize("moves_before_kill", [0, 1, 2], ids=["before-first-move", "after-one-move", "after-two"])
def test_a_publish_stopped_half_way_is_refused_by_readers_and_cleared_by_the_next_job(
    tmp_path, monkeypatch, moves_before_kill
):
    out = tmp_path / "out"
    _publish(out, {"analysis.json": json.dumps(ANALYSIS), "explanations_shap/out.csv": "a_label0\n1.0\n"})
    assert read_output_folder(out).n_records == 1
    real_replace = os.replace
    calls = {"n": 0}

    def replace(src, dst):
        if str(dst).endswith(staging.JOURNAL_FILE):
            return real_replace(src, dst)
        if calls["n"] == moves_before_kill:
            raise _Stop
        calls["n"] += 1
        return real_replace(src, dst)

    monkeypatch.setattr(staging.os, "replace", replace)
    with pytest.raises(_Stop):
        _publish(out, {"analysis.json": json.dumps(ANALYSIS), "run_summary.json": "{}", "report.html": "<p>"})
    monkeypatch.setattr(staging.os, "replace", real_replace)
    assert (out / staging.JOURNAL_FILE).exists()
    assert not (out / MANIFEST_FILE).exists()
    with pytest.raises(ReportError, match="a job was stopped while publishing its files here"):
        read_output_folder(out)
    _publish(out, {"analysis.json": json.dumps(ANALYSIS)})
    assert _visible(out) == ["analysis.json"]
    assert not (out / staging.JOURNAL_FILE).exists()
    assert read_output_folder(out).local_file is None


def test_readers_see_only_the_files_the_job_published(tmp_path):
    out = tmp_path / "out"
    _publish(out, {"analysis.json": json.dumps(ANALYSIS)})
    (out / "explanations_shap").mkdir()
    (out / "explanations_shap" / "out.csv").write_text("a_label0\n1.0\n")  # put there later, by hand
    assert read_output_folder(out).local_file is None
    (out / "analysis.json").write_text(json.dumps(ANALYSIS) + " ")
    with pytest.raises(ReportError, match=r"analysis.json has \d+ bytes, not the \d+ the job wrote"):
        read_output_folder(out)


@pytest.mark.parametrize("relative", ["../x.html", "/tmp/x.html", "a/../../x", ".openclarify-manifest.json", ""])
def test_staged_paths_stay_inside_the_folder(tmp_path, relative):
    with OutputStaging(tmp_path / "out") as stage:
        with pytest.raises(OutputError, match="must be a path inside the output folder"):
            stage.path(relative)


def test_files_a_report_adds_later_join_the_manifest(tmp_path):
    out = tmp_path / "out"
    _publish(out, {"analysis.json": json.dumps(ANALYSIS)})
    (out / "late.html").write_text("<p>later</p>")
    add_published(out, [out / "late.html"])
    assert published_files(out) == {"analysis.json", "late.html"}
    _publish(out, {"analysis.json": "{}"})  # ours, so replaced without --overwrite
    assert _visible(out) == ["analysis.json"]
    with OutputStaging(out):
        with pytest.raises(OutputError, match="an openclarify job is writing it"):
            add_published(out, [out / "analysis.json"])
    clarify = tmp_path / "clarify"
    clarify.mkdir()
    (clarify / "report.html").write_text("<p>")
    add_published(clarify, [clarify / "report.html"])  # no manifest: left as it is
    assert sorted(p.name for p in clarify.iterdir()) == ["report.html"]


def test_an_analysis_json_nested_too_deep_is_a_report_error(tmp_path):
    (tmp_path / "analysis.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ReportError, match="analysis.json '.*': not JSON an analysis writes"):
        read_output_folder(tmp_path)


def test_files_written_atomically_get_the_umasks_permissions_and_leave_no_temporary(tmp_path):
    """Not mkstemp's 0600: a report or manifest is as readable as the other files of the folder."""
    umask = os.umask(0o022)
    try:
        write_atomic(tmp_path / "r.html", b"<p>")
    finally:
        os.umask(umask)
    assert (tmp_path / "r.html").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


@pytest.mark.parametrize("location", ["s3://bucket/prefix/", "memory://out"])
def test_an_output_folder_at_a_url_is_refused_at_once(tmp_path, monkeypatch, location):
    """Writing to a URL is not implemented yet: one error from openclarify.io, and no local folder made."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputError, match=rf"output folder '{location}': must be a local path, not a \w+:// URL"):
        OutputStaging(location)
    assert list(tmp_path.iterdir()) == []


def test_an_input_at_a_url_is_not_protected_as_a_local_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "foreign.txt").write_text("x")
    _publish(".", {"analysis.json": "{}"}, overwrite=True, protected=["s3://bucket/data.csv"])
    assert _visible(tmp_path) == ["analysis.json"]


@pytest.mark.parametrize("existing", [False, True], ids=["new-folder", "existing-folder"])
def test_ctrl_c_while_entering_leaves_what_a_failed_job_leaves(tmp_path, monkeypatch, existing):
    """A Ctrl-C right after the staging folder is made (before the with-block runs) cleans up as one a
    moment later does: no staging folder, and no folder at all when the job created it."""
    out = tmp_path / "out"
    if existing:
        _publish(out, {"analysis.json": "{}"})
    real = staging.tempfile.mkdtemp

    def interrupted(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(staging.tempfile, "mkdtemp", interrupted)
    with pytest.raises(KeyboardInterrupt):
        with OutputStaging(out):
            pass
    if existing:
        assert not [p for p in out.iterdir() if p.name.startswith(staging.STAGING_PREFIX)]
        assert published_files(out) == {"analysis.json"}
    else:
        assert not out.exists()
