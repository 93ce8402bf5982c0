"""``openclarify train`` and ``openclarify prepare-dbpedia``: thin layers over :mod:`openclarify.training`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError
from ..training import TEXT_NORMALIZATIONS, TrainResult, prepare_dbpedia, train_text_classifier

__all__ = ["prepare_dbpedia_command", "train"]


def _read_hyperparameters(path: Path) -> dict[str, Any]:
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--hyperparameters '{path}': file not found.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--hyperparameters '{path}': cannot read it as JSON ({exc}).") from None
    if not isinstance(values, dict):
        raise ConfigError(
            f"--hyperparameters '{path}': must hold a JSON object of names to values, as SageMaker passes them "
            f'({{"epochs": "10"}}); got {type(values).__name__}.'
        )
    return values


def _summary(res: TrainResult) -> list[str]:
    lines = []
    if res.stopped_early:
        lines.append(
            f"early stopping: {res.hyperparameters.patience} epoch counts in a row brought no improvement; "
            f"kept the model trained for {res.epochs_trained} epochs"
        )
    elif res.hyperparameters.early_stopping:
        lines.append(f"kept the model with the best validation accuracy: {res.epochs_trained} epochs")
    if res.validation_accuracy is not None:
        lines.append(
            f"validation accuracy: {res.validation_accuracy:.4f} "
            f"({res.n_validation_lines - res.n_validation_unlabeled} labelled lines)"
        )
    files = ", ".join(str(p) for p in (res.model_path, res.vectors_path, res.metadata_path))
    lines.append(
        f"wrote {files} ({len(res.labels)} labels; {res.epochs_run} epochs trained in all; {res.seconds:.1f}s)"
    )
    return lines


@click.command()
@click.option(
    "--train",
    "train_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Training file: one '__label__<class> <text>' line per example (BlazingText's train channel).",
)
@click.option(
    "--validation",
    "validation_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Validation file in the same format; needed for --early-stopping.",
)
@click.option(
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder: model.bin, model.vec, openclarify-model.json.",
)
@click.option(
    "--hyperparameters",
    "hyperparameters_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON object of BlazingText hyperparameters as SageMaker passes them, e.g. "
    '{"epochs": "10", "early_stopping": "True"}. The options below override it.',
)
@click.option("--mode", default=None, help="BlazingText mode; only 'supervised'.  [default: supervised]")
@click.option("--epochs", type=int, default=None, help="Most passes over the training data.  [default: 5]")
@click.option("--learning-rate", type=float, default=None, help="Step size of the updates.  [default: 0.05]")
@click.option("--min-count", type=int, default=None, help="Drop words seen fewer times.  [default: 5]")
@click.option("--vector-dim", type=int, default=None, help="Embedding dimension.  [default: 100]")
@click.option("--word-ngrams", type=int, default=None, help="Word n-gram length.  [default: 2]")
@click.option("--buckets", type=int, default=None, help="Hash buckets for word n-grams.  [default: 2000000]")
@click.option(
    "--early-stopping/--no-early-stopping",
    default=None,
    help="Choose the epoch count by validation accuracy. Here (unlike BlazingText, which evaluates one run "
    "after each epoch) a model is trained from scratch for each epoch count min_epochs, min_epochs+1, ... "
    "up to --epochs, until --patience counts in a row bring no improvement; the best one is kept. "
    "That costs min_epochs + ... + last epochs of training.  [default: off]",
)
@click.option(
    "--patience", type=int, default=None, help="Epoch counts without improvement before stopping.  [default: 4]"
)
@click.option("--min-epochs", type=int, default=None, help="Fewest epochs with --early-stopping.  [default: 5]")
@click.option(
    "--threads",
    type=int,
    default=None,
    help="Training threads [default: the number of CPU cores]. Only --threads 1 gives the same model.bin "
    "on every run (with the same --seed).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="fastText's random seed.")
@click.option(
    "--text-normalization",
    type=click.Choice(TEXT_NORMALIZATIONS),
    default="none",
    show_default=True,
    help="'lower-tokenize': lower-case and split punctuation off words in both files before training, and "
    "record it so that the model's predictor does the same to the texts it scores. Files written by "
    "prepare-dbpedia are already normalized this way; pass it anyway so that raw text is scored alike.",
)
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
def train(
    train_path: Path,
    validation_path: Path | None,
    output: Path,
    hyperparameters_path: Path | None,
    mode: str | None,
    epochs: int | None,
    learning_rate: float | None,
    min_count: int | None,
    vector_dim: int | None,
    word_ngrams: int | None,
    buckets: int | None,
    early_stopping: bool | None,
    patience: int | None,
    min_epochs: int | None,
    threads: int | None,
    seed: int,
    text_normalization: str,
    quiet: bool,
    debug: bool,
) -> None:
    """Train a fastText text classifier with BlazingText's supervised-mode hyperparameters."""
    values = _read_hyperparameters(hyperparameters_path) if hyperparameters_path is not None else {}
    options = {
        "mode": mode,
        "epochs": epochs,
        "learning_rate": learning_rate,
        "min_count": min_count,
        "vector_dim": vector_dim,
        "word_ngrams": word_ngrams,
        "buckets": buckets,
        "early_stopping": early_stopping,
        "patience": patience,
        "min_epochs": min_epochs,
    }
    values.update({k: v for k, v in options.items() if v is not None})

    def on_epoch(n_epochs: int, accuracy: float) -> None:
        if not quiet:
            click.echo(f"#epochs: {n_epochs}, validation accuracy: {accuracy:.4f}", err=True)

    early = str(values.get("early_stopping", "false")).strip().lower() == "true"
    if not quiet and early and validation_path is not None:
        click.echo("early stopping: training one model from scratch per epoch count", err=True)
    result = train_text_classifier(
        train_path,
        output,
        validation=validation_path,
        hyperparameters=values,
        threads=threads,
        seed=seed,
        text_normalization="lower-tokenize" if text_normalization == "lower-tokenize" else "none",
        on_epoch=on_epoch,
    )
    if quiet:
        return
    if result.n_train_unlabeled:
        click.echo(
            f"openclarify: warning: {result.n_train_unlabeled} of {result.n_train_lines} training lines have "
            "no '__label__' and were ignored",
            err=True,
        )
    if result.n_validation_unlabeled:
        click.echo(
            f"openclarify: warning: {result.n_validation_unlabeled} of {result.n_validation_lines} validation "
            "lines have no '__label__' and were ignored",
            err=True,
        )
    for line in _summary(result):
        click.echo(line, err=True)


@click.command("prepare-dbpedia")
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="dbpedia_csv train.csv or test.csv: class index, title, content; no header row.",
)
@click.option(
    "--classes",
    "classes_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="dbpedia_csv classes.txt: line i names class index i.",
)
@click.option(
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File of '__label__<Class> <normalized title and content>' lines.",
)
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
def prepare_dbpedia_command(input_path: Path, classes_path: Path, output: Path, quiet: bool, debug: bool) -> None:
    """Turn a DBpedia CSV file into fastText/BlazingText training lines (lower-cased and tokenized)."""
    result = prepare_dbpedia(input_path, classes_path, output)
    if not quiet:
        click.echo(f"wrote {result.n_lines} lines ({len(result.label_counts)} classes) to {result.output}", err=True)
