"""The Predictor seam: anything that turns a batch of records into one score vector per record.

The in-process predictors run user code (a ``file.py:function``, a scikit-learn pipeline with custom
steps) inside the job, so :class:`CallablePredictor` and the other in-process predictors call it
through :func:`call_model`, which keeps that code from changing the job behind its back:

* **Its input is its own.** The model gets a copy of the records that it may change freely
  (:func:`model_frame`, :func:`model_array`): the estimator's masked records, the baseline and the
  explained rows stay as they were, so a model that writes ``df["x"] = 0`` cannot change the
  attributions or ``baseline.csv``.
* **A record's score does not depend on its batch.** A BLAS rounds the rows at the tail of a matrix
  product otherwise than the others on some CPUs (a logistic regression's score can move a bit when
  its row is the 25th of 25 instead of one of 200), so the same record could score differently in
  another partition, thread group or request. The model is therefore given a multiple of
  :data:`ROW_MULTIPLE` rows: a batch of another size is filled up with copies of its last record, whose
  answers are dropped. Calls bounded by characters (records with text, tabular records with huge
  strings) are sent as they are (:func:`batches_as_given`): 15 copies of a long text would break the bound.
* **It cannot end the program.** ``sys.exit()`` (``SystemExit``) and ``os._exit()`` inside a model
  call are model errors naming the model (see :class:`_ExitGuard`).
* **Missing numbers are data.** When a model fails, or returns a non-finite score, on records that
  hold a missing or infinite number, the error is a :class:`~openclarify.errors.DataError` naming the
  record and column, with the model's own message, because filling in or dropping such records is
  the fix. A model that accepts missing values (a pipeline with ``SimpleImputer``,
  ``HistGradientBoosting``) is never refused.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from types import ModuleType
from typing import Any, NoReturn, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from .._typing import FloatArray
from ..errors import DataError, ModelError

__all__ = [
    "ROW_MULTIPLE",
    "CallablePredictor",
    "Predictor",
    "as_predictor",
    "batches_as_given",
    "call_model",
    "check_scores",
    "first_non_finite",
    "guard_exits",
    "model_array",
    "model_frame",
]

_FIX_MISSING = (
    "Fill in or drop the records with missing or infinite numbers, or use a model that accepts missing "
    "values (e.g. a pipeline with SimpleImputer)."
)
_FIX_EXIT = "Return scores, or raise an exception to report a failure."
#: A model called through :func:`call_model` gets a multiple of this many rows (see the module's notes).
ROW_MULTIPLE = 16
_filling: ContextVar[bool] = ContextVar("openclarify_fill_rows", default=True)


@runtime_checkable
class Predictor(Protocol):
    """A model as the estimators see it.

    ``predict`` receives a batch of records (a DataFrame whose columns are the model's input
    features) and returns the scores, shape ``(n_records, n_outputs)``. In-process models, HTTP
    endpoints and SageMaker endpoints all implement this one method.
    """

    def predict(self, records: pd.DataFrame) -> FloatArray: ...


# ---------------------------------------------------------------------------------------------------
# the model's own copy of its input

_PANDAS_3 = int(pd.__version__.split(".", 1)[0]) >= 3


def _copy_on_write() -> bool:
    """Whether pandas copies shared data before a write (always from pandas 3; an option in pandas 2)."""
    return _PANDAS_3 or pd.get_option("mode.copy_on_write") is True


def model_frame(records: pd.DataFrame) -> pd.DataFrame:
    """A frame holding ``records`` that a model may change in every way pandas allows.

    With Copy-on-Write (pandas 3, or pandas 2 with ``mode.copy_on_write``) this is a shallow copy:
    no data is copied until the model writes, and then only the columns it writes; arrays it reaches
    through ``.values`` / ``.to_numpy()`` are read-only views. Measured on 16,384 records of 8 columns:
    about 12 us. Without Copy-on-Write (pandas 2's default) the data is copied: about 0.3 ms, against
    about 5 ms for a 10-tree random forest's predict on the same records.
    """
    return records.copy(deep=not _copy_on_write())


def model_array(records: pd.DataFrame) -> np.ndarray:
    """``records`` as a 2-D array the model owns: a fresh array (a copy of a numeric frame's data, about
    50 us for 16,384 x 8; a frame with a text column builds a new array anyway)."""
    return np.asarray(records.to_numpy(copy=True))


# ---------------------------------------------------------------------------------------------------
# a model that ends the program


class _ProcessExit(BaseException):
    """Raised in place of ``os._exit(status)`` inside a model call; a BaseException, so that a model's
    ``except Exception`` does not swallow it."""

    def __init__(self, status: object) -> None:
        super().__init__(status)
        self.status = status


class _ExitGuard:
    """Replaces ``os._exit`` while at least one model call runs in this process.

    ``os._exit`` cannot be caught: it ends the process at once, so a model calling it would end the job
    with exit status 0 and no output. While a guarded call runs, ``os._exit`` (and ``posix._exit``, the
    same function) is a stand-in that records the attempt and raises :class:`_ProcessExit`, so the call
    fails with a :class:`ModelError` even when the model catches that exception. An attempt is charged
    to the call running on the same thread; one from a thread outside any model call (a thread the model
    started) to every call running at the time.

    * **Only this process.** A process forked by the model (multiprocessing's fork start method ends
      its workers with ``os._exit``) inherits the stand-in; there ``os.getpid()`` differs from the pid
      that installed it, and the stand-in calls the real ``os._exit``. The child also drops the
      guard's state and restores the real function (``os.register_at_fork``).
    * **Threads.** Calls on several threads (``--workers``) share one installation, counted under a
      lock: the first call to enter installs the stand-in, the last to leave restores the original.
      Outside model calls ``os._exit`` is the real function, and the stand-in, if code kept a
      reference to it, passes calls straight to the real one.
    * **Cost.** A lock and two attribute assignments per model call (about a microsecond), against a
      model call on thousands of records.
    * **Limits.** A reference to the real function taken before the guard is installed (``from os
      import _exit`` in a module imported outside model calls) and C code calling ``exit()`` are not
      covered. Loading a ``file.py`` model is guarded, so its own module-level imports get the stand-in.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._pid = 0
        self._local = threading.local()  # .depth: guarded calls running on this thread
        # (thread ident or None for a thread outside model calls, status) of each os._exit attempt
        self._attempts: list[tuple[int | None, object]] = []
        self._saved: list[tuple[ModuleType, Any]] = []
        self._original: Callable[[int], NoReturn] = os._exit

        def stand_in(status: int) -> NoReturn:
            if os.getpid() != self._pid or self._depth == 0:
                self._original(status)
            ident = threading.get_ident() if getattr(self._local, "depth", 0) else None
            with self._lock:
                self._attempts.append((ident, status))
            raise _ProcessExit(status)

        self._stand_in = stand_in
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork_in_child)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._restore()

    def _restore(self) -> None:
        for module, original in self._saved:
            if getattr(module, "_exit", None) is self._stand_in:
                module._exit = original  # type: ignore[attr-defined]
        self._saved = []

    def enter(self) -> int:
        """Start a guarded call; returns the number of attempts so far (for :meth:`leave`)."""
        with self._lock:
            if self._depth == 0:
                self._pid = os.getpid()
                current = os._exit
                if current is not self._stand_in:
                    self._original = current
                modules = [os]
                native = sys.modules.get(os.name)  # posix / nt: the same function
                if native is not None and getattr(native, "_exit", None) is current:
                    modules.append(native)
                self._saved = [(m, m._exit) for m in modules]
                for module in modules:
                    module._exit = self._stand_in  # type: ignore[attr-defined]
            self._depth += 1
            self._local.depth = getattr(self._local, "depth", 0) + 1
            return len(self._attempts)

    def leave(self, since: int) -> object | None:
        """End a guarded call; returns the status of an ``os._exit`` charged to it, if any."""
        me = threading.get_ident()
        with self._lock:
            self._local.depth -= 1
            self._depth -= 1
            if self._depth == 0:
                self._restore()
            return next((status for ident, status in self._attempts[since:] if ident in (me, None)), None)


_EXIT_GUARD = _ExitGuard()


class _Exited(Exception):
    """How :func:`guard_exits` reports that the guarded code tried to end the program."""

    def __init__(self, how: str, value: object) -> None:
        super().__init__(how, value)
        self.how = how  # "sys.exit" or "os._exit"
        self.value = value

    def message(self, where: str, during: str = "") -> str:
        """``<where>: <ended the program ...><during>; got <code>. <fix>`` (``during``: " on a batch of 3 records")."""
        if self.how == "sys.exit":
            return f"{where}ended the program with sys.exit(){during}; got exit code {self.value!r}."
        return f"{where}tried to end the process with os._exit(){during}; got exit status {self.value!r}."


@contextlib.contextmanager
def guard_exits() -> Iterator[None]:
    """Run user code so that ``sys.exit()`` and ``os._exit()`` inside it raise :class:`_Exited`.

    Other exceptions, ``KeyboardInterrupt`` included, pass unchanged, unless ``os._exit`` was attempted
    while the code ran (a model that caught the stand-in's exception and raised another one).
    """
    since = _EXIT_GUARD.enter()
    attempted: object | None = None
    try:
        try:
            yield
        finally:
            attempted = _EXIT_GUARD.leave(since)
    except _ProcessExit as exc:
        raise _Exited("os._exit", exc.status) from None
    except (SystemExit, Exception) as exc:
        if attempted is not None:
            raise _Exited("os._exit", attempted) from None
        if isinstance(exc, SystemExit):
            raise _Exited("sys.exit", exc.code) from None
        raise
    if attempted is not None:
        raise _Exited("os._exit", attempted)


# ---------------------------------------------------------------------------------------------------
# missing and infinite numbers


def _non_finite(records: pd.DataFrame) -> tuple[np.ndarray, list[int]] | None:
    """Mask ``(n_records, n_numeric)`` of the NaN and infinite cells of the numeric columns, and those
    columns' positions; None when there is no such cell (a missing category is ``None``, not searched)."""
    numeric = [j for j, kind in enumerate(records.dtypes) if pd.api.types.is_float_dtype(kind)]
    if not numeric or len(records) == 0:
        return None
    values = records.iloc[:, numeric].to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    return (bad, numeric) if bad.any() else None


def _cell(records: pd.DataFrame, bad: np.ndarray, numeric: list[int], row: int) -> tuple[int, str, float]:
    col = int(np.flatnonzero(bad[row])[0])
    value = records.iloc[row, numeric[col]]
    return row, str(records.columns[numeric[col]]), float(np.nan if value is pd.NA else value)


def first_non_finite(records: pd.DataFrame) -> tuple[int, str, float] | None:
    """The first (row position, column, value) holding NaN or an infinite number, row by row; else None.

    Only numeric columns are searched (a missing category is ``None``, which any text model can take).
    """
    found = _non_finite(records)
    if found is None:
        return None
    bad, numeric = found
    return _cell(records, bad, numeric, int(np.flatnonzero(bad.any(axis=1))[0]))


def _failure(source: str, what: str, n: int, records: pd.DataFrame, exc: Exception) -> DataError | ModelError:
    """The error for a model that raised ``exc`` on ``records``: data when they hold a non-finite number."""
    cell = first_non_finite(records)
    if cell is None:
        return ModelError(f"{source}{what} raised {type(exc).__name__} on a batch of {n} records: {exc}")
    row, column, value = cell
    return DataError(
        f"batch row {row}, column {column!r}: {source}{what} raised {type(exc).__name__} on a batch of {n} "
        f"records holding a missing or infinite number: {exc}; got {value!r}. {_FIX_MISSING}"
    )


def check_scores(raw: Any, n_records: int, *, source: str, records: pd.DataFrame | None = None) -> FloatArray:
    """Validate a model's answer: one finite score, or one score vector, per record.

    Returns a float array of shape ``(n_records, n_outputs)``. With ``records`` (the model's input), a
    non-finite score for a record that holds a missing or infinite number is a :class:`DataError`.
    """
    try:
        scores = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ModelError(
            f"{source}: returned values that are not numbers ({exc}); got {type(raw).__name__}. "
            "Return one score or one score vector per record."
        ) from None
    if scores.ndim == 1:
        scores = scores[:, None]
    if scores.ndim != 2 or scores.shape[0] != n_records or scores.shape[1] == 0:
        raise ModelError(
            f"{source}: expected one score or score vector for each of the {n_records} records; "
            f"got an array of shape {tuple(np.shape(raw))}. Return shape ({n_records},) or ({n_records}, n_outputs)."
        )
    bad = ~np.isfinite(scores)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        found = _non_finite(records) if records is not None and len(records) == n_records else None
        if records is not None and found is not None:
            inputs, numeric = found
            blamed = rows[inputs[rows].any(axis=1)]
            if blamed.size:
                _, column, value = _cell(records, inputs, numeric, int(blamed[0]))
                raise DataError(
                    f"batch row {int(blamed[0])}, column {column!r}: {source} returned a non-finite score for a "
                    f"record holding a missing or infinite number; got {value!r}. {_FIX_MISSING}"
                )
        row = int(rows[0])
        raise ModelError(
            f"{source}: returned a non-finite score for {len(rows)} of {n_records} records "
            f"(first at batch row {row}); got {scores[row].tolist()!r}. Make the model return finite scores."
        )
    return scores


def call_model(fn: Callable[[Any], Any], batch: Any, records: pd.DataFrame, *, source: str, what: str = "") -> Any:
    """``fn(batch)`` for the model named ``source`` (``"model 'm.py:f'"``), guarded.

    ``batch`` is the model's own copy of ``records`` (see :func:`model_frame`); ``what`` names the
    method called (``": predict_proba"``) in messages.

    Raises
    ------
    ModelError
        The model raised, or ended the program (``sys.exit``, ``os._exit``).
    DataError
        The model raised on records that hold a missing or infinite number.
    """
    n = len(records)
    filled, k = _filled(batch, n)
    try:
        with guard_exits():
            raw = fn(filled)
    except _Exited as exc:
        raise ModelError(
            f"{exc.message(f'{source}: ', f' on a batch of {len(records)} records')} {_FIX_EXIT}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any failure inside user code is a model or data error
        raise _failure(source, what, len(records), records, exc) from exc
    return raw if k == n else _first_answers(raw, n, k, source)


def _filled(batch: Any, n: int) -> tuple[Any, int]:
    """``batch`` (``n`` rows) filled up to a multiple of :data:`ROW_MULTIPLE` rows with copies of its last
    row, and the new number of rows; left alone inside :func:`batches_as_given`, or when ``batch`` is not a
    DataFrame or an array."""
    k = -(-n // ROW_MULTIPLE) * ROW_MULTIPLE
    if k == n or not _filling.get() or not isinstance(batch, pd.DataFrame | np.ndarray) or len(batch) != n:
        return batch, n
    take = np.concatenate([np.arange(n), np.full(k - n, n - 1)])
    if isinstance(batch, np.ndarray):
        return batch[take], k
    out = batch.iloc[take]
    out.index = pd.RangeIndex(k)
    return out, k


@contextlib.contextmanager
def batches_as_given() -> Iterator[None]:
    """Model calls made inside are not filled up to a multiple of :data:`ROW_MULTIPLE` rows (in this
    thread): for calls bounded by characters, which copies of a long text would break."""
    token = _filling.set(False)
    try:
        yield
    finally:
        _filling.reset(token)


def _shape(raw: Any) -> tuple[int, ...]:
    try:
        return tuple(np.shape(raw))
    except ValueError:  # a ragged list
        return (len(raw),)


def _first_answers(raw: Any, n: int, k: int, source: str) -> Any:
    """The answers to the first ``n`` rows of a filled batch of ``k``: one answer per row is required."""
    sized = isinstance(raw, pd.DataFrame | pd.Series | list | tuple) or (isinstance(raw, np.ndarray) and raw.ndim)
    if not sized or len(raw) != k:
        raise ModelError(
            f"{source}: expected one score or score vector for each of the {n} records; got an array of shape "
            f"{_shape(raw) if sized else ()} for a batch of {k} (the {n} records and copies of the last, "
            "so that a record's score never depends on its batch). Return one score or one score vector per record."
        )
    if isinstance(raw, pd.DataFrame | pd.Series):
        return raw.iloc[:n]
    return raw[:n]


class CallablePredictor:
    """Wrap a Python callable ``fn(records) -> scores`` as a :class:`Predictor`.

    ``as_numpy`` passes the records as a 2-D array instead of a DataFrame (for models fitted
    without feature names). Either way the callable gets its own copy, which it may change.
    """

    def __init__(self, fn: Callable[[Any], Any], *, name: str | None = None, as_numpy: bool = False) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__qualname__", type(fn).__name__)
        self.as_numpy = as_numpy

    def predict(self, records: pd.DataFrame) -> FloatArray:
        batch: Any = model_array(records) if self.as_numpy else model_frame(records)
        source = f"model {self.name!r}"
        raw = call_model(self.fn, batch, records, source=source)
        return check_scores(raw, len(records), source=source, records=records)


def as_predictor(model: Predictor | Callable[[Any], Any]) -> Predictor:
    """Return ``model`` if it is a :class:`Predictor`, else wrap a callable in :class:`CallablePredictor`."""
    if isinstance(model, Predictor):
        return model
    if callable(model):
        return CallablePredictor(model)
    raise ModelError(f"model: expected a Predictor or a callable; got {type(model).__name__}.")
