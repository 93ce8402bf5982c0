"""BlazingText-compatible text classification: ``__label__`` files in, a fastText ``model.bin`` out.

SageMaker's BlazingText algorithm in ``supervised`` mode trains a fastText classifier; its
``model.bin`` loads with ``fasttext.load_model``. This module trains the same kind of model in
process with the ``fasttext`` package, takes BlazingText's hyperparameter names and defaults
(https://docs.aws.amazon.com/sagemaker/latest/dg/blazingtext_hyperparameters.html, "Text
Classification Hyperparameters") and writes ``model.bin``, ``model.vec`` and ``openclarify-model.json``.
"""

from __future__ import annotations

import ctypes
import dataclasses
import difflib
import json
import math
import os
import platform
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ..errors import ConfigError, DataError, MissingDependencyError, OutputError
from ..text import TEXT_NORMALIZATIONS, TextNormalization, normalize_texts

__all__ = [
    "METADATA_FILE",
    "MODEL_FILE",
    "VECTORS_FILE",
    "BlazingTextHyperparameters",
    "TrainResult",
    "train_text_classifier",
]

MODEL_FILE = "model.bin"
VECTORS_FILE = "model.vec"
METADATA_FILE = "openclarify-model.json"
LABEL_PREFIX = "__label__"
_METADATA_FORMAT = "openclarify-fasttext-model"

# BlazingText's Word2Vec-mode hyperparameters: named in errors, because supervised mode does not use them.
_WORD2VEC_ONLY = (
    "batch_size",
    "evaluation",
    "max_char",
    "min_char",
    "negative_samples",
    "sampling_threshold",
    "subwords",
    "window_size",
)
_WORD2VEC_MODES = ("batch_skipgram", "skipgram", "cbow")


@dataclass(frozen=True, slots=True)
class BlazingTextHyperparameters:
    """BlazingText's "Text Classification Hyperparameters", with its names and defaults.

    Parameters
    ----------
    mode
        Only ``"supervised"`` (text classification). The Word2Vec modes are not supported.
    epochs
        Complete passes through the training data; with ``early_stopping``, the most.
    learning_rate
        Step size of the parameter updates. fastText decays it linearly to 0 over the training run.
    min_count
        Words seen fewer times in the training data are dropped.
    vector_dim
        Dimension of the embedding layer.
    word_ngrams
        Length of the word n-grams used as features (1 = single words only).
    buckets
        Hash buckets for the word n-grams.
    early_stopping
        Choose the number of epochs by validation accuracy (see :func:`train_text_classifier` for
        how that is done here). Needs a validation file.
    patience
        With ``early_stopping``: stop after this many epoch counts in a row bring no improvement.
    min_epochs
        With ``early_stopping``: fewest epochs a model is trained for.

    Raises
    ------
    ConfigError
        A value is out of range; the message lists every problem.
    """

    mode: str = "supervised"
    epochs: int = 5
    learning_rate: float = 0.05
    min_count: int = 5
    vector_dim: int = 100
    word_ngrams: int = 2
    buckets: int = 2_000_000
    early_stopping: bool = False
    patience: int = 4
    min_epochs: int = 5

    def __post_init__(self) -> None:
        problems = _check_values({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        if problems:
            raise _config_error(problems)

    @classmethod
    def from_strings(cls, values: Mapping[str, Any]) -> BlazingTextHyperparameters:
        """Read hyperparameters as SageMaker passes them: a map of names to strings (``{"epochs": "10"}``).

        JSON numbers and booleans are accepted too; names left out take BlazingText's defaults.

        Raises
        ------
        ConfigError
            Unknown names, Word2Vec-only names, values that do not parse or are out of range.
        """
        if not isinstance(values, Mapping):
            raise ConfigError(
                f"hyperparameters: must be a JSON object of names to values; got {type(values).__name__}.",
                path="hyperparameters",
            )
        fields = {f.name: f for f in dataclasses.fields(cls)}
        problems: list[tuple[str, str]] = []
        parsed: dict[str, Any] = {}
        for name, raw in values.items():
            where = f"hyperparameters.{name}"
            if name not in fields:
                if name in _WORD2VEC_ONLY:
                    problems.append((where, "is a BlazingText Word2Vec-mode hyperparameter; supervised mode has none."))
                else:
                    close = difflib.get_close_matches(str(name), list(fields), n=1)
                    hint = f" Did you mean {close[0]!r}?" if close else ""
                    problems.append(
                        (where, f"unknown hyperparameter; valid names are {', '.join(sorted(fields))}.{hint}")
                    )
                continue
            value, error = _parse_value(raw, fields[name].type)
            if error:
                problems.append((where, f"{error}; got {raw!r}."))
            else:
                parsed[name] = value
        problems += _check_values(parsed)  # report range problems along with parse problems
        if problems:
            raise _config_error(sorted(problems))
        return cls(**parsed)

    def to_strings(self) -> dict[str, str]:
        """The hyperparameters as SageMaker's string map (booleans as ``"True"``/``"False"``)."""
        return {f.name: str(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _parse_value(raw: Any, kind: Any) -> tuple[Any, str]:
    """Convert one string (or JSON scalar) to the field's type: ``(value, "")`` or ``(None, error)``."""
    kind = str(kind)
    if kind == "bool":
        if isinstance(raw, bool):
            return raw, ""
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true", ""
        return None, "must be True or False"
    if kind == "int":
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw, ""
        if isinstance(raw, str):
            try:
                return int(raw.strip()), ""
            except ValueError:
                pass
        return None, "must be an integer"
    if kind == "float":
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return float(raw), ""
        if isinstance(raw, str):
            try:
                return float(raw.strip()), ""
            except ValueError:
                pass
        return None, "must be a number"
    if isinstance(raw, str):
        return raw.strip(), ""
    return None, "must be a string"


def _check_values(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Range checks of hyperparameter values (a field name to value map; names left out are not checked)."""
    problems: list[tuple[str, str]] = []

    def bad(name: str, rule: str) -> None:
        problems.append((f"hyperparameters.{name}", f"{rule}; got {values[name]!r}."))

    mode = values.get("mode", "supervised")
    if mode != "supervised":
        if mode in _WORD2VEC_MODES:
            bad("mode", "must be 'supervised'; the Word2Vec modes are not supported")
        else:
            bad("mode", "must be 'supervised'")
    for name, minimum in (
        ("epochs", 1),
        ("min_count", 0),
        ("vector_dim", 1),
        ("word_ngrams", 1),
        ("buckets", 1),
        ("patience", 1),
        ("min_epochs", 1),
    ):
        if name not in values:
            continue
        value = values[name]
        if not isinstance(value, int) or isinstance(value, bool):
            bad(name, "must be an integer")
        elif value < minimum:
            bad(name, "must be a positive integer" if minimum == 1 else "must be an integer >= 0")
        elif value > 2**31 - 1:
            bad(name, "must be below 2**31")
    if "learning_rate" in values:
        lr = values["learning_rate"]
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
            bad("learning_rate", "must be a positive number")
    if "early_stopping" in values and not isinstance(values["early_stopping"], bool):
        bad("early_stopping", "must be True or False")
    return problems


def _config_error(problems: list[tuple[str, str]]) -> ConfigError:
    if len(problems) == 1:
        return ConfigError(problems)
    text = f"{len(problems)} problems in the hyperparameters:\n" + "\n".join(f"  - {p}: {m}" for p, m in problems)
    exc = ConfigError(text, path=problems[0][0])
    exc.errors = list(problems)
    return exc


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What :func:`train_text_classifier` did and wrote.

    ``validation_accuracy_by_epochs`` holds one ``(epochs, accuracy)`` pair per model evaluated on
    the validation file, in training order; ``epochs_trained`` is the epoch count of the saved model.
    """

    output_dir: Path
    model_path: Path
    vectors_path: Path
    metadata_path: Path
    labels: tuple[str, ...]
    hyperparameters: BlazingTextHyperparameters
    text_normalization: TextNormalization
    threads: int
    seed: int
    epochs_trained: int
    stopped_early: bool
    validation_accuracy: float | None
    validation_accuracy_by_epochs: tuple[tuple[int, float], ...]
    n_train_lines: int
    n_train_unlabeled: int
    n_validation_lines: int
    n_validation_unlabeled: int
    epochs_run: int
    seconds: float
    fasttext_version: str


@dataclass(frozen=True, slots=True)
class _Validation:
    texts: list[str]
    labels: list[frozenset[str]]
    n_unlabeled: int


def _open_text(path: Path, what: str) -> TextIO:
    if not path.is_file():
        raise DataError(f"{what} '{path}': file not found. Give a file of '__label__<class> <text>' lines.")
    try:
        return path.open(encoding="utf-8", newline="\n")
    except OSError as exc:
        raise DataError(f"{what} '{path}': cannot open it ({exc.strerror or exc}).") from None


def _lines(path: Path, what: str) -> Iterator[str]:
    with _open_text(path, what) as f:
        try:
            yield from f
        except UnicodeDecodeError as exc:
            raise DataError(f"{what} '{path}': not UTF-8 text ({exc}). Save the file as UTF-8.") from None


def _split_labels(line: str) -> tuple[list[str], list[str]]:
    labels: list[str] = []
    words: list[str] = []
    for token in line.split():
        (labels if token.startswith(LABEL_PREFIX) else words).append(token)
    return labels, words


def _normalized_copy(path: Path, what: str, into: Path) -> tuple[Path, int, int]:
    """Write ``path`` with its text normalized (labels kept) to ``into``; return it and the line counts."""
    n_lines = n_unlabeled = 0
    with into.open("w", encoding="utf-8", newline="\n") as out:
        batch: list[tuple[list[str], list[str]]] = []

        def flush() -> None:
            texts = normalize_texts(" ".join(words) for _, words in batch)
            out.writelines(" ".join([*labels, text]) + "\n" for (labels, _), text in zip(batch, texts, strict=True))
            batch.clear()

        for line in _lines(path, what):
            labels, words = _split_labels(line)
            n_lines += 1
            n_unlabeled += not labels
            batch.append((labels, words))
            if len(batch) >= 8192:
                flush()
        flush()
    return into, n_lines, n_unlabeled


def _count_lines(path: Path, what: str) -> tuple[int, int]:
    n_lines = n_unlabeled = 0
    for line in _lines(path, what):
        n_lines += 1
        n_unlabeled += LABEL_PREFIX not in line
    return n_lines, n_unlabeled


def _read_validation(path: Path, shown: Path) -> _Validation:
    texts: list[str] = []
    labels: list[frozenset[str]] = []
    n_unlabeled = 0
    for line in _lines(path, "validation"):
        line_labels, words = _split_labels(line)
        if not line_labels:
            n_unlabeled += 1
            continue
        labels.append(frozenset(line_labels))
        texts.append(" ".join(words) + "\n")
    if not texts:
        raise DataError(f"validation '{shown}': no line has a label. Lines must read '__label__<class> <text>'.")
    return _Validation(texts, labels, n_unlabeled)


def _accuracy(model: Any, validation: _Validation) -> float:
    """Share of validation lines whose top prediction is one of the line's labels.

    Lines whose labels the model never saw count as wrong (fastText's own ``test`` skips them).
    """
    predicted, _ = model.f.multilinePredict(validation.texts, 1, 0.0, "strict")
    hits = sum(bool(top) and top[0] in gold for top, gold in zip(predicted, validation.labels, strict=True))
    return hits / len(validation.labels)


def _import_fasttext() -> Any:
    try:
        import fasttext
    except ImportError as exc:
        raise MissingDependencyError(
            "training needs the dependency 'fasttext'. Install it with: pip install 'fasttext>=0.9.3'."
        ) from exc
    return fasttext


_M_PERTURB = -6  # glibc mallopt parameter (malloc.h)


@contextmanager
def _zero_filled_malloc() -> Iterator[None]:
    """Make glibc's ``malloc`` return zero-filled memory while fastText trains.

    fasttext 0.9.3 allocates the input matrix without zeroing it and then fills only the first
    ``min(threads, 10)`` tenths with random values (``DenseMatrix::uniform``); the rest is
    expected to be zero. Memory fresh from the operating system is zero, so a first training in a
    process works, but a later one in the same process can get memory freed by an earlier model:
    then training fails with "Encountered NaN" or, worse, starts from leftover values, and the same
    seed gives different models. glibc's ``M_PERTURB`` with byte 0xFF fills every allocation with
    0x00 (its complement), which restores the intended start. It applies process-wide (other
    threads' allocations are zero-filled too, only a little slower) and is switched off afterwards
    (reset to 0). Not on glibc (musl, macOS): nothing is changed.
    """
    libc = None
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        try:
            libc = ctypes.CDLL(None)
            mallopt = libc.mallopt
        except (OSError, AttributeError):  # pragma: no cover - a glibc without mallopt
            libc = None
    if libc is None:  # pragma: no cover - not glibc
        yield
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt(_M_PERTURB, 0xFF)
    try:
        yield
    finally:
        mallopt(_M_PERTURB, 0)


def _fasttext_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fasttext")
    except PackageNotFoundError:  # pragma: no cover - installed from source without metadata
        return "unknown"


def _write_vectors(model: Any, path: Path) -> None:
    """Word vectors as fastText's ``saveVectors`` writes them (``model.vec``).

    A header ``"<n_words> <dim>"``, then one line per dictionary word (``</s>`` included), in
    dictionary order: the word, then each value printed like C++ ``<<`` with precision 5 (``%.5g``)
    and followed by a space. For a supervised model without character n-grams a word's vector is
    its row of the input matrix.
    """
    words = model.get_words()
    # a view on the model's memory, not a copy; word rows first, then the n-gram buckets
    matrix = np.asarray(model.f.getInputMatrix())[: len(words)]
    dim = matrix.shape[1]
    fmt = "%.5g " * dim
    with path.open("w", encoding="utf-8", newline="\n") as f:
        f.write(f"{len(words)} {dim}\n")
        for start in range(0, len(words), 4096):
            rows = matrix[start : start + 4096].tolist()
            f.writelines(
                f"{word} {fmt % tuple(row)}\n" for word, row in zip(words[start : start + 4096], rows, strict=True)
            )


def train_text_classifier(
    train: str | Path,
    output_dir: str | Path,
    *,
    validation: str | Path | None = None,
    hyperparameters: BlazingTextHyperparameters | Mapping[str, Any] | None = None,
    threads: int | None = None,
    seed: int = 0,
    text_normalization: TextNormalization = "none",
    on_epoch: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train a fastText text classifier the way BlazingText's supervised mode does.

    Parameters
    ----------
    train
        Training file (BlazingText "File" mode): one example per line, ``__label__<class> <text>``;
        a line may carry several labels. Lines without a label are ignored by fastText (counted in
        the result).
    output_dir
        Folder for ``model.bin`` (loads with ``fasttext.load_model``), ``model.vec`` (word vectors
        in fastText's text format) and ``openclarify-model.json`` (labels in the model's order,
        hyperparameters, text normalization, validation accuracy, fasttext version). Each file is
        written under a temporary name in the folder and renamed once all three are complete, so a
        failure leaves no partial model behind.
    validation
        Optional validation file in the same format (BlazingText's validation channel). Accuracy is
        the share of its labelled lines whose top prediction is one of the line's labels; lines with
        labels the model never saw count as wrong.
    hyperparameters
        BlazingText names and values, as :class:`BlazingTextHyperparameters` or as SageMaker's
        string map (``{"epochs": "10", "early_stopping": "True"}``). Default: BlazingText's defaults.
    threads
        fastText training threads; default: the number of CPU cores. Training is bit-for-bit
        reproducible only with ``threads=1`` (and the same ``seed``): with more threads, fastText
        updates the model from all threads at once without locks (Hogwild), so the order of
        updates, and the model, vary from run to run.
    seed
        fastText's random seed (initial weights, negative sampling), an integer in [0, 2**31).
    text_normalization
        ``"none"``: the files are used as they are. ``"lower-tokenize"``: the text of every line
        (not the labels) goes through :func:`openclarify.training.normalize_text` first; the
        choice is stored in ``openclarify-model.json`` and :class:`openclarify.models.FastTextPredictor`
        applies the same normalization to the texts it is asked to score.
    on_epoch
        Called with ``(epochs, validation_accuracy)`` after each model is evaluated.

    Returns
    -------
    TrainResult

    Notes
    -----
    **Validation accuracy per epoch and early stopping.** fastText's Python API trains a model in
    one call: it cannot report, stop or save a model after each epoch, and its learning rate decays
    linearly to zero over the epochs of that call. So this function does not evaluate snapshots of
    one run, as BlazingText does. Without ``early_stopping`` it trains one model for ``epochs``
    epochs and, given a validation file, reports that model's accuracy once. With
    ``early_stopping`` it trains a separate model from scratch for each epoch count
    ``e = min_epochs, min_epochs + 1, ..., epochs`` (same seed and hyperparameters, the learning
    rate decaying to zero over ``e`` epochs), reports each model's validation accuracy, stops once
    ``patience`` epoch counts in a row have not improved on the best accuracy so far, and saves the
    best model (the fewest epochs among ties). Epoch counts below ``min_epochs`` are never trained
    (if ``min_epochs > epochs`` only ``epochs`` is). The accuracy reported for ``e`` epochs is
    therefore that of a model trained for ``e`` epochs, which is not what BlazingText's log shows
    for epoch ``e`` of a longer run, and the chosen epoch count can differ from BlazingText's. The
    cost is ``min_epochs + ... + e_stop`` epochs instead of ``e_stop`` (45 epochs for the epoch
    counts 5 to 10), and two models are held in memory at a time.

    **Reproducibility.** fasttext 0.9.3 leaves most of a new model's input matrix uninitialised, so
    a second training in one process could start from an earlier model's leftover memory (and fail
    with "Encountered NaN" or give a different model for the same seed). Training here runs with
    glibc's ``malloc`` set to zero-fill (see ``_zero_filled_malloc``), which makes every training
    start as the first one in a fresh process would; on other C libraries nothing is changed.

    Raises
    ------
    ConfigError
        Invalid hyperparameters or options, or ``early_stopping`` without a validation file.
    DataError
        A file is missing, unreadable, has no labelled line, or fastText cannot train on it.
    OutputError
        The output folder cannot be created or written.
    MissingDependencyError
        The ``fasttext`` package is not installed.
    """
    started = time.perf_counter()
    hp = (
        hyperparameters
        if isinstance(hyperparameters, BlazingTextHyperparameters)
        else BlazingTextHyperparameters.from_strings(hyperparameters or {})
    )
    threads = _check_options(hp, validation, threads, seed, text_normalization)
    train_path = Path(train)
    validation_path = Path(validation) if validation is not None else None
    output = Path(output_dir)
    _check_output(output)  # before training, not after
    fasttext = _import_fasttext()

    with tempfile.TemporaryDirectory(prefix="openclarify-train-") as scratch:
        validation_file = validation_path
        if text_normalization == "lower-tokenize":
            train_file, n_train, n_train_unlabeled = _normalized_copy(train_path, "train", Path(scratch) / "train")
            if validation_path is not None:
                validation_file, _, _ = _normalized_copy(validation_path, "validation", Path(scratch) / "validation")
        else:
            n_train, n_train_unlabeled = _count_lines(train_path, "train")
            train_file = train_path
        if n_train == n_train_unlabeled:
            raise DataError(
                f"train '{train_path}': no line has a label ({n_train} lines). "
                "Lines must read '__label__<class> <text>'."
            )
        held_out = None
        if validation_file is not None and validation_path is not None:
            held_out = _read_validation(validation_file, validation_path)

        def fit(epochs: int) -> Any:
            try:
                with _zero_filled_malloc():
                    model = fasttext.train_supervised(
                        input=str(train_file),
                        lr=float(hp.learning_rate),
                        dim=hp.vector_dim,
                        epoch=epochs,
                        minCount=hp.min_count,
                        wordNgrams=hp.word_ngrams,
                        bucket=hp.buckets,
                        loss="softmax",
                        thread=threads,
                        seed=seed,
                        verbose=0,
                    )
            except (ValueError, RuntimeError) as exc:  # the C++ side raises std::invalid_argument and such
                raise DataError(f"train '{train_path}': fastText could not train on it: {exc}") from None
            if not set(model.get_words()) - {"</s>"}:
                raise DataError(
                    f"train '{train_path}': no word occurs at least min_count ({hp.min_count}) times, so the "
                    "model would have learnt nothing. Lower min_count or give more training data."
                )
            return model

        history: list[tuple[int, float]] = []
        epochs_run = 0
        stopped_early = False
        if hp.early_stopping and held_out is not None:
            epochs_trained = min(hp.min_epochs, hp.epochs)
            model: Any = None
            final_accuracy = -1.0  # any accuracy beats it: the first model is the best so far
            since_best = 0
            for epochs in range(epochs_trained, hp.epochs + 1):
                candidate = fit(epochs)
                epochs_run += epochs
                accuracy = _accuracy(candidate, held_out)
                history.append((epochs, accuracy))
                if on_epoch is not None:
                    on_epoch(epochs, accuracy)
                if accuracy > final_accuracy:
                    epochs_trained, model, final_accuracy, since_best = epochs, candidate, accuracy, 0
                else:
                    since_best += 1
                    del candidate  # hold at most the best model and the one being trained
                    if since_best >= hp.patience and epochs < hp.epochs:
                        stopped_early = True
                        break
        else:
            model = fit(hp.epochs)
            epochs_run = epochs_trained = hp.epochs
            final_accuracy = None
            if held_out is not None:
                final_accuracy = _accuracy(model, held_out)
                history.append((hp.epochs, final_accuracy))
                if on_epoch is not None:
                    on_epoch(hp.epochs, final_accuracy)

    labels = tuple(x[len(LABEL_PREFIX) :] if x.startswith(LABEL_PREFIX) else x for x in model.get_labels())
    version = _fasttext_version()
    metadata = {
        "format": _METADATA_FORMAT,
        "format_version": 1,
        "labels": list(labels),
        "text_normalization": text_normalization,
        "hyperparameters": hp.to_strings(),
        "epochs_trained": epochs_trained,
        "stopped_early": stopped_early,
        "validation_accuracy": final_accuracy,
        "validation_accuracy_by_epochs": [{"epochs": e, "accuracy": a} for e, a in history],
        "threads": threads,
        "seed": seed,
        "fasttext_version": version,
    }
    paths = _write_outputs(model, output, metadata)
    n_validation = len(held_out.labels) + held_out.n_unlabeled if held_out is not None else 0
    return TrainResult(
        output_dir=output,
        model_path=paths[0],
        vectors_path=paths[1],
        metadata_path=paths[2],
        labels=labels,
        hyperparameters=hp,
        text_normalization=text_normalization,
        threads=threads,
        seed=seed,
        epochs_trained=epochs_trained,
        stopped_early=stopped_early,
        validation_accuracy=final_accuracy,
        validation_accuracy_by_epochs=tuple(history),
        n_train_lines=n_train,
        n_train_unlabeled=n_train_unlabeled,
        n_validation_lines=n_validation,
        n_validation_unlabeled=held_out.n_unlabeled if held_out is not None else 0,
        epochs_run=epochs_run,
        seconds=time.perf_counter() - started,
        fasttext_version=version,
    )


def _check_options(
    hp: BlazingTextHyperparameters,
    validation: str | Path | None,
    threads: int | None,
    seed: int,
    text_normalization: str,
) -> int:
    problems: list[tuple[str, str]] = []
    if hp.early_stopping and validation is None:
        problems.append(
            (
                "hyperparameters.early_stopping",
                "needs a validation file; got none. Give one, or turn early stopping off.",
            )
        )
    if threads is None:
        threads = os.cpu_count() or 1
    elif isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        problems.append(("threads", f"must be a positive integer; got {threads!r}."))
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        problems.append(("seed", f"must be an integer in [0, 2**31); got {seed!r}."))
    if text_normalization not in TEXT_NORMALIZATIONS:
        problems.append(
            (
                "text_normalization",
                f"must be one of {', '.join(map(repr, TEXT_NORMALIZATIONS))}; got {text_normalization!r}.",
            )
        )
    if problems:
        raise _config_error(problems)
    return threads


def _check_output(output: Path) -> None:
    """Fail early when the output folder can be neither used nor created."""
    existing = output
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        why = "it is a file" if existing == output else f"'{existing}' is a file"
        raise OutputError(f"output '{output}': cannot create the folder ({why}). Choose another --output.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"output '{output}': cannot write into '{existing}' (permission denied).")


def _write_outputs(model: Any, output: Path, metadata: Mapping[str, Any]) -> tuple[Path, Path, Path]:
    """Write the three files under temporary names in ``output``, then rename them into place."""
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"output '{output}': cannot create the folder ({exc.strerror or exc}).") from None
    final = (output / MODEL_FILE, output / VECTORS_FILE, output / METADATA_FILE)
    tag = f"{os.getpid()}-{secrets.token_hex(4)}"
    temporary = tuple(p.with_name(f".{p.name}.{tag}.tmp") for p in final)
    with ExitStack() as cleanup:
        for tmp in temporary:
            cleanup.callback(tmp.unlink, missing_ok=True)
        try:
            try:
                model.save_model(str(temporary[0]))
            except ValueError as exc:  # fastText: "<path> cannot be opened for saving!"
                raise OSError(str(exc)) from None
            _write_vectors(model, temporary[1])
            temporary[2].write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
            for tmp, path in zip(temporary, final, strict=True):
                os.replace(tmp, path)
        except OSError as exc:
            raise OutputError(f"output '{output}': cannot write the model ({exc.strerror or exc}).") from None
    return final
