"""Paths inside a config resolve against its folder: a local folder as before, or the URL prefix of a config
read from a URL (where '.' and '..' are applied here, since S3 keys would keep them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from openclarify.analyses._common import resolve


@pytest.mark.parametrize(
    ("location", "want"),
    [
        pytest.param("baseline.csv", "s3://b/jobs/baseline.csv", id="a file"),
        pytest.param("./data/", "s3://b/jobs/data/", id="a prefix keeps its slash"),
        pytest.param("../shared/baseline.csv", "s3://b/shared/baseline.csv", id="dot-dot"),
        pytest.param("s3://other/baseline.csv", "s3://other/baseline.csv", id="a URL"),
        pytest.param("/abs/baseline.csv", "/abs/baseline.csv", id="an absolute local path"),
    ],
)
def test_against_a_url_prefix(location, want):
    assert resolve(location, "s3://b/jobs") == want


def test_against_a_local_folder_as_before(tmp_path, monkeypatch):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "baseline.csv").write_text("1\n")
    (tmp_path / "cwd").mkdir()
    (tmp_path / "cwd" / "only-here.csv").write_text("1\n")
    monkeypatch.chdir(tmp_path / "cwd")
    folder = Path(tmp_path / "cfg")
    assert resolve("baseline.csv", folder) == str(folder / "baseline.csv")
    assert resolve("only-here.csv", folder) == "only-here.csv"  # found where the job runs, not next to the config
    assert resolve("nowhere.csv", folder) == str(folder / "nowhere.csv")
    assert resolve("x.csv", None) == "x.csv"
