"""``openclarify report``: render report.html / .pdf / .ipynb from an output folder (ours or Clarify's)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import click

from ..outputs import RecordSelection

__all__ = ["RECORDS_HELP", "parse_records", "report"]

RECORDS_HELP = (
    "Records to show: 'first:N' (default first:10), 'top:N' (the N with the largest total |attribution| to "
    "the label shown), or record numbers '0,5,9' (from 0, input order)."
)


def parse_records(spec: str | None, option: str = "--records") -> RecordSelection | None:
    """``first:N`` | ``top:N`` | ``0,5,9`` -> a :class:`RecordSelection` (None for None)."""
    if spec is None:
        return None
    text = spec.strip()
    kind, _, count = text.partition(":")
    try:
        if kind in ("first", "top") and count:
            n = int(count)
            if n < 1:
                raise ValueError
            return RecordSelection.first(n) if kind == "first" else RecordSelection.top(n)
        ids = [int(x) for x in text.split(",") if x.strip()]
        if not ids or any(i < 0 for i in ids):
            raise ValueError
        return RecordSelection.rows(ids)
    except ValueError:
        raise click.BadParameter(
            f"must be 'first:N', 'top:N' (N >= 1) or record numbers such as '0,5,9'; got {spec!r}.",
            param_hint=option,
        ) from None


@click.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--records", "records", default=None, type=str, help=RECORDS_HELP)
@click.option(
    "--label",
    default=None,
    type=str,
    help="Show every record's attributions to this label. Default: each record's predicted label.",
)
@click.option(
    "--format",
    "formats",
    default="html,pdf,ipynb",
    show_default=True,
    type=str,
    help="Comma-separated report files to write: html, pdf, ipynb.",
)
@click.option(
    "--name",
    default=None,
    type=str,
    help="File base name. Default: methods.report.name of the folder's analysis_config.json, else 'report'.",
)
@click.option("--title", default=None, type=str, help="Default: methods.report.title, else 'Analysis Report'.")
@click.option(
    "--output",
    "output",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the report files. Default: FOLDER.",
)
@click.option("--quiet", is_flag=True, help="Do not print the files written.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
def report(
    folder: Path,
    records: str | None,
    label: str | None,
    formats: str,
    name: str | None,
    title: str | None,
    output: Path | None,
    quiet: bool,
    debug: bool,
) -> None:
    """Render the report of an analysis output FOLDER (the one holding analysis.json).

    FOLDER may come from openclarify analyze or from a SageMaker Clarify processing job (its S3 output,
    downloaded). The report shows the run's summary, global SHAP values per label, the top text units,
    the partial dependence charts (methods.pdp), and the local explanations of the chosen records.
    """
    from ..report import REPORT_FORMATS, load_report, write_reports

    if quiet:
        logging.getLogger("openclarify").setLevel(logging.WARNING)
    selection = parse_records(records)
    chosen = [f.strip().lower() for f in formats.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in REPORT_FORMATS]
    if unknown or not chosen:
        raise click.BadParameter(
            f"must list some of {', '.join(REPORT_FORMATS)}; got {formats!r}.", param_hint="--format"
        )
    rep = load_report(folder, records=selection, label=label, title=title)
    if name is None:
        config = rep.outputs.config if rep.outputs is not None else None
        methods = (config or {}).get("methods")
        report_cfg = methods.get("report") if isinstance(methods, dict) else None
        configured = report_cfg.get("name") if isinstance(report_cfg, dict) else None
        name = configured if isinstance(configured, str) and configured else "report"
    if not quiet:
        click.echo(f"openclarify: {rep.shown_note}", err=True)
    missing: ImportError | None = None
    for fmt in dict.fromkeys(chosen):  # one at a time, to say what each costs
        start = time.perf_counter()
        try:
            written = write_reports(rep, output or folder, name=name, formats=[fmt])  # type: ignore[list-item]
        except ImportError as exc:  # MissingDependencyError: write the other formats, then say so
            missing = exc
            continue
        if not quiet:
            for path in written:
                click.echo(f"openclarify: wrote {path} in {time.perf_counter() - start:.1f} s", err=True)
    if missing is not None:
        raise missing
