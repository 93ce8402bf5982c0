"""Reports on an output folder: HTML, PDF and a notebook, and views that display in Jupyter.

Rendering never recomputes: a report is built from the files an analysis wrote (ours, or a Clarify
job's) by :func:`load_report`, then :func:`render_html`, :func:`render_pdf` and
:func:`render_notebook` turn it into documents and :func:`write_reports` writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from ..config._parse import is_plain_file_name
from ..errors import OutputError, ReportError
from ..outputs import RecordSelection, add_published, write_atomic
from ._bias import BIAS_METRIC_NOTES, BiasRow, BiasStageView, BiasTable, BiasView
from ._charts import BarChart, PdpChart
from ._colors import attribution_color, scale_attributions
from ._html import render_html
from ._model import CaptumRecord, GlobalView, RecordView, Report, SummaryView, UnitView, build_report, load_report
from ._notebook import render_notebook
from ._pdf import render_pdf
from ._pdp import PdpNote, PdpView

__all__ = [
    "BIAS_METRIC_NOTES",
    "REPORT_FORMATS",
    "BarChart",
    "BiasRow",
    "BiasStageView",
    "BiasTable",
    "BiasView",
    "CaptumRecord",
    "GlobalView",
    "PdpChart",
    "PdpNote",
    "PdpView",
    "RecordSelection",
    "RecordView",
    "Report",
    "ReportFormat",
    "SummaryView",
    "UnitView",
    "attribution_color",
    "build_report",
    "load_report",
    "render_html",
    "render_notebook",
    "render_pdf",
    "render_report",
    "scale_attributions",
    "write_reports",
]

ReportFormat = Literal["html", "pdf", "ipynb"]
REPORT_FORMATS: tuple[ReportFormat, ...] = ("html", "pdf", "ipynb")

_RENDERERS: dict[ReportFormat, Callable[[Report], str | bytes]] = {
    "html": render_html,
    "pdf": render_pdf,
    "ipynb": render_notebook,
}


def render_report(report: Report, fmt: ReportFormat) -> bytes:
    """The report as the bytes of one file format (``html``, ``pdf`` or ``ipynb``)."""
    if fmt not in _RENDERERS:
        raise ReportError(f"report format: unknown {fmt!r}; choose from {list(REPORT_FORMATS)!r}.")
    content = _RENDERERS[fmt](report)
    return content.encode("utf-8") if isinstance(content, str) else content


def write_reports(
    report: Report,
    output_dir: str | Path,
    *,
    name: str = "report",
    formats: Sequence[ReportFormat] = REPORT_FORMATS,
) -> list[Path]:
    """Write ``<name>.html``, ``<name>.pdf`` and ``<name>.ipynb`` (those in ``formats``) into ``output_dir``.

    Each file appears complete or not at all (written to a temporary file, then renamed); in a folder an
    openclarify job published, the files join its manifest (the next job there replaces them). Returns
    the paths written.

    Raises
    ------
    ReportError
        ``name`` is not a plain file name, or a format is unknown.
    MissingDependencyError
        ``pdf`` was asked for and WeasyPrint cannot be imported (the other files are still written).
    OutputError
        The folder cannot be written, or a job is writing it.
    """
    if not is_plain_file_name(name):  # the rule of methods.report.name
        raise ReportError(f"methods.report.name: must be a plain file name; got {name!r}. Use e.g. 'report'.")
    unknown = [f for f in formats if f not in _RENDERERS]
    if unknown:
        raise ReportError(f"report formats: unknown {unknown!r}; choose from {list(REPORT_FORMATS)!r}.")
    out = Path(output_dir)
    written: list[Path] = []
    missing: Exception | None = None
    for fmt in formats:
        try:
            data = render_report(report, fmt)
        except ImportError as exc:  # MissingDependencyError: write the other formats, then say so
            missing = exc
            continue
        written.append(_write_atomic(out / f"{name}.{fmt}", data))
    if written:
        add_published(out, written)
    if missing is not None:
        raise missing
    return written


def _write_atomic(path: Path, data: bytes) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
    except OSError as exc:
        raise OutputError(
            f"report file '{path}': cannot be written ({exc.strerror or exc}). Choose a folder you can write to."
        ) from exc
    return path
