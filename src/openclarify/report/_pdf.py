"""report.pdf: the HTML report laid out on A4 pages by WeasyPrint (the optional extra ``pdf``).

System libraries: WeasyPrint draws text with Pango (Debian: ``libpango-1.0-0``, ``libpangoft2-1.0-0``)
and cannot start without it. It cuts the fonts it embeds down to the glyphs used with HarfBuzz's
subsetting library (``libharfbuzz-subset0``) when that is installed. Without it, WeasyPrint (70 as of
this writing) warns at import (a ``DeprecationWarning``, which a test run with warnings as errors turns
into a failure) and on every font (a log warning), and subsets with fontTools instead: the same glyphs,
a file of the same size (within 0.1%), about 0.3 s slower for a report. That fallback is taken here
on purpose, so neither message reaches the job; :func:`font_subsetter` says which one is used. Any
other problem WeasyPrint reports becomes one :class:`~openclarify.errors.OpenClarifyWarning`:
characters that no installed font can draw (they show as empty boxes), or anything else (a stylesheet
it cannot read, an image it cannot draw: a PDF that lacks something the HTML shows).
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from ..errors import MissingDependencyError, OpenClarifyWarning
from ._html import render_page
from ._model import Report

__all__ = ["font_subsetter", "render_pdf"]

_INSTALL = (
    "Install them with: pip install 'openclarify[pdf]' "
    "(and on Debian or Ubuntu: apt-get install libpango-1.0-0 libpangoft2-1.0-0)."
)
# WeasyPrint's own words for the fallback chosen here (text/ffi.py at import, pdf/fonts.py per font)
_IMPORT_WARNING = r"HarfBuzz-Subset will be required"
_FALLBACK_LOG = "Using fontTools instead of HarfBuzz-Subset"
_NOTDEF_LOG = ".notdef glyph rendered for Unicode string unsupported by fonts"  # draw/text.py, per glyph
_LOCK = threading.Lock()  # the log filter and the fontTools level are process-wide: one PDF at a time


def render_pdf(report: Report) -> bytes:
    """The report as a PDF document, from the same HTML page as :func:`render_html` with print styles:
    value tables left out, charts two to a row, never split across pages, and a record kept on one
    page when it fits.

    Raises
    ------
    MissingDependencyError
        WeasyPrint, or the Pango library it draws text with, is not installed.

    Warns
    -----
    OpenClarifyWarning
        No installed font can draw some characters (empty boxes in the PDF), or WeasyPrint reported
        another problem with the document (the PDF may lack part of what the HTML shows).
    """
    weasyprint = _import_weasyprint()
    html = render_page(report, for_print=True)
    with _LOCK, _weasyprint_logs() as found:
        document = weasyprint.HTML(string=html, base_url=str(Path(report.folder).resolve()))
        data = bytes(document.write_pdf())
    if found.missing_glyphs:
        chars = "".join(found.missing_glyphs)
        warnings.warn(
            f"report.pdf: no installed font has {len(chars)} of the report's characters, so the PDF shows "
            f"them as empty boxes (the HTML report is not affected); got {chars[:60]!r}. Install fonts that "
            "cover them (Debian: fonts-noto-core, fonts-noto-cjk) and run 'openclarify report' again.",
            OpenClarifyWarning,
            stacklevel=2,
        )
    if found.problems:
        shown = "; ".join(dict.fromkeys(found.problems))
        warnings.warn(
            f"report.pdf: WeasyPrint reported {len(found.problems)} problem(s) with the document, so the PDF "
            f"may lack part of the HTML report; got {shown[:500]!r}. Compare the PDF with the HTML report.",
            OpenClarifyWarning,
            stacklevel=2,
        )
    return data


def font_subsetter() -> Literal["harfbuzz", "fonttools"]:
    """Which library subsets the fonts embedded in report.pdf: ``"harfbuzz"`` (``libharfbuzz-subset0``
    is installed) or ``"fonttools"`` (WeasyPrint's fallback without it; same glyphs, slower).

    Raises
    ------
    MissingDependencyError
        WeasyPrint, or the Pango library it draws text with, is not installed.
    """
    _import_weasyprint()
    ffi = sys.modules.get("weasyprint.text.ffi")
    if ffi is None or not hasattr(ffi, "harfbuzz_subset"):
        return "harfbuzz"  # a WeasyPrint that no longer has the fallback (it cannot start without the library)
    return "harfbuzz" if ffi.harfbuzz_subset is not None else "fonttools"


def _import_weasyprint() -> Any:
    """``import weasyprint`` without its noise: the DeprecationWarning about the subsetting library (see
    the module docstring) and the banner it prints on stdout when a library is missing (the error
    raised here says what to install)."""
    if "weasyprint" in sys.modules and sys.modules["weasyprint"] is not None:
        return sys.modules["weasyprint"]
    banner = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(banner):
            warnings.filterwarnings("ignore", message=_IMPORT_WARNING, category=DeprecationWarning)
            import weasyprint
    except (ImportError, OSError) as exc:  # OSError: WeasyPrint is there but Pango is not
        raise MissingDependencyError(
            "report.pdf needs the optional dependency 'weasyprint' and the Pango library "
            f"({type(exc).__name__}: {exc}). {_INSTALL}"
        ) from exc
    return weasyprint


class _Collect(logging.Filter):
    """Keeps WeasyPrint's warnings and errors out of the job's log and sorts them: characters no font
    could draw, and every other problem (the fontTools fallback is expected and dropped)."""

    def __init__(self) -> None:
        super().__init__()
        self.missing_glyphs: dict[str, None] = {}  # ordered set
        self.problems: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        if isinstance(record.msg, str) and record.msg.startswith(_NOTDEF_LOG) and record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            self.missing_glyphs[str(args[0])] = None
        elif not str(record.msg).startswith(_FALLBACK_LOG):
            self.problems.append(record.getMessage())
        return False


@contextlib.contextmanager
def _weasyprint_logs() -> Iterator[_Collect]:
    """While a PDF is written: WeasyPrint's warnings collected (yielded), fontTools' per-table INFO lines
    and warnings about tables it drops kept out of the log; the loggers as they were afterwards."""
    weasy = logging.getLogger("weasyprint")
    font_tools = logging.getLogger("fontTools")
    collect = _Collect()
    level = font_tools.level
    weasy.addFilter(collect)
    font_tools.setLevel(logging.ERROR)
    try:
        yield collect
    finally:
        weasy.removeFilter(collect)
        font_tools.setLevel(level)
