"""report.pdf: the HTML report laid out on A4 pages by WeasyPrint (the optional extra ``pdf``)."""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import MissingDependencyError
from ._html import render_html
from ._model import Report

__all__ = ["render_pdf"]


def render_pdf(report: Report) -> bytes:
    """The report as a PDF document, from the same HTML as :func:`render_html` (print styles apply:
    value tables are left out, a record is not split across pages when it fits on one).

    Raises
    ------
    MissingDependencyError
        WeasyPrint, or the Pango library it draws text with, is not installed.
    """
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: WeasyPrint is there but Pango is not
        raise MissingDependencyError(
            "report.pdf needs the optional dependency 'weasyprint' and the Pango library "
            f"({type(exc).__name__}: {exc}). Install them with: pip install 'openclarify[pdf]' "
            "(and on Debian or Ubuntu: apt-get install libpango-1.0-0 libpangoft2-1.0-0)."
        ) from exc
    # WeasyPrint and fontTools log every font subset at INFO/WARNING level; keep the job's log readable
    for name in ("weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)
    document = weasyprint.HTML(string=render_html(report), base_url=str(Path(report.folder).resolve()))
    return bytes(document.write_pdf())
