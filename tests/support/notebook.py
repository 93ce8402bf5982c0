"""The report notebook of a folder, checked the way Jupyter would run it (report tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def checked_notebook(
    folder: Path, sections: list[str], names: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> list[Any]:
    """Render ``folder``'s notebook, check that it is valid, that its section headings after the title are
    ``names[s]`` for ``s`` in ``sections``, and that re-running each code cell in the folder gives the HTML
    the cell holds; return the code cells."""
    import nbformat

    from openclarify.report import load_report, render_notebook

    nb = nbformat.reads(render_notebook(load_report(folder)), as_version=4)
    nbformat.validate(nb)
    headings = [c.source.split("\n")[0] for c in nb.cells if c.cell_type == "markdown"][1:]
    assert [h[: len(names[s])] for h, s in zip(headings, sections, strict=True)] == [names[s] for s in sections]
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    monkeypatch.chdir(folder)  # Jupyter runs a notebook in its folder
    namespace: dict[str, object] = {}
    for cell in code_cells:
        *body, last = cell.source.strip().splitlines()
        exec("\n".join(body), namespace)  # noqa: S102 - the notebook's own code
        shown: Any = eval(last.split("#")[0], namespace)  # noqa: S307
        assert shown._repr_html_() == cell.outputs[0]["data"]["text/html"]
    return code_cells
