"""In-process models: scikit-learn estimators saved with joblib, fastText models, ``file.py:function`` callables.

Every call into user code goes through :func:`~openclarify.models._protocol.call_model`: the model gets
its own copy of the records and cannot end the program (see ``_protocol.py``).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import threading
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from .._typing import FloatArray
from ..errors import ModelError
from ._options import ModelOptions
from ._protocol import (
    CallablePredictor,
    Predictor,
    _Exited,
    call_model,
    check_scores,
    guard_exits,
    model_array,
    model_frame,
)

__all__ = ["JOBLIB_FORMAT", "PYTHON_FORMAT", "SklearnPredictor"]

_JOBLIB_SUFFIXES = (".joblib", ".pkl", ".pickle")
_JOBLIB_FOLDER_FILES = ("model.joblib", "model.pkl")
_PYTHON_FILE = "model.py"
_PYTHON_FUNCTION = "predict"


class SklearnPredictor:
    """A fitted scikit-learn estimator or pipeline.

    Classifiers answer with ``predict_proba`` (one score per class, in ``classes_`` order);
    everything else with ``predict``. Records go in as a DataFrame when the estimator was fitted on
    one (it has ``feature_names_in_``), else as a 2-D array; either way a copy the estimator may change.
    A classifier's outputs are named by its classes (:attr:`label_headers`), as over HTTP.
    """

    def __init__(self, estimator: Any, *, name: str = "estimator") -> None:
        self.estimator = estimator
        self.name = name
        is_classifier = getattr(estimator, "_estimator_type", None) == "classifier" or _sklearn_is_classifier(estimator)
        self.method = "predict_proba" if is_classifier and hasattr(estimator, "predict_proba") else "predict"
        self.as_frame = hasattr(estimator, "feature_names_in_")

    @property
    def output_names(self) -> tuple[str, ...] | None:
        """Class labels of a classifier (one per output), else ``None``."""
        classes = getattr(self.estimator, "classes_", None)
        if self.method == "predict_proba" and classes is not None:
            return tuple(str(c) for c in classes)
        return None

    @property
    def label_headers(self) -> tuple[str, ...] | None:
        """Names of the outputs in analysis results when the config gives no ``predictor.label_headers``:
        a classifier's classes (``classes_`` as strings, as the model server names them), else None."""
        return self.output_names

    def predict(self, records: pd.DataFrame) -> FloatArray:
        batch: Any = model_frame(records) if self.as_frame else model_array(records)
        source = f"model {self.name!r}"
        raw = call_model(getattr(self.estimator, self.method), batch, records, source=source, what=f": {self.method}")
        return check_scores(raw, len(records), source=source, records=records)


def _sklearn_is_classifier(estimator: Any) -> bool:
    try:
        from sklearn.base import is_classifier
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        return False
    try:
        return bool(is_classifier(estimator))
    except Exception:  # noqa: BLE001 - objects that are not estimators at all
        return False


class _FolderFinder(importlib.abc.MetaPathFinder):
    """Finds top-level modules in a model file's folder, after every other finder has failed.

    ``import helper`` in a ``file.py`` model finds ``helper.py`` (or a ``helper/`` package) beside the
    file, while the file is imported and in later calls (imports inside the function). The folder is not
    put on ``sys.path``: this finder sits at the end of ``sys.meta_path``, so it only answers names that
    nothing else can import. It never shadows the standard library, installed packages or
    openclarify's own lazy imports; in exchange a helper named like an importable module (``json.py``,
    or a package installed in the environment) is not the one imported: give it another name. Processes
    started with multiprocessing's spawn method do not inherit it. One finder per folder stays installed
    for the life of the process, since the model may import at any call.
    """

    _lock = threading.Lock()

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if path is not None or "." in fullname:  # a submodule: its package's __path__ finds it
            return None
        return importlib.machinery.PathFinder.find_spec(fullname, [self.folder])

    @classmethod
    def install(cls, folder: Path) -> None:
        where = os.fspath(folder.resolve())
        with cls._lock:
            if not any(isinstance(f, cls) and f.folder == where for f in sys.meta_path):
                sys.meta_path.append(cls(where))


def _load_python(path: Path, function: str) -> Predictor:
    if not path.is_file():
        raise ModelError(f"--model '{path}:{function}': file not found. Give an existing .py file and a function name.")
    module_name = f"openclarify_user_model_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ModelError(f"--model '{path}:{function}': cannot import this file as Python.")
    module = importlib.util.module_from_spec(spec)
    _FolderFinder.install(path.parent)
    sys.modules[module_name] = module
    try:
        with guard_exits():
            spec.loader.exec_module(module)
    except _Exited as exc:
        sys.modules.pop(module_name, None)
        raise ModelError(
            f"{exc.message(f'--model {str(path)!r}: importing it ')} "
            "A model file must only define its function when it is imported."
        ) from None
    except Exception as exc:  # noqa: BLE001 - user code
        sys.modules.pop(module_name, None)
        raise ModelError(f"--model '{path}': importing it raised {type(exc).__name__}: {exc}") from exc
    fn = getattr(module, function, None)
    if fn is None or not callable(fn):
        names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise ModelError(
            f"--model '{path}:{function}': no function {function!r} in the file; got callables {names!r}. "
            "Name a function that takes a DataFrame and returns scores."
        )
    return CallablePredictor(fn, name=f"{path.name}:{function}")


class _PythonFormat:
    """``file.py:function``: a function that takes a DataFrame of records and returns scores."""

    description = "'file.py:function'"
    folder_files = (_PYTHON_FILE,)

    def claims(self, spec: str) -> bool:
        head, sep, tail = spec.rpartition(":")
        return bool(sep and head.endswith(".py") and tail.isidentifier()) or Path(spec).suffix == ".py"

    def in_folder(self, folder: Path) -> str | None:
        return f"{folder / _PYTHON_FILE}:{_PYTHON_FUNCTION}" if (folder / _PYTHON_FILE).is_file() else None

    def load(self, spec: str, options: ModelOptions | None = None) -> Predictor:
        if options is not None:
            options.refuse(f"'{spec}'")
        head, sep, tail = spec.rpartition(":")
        if not (sep and head.endswith(".py") and tail.isidentifier()):
            raise ModelError(f"--model '{spec}': name the function too, as 'file.py:function'.")
        return _load_python(Path(head), tail)


class _JoblibFormat:
    """A scikit-learn estimator, pipeline or callable saved with joblib, loaded only from the path given."""

    description = f"a scikit-learn model saved with joblib ({', '.join(_JOBLIB_SUFFIXES)})"
    folder_files = _JOBLIB_FOLDER_FILES

    def claims(self, spec: str) -> bool:
        return Path(spec).suffix.lower() in _JOBLIB_SUFFIXES

    def in_folder(self, folder: Path) -> str | None:
        return next((str(folder / n) for n in _JOBLIB_FOLDER_FILES if (folder / n).is_file()), None)

    def load(self, spec: str, options: ModelOptions | None = None) -> Predictor:
        if options is not None:
            options.refuse(f"'{spec}'")
        path = Path(spec)
        if not path.is_file():
            raise ModelError(f"--model '{spec}': file not found.")
        import joblib

        try:
            with guard_exits():
                obj = joblib.load(path)
        except _Exited as exc:
            raise ModelError(f"{exc.message(f'--model {spec!r}: loading it ')} Check what the file holds.") from None
        except Exception as exc:  # noqa: BLE001 - unpickling runs arbitrary code
            raise ModelError(f"--model '{spec}': joblib could not load it ({type(exc).__name__}: {exc}).") from exc
        if hasattr(obj, "predict"):
            return SklearnPredictor(obj, name=path.name)
        if callable(obj):
            return CallablePredictor(obj, name=path.name)
        raise ModelError(
            f"--model '{spec}': the file holds a {type(obj).__name__}, which has no predict method and is not callable."
        )


#: The Python-function and joblib model formats (see :data:`openclarify.models._formats.MODEL_FORMATS`).
PYTHON_FORMAT = _PythonFormat()
JOBLIB_FORMAT = _JoblibFormat()
