"""``openclarify train`` and ``openclarify prepare-dbpedia``: thin layers over :mod:`openclarify.training`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError
from ..training import (
    BASE_MODELS,
    TEXT_NORMALIZATIONS,
    EpochResult,
    TrainResult,
    TransformerHyperparameters,
    TransformerTrainResult,
    prepare_dbpedia,
    train_text_classifier,
    train_transformer_classifier,
)

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


_FASTTEXT_ONLY = (
    "mode",
    "min_count",
    "vector_dim",
    "word_ngrams",
    "buckets",
    "early_stopping",
    "patience",
    "min_epochs",
)
_HF_ONLY = (
    "text_column",
    "label_column",
    "base_model",
    "train_batch_size",
    "eval_batch_size",
    "warmup_steps",
    "max_length",
    "weight_decay",
    "class_weights",
    "num_layers",
)


def _option_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def _transformer_summary(res: TransformerTrainResult) -> list[str]:
    lines = []
    if res.truncated_train:
        lines.append(
            f"openclarify: warning: {res.truncated_train} of {res.n_train} training texts were longer than "
            f"max_length {res.hyperparameters.max_length} tokens and were cut"
        )
    files = ", ".join(p.name for p in res.files)
    lines.append(
        f"wrote {res.output}: {files} ({len(res.labels)} labels {list(res.labels)!r}; {res.steps} steps on "
        f"{res.n_train} texts; {res.seconds:.1f}s)"
    )
    return lines


def _train_transformer(
    train_path: Path,
    validation_path: Path | None,
    output: Path,
    values: dict[str, Any],
    options: dict[str, Any],
    threads: int | None,
    seed: int,
    quiet: bool,
) -> None:
    text_column, label_column = options.pop("text_column"), options.pop("label_column")
    if text_column is None or label_column is None:
        missing = [n for n, v in (("--text-column", text_column), ("--label-column", label_column)) if v is None]
        raise click.UsageError(f"--algorithm huggingface needs {' and '.join(missing)}: the CSV columns to train on.")
    base_model = options.pop("base_model") or values.pop("model_name", None) or values.pop("model_name_or_path", None)
    values.update({k: v for k, v in options.items() if v is not None})
    hp = TransformerHyperparameters.from_values(values)
    bar: Any = None

    def on_step(step: int, total: int, loss: float) -> None:
        nonlocal bar
        if quiet:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="step", desc="fine-tuning", disable=None, file=sys.stderr, dynamic_ncols=True)
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def on_epoch(epoch: EpochResult) -> None:
        if quiet:
            return
        line = f"epoch {epoch.epoch}: mean training loss {epoch.train_loss:.4f}"
        if epoch.validation_accuracy is not None:
            line += (
                f", validation accuracy {epoch.validation_accuracy:.4f}, "
                f"balanced accuracy {epoch.validation_balanced_accuracy:.4f}"
            )
        if bar is not None:
            bar.write(line, file=sys.stderr)
        else:
            click.echo(line, err=True)

    try:
        result = train_transformer_classifier(
            train_path,
            output,
            text_column=text_column,
            label_column=label_column,
            validation=validation_path,
            base_model=base_model or "minilm",
            hyperparameters=hp,
            seed=seed,
            threads=threads,
            on_step=on_step,
            on_epoch=on_epoch,
        )
    finally:
        if bar is not None:
            bar.close()
    if not quiet:
        for line in _transformer_summary(result):
            click.echo(line, err=True)


@click.command()
@click.option(
    "--algorithm",
    type=click.Choice(("blazingtext", "huggingface")),
    default="blazingtext",
    show_default=True,
    help="'blazingtext': a fastText model with BlazingText's hyperparameters, from '__label__' lines. "
    "'huggingface': fine-tune a pretrained transformer (--base-model) as a sequence classifier, from a CSV "
    "(pip install 'openclarify[hf]').",
)
@click.option(
    "--train",
    "train_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Training file: one '__label__<class> <text>' line per example (BlazingText's train channel); "
    "with --algorithm huggingface, a CSV with a header row holding --text-column and --label-column.",
)
@click.option(
    "--validation",
    "validation_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Validation file in the same format; needed for --early-stopping. With --algorithm huggingface, "
    "accuracy and balanced accuracy on it are printed after each epoch.",
)
@click.option(
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder: model.bin, model.vec, openclarify-model.json; with --algorithm huggingface, the "
    "save_pretrained files (config.json, model.safetensors, tokenizer) and openclarify-model.json.",
)
@click.option(
    "--hyperparameters",
    "hyperparameters_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON object of BlazingText hyperparameters as SageMaker passes them, e.g. "
    '{"epochs": "10", "early_stopping": "True"}. The options below override it.',
)
@click.option("--text-column", default=None, help="huggingface: the CSV column of the texts.")
@click.option("--label-column", default=None, help="huggingface: the CSV column of the labels (read as strings).")
@click.option(
    "--base-model",
    default=None,
    help=f"huggingface: the pretrained model to fine-tune: {', '.join(BASE_MODELS)} (shipped by a package of "
    "the hf extra), or a Hugging Face model folder. Nothing is downloaded.  [default: minilm]",
)
@click.option("--train-batch-size", type=int, default=None, help="huggingface: texts per step.  [default: 16]")
@click.option(
    "--eval-batch-size", type=int, default=None, help="huggingface: texts per validation forward.  [default: 64]"
)
@click.option(
    "--warmup-steps", type=int, default=None, help="huggingface: linear warm-up steps.  [default: 6% of the steps]"
)
@click.option(
    "--max-length", type=int, default=None, help="huggingface: tokens per text; longer texts are cut.  [default: 128]"
)
@click.option("--weight-decay", type=float, default=None, help="huggingface: AdamW's weight decay.  [default: 0.01]")
@click.option(
    "--class-weights",
    type=click.Choice(("balanced", "none")),
    default=None,
    help="huggingface: weigh the loss by inverse label frequency, so a rare label is learnt.  [default: balanced]",
)
@click.option(
    "--num-layers",
    type=int,
    default=None,
    help="huggingface: keep only the encoder's first N layers (cheaper, a little less accurate).  [default: all]",
)
@click.option("--mode", default=None, help="BlazingText mode; only 'supervised'.  [default: supervised]")
@click.option(
    "--epochs", type=int, default=None, help="Most passes over the training data.  [default: 5; huggingface: 1]"
)
@click.option(
    "--learning-rate", type=float, default=None, help="Step size of the updates.  [default: 0.05; huggingface: 1e-4]"
)
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
    help="Training threads [default: the number of CPU cores]. blazingtext: only --threads 1 gives the same "
    "model.bin on every run (with the same --seed); huggingface: the same --seed and thread count give the "
    "same weights.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="The random seed (fastText's; the new head's, dropout's and the batch order's).",
)
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
    algorithm: str,
    train_path: Path,
    validation_path: Path | None,
    output: Path,
    hyperparameters_path: Path | None,
    text_column: str | None,
    label_column: str | None,
    base_model: str | None,
    train_batch_size: int | None,
    eval_batch_size: int | None,
    warmup_steps: int | None,
    max_length: int | None,
    weight_decay: float | None,
    class_weights: str | None,
    num_layers: int | None,
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
    """Train a text classifier: fastText with BlazingText's hyperparameters, or a fine-tuned transformer."""
    values = _read_hyperparameters(hyperparameters_path) if hyperparameters_path is not None else {}
    given = locals()
    wrong = _HF_ONLY if algorithm == "blazingtext" else _FASTTEXT_ONLY
    stray = [_option_name(n) for n in wrong if given[n] is not None]
    if stray or (algorithm == "huggingface" and text_normalization != "none"):
        stray += ["--text-normalization"] if algorithm == "huggingface" and text_normalization != "none" else []
        raise click.UsageError(f"{', '.join(stray)}: not an option of --algorithm {algorithm}.")
    if algorithm == "huggingface":
        hf_options = {n: given[n] for n in _HF_ONLY}
        hf_options.update(epochs=epochs, learning_rate=learning_rate)
        _train_transformer(train_path, validation_path, output, values, hf_options, threads, seed, quiet)
        return
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
