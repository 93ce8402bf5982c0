"""The only code that knows Clarify's output layout: analysis.json and explanations_shap/."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from .._typing import FloatArray

__all__ = [
    "ANALYSIS_JSON",
    "BIAS_COUNTS_JSON",
    "BASELINE_CSV",
    "CONFIG_JSON",
    "LOCAL_SHAP_CSV",
    "LOCAL_SHAP_JSONL",
    "LocalShapCsvWriter",
    "LocalShapJsonlWriter",
    "PREDICTIONS_JSONL",
    "RUN_SUMMARY_JSON",
    "PredictionsJsonlWriter",
    "kernel_shap_section",
    "write_analysis_json",
    "write_baseline_csv",
    "write_json",
]

ANALYSIS_JSON = "analysis.json"
LOCAL_SHAP_CSV = "explanations_shap/out.csv"
LOCAL_SHAP_JSONL = "explanations_shap/out.jsonl"
BASELINE_CSV = "explanations_shap/baseline.csv"
CONFIG_JSON = "analysis_config.json"  # the SDK uploads the config next to the outputs
# openclarify's additions to Clarify's layout, read by the reports: the run's facts and, per record of
# out.csv / out.jsonl and in the same order, the model's scores and the dataset's label
RUN_SUMMARY_JSON = "run_summary.json"
PREDICTIONS_JSONL = "explanations_shap/predictions.jsonl"
# per bias stage, the counts behind each group's metrics (records, positive labels and predictions, the
# confusion matrix): analysis.json stays as Clarify writes it
BIAS_COUNTS_JSON = {"pre_training": "pre_training_bias_counts.json", "post_training": "post_training_bias_counts.json"}


def kernel_shap_section(
    labels: Sequence[str],
    feature_names: Sequence[str],
    global_values: FloatArray,
    expected_value: FloatArray,
    top_text: Sequence[Mapping[str, Mapping[str, float]]] | None = None,
) -> dict[str, Any]:
    """``explanations.kernel_shap``: per label, ``global_shap_values``, ``expected_value`` and, for
    text datasets, ``global_top_shap_text`` (``top_text[k]``: text feature -> unit -> value).

    ``global_values`` has shape ``(n_features, n_outputs)``, ``expected_value`` ``(n_outputs,)``.
    """
    section: dict[str, Any] = {}
    for k, label in enumerate(labels):
        entry: dict[str, Any] = {
            "global_shap_values": {f: float(global_values[j, k]) for j, f in enumerate(feature_names)},
            "expected_value": float(expected_value[k]),
        }
        if top_text is not None:
            entry["global_top_shap_text"] = {
                f: {u: float(v) for u, v in units.items()} for f, units in top_text[k].items()
            }
        section[label] = entry
    return section


def write_analysis_json(path: Path, explanations: dict[str, Any], extra: Mapping[str, Any] | None = None) -> None:
    """Write ``{"version": "1.0", "explanations": {...}}`` (no NaN or Infinity: strict JSON), then the
    top-level keys of ``extra`` (``failed_records`` when some records could not be explained, the bias
    metrics); without explanations (a bias-only job) there is no ``explanations`` key, as in Clarify."""
    document: dict[str, Any] = {"version": "1.0"}
    if explanations:
        document["explanations"] = explanations
    document.update(extra or {})
    path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    """A JSON document (``analysis_config.json``, ``run_summary.json``), strict JSON, UTF-8."""
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")


def write_baseline_csv(path: Path, baseline: pd.DataFrame) -> None:
    """The baseline actually used: one record per line, features only, no header (the format of a
    CSV ``baseline`` file, so it can be passed back as ``methods.shap.baseline``)."""
    baseline.to_csv(path, header=False, index=False, lineterminator="\n")


def _cell(value: float) -> str:
    # a non-finite value only comes from a record the model gave no scores for: an empty cell
    return repr(float(value)) if math.isfinite(value) else ""


class LocalShapCsvWriter:
    """Streams ``explanations_shap/out.csv``: a header of ``<feature>_<label>`` columns (all features
    for the first label, then the next label, ...), one row per record in input order, preceded by
    the join-source column when one is configured. With ``stderr``, the standard errors follow in
    ``<feature>_<label>_se`` columns, in the same order (after every value column, where Clarify's
    readers, which take the first columns, do not see them)."""

    def __init__(
        self,
        path: Path,
        feature_names: Sequence[str],
        labels: Sequence[str],
        joinsource_name: str | None,
        *,
        stderr: bool = False,
    ) -> None:
        self._file: IO[str] = path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._file, lineterminator="\n")
        header = [f"{f}_{label}" for label in labels for f in feature_names]
        if stderr:
            header += [f"{f}_{label}_se" for label in labels for f in feature_names]
        self._stderr = stderr
        if joinsource_name is not None:
            header.insert(0, joinsource_name)
        self._writer.writerow(header)
        self._joinsource = joinsource_name is not None
        self.rows = 0

    def write(
        self, phi: FloatArray, join_source: Sequence[Any] | None = None, stderr: FloatArray | None = None
    ) -> None:
        """``phi`` (and ``stderr`` when the file has its columns) of shape ``(n_instances, n_features,
        n_outputs)``."""
        flat = np.transpose(phi, (0, 2, 1)).reshape(phi.shape[0], -1)
        if self._stderr:
            if stderr is None:
                raise ValueError("stderr: this out.csv has standard-error columns; give the standard errors.")
            flat = np.concatenate([flat, np.transpose(stderr, (0, 2, 1)).reshape(phi.shape[0], -1)], axis=1)
        rows = [[_cell(v) for v in row] for row in flat.tolist()]
        if self._joinsource and join_source is not None:
            rows = [[str(j), *r] for j, r in zip(join_source, rows, strict=True)]
        self._writer.writerows(rows)
        self.rows += len(rows)

    def close(self) -> None:
        self._file.close()


def encode_json(value: Any) -> str:
    """``value`` as ``out.jsonl`` writes it (UTF-8 text, not escaped; no NaN)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


class LocalShapJsonlWriter:
    """Streams ``explanations_shap/out.jsonl``: one JSON object per record, in input order.

    ``{"explanations": [{"feature_name", "data_type", "attributions": [{"attribution": [one value per
    label], "description": {"partial_text", "start_idx"}}, ...]}, ...], "join_source_value": ...}``:
    one element per feature in column order; a text feature has one attribution per unit in text order,
    a numerical or categorical feature one attribution and no description (clarify-spec §3.4).
    """

    def __init__(self, path: Path) -> None:
        self._file: IO[str] = path.open("w", encoding="utf-8", newline="\n")
        self.rows = 0

    def write(self, record: Mapping[str, Any]) -> None:
        self._file.write(encode_json(record))
        self._file.write("\n")
        self.rows += 1

    def write_parts(self, parts: Iterable[str]) -> None:
        """One record given as the pieces of its JSON text (each from :func:`encode_json` or JSON
        punctuation), written as they come: a record with millions of text units is never held whole."""
        for part in parts:
            self._file.write(part)
        self._file.write("\n")
        self.rows += 1

    def close(self) -> None:
        self._file.close()


def _label_value(value: Any) -> Any:
    """A dataset label as JSON: numbers read as floats from CSV come back as written (``3.0`` -> 3),
    a missing label is null."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return int(value) if value.is_integer() else value
    return value


class PredictionsJsonlWriter:
    """Streams ``explanations_shap/predictions.jsonl``: per record, in the order of the local
    explanations, ``{"prediction": [one score per label], "label": <the dataset's label>}`` (``label``
    only when the dataset has one; ``prediction`` is null for a record the model gave no scores for)."""

    def __init__(self, path: Path) -> None:
        self._file: IO[str] = path.open("w", encoding="utf-8", newline="\n")
        self.rows = 0

    def write(self, f_x: FloatArray, labels: Sequence[Any] | None = None) -> None:
        """``f_x`` of shape ``(n_instances, n_outputs)``; ``labels`` the true labels or None."""
        lines = []
        for i, scores in enumerate(f_x.tolist()):
            record: dict[str, Any] = {"prediction": scores if all(math.isfinite(v) for v in scores) else None}
            if labels is not None:
                record["label"] = _label_value(labels[i])
            lines.append(json.dumps(record, ensure_ascii=False, allow_nan=False))
        if lines:
            self._file.write("\n".join(lines) + "\n")
        self.rows += len(lines)

    def close(self) -> None:
        self._file.close()
