"""fastText (and SageMaker BlazingText) supervised models, loaded and run in process."""

from __future__ import annotations

import itertools
import json
import mmap
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from .._typing import FloatArray
from ..errors import MissingDependencyError, ModelError
from ..text import TEXT_NORMALIZATIONS, TextNormalization, normalize_texts
from ._options import ModelOptions

__all__ = ["FASTTEXT_FORMAT", "LABEL_PREFIX", "METADATA_FILE", "MODEL_FILE", "FastTextPredictor", "import_fasttext"]

MODEL_FILE = "model.bin"
METADATA_FILE = "openclarify-model.json"
LABEL_PREFIX = "__label__"

# fastText's binary format (src/fasttext.cc signModel/saveModel, args.cc, dictionary.cc, densematrix.cc):
#   int32 magic, int32 version, Args (12 x int32, float64 t), Dictionary (int32 size, int32 nwords,
#   int32 nlabels, int64 ntokens, int64 pruneidx_size, entries, prune pairs), bool quant_input,
#   input matrix, bool qout, output matrix; a dense matrix is int64 rows, int64 cols, rows*cols float32.
_MAGIC = 793712314
_MAX_VERSION = 12
_HEADER = struct.Struct("<ii12idiiiqq")  # magic, version, args, dictionary counts
_SUPERVISED = 3  # fasttext::model_name::sup


def import_fasttext(what: str) -> Any:
    """Import the ``fasttext`` package, or raise :class:`MissingDependencyError` naming ``what`` needs it."""
    try:
        import fasttext
    except ImportError as exc:
        raise MissingDependencyError(
            f"{what} needs the dependency 'fasttext'. Install it with: pip install 'fasttext>=0.9.3'."
        ) from exc
    return fasttext


def _not_fasttext(path: Path, why: str) -> ModelError:
    return ModelError(
        f"--model '{path}': not a fastText supervised model ({why}). "
        "Give a model.bin written by fastText, BlazingText or 'openclarify train'."
    )


def _check_model_file(path: Path) -> None:
    """Check the file's layout before fastText reads it.

    fastText 0.9.3 loops forever or reads garbage on a truncated file (its dictionary reader does not
    stop at end of file), so the header is checked here and, for dense (not quantized) models, the
    file size: the two matrices end the file, and their row and column counts follow from the header.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(_HEADER.size)
    except OSError as exc:
        raise ModelError(f"--model '{path}': cannot read it ({exc.strerror or exc}).") from None
    if len(head) < _HEADER.size:
        raise _not_fasttext(path, f"only {size} bytes")
    (magic, version, dim, _ws, _epoch, _mc, _neg, _ngrams, _loss, model, bucket, _minn, _maxn, _lru, _t,
     n_entries, nwords, nlabels, _ntokens, prune) = _HEADER.unpack(head)  # fmt: skip
    if magic != _MAGIC:
        raise _not_fasttext(path, "wrong magic number")
    if version > _MAX_VERSION or version < 11:
        raise _not_fasttext(path, f"file format version {version}; fasttext 0.9 reads versions 11 and 12")
    if model != _SUPERVISED:
        raise ModelError(
            f"--model '{path}': a fastText word-vector (unsupervised) model, not a classifier. "
            "Give a model trained in supervised mode."
        )
    if dim <= 0 or bucket < 0 or nwords < 0 or nlabels <= 0 or n_entries != nwords + nlabels or prune < -1:
        raise _not_fasttext(path, "inconsistent header")
    # dense layout from the end: [quant_input=0][rows cols][input][qout=0][rows cols][output] EOF
    out_bytes = 16 + 4 * nlabels * dim
    in_bytes = 16 + 4 * (nwords + bucket) * dim
    qout_at = size - out_bytes - 1
    qin_at = qout_at - in_bytes - 1
    if qin_at >= _HEADER.size + n_entries * 10:
        with path.open("rb") as f:
            f.seek(qin_at)
            qin_block = f.read(17)
            f.seek(qout_at)
            qout_block = f.read(17)
        if qin_block == b"\0" + struct.pack("<qq", nwords + bucket, dim) and qout_block == b"\0" + struct.pack(
            "<qq", nlabels, dim
        ):
            return
    _check_quantized(path, n_entries, prune)


def _check_quantized(path: Path, n_entries: int, prune: int) -> None:
    """Walk the whole layout of a file whose tail is not the dense one; quantized (``.ftz``) models pass."""
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        try:
            pos = _HEADER.size
            for _ in range(n_entries):
                end = mm.find(b"\0", pos)
                if end < 0:
                    raise struct.error("end of file inside the dictionary")
                pos = end + 10  # the word, its NUL, int64 count, int8 type
            pos += 8 * max(prune, 0)  # pruned-index pairs of int32
            pos = _skip_matrix(mm, pos)  # input matrix, after its quant_input flag
            pos = _skip_matrix(mm, pos)  # output matrix, after its qout flag
        except struct.error:
            raise _not_fasttext(path, "the file is truncated") from None
        if pos != len(mm):
            raise _not_fasttext(path, "the file is truncated or has extra bytes")


def _skip_matrix(mm: mmap.mmap, pos: int) -> int:
    """Offset just past a dense or quantized matrix (densematrix.cc, quantmatrix.cc, productquantizer.cc)."""
    (quantized,) = struct.unpack_from("<?", mm, pos)
    if not quantized:
        rows, cols = struct.unpack_from("<qq", mm, pos + 1)
        end = pos + 17 + 4 * rows * cols
    else:
        qnorm, rows, _cols, codesize = struct.unpack_from("<?qqi", mm, pos + 1)
        end = _skip_quantizer(mm, pos + 22 + codesize)
        if qnorm:
            end = _skip_quantizer(mm, end + rows)
    if end > len(mm) or end <= pos:
        raise struct.error("matrix past the end of the file")
    return int(end)


def _skip_quantizer(mm: mmap.mmap, pos: int) -> int:
    (dim,) = struct.unpack_from("<i", mm, pos)  # then nsubq, dsub, lastdsub, and dim * 256 float32 centroids
    if dim < 0:
        raise struct.error("negative dimension")
    return pos + 16 + 4 * 256 * int(dim)


def _read_metadata(path: Path) -> dict[str, Any] | None:
    """The ``openclarify-model.json`` written next to ``model.bin`` by ``openclarify train``, if any."""
    meta_path = path.parent / METADATA_FILE
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelError(f"{meta_path}: cannot read it as JSON ({exc}). Fix or delete the file.") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{meta_path}: must hold a JSON object; got {type(meta).__name__}. Fix or delete the file.")
    normalization = meta.get("text_normalization", "none")
    if normalization not in TEXT_NORMALIZATIONS:
        raise ModelError(
            f"{meta_path}: text_normalization must be one of {', '.join(map(repr, TEXT_NORMALIZATIONS))}; "
            f"got {normalization!r}. Fix or delete the file."
        )
    labels = meta.get("labels")
    if labels is not None and not (isinstance(labels, list) and all(isinstance(x, str) for x in labels)):
        raise ModelError(f"{meta_path}: labels must be a list of strings; got {labels!r}. Fix or delete the file.")
    return cast(dict[str, Any], meta)


def _resolve(spec: str | Path) -> Path:
    path = Path(spec)
    if path.is_dir():
        inner = path / MODEL_FILE
        if not inner.is_file():
            raise ModelError(
                f"--model '{spec}': the folder has no {MODEL_FILE}. Give a fastText model.bin or a folder holding one."
            )
        return inner
    if not path.is_file():
        raise ModelError(f"--model '{spec}': file not found.")
    return path


class FastTextPredictor:
    """A fastText supervised model (BlazingText's ``model.bin`` is one) answering with class probabilities.

    ``predict`` returns, for each record, the full probability vector over all labels in the model's
    fixed label order (:attr:`labels`, fastText's ``get_labels()`` order with the ``__label__``
    prefix removed). Each value is exactly what fastText's own ``predict(text, k=-1)`` returns for
    that label: the softmax probability plus fastText's smoothing constant 1e-5, computed in float32
    (so a row sums to ``1 + n_labels * 1e-5`` up to float32 rounding, not exactly to 1).

    Parameters
    ----------
    path_or_model
        A ``model.bin`` (or quantized ``.ftz``) file, a folder holding ``model.bin``, or a model
        already loaded with ``fasttext.load_model``.
    name
        Shown in error messages; default: the file name.
    text_normalization
        ``"none"`` passes the text as it is; ``"lower-tokenize"`` applies
        :func:`openclarify.training.normalize_text` first, as ``openclarify train`` did to the
        training data. Default: the value in the ``openclarify-model.json`` next to the model file
        (written by ``openclarify train``), else ``"none"``.

    Raises
    ------
    ModelError
        The file is missing, is not a fastText supervised model, or its ``openclarify-model.json``
        is invalid.
    MissingDependencyError
        The ``fasttext`` package is not installed.
    """

    #: One text column in, as the server and the analyses hand it over.
    takes_text = True

    def __init__(
        self,
        path_or_model: str | Path | Any,
        *,
        name: str | None = None,
        text_normalization: TextNormalization | None = None,
    ) -> None:
        if text_normalization is not None and text_normalization not in TEXT_NORMALIZATIONS:
            raise ModelError(
                f"text_normalization: must be one of {', '.join(map(repr, TEXT_NORMALIZATIONS))}; "
                f"got {text_normalization!r}."
            )
        meta: Mapping[str, Any] | None = None
        if isinstance(path_or_model, (str, Path)):
            path = _resolve(path_or_model)
            _check_model_file(path)
            fasttext = import_fasttext(f"--model '{path_or_model}'")
            try:
                model = fasttext.load_model(str(path))
            except Exception as exc:  # noqa: BLE001 - the C++ loader raises ValueError, MemoryError, ...
                raise ModelError(
                    f"--model '{path}': fastText could not load it ({type(exc).__name__}: {exc})."
                ) from None
            meta = _read_metadata(path)
            default_name = path.name if path.name != MODEL_FILE else str(path)
        else:
            model = path_or_model
            if not hasattr(model, "f") or not hasattr(model, "get_labels"):
                raise ModelError(
                    f"FastTextPredictor: expected a path or a model from fasttext.load_model; "
                    f"got {type(model).__name__}."
                )
            default_name = "fasttext model"
        self.model = model
        self.name = name or default_name
        raw_labels = tuple(str(x) for x in model.get_labels())
        if not raw_labels:
            raise ModelError(f"model {self.name!r}: the fastText model has no labels; it is not a classifier.")
        self.labels: tuple[str, ...] = tuple(
            x[len(LABEL_PREFIX) :] if x.startswith(LABEL_PREFIX) else x for x in raw_labels
        )
        if meta is not None and meta.get("labels") is not None and tuple(meta["labels"]) != self.labels:
            raise ModelError(
                f"model {self.name!r}: {METADATA_FILE} lists labels {meta['labels']!r}, but the model has "
                f"{list(self.labels)!r}. The JSON belongs to another model; fix or delete it."
            )
        chosen = text_normalization or (meta.get("text_normalization", "none") if meta is not None else "none")
        self.text_normalization: TextNormalization = cast(TextNormalization, chosen)
        self._index = {label: i for i, label in enumerate(raw_labels)}

    @property
    def output_names(self) -> tuple[str, ...]:
        """The labels, one per output column, in the model's fixed order."""
        return self.labels

    @property
    def label_headers(self) -> tuple[str, ...]:
        """Names of the outputs in analysis results when the config gives no ``predictor.label_headers``:
        the class labels (a fastText model knows them), not ``label0``, ``label1``, ..."""
        return self.labels

    def _texts(self, records: pd.DataFrame) -> list[str]:
        if records.shape[1] != 1:
            raise ModelError(
                f"model {self.name!r}: a fastText model takes one text column; got {records.shape[1]} columns "
                f"{[str(c) for c in records.columns][:10]!r}. Pass a DataFrame with only the text column."
            )
        column = records.iloc[:, 0]
        values: list[Any] = column.tolist()
        if pd.api.types.infer_dtype(column, skipna=False) != "string" or column.isna().to_numpy().any():
            values = ["" if _is_missing(v) else v if isinstance(v, str) else str(v) for v in values]
        if self.text_normalization == "lower-tokenize":
            return normalize_texts(values)  # removes line breaks too
        joined = "\n".join(values)
        if joined.count("\n") != len(values) - 1 or "\r" in joined:
            # fastText reads one line per text: a line break would end the text early
            values = [v.replace("\n", " ").replace("\r", " ") for v in values]
        return values

    def predict(self, records: pd.DataFrame) -> FloatArray:
        """Probabilities of every label, shape ``(n_records, n_labels)``, columns in :attr:`labels` order.

        ``records`` has exactly one column, the text. Missing values (NaN, None) count as empty
        text; other non-string values are converted with ``str()``.
        """
        texts = self._texts(records)
        n = len(texts)
        out = np.zeros((n, len(self.labels)), dtype=np.float64)
        if n == 0:
            return out
        try:
            # the low-level batch call: fastText.predict adds the same "\n" (so the end-of-sentence token
            # counts, as in training) but then returns label strings that we would map row by row
            names, probs = self.model.f.multilinePredict([t + "\n" for t in texts], -1, 0.0, "strict")
        except Exception as exc:  # noqa: BLE001 - anything from the C++ side is a model error
            raise ModelError(
                f"model {self.name!r}: fastText predict raised {type(exc).__name__} on a batch of {n} records: {exc}"
            ) from exc
        counts = np.fromiter(map(len, names), dtype=np.intp, count=n)
        total = int(counts.sum())
        try:
            cols = np.fromiter(
                map(self._index.__getitem__, itertools.chain.from_iterable(names)), dtype=np.intp, count=total
            )
        except KeyError as exc:  # pragma: no cover - fastText only returns its own labels
            raise ModelError(f"model {self.name!r}: fastText returned an unknown label {exc.args[0]!r}.") from None
        if total == n * len(self.labels):
            # softmax and one-vs-all losses return every label for every record
            out[np.arange(n).repeat(len(self.labels)), cols] = np.concatenate(probs)
            return out
        empty = np.flatnonzero(counts == 0)
        if empty.size:
            row = int(empty[0])
            raise ModelError(
                f"model {self.name!r}: fastText returned no prediction for {empty.size} of {n} records "
                f"(first at batch row {row}: {texts[row][:80]!r}); its words and the end-of-line token are "
                "all unknown to the model."
            )
        # hierarchical softmax leaves out labels below 1e-5: those stay 0
        out[np.arange(n).repeat(counts), cols] = np.concatenate(probs)
        return out


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # array-like cells
        return False


_SUFFIXES = (".bin", ".ftz")


class _FastTextFormat:
    """``model.bin`` / ``.ftz`` files, or a folder holding ``model.bin`` (as ``openclarify train`` writes it)."""

    description = "a fastText or BlazingText model (.bin, .ftz, or a folder holding model.bin)"
    folder_files = (MODEL_FILE,)

    def claims(self, spec: str) -> bool:
        path = Path(spec)
        return path.suffix.lower() in _SUFFIXES or (path.is_dir() and (path / MODEL_FILE).is_file())

    def in_folder(self, folder: Path) -> str | None:
        return str(folder) if (folder / MODEL_FILE).is_file() else None

    def load(self, spec: str, options: ModelOptions | None = None) -> FastTextPredictor:
        if options is not None:
            options.refuse(f"the fastText model '{spec}'")
        return FastTextPredictor(Path(spec))


#: The fastText / BlazingText model format (see :data:`openclarify.models._formats.MODEL_FORMATS`).
FASTTEXT_FORMAT = _FastTextFormat()
