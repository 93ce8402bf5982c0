"""The model-format registry: a new format is one module plus one line in MODEL_FORMATS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from openclarify.errors import ModelError
from openclarify.models import MODEL_FORMATS, load_model, model_folder_files
from openclarify.serving._model import resolve_model


def test_a_new_format_is_one_registry_line(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))
    monkeypatch.setitem(MODEL_FORMATS, "echo", "support.echo_format:ECHO_FORMAT")  # type: ignore[index]
    (tmp_path / "model.echo").write_text("")
    model = load_model(tmp_path / "model.echo")
    scores = model.predict(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}))
    np.testing.assert_array_equal(np.asarray(scores).ravel(), [4.0, 6.0])
    assert resolve_model(str(tmp_path)) == str(tmp_path / "model.echo")  # the server finds it in a folder
    assert model_folder_files()[-1] == "model.echo"
    with pytest.raises(ModelError, match=r"or an echo model \(\.echo\)\.$"):
        load_model(tmp_path / "model.onnx")


def test_every_format_is_listed_when_none_claims_the_file(tmp_path):
    with pytest.raises(ModelError) as err:
        load_model(tmp_path / "model.onnx")
    message = str(err.value)
    assert message.startswith("--model: unsupported model file; got ")
    for part in (
        "fastText or BlazingText model",
        "Hugging Face sequence classifier folder (config.json, weights and tokenizer)",
        "saved with joblib (.joblib, .pkl, .pickle)",
        "'file.py:function'",
    ):
        assert part in message
    assert model_folder_files() == (
        "model.bin",
        "config.json",
        "model/config.json",
        "model.joblib",
        "model.pkl",
        "model.py",
    )
