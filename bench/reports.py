"""What a report costs: seconds per format, PDF pages and file sizes, on output folders.

Each run is a fresh process, as in a job: it imports openclarify.report, reads the folder
(``load_report``, the default first:10 records) and renders html, pdf and ipynb with ``render_report``
in the order ``methods.report`` does; a chart drawn for the HTML is reused by the PDF and the notebook.
The table gives the median of ``--repeat`` runs (best in brackets).

    python bench/reports.py                      # demo_output/dbpedia (make demo), else the test fixtures
    python bench/reports.py demo_output/*/clarify_output --repeat 5
    PYTHONPATH=/path/to/other/checkout/src python bench/reports.py ...   # the same on other code

``--json PATH`` also writes every run. Without ``libharfbuzz-subset0`` WeasyPrint subsets fonts with
fontTools (the ``subsetter`` column).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = [ROOT / "demo_output" / "dbpedia" / "clarify_output"]
FIXTURES = [ROOT / "tests" / "compat" / "data" / name for name in ("clarify_job_text", "clarify_job_tabular")]
FORMATS = ("html", "pdf", "ipynb")
_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")


def pdf_pages(data: bytes) -> int:
    """Page objects in a PDF, in plain objects and in Flate-compressed object streams."""
    count = len(_PAGE.findall(data))
    for m in re.finditer(rb"stream\r?\n", data):
        try:
            count += len(_PAGE.findall(zlib.decompressobj().decompress(data[m.end() :])))
        except zlib.error:
            continue
    return count


def one_run(folder: Path) -> dict[str, Any]:
    """Import, load and render once, in this process (run it in a fresh one)."""
    import warnings

    t0 = time.perf_counter()
    import openclarify.report as report_api

    run: dict[str, Any] = {"import_s": time.perf_counter() - t0}
    t0 = time.perf_counter()
    report = report_api.load_report(folder)
    run["load_s"] = time.perf_counter() - t0
    run["records"] = len(report.records)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. glyphs no installed font has: the timing is what counts here
        for fmt in FORMATS:
            t0 = time.perf_counter()
            data = report_api.render_report(report, fmt)  # type: ignore[arg-type]
            run[f"{fmt}_s"] = time.perf_counter() - t0
            run[f"{fmt}_kb"] = len(data) / 1024
            if fmt == "pdf":
                run["pdf_pages"] = pdf_pages(data)
    try:
        from openclarify.report._pdf import font_subsetter

        run["subsetter"] = font_subsetter()
    except ImportError:
        run["subsetter"] = "?"
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", type=Path, help="output folders (analysis.json, explanations_shap/)")
    parser.add_argument("--repeat", type=int, default=3, help="fresh-process runs per folder (default 3)")
    parser.add_argument("--json", type=Path, default=None, help="also write every run to this file")
    parser.add_argument("--one", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one_run(args.one)))
        return
    folders = args.folders or [f for f in DEFAULT if (f / "analysis.json").is_file()] or FIXTURES
    results: dict[str, list[dict[str, Any]]] = {}
    for folder in folders:
        runs = []
        for _ in range(max(1, args.repeat)):
            out = subprocess.run(
                [sys.executable, __file__, "--one", str(folder)], capture_output=True, text=True, check=True
            ).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
        results[str(folder)] = runs
    cols = ["import_s", "load_s", "html_s", "pdf_s", "ipynb_s"]
    print("| folder | records | " + " | ".join(c.replace("_s", " s") for c in cols) + " | render s | PDF pages"
          " | html KB | pdf KB | ipynb KB | subsetter |")  # fmt: skip
    print("|---" * (len(cols) + 8) + "|")
    for folder, runs in results.items():
        for run in runs:
            run["render_s"] = sum(run[f"{f}_s"] for f in FORMATS)
        cells = [_cell([r[c] for r in runs]) for c in [*cols, "render_s"]]
        first = runs[0]
        name = Path(folder).parent.name if Path(folder).name == "clarify_output" else Path(folder).name
        sizes = " | ".join(f"{first[f'{f}_kb']:.0f}" for f in FORMATS)
        row = [name, str(first["records"]), *cells, str(first["pdf_pages"]), sizes, first["subsetter"]]
        print("| " + " | ".join(row) + " |")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def _cell(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f})"


if __name__ == "__main__":
    main()
