"""``openclarify monitor attribution|bias``: Model Monitor's drift checks between a baseline job and a current one."""

from __future__ import annotations

import click

from ._terminal import echo, safe

__all__ = ["EXIT_VIOLATIONS", "monitor"]

EXIT_VIOLATIONS = 6  # --fail-on-violation: the check found violations

_BASELINE_HELP = "The baseline job: its output folder or its analysis.json (Model Monitor's constraints file)."
_CURRENT_HELP = "The current job (the window to check): its output folder or its analysis.json."
_OUTPUT_HELP = (
    "Folder for constraint_violations.json (Model Monitor's layout; empty violations when nothing drifted) and "
    "drift_report.json (every value the check computed). Local or s3://."
)
_FAIL_HELP = f"Exit with code {EXIT_VIOLATIONS} when there are violations (for a pipeline's gate); default 0."
_ALERT_HELP = (
    "point: a violation whenever the value is worse (Model Monitor's rule); interval: only when the whole bootstrap "
    "interval is."
)


@click.group()
def monitor() -> None:
    """Check drift as SageMaker Model Monitor does: feature attributions (NDCG) and bias metrics."""


def _finish(violations: int, fail: bool) -> None:
    if violations and fail:
        raise click.exceptions.Exit(EXIT_VIOLATIONS)


@monitor.command()
@click.option("--baseline", required=True, help=_BASELINE_HELP)
@click.option("--current", required=True, help=_CURRENT_HELP)
@click.option("--output", default=None, help=_OUTPUT_HELP)
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0),
    default=0.9,
    show_default=True,
    help="A label whose NDCG is below it is a violation (Model Monitor's fixed 0.9).",
)
@click.option(
    "--confidence",
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=None,
    help="Add a bootstrap interval of each label's NDCG at this level (e.g. 0.95), resampling the current job's "
    "records (explanations_shap/out.csv).",
)
@click.option("--replicates", type=click.IntRange(10), default=1000, show_default=True, help="Bootstrap replicates.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--alert-on", type=click.Choice(["point", "interval"]), default="point", show_default=True,
              help=_ALERT_HELP)  # fmt: skip
@click.option("--fail-on-violation", is_flag=True, help=_FAIL_HELP)
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
def attribution(
    baseline: str,
    current: str,
    output: str | None,
    threshold: float,
    confidence: float | None,
    replicates: int,
    seed: int,
    alert_on: str,
    fail_on_violation: bool,
    debug: bool,
) -> None:
    """Feature-attribution drift: per label, the NDCG of the current ranking of features against the baseline's
    attributions (sklearn's ndcg_score); below --threshold is a violation. Also says which features moved
    and by how many ranks."""
    from ..monitoring import attribution_drift, drift_report, read_job, write_violations

    result = attribution_drift(
        read_job(baseline),
        read_job(current),
        threshold=threshold,
        alert_on=alert_on,  # type: ignore[arg-type]
        confidence=confidence,
        replicates=replicates,
        seed=seed,
    )
    for label in result.labels:
        if label.ndcg is None:
            echo(f"openclarify: label {safe(label.label)}: missing from the current job: violation")
            continue
        interval = f" (interval {label.interval[1]:.4f} to {label.interval[2]:.4f})" if label.interval else ""
        verdict = "violation" if label.violation else "ok"
        moved = [m for m in label.features if m.moved][:3]
        moves = (
            "; moved: " + ", ".join(f"{safe(m.name)} {m.baseline_rank}->{m.current_rank}" for m in moved)
            if moved
            else ""
        )
        echo(f"openclarify: label {safe(label.label)}: NDCG {label.ndcg:.4f}{interval}: {verdict}{moves}")
        for note in label.notes:
            echo(f"openclarify:   {safe(note)}")
    if output is not None:
        for path in write_violations(output, result.violations, drift_report(result)):
            echo(f"openclarify: wrote {safe(path)}")
    _finish(len(result.violations), fail_on_violation)


@monitor.command()
@click.option("--baseline", required=True, help=_BASELINE_HELP)
@click.option("--current", required=True, help=_CURRENT_HELP)
@click.option("--output", default=None, help=_OUTPUT_HELP)
@click.option("--alert-on", type=click.Choice(["point", "interval"]), default="point", show_default=True,
              help=_ALERT_HELP + " (The current job's intervals: analyze --bias-ci.)")  # fmt: skip
@click.option("--fail-on-violation", is_flag=True, help=_FAIL_HELP)
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
def bias(baseline: str, current: str, output: str | None, alert_on: str, fail_on_violation: bool, debug: bool) -> None:
    """Bias drift: a metric further from its ideal than in the baseline job (|value| for 0-ideal metrics,
    |ln DI| for DI) is a violation."""
    from ..monitoring import bias_drift, bias_report, read_job, write_violations

    result = bias_drift(read_job(baseline), read_job(current), alert_on=alert_on)  # type: ignore[arg-type]
    compared = [m for m in result.metrics if m.note is None or m.violation]
    echo(f"openclarify: {len(compared)} metrics compared, {len(result.violations)} violations")
    for m in result.metrics:
        if m.violation:
            echo(
                f"openclarify:   {m.stage} {safe(m.facet)}={safe(m.facet_value)} {m.metric}: {m.current!r} "
                f"is worse than the baseline's {m.baseline!r}"
            )
    if output is not None:
        for path in write_violations(output, result.violations, bias_report(result)):
            echo(f"openclarify: wrote {safe(path)}")
    _finish(len(result.violations), fail_on_violation)
