"""report.ipynb: a notebook that reloads the output folder and draws the report's figures.

The cells follow the report's sections: the summary, the bias metrics, the global explanations, the
partial dependence charts and the local explanations (each section the folder has).

Each code cell is stored with its output already in place (the same HTML the report uses), so the
notebook reads well before it is run; running it recomputes those outputs from the files next to it.
"""

from __future__ import annotations

import html
from typing import Any

from ._model import Report

__all__ = ["render_notebook"]


def _selection_code(report: Report) -> str:
    sel = report.selection
    if sel.kind == "ids":
        return repr(list(sel.ids))
    return f"RecordSelection.{sel.kind}({sel.n})"


def render_notebook(report: Report) -> str:
    """The notebook as JSON text (nbformat 4)."""
    import nbformat as _nbformat

    nbformat: Any = _nbformat  # untyped
    v4 = nbformat.v4

    label = f", label={report.label!r}" if report.label is not None else ""
    title = f", title={report.title!r}"
    load = (
        "from openclarify.report import RecordSelection, load_report\n\n"
        "# the notebook sits in the output folder; Jupyter runs it with that folder as working directory\n"
        f'report = load_report(".", records={_selection_code(report)}{label}{title})\n'
        "report.summary"
    )
    if report.has_shap:
        intro = (
            "This notebook reloads the analysis outputs in its folder "
            "(`analysis.json`, `explanations_shap/`) with `openclarify.report.load_report` and draws the "
            "report's figures. `report.to_captum()` gives the records in captum's "
            "`VisualizationDataRecord` shape (`[r.to_captum() for r in ...]` for captum's "
            "`visualize_text`)."
        )
    else:
        intro = (
            "This notebook reloads the analysis outputs in its folder (`analysis.json`) with "
            "`openclarify.report.load_report` and draws the report's figures."
        )
    cells: list[Any] = [
        v4.new_markdown_cell(f"# {_md(report.title)}\n\n{intro}"),
        _code(load, report.summary._repr_html_()),
    ]
    if report.bias is not None:
        cells.append(v4.new_markdown_cell("## Bias metrics"))
        cells.append(_code("report.bias", report.bias._repr_html_()))
    if report.has_shap:
        cells.append(v4.new_markdown_cell("## Global explanations"))
        cells.append(_code("report.global_view", report.global_view._repr_html_()))
    if report.pdp is not None:
        cells.append(v4.new_markdown_cell("## Partial dependence (PDP)"))
        cells.append(_code("report.pdp", report.pdp._repr_html_()))
    if report.has_shap:
        cells.append(v4.new_markdown_cell(f"## Local explanations\n\n{_md(report.shown_note)}"))
        for i, record in enumerate(report.records):
            cells.append(_code(f"report.records[{i}]  # record {record.row}", record._repr_html_()))
    nb = v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )
    nbformat.validate(nb)
    return str(nbformat.writes(nb)) + "\n"


def _code(source: str, html: str) -> Any:
    import nbformat

    v4: Any = nbformat.v4  # untyped
    cell = v4.new_code_cell(source)
    cell.outputs = [v4.new_output("display_data", data={"text/html": html, "text/plain": "<openclarify report view>"})]
    return cell


def _md(text: str) -> str:
    """Markdown-safe text: the markdown renderer must not read data as HTML or markup."""
    out = html.escape(text, quote=False)
    for ch in "\\`*_[]#|!":
        out = out.replace(ch, "\\" + ch)
    return out
