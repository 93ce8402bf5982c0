"""Hugging Face sequence classifiers: a ``save_pretrained`` folder answering with the probability of every label.

A folder whose ``config.json`` describes a ``...ForSequenceClassification`` model (as ``openclarify train
--algorithm huggingface`` writes it, or any fine-tuned checkpoint a user has) is loaded offline with its
tokenizer, and scores texts in padded batches. Two runtimes run the same weights: PyTorch (the reference)
and ONNX Runtime, from a ``model.onnx`` exported once into the folder's ``onnx/`` subfolder.

**A text's scores never depend on what it is batched with.** The float additions inside a forward pass
run in an order set by the batch's shape (rows and padded length): the same text padded otherwise, or in a
batch of another size, can come out a float32 bit apart (measured up to 1e-7 in a probability). So every
text is run in a batch of one fixed shape of its own: padded to its length rounded up to a multiple of 16
tokens, in a batch of exactly ``batch_size`` rows (a last, short batch is filled with copies of its last
text, whose answers are dropped). Rows of one shape do not touch each other's arithmetic (tested: a text
alone and among others give the same bits). So a job gives the same bytes in process, through ``openclarify
serve``, for any ``max_batch_rows``, partition size or backend. The price is the filling: a call of few
texts computes ``batch_size`` rows (use ``--model-batch-size 1`` for one text at a time, as an online server
wants; its bits differ from batch 32's, so give both sides the same value).

On CPUs where Intel MKL picks its matrix kernels by the memory alignment of the data (measured on a
Sapphire Rapids Xeon: the same text in the same batch shape came out up to 6e-8 apart), a row's arithmetic
would still depend on its company; ``MKL_CBWR=AUTO,STRICT`` (MKL's strict conditional numerical
reproducibility: the fastest kernels the CPU has, bit-identical whatever the alignment; about 4% slower on a
matrix product) is set before torch is imported unless it is already set.

Torch's OpenMP threads busy-wait by default, which makes two threads 4-6 times slower than one when the
other core is busy; ``OMP_WAIT_POLICY=PASSIVE`` is set before torch is imported unless it is already set.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import itertools
import json
import os
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, cast

import numpy as np
import pandas as pd

from .._typing import FloatArray
from ..errors import MissingDependencyError, ModelError
from ._options import ModelOptions

__all__ = [
    "HUGGINGFACE_FORMAT",
    "METADATA_FILE",
    "ONNX_FOLDER",
    "TransformerPredictor",
    "export_onnx",
    "import_transformers",
    "read_classifier_config",
]

METADATA_FILE: Final = "openclarify-model.json"
CONFIG_FILE: Final = "config.json"
ONNX_FOLDER: Final = "onnx"
ONNX_FILE: Final = "model.onnx"
ONNX_STAMP: Final = "openclarify-onnx.json"
_WEIGHT_FILES: Final = (
    "model.safetensors",
    "pytorch_model.bin",
    "model.safetensors.index.json",
    "pytorch_model.bin.index.json",
)
_TOKENIZER_FILES: Final = ("tokenizer.json", "vocab.txt", "tokenizer.model", "vocab.json", "spiece.model")
_SEED_SUBFOLDER: Final = "model"  # the seed's inference.py loads model_dir/model
_DEFAULT_BATCH: Final = {"cpu": 8, "cuda": 256}  # CPU: 8 scored as fast as 32 (fixed shapes, see below)
_LENGTH_STEP: Final = 16  # texts are padded to a multiple of this many tokens (see the module docstring)
_INSTALL: Final = (
    "Install it with: pip install 'torch==2.13.0' && pip install 'openclarify[hf]' (torch first: its CPU wheel; "
    "with no torch installed pip would take a CUDA build of several GB)."
)


def import_transformers(what: str) -> tuple[Any, Any]:
    """``(torch, transformers)``, offline; or :class:`MissingDependencyError` naming ``what`` needs them."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read by OpenMP when torch loads it (module docstring)
    os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")  # read by MKL when torch loads it (module docstring)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is ever downloaded from the hub
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    try:
        torch = importlib.import_module("torch")
        transformers = importlib.import_module("transformers")
    except ImportError as exc:
        raise MissingDependencyError(
            f"{what} needs the optional dependencies 'torch' and 'transformers' ({exc.name} is missing). {_INSTALL}"
        ) from exc
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()  # "Loading weights" bars on every load
    with contextlib.suppress(ImportError, AttributeError):  # transformers depends on huggingface_hub
        importlib.import_module("huggingface_hub.utils").disable_progress_bars()
    return torch, transformers


# ---------------------------------------------------------------------------------------------------
# what a folder holds


@dataclass(frozen=True, slots=True)
class ClassifierConfig:
    """What a folder's ``config.json`` (and ``openclarify-model.json``) say about the classifier."""

    folder: Path
    architecture: str
    labels: tuple[str, ...]
    max_length: int
    problem_type: str | None


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"--model '{path.parent}': cannot read {path.name} as JSON ({exc}). {what}") from None
    if not isinstance(value, dict):
        raise ModelError(f"--model '{path.parent}': {path.name} must hold a JSON object; got {type(value).__name__}.")
    return value


def _model_folder(spec: str | Path) -> Path:
    """The folder holding ``config.json``: ``spec`` itself, or its ``model/`` subfolder (the seed's layout)."""
    path = Path(spec)
    if path.is_file() and path.name == CONFIG_FILE:
        path = path.parent
    if not path.is_dir():
        raise ModelError(f"--model '{spec}': no such folder. Give a Hugging Face model folder (save_pretrained).")
    if not (path / CONFIG_FILE).is_file() and (path / _SEED_SUBFOLDER / CONFIG_FILE).is_file():
        return path / _SEED_SUBFOLDER
    return path


def read_classifier_config(spec: str | Path) -> ClassifierConfig:
    """Check that ``spec`` is a complete sequence-classification folder, and read its labels and max length.

    Raises
    ------
    ModelError
        No ``config.json``; a config of another kind of model (a bare encoder, a language model); no
        weights; no tokenizer; labels that are not ``0..n-1``.
    """
    folder = _model_folder(spec)
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        listed = sorted(p.name for p in folder.iterdir())[:20]
        raise ModelError(
            f"--model '{spec}': the folder has no {CONFIG_FILE}; got {listed!r}. Give a folder written by "
            "save_pretrained (openclarify train --algorithm huggingface writes one)."
        )
    config = _read_json(config_path, "Give a folder written by save_pretrained.")
    architectures = config.get("architectures") or []
    names = [a for a in architectures if isinstance(a, str)]
    classifier = next((a for a in names if a.endswith("ForSequenceClassification")), None)
    if classifier is None:
        got = names[0] if names else config.get("model_type", "no architecture")
        raise ModelError(
            f"--model '{spec}': {CONFIG_FILE} describes a {got!r}, not a sequence classifier "
            "(its 'architectures' name no ...ForSequenceClassification). Fine-tune one first: "
            "openclarify train --algorithm huggingface --base-model <this folder> ..."
        )
    if not any((folder / name).is_file() for name in _WEIGHT_FILES):
        raise ModelError(
            f"--model '{spec}': the folder has {CONFIG_FILE} but no weights (none of {', '.join(_WEIGHT_FILES[:2])}). "
            "Copy the whole save_pretrained folder."
        )
    if not any((folder / name).is_file() for name in _TOKENIZER_FILES):
        raise ModelError(
            f"--model '{spec}': the folder has no tokenizer (none of {', '.join(_TOKENIZER_FILES[:2])}). Save the "
            "tokenizer beside the model: tokenizer.save_pretrained(folder)."
        )
    raw = config.get("id2label") or {}
    n_labels = int(config.get("num_labels", len(raw) or 2))
    try:
        by_index = {int(k): str(v) for k, v in raw.items()}
    except (TypeError, ValueError, AttributeError):
        raise ModelError(f"--model '{spec}': {CONFIG_FILE} id2label must map 0..n-1 to names; got {raw!r}.") from None
    if raw and sorted(by_index) != list(range(len(by_index))):
        raise ModelError(f"--model '{spec}': {CONFIG_FILE} id2label must map 0..n-1 to names; got {raw!r}.")
    labels = tuple(by_index[i] for i in range(len(by_index))) if raw else tuple(f"LABEL_{i}" for i in range(n_labels))
    if len(set(labels)) != len(labels):
        raise ModelError(f"--model '{spec}': {CONFIG_FILE} id2label names a label twice; got {list(labels)!r}.")
    meta = (
        _read_json(folder / METADATA_FILE, f"Fix or delete {METADATA_FILE}.")
        if (folder / METADATA_FILE).is_file()
        else {}
    )
    max_length = meta.get("max_length")
    if max_length is None:
        positions = config.get("max_position_embeddings")
        tokenizer_config = folder / "tokenizer_config.json"
        from_tokenizer = (
            _read_json(tokenizer_config, "").get("model_max_length") if tokenizer_config.is_file() else None
        )
        candidates = [int(v) for v in (positions, from_tokenizer) if isinstance(v, int | float) and 0 < v < 1e6]
        max_length = min(candidates) if candidates else 512
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2:
        raise ModelError(f"--model '{spec}': {METADATA_FILE} max_length must be an integer >= 2; got {max_length!r}.")
    problem = config.get("problem_type")
    return ClassifierConfig(folder, classifier, labels, max_length, problem if isinstance(problem, str) else None)


# ---------------------------------------------------------------------------------------------------
# the predictor


def _choose_device(torch: Any, wanted: str | None) -> str:
    wanted = wanted or os.environ.get("OPENCLARIFY_DEVICE") or None
    if wanted is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if wanted not in ("cpu", "cuda"):
        raise ModelError(f"--device: must be 'cpu' or 'cuda'; got {wanted!r}.")
    if wanted == "cuda" and not torch.cuda.is_available():
        raise ModelError("--device cuda: torch sees no CUDA device here. Use --device cpu, or a CUDA build of torch.")
    return wanted


class TransformerPredictor:
    """A Hugging Face sequence classifier answering with the probability of every label.

    ``predict`` takes records with one text column and returns shape ``(n_records, n_labels)``, columns in
    ``id2label`` order (:attr:`labels`): the softmax of the logits (a sigmoid per label for a multi-label
    model; the raw output of a one-output regression head). Texts are tokenized with the folder's
    tokenizer, cut at :attr:`max_length` tokens (the ``max_length`` ``openclarify train`` recorded, else
    the model's), and run ``batch_size`` at a time in batches of one fixed shape (see the module docstring).

    Parameters
    ----------
    folder
        A ``save_pretrained`` folder (or a folder whose ``model/`` subfolder is one).
    options
        ``device`` (``"cpu"``, ``"cuda"``; default CUDA when torch sees it, or ``OPENCLARIFY_DEVICE``),
        ``runtime`` (``"torch"`` or ``"onnx"``) and ``batch_size`` (default 8 on CPU, 256 on CUDA).

    Raises
    ------
    ModelError
        The folder is not a complete sequence classifier (see :func:`read_classifier_config`), or loading failed.
    MissingDependencyError
        torch / transformers (or onnxruntime for ``runtime="onnx"``) are not installed.
    """

    #: One text column in, as the server and the analyses hand it over.
    takes_text = True

    def __init__(self, folder: str | Path, *, options: ModelOptions | None = None, name: str | None = None) -> None:
        self.options = options or ModelOptions()
        self.config = read_classifier_config(folder)
        self.folder = self.config.folder
        self.name = name or str(folder)
        self.labels: tuple[str, ...] = self.config.labels
        self.max_length = self.config.max_length
        torch, transformers = import_transformers(f"--model '{folder}' (a Hugging Face model)")
        self._torch = torch
        self.device = _choose_device(torch, self.options.device)
        self.runtime: Literal["torch", "onnx"] = self.options.runtime
        self.batch_size = self.options.batch_size or _DEFAULT_BATCH[self.device]
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(self.folder), local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - transformers raises OSError, ValueError, KeyError, ...
            raise ModelError(
                f"--model '{folder}': the tokenizer could not be loaded ({type(exc).__name__}: {exc})."
            ) from None
        if not getattr(self.tokenizer, "is_fast", False):
            raise ModelError(
                f"--model '{folder}': the tokenizer has no fast (Rust) version; save one with tokenizer.json "
                "beside the model."
            )
        self._pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        self._session: Any = None
        self._model: Any = None
        if self.runtime == "onnx":
            self._session = _onnx_session(self.folder, self.device, name=str(folder))
            self._input_names = tuple(i.name for i in self._session.get_inputs())
        else:
            try:
                model = transformers.AutoModelForSequenceClassification.from_pretrained(
                    str(self.folder), local_files_only=True
                )
            except Exception as exc:  # noqa: BLE001 - missing or mismatched weights
                raise ModelError(
                    f"--model '{folder}': the model could not be loaded ({type(exc).__name__}: {exc})."
                ) from None
            model.eval()
            if self.device == "cuda":
                # parity with the CPU within 1e-4 needs full fp32 matmuls (TF32 off); fp16 is for bench/gpu_check.py
                torch.backends.cuda.matmul.allow_tf32 = False
                torch.backends.cudnn.allow_tf32 = False
            self._model = model.to(self.device)
            self._input_names = ("input_ids", "attention_mask", "token_type_ids")
        n_out = int(getattr(getattr(self._model, "config", None), "num_labels", len(self.labels)) or len(self.labels))
        if self._model is not None and n_out != len(self.labels):  # pragma: no cover - transformers keeps them equal
            raise ModelError(f"--model '{folder}': the model has {n_out} outputs but {len(self.labels)} labels.")
        self._lock = threading.Lock()
        self._tokenize_lock = threading.Lock()
        self.texts_scored = 0
        self.texts_truncated = 0

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its folder and options: a worker loads its own copy."""
        return (_rebuild, (str(self.folder), self.options, self.name))

    @property
    def output_names(self) -> tuple[str, ...]:
        """The labels, one per output column, in ``id2label`` order."""
        return self.labels

    @property
    def label_headers(self) -> tuple[str, ...]:
        """Names of the outputs in analysis results when the config gives no ``predictor.label_headers``."""
        return self.labels

    def model_facts(self) -> dict[str, Any]:
        """What ``run_summary.json`` records about the model (``model_facts``): how it ran, how many texts were cut."""
        return {
            "format": "huggingface",
            "architecture": self.config.architecture,
            "runtime": self.runtime,
            "device": self.device,
            "batch_size": self.batch_size,
            "max_length": self.max_length,
            "texts_scored": self.texts_scored,
            "texts_truncated": self.texts_truncated,
        }

    def _texts(self, records: pd.DataFrame) -> list[str]:
        if records.shape[1] != 1:
            raise ModelError(
                f"model {self.name!r}: a text classifier takes one text column; got {records.shape[1]} columns "
                f"{[str(c) for c in records.columns][:10]!r}. Pass a DataFrame with only the text column."
            )
        values: list[Any] = records.iloc[:, 0].tolist()
        return ["" if _is_missing(v) else v if isinstance(v, str) else str(v) for v in values]

    def tokenize(self, texts: list[str]) -> tuple[list[list[int]], list[list[int]] | None, int]:
        """Token ids (and token type ids) of each text cut at :attr:`max_length`, and how many were cut."""
        # one call at a time: a fast tokenizer sets its truncation on the shared Rust object for each call, and
        # two threads doing so at once fail with "Already borrowed" (serve --threads, analyze --threads)
        with self._tokenize_lock:
            enc = self.tokenizer(texts, truncation=True, max_length=self.max_length, add_special_tokens=True)
        ids: list[list[int]] = enc["input_ids"]
        types: list[list[int]] | None = enc.get("token_type_ids")
        cut = sum(1 for e in enc.encodings if e.overflowing)
        return ids, types, cut

    def predict(self, records: pd.DataFrame) -> FloatArray:
        """Probabilities of every label, shape ``(n_records, n_labels)``, columns in :attr:`labels` order."""
        texts = self._texts(records)
        n = len(texts)
        out = np.zeros((n, len(self.labels)), dtype=np.float64)
        if n == 0:
            return out
        ids, types, cut = self.tokenize(texts)
        try:
            size = self.batch_size
            for rows, length in _fixed_shape_groups([len(x) for x in ids], self.max_length):
                group_ids, group_mask, group_types = _padded(ids, types, rows, self._pad_id, length)
                for start in range(0, len(rows), size):
                    stop = min(start + size, len(rows))
                    take = np.minimum(np.arange(start, start + size), stop - 1)  # a short batch: copies of its last
                    got = self._forward(group_ids[take], group_mask[take], group_types[take])
                    out[rows[start:stop]] = got[: stop - start]
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - anything torch or onnxruntime raise is a model error
            raise ModelError(
                f"model {self.name!r}: the {self.runtime} forward pass raised {type(exc).__name__} on a batch of "
                f"{n} texts: {exc}"
            ) from exc
        with self._lock:
            self.texts_scored += n
            self.texts_truncated += cut
        return out

    def _forward(self, ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> FloatArray:
        if self._session is not None:
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            logits = self._session.run(["logits"], {k: feeds[k] for k in self._input_names})[0]
            logits_t = self._torch.from_numpy(np.ascontiguousarray(logits, dtype=np.float32))
        else:
            torch = self._torch
            with torch.inference_mode():
                tensors = {
                    "input_ids": torch.from_numpy(ids).to(self.device),
                    "attention_mask": torch.from_numpy(mask).to(self.device),
                }
                if "token_type_ids" in self._accepts():
                    tensors["token_type_ids"] = torch.from_numpy(types).to(self.device)
                logits_t = self._model(**tensors).logits.float().cpu()
        return self._probabilities(logits_t)

    def _accepts(self) -> frozenset[str]:
        found = getattr(self, "_accepted", None)
        if found is None:
            import inspect

            found = frozenset(inspect.signature(self._model.forward).parameters)
            self._accepted = found
        return cast(frozenset[str], found)

    def _probabilities(self, logits: Any) -> FloatArray:
        torch = self._torch
        if len(self.labels) == 1 and self.config.problem_type != "multi_label_classification":
            return cast(FloatArray, logits.double().numpy())
        if self.config.problem_type == "multi_label_classification":
            return cast(FloatArray, torch.sigmoid(logits).double().numpy())
        return cast(FloatArray, torch.softmax(logits, dim=-1).double().numpy())


def _rebuild(folder: str, options: ModelOptions, name: str) -> TransformerPredictor:
    return TransformerPredictor(folder, options=options, name=name)


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # array-like cells
        return False


def _fixed_shape_groups(lengths: list[int], max_length: int) -> Iterator[tuple[np.ndarray, int]]:
    """Positions of the texts by padded length (token count rounded up to a multiple of ``_LENGTH_STEP``,
    at most ``max_length``), in call order, with that padded length."""
    padded = np.minimum(-(-np.asarray(lengths, dtype=np.int64) // _LENGTH_STEP) * _LENGTH_STEP, max_length)
    for length in np.unique(padded):
        yield np.flatnonzero(padded == length), int(length)


def _padded(
    ids: list[list[int]], types: list[list[int]] | None, rows: np.ndarray, pad_id: int, longest: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Token ids, attention mask and token type ids of ``rows``, padded at the end to ``longest`` (filled
    in one vectorized scatter: a loop over rows cost 13% of a small model's scoring time)."""
    lengths = np.fromiter((len(ids[i]) for i in rows), dtype=np.int64, count=len(rows))
    present = np.arange(longest)[None, :] < lengths[:, None]
    batch = np.full((len(rows), longest), pad_id, dtype=np.int64)
    batch[present] = np.fromiter(itertools.chain.from_iterable(ids[i] for i in rows), dtype=np.int64)
    kinds = np.zeros((len(rows), longest), dtype=np.int64)
    if types is not None:
        kinds[present] = np.fromiter(itertools.chain.from_iterable(types[i] for i in rows), dtype=np.int64)
    return batch, present.astype(np.int64), kinds


# ---------------------------------------------------------------------------------------------------
# ONNX Runtime


def _weights_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in _WEIGHT_FILES:
        path = folder / name
        if path.is_file():
            with path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def export_onnx(folder: str | Path, *, force: bool = False) -> Path:
    """Export the folder's model to ``onnx/model.onnx`` (fp32, dynamic batch and length axes), once.

    An export is reused while the weights it came from are unchanged (their SHA-256 is recorded beside it).

    Raises
    ------
    ModelError
        The folder is not a sequence classifier, the export failed, or the folder cannot be written.
    MissingDependencyError
        torch, transformers or onnx are not installed.
    """
    cfg = read_classifier_config(folder)
    target = cfg.folder / ONNX_FOLDER / ONNX_FILE
    stamp = cfg.folder / ONNX_FOLDER / ONNX_STAMP
    digest = _weights_digest(cfg.folder)
    if not force and target.is_file() and stamp.is_file():
        with_digest = _read_json(stamp, f"Delete {ONNX_FOLDER}/ to export again.").get("weights_sha256")
        if with_digest == digest:
            return target
    torch, transformers = import_transformers(f"--runtime onnx for '{folder}'")
    try:
        import onnx  # noqa: F401 - torch's exporter needs it
    except ImportError as exc:
        raise MissingDependencyError(f"--runtime onnx needs the optional dependency 'onnx'. {_INSTALL}") from exc
    model = transformers.AutoModelForSequenceClassification.from_pretrained(str(cfg.folder), local_files_only=True)
    model.eval()
    example = torch.ones((2, 8), dtype=torch.int64)
    target.parent.mkdir(exist_ok=True)
    tmp = target.with_name(f".{ONNX_FILE}.{os.getpid()}.tmp")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's own deprecation and tracer notes
            torch.onnx.export(
                model,
                (example, example, torch.zeros_like(example)),
                str(tmp),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["logits"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "sequence"},
                    "attention_mask": {0: "batch", 1: "sequence"},
                    "token_type_ids": {0: "batch", 1: "sequence"},
                    "logits": {0: "batch"},
                },
                opset_version=17,
                dynamo=False,
            )
        os.replace(tmp, target)
        stamp.write_text(json.dumps({"weights_sha256": digest, "opset": 17}, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"--runtime onnx: cannot write '{target}' ({exc.strerror or exc}).") from None
    except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds
        raise ModelError(f"--runtime onnx: exporting '{folder}' failed ({type(exc).__name__}: {exc}).") from None
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _onnx_session(folder: Path, device: str, *, name: str) -> Any:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise MissingDependencyError(f"--runtime onnx needs the optional dependency 'onnxruntime'. {_INSTALL}") from exc
    path = export_onnx(folder)
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # see the module docstring
    options.intra_op_num_threads = max(1, min(os.cpu_count() or 1, 8))
    options.log_severity_level = 3
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(
            f"--model '{name}': ONNX Runtime could not load {path} ({type(exc).__name__}: {exc})."
        ) from None


# ---------------------------------------------------------------------------------------------------
# the format


class _HuggingFaceFormat:
    """A ``save_pretrained`` folder of a sequence classifier (``config.json``, weights, tokenizer)."""

    description = "a Hugging Face sequence classifier folder (config.json, weights and tokenizer)"
    folder_files = (CONFIG_FILE, f"{_SEED_SUBFOLDER}/{CONFIG_FILE}")

    def claims(self, spec: str) -> bool:
        path = Path(spec)
        return path.name == CONFIG_FILE or (
            path.is_dir() and ((path / CONFIG_FILE).is_file() or (path / _SEED_SUBFOLDER / CONFIG_FILE).is_file())
        )

    def in_folder(self, folder: Path) -> str | None:
        return str(folder) if any((folder / f).is_file() for f in self.folder_files) else None

    def load(self, spec: str, options: ModelOptions | None = None) -> TransformerPredictor:
        return TransformerPredictor(spec, options=options)


#: The Hugging Face model format (see :data:`openclarify.models._formats.MODEL_FORMATS`).
HUGGINGFACE_FORMAT = _HuggingFaceFormat()
