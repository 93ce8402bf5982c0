"""HTML rendering with Jinja2, autoescape on: every string from the data is escaped.

captum's ``visualize_text`` pastes tokens into its HTML unescaped, so a review holding ``<script>``
runs it; here the environment escapes every value (``autoescape=True`` for every template, whatever
its name), and the page also carries a Content-Security-Policy that allows no script at all.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any

from .._version import __version__

if TYPE_CHECKING:  # the report model renders itself with this module: no import back at run time
    from ._model import Report

__all__ = ["render_fragment", "render_html", "render_page"]


def _full(value: float) -> str:
    """Every digit of a float (``repr``), for data attributes that tests and tools read back."""
    return repr(float(value)) if math.isfinite(value) else "NaN"


def _short(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else "n/a"


def _signed(value: float) -> str:
    return f"{value:+.4g}" if math.isfinite(value) else "n/a"


@functools.cache
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("openclarify.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["full"] = _full
    env.filters["short"] = _short
    env.filters["signed"] = _signed
    env.globals["for_print"] = False  # True only for the PDF's page (see render_page)
    return env


def render_html(report: Report) -> str:
    """The report as one self-contained HTML document: styles and charts inline, no script, no
    network request (its Content-Security-Policy forbids them)."""
    return render_page(report)


def render_page(report: Report, *, for_print: bool = False) -> str:
    """The report's HTML page; ``for_print`` leaves out what print styles hide anyway (the value
    table under each chart), which is most of the elements WeasyPrint would style for a PDF."""
    template = _environment().get_template("report.html.j2")
    return str(template.render(report=report, version=__version__, for_print=for_print))


def render_fragment(which: str, **context: Any) -> str:
    """An HTML fragment with its styles, for Jupyter's ``_repr_html_``: ``"record"``, ``"summary"``,
    ``"global"``, ``"pdp"`` or ``"report_body"``."""
    context.setdefault("lang", None)
    for name in ("record", "summary", "global_view", "pdp", "report"):
        context.setdefault(name, None)
    return str(_environment().get_template("fragment.html.j2").render(which=which, **context))
