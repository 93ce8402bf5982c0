"""A model format registered by a test: ``*.echo`` files whose model scores each record with its row sum."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from openclarify.models import CallablePredictor, ModelOptions, Predictor


def _sums(records: pd.DataFrame) -> np.ndarray:
    return records.to_numpy(dtype=float).sum(axis=1)


class _EchoFormat:
    description = "an echo model (.echo)"
    folder_files = ("model.echo",)

    def claims(self, spec: str) -> bool:
        return spec.endswith(".echo")

    def in_folder(self, folder: Path) -> str | None:
        return str(folder / "model.echo") if (folder / "model.echo").is_file() else None

    def load(self, spec: str, options: ModelOptions | None = None) -> Predictor:
        if options is not None:
            options.refuse(f"'{spec}'")
        return CallablePredictor(_sums, name=Path(spec).name)


ECHO_FORMAT = _EchoFormat()
