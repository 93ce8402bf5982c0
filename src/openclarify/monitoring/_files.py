"""The monitor's files: the jobs it reads (a folder or its ``analysis.json``) and the violations it writes."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from ..errors import OutputError, ReportError
from ..io import is_url, write_file
from ..outputs import ANALYSIS_JSON, OutputFolder, RecordSelection, read_output_folder

__all__ = ["CONSTRAINT_VIOLATIONS", "DRIFT_REPORT", "read_job", "write_violations"]

CONSTRAINT_VIOLATIONS: Final = "constraint_violations.json"  # Model Monitor's name and layout
DRIFT_REPORT: Final = "drift_report.json"  # openclarify's: everything the check computed


def read_job(location: str | Path) -> OutputFolder:
    """A job's output folder, given as the folder or as its ``analysis.json``.

    Raises
    ------
    ReportError
        Not a folder with an ``analysis.json``, or a malformed one (the message names the key path).
    """
    path = Path(location)
    if path.name == ANALYSIS_JSON and not path.is_dir():
        if not path.is_file():
            raise ReportError(f"'{path}': no such file. Give a job's output folder or its {ANALYSIS_JSON}.")
        path = path.parent
    return read_output_folder(path, RecordSelection.rows([0]))


def _dumps(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, allow_nan=False) + "\n").encode("utf-8")


def write_violations(
    folder: str | Path, violations: Sequence[Mapping[str, Any]], report: Mapping[str, Any]
) -> list[str]:
    """Write ``constraint_violations.json`` (``{"version": "1.0", "violations": [...]}``, always, empty when
    nothing drifted) and ``drift_report.json`` into ``folder`` (created; a local path or a URL), each file
    whole or not at all; returns where they went.

    Raises
    ------
    OutputError
        The folder cannot be created or written.
    """
    base = str(folder).rstrip("/")
    if not is_url(base):
        target = Path(base)
        if target.exists() and not target.is_dir():
            raise OutputError(f"--output '{base}': is a file; give a folder for {CONSTRAINT_VIOLATIONS}.")
    written = []
    for name, document in (
        (CONSTRAINT_VIOLATIONS, {"version": "1.0", "violations": list(violations)}),
        (DRIFT_REPORT, report),
    ):
        location = f"{base}/{name}"
        try:
            write_file(location, _dumps(document))
        except OSError as exc:
            raise OutputError(f"--output '{base}': cannot write {name} ({exc.strerror or exc}).") from None
        written.append(location)
    return written
