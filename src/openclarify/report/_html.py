"""The report as an HTML page (Jinja2, autoescape on; see :mod:`._templates`).

The page carries a Content-Security-Policy that allows no script at all, on top of the escaping.
"""

from __future__ import annotations

from .._version import __version__
from ._model import Report
from ._templates import environment, render_fragment

__all__ = ["render_fragment", "render_html", "render_page"]


def render_html(report: Report) -> str:
    """The report as one self-contained HTML document: styles and charts inline, no script, no
    network request (its Content-Security-Policy forbids them)."""
    return render_page(report)


def render_page(report: Report, *, for_print: bool = False) -> str:
    """The report's HTML page; ``for_print`` leaves out what print styles hide anyway (the value
    table under each chart), which is most of the elements WeasyPrint would style for a PDF."""
    template = environment().get_template("report.html.j2")
    return str(template.render(report=report, version=__version__, for_print=for_print))
