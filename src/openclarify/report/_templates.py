"""The Jinja2 environment of the report's templates, autoescape on: every string from the data is escaped.

captum's ``visualize_text`` pastes tokens into its HTML unescaped, so a review holding ``<script>``
runs it; here the environment escapes every value (``autoescape=True`` for every template, whatever
its name). :func:`render_fragment` renders one view for Jupyter's ``_repr_html_``; the page is
:mod:`._html`'s.
"""

from __future__ import annotations

import functools
import math
from typing import Any

__all__ = ["environment", "render_fragment"]


def _full(value: float) -> str:
    """Every digit of a float (``repr``), for data attributes that tests and tools read back."""
    return repr(float(value)) if math.isfinite(value) else "NaN"


def _short(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else "n/a"


def _signed(value: float) -> str:
    return f"{value:+.4g}" if math.isfinite(value) else "n/a"


@functools.cache
def environment() -> Any:
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


def render_fragment(which: str, **context: Any) -> str:
    """An HTML fragment with its styles, for Jupyter's ``_repr_html_``: ``"record"``, ``"summary"``,
    ``"global"``, ``"pdp"``, ``"bias"`` or ``"report_body"``."""
    context.setdefault("lang", None)
    for name in ("record", "summary", "global_view", "pdp", "bias", "report"):
        context.setdefault(name, None)
    return str(environment().get_template("fragment.html.j2").render(which=which, **context))
