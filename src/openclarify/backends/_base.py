"""The executor seam and how a model travels to a worker."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = ["Executor", "ModelSpec", "loaded", "worker_model"]

T = TypeVar("T")
R = TypeVar("R")


@runtime_checkable
class Executor(Protocol):
    """Runs ``fn`` over items; ``map`` yields results in the order of ``items``.

    ``fn`` is a module-level function and the items are picklable, so a backend may run them in other
    processes or on other machines. The first failure is raised from ``map``. ``in_process`` says
    whether the items run in this process (and may hold what does not pickle, such as a progress
    callback or a model loaded here). An executor with a ``close()`` method is closed when the job ends.
    """

    workers: int
    in_process: bool

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]: ...


class ModelSpec(Protocol):
    """How to get a predictor on a worker: ``load()`` makes it; ``key`` names it for the per-worker cache."""

    @property
    def key(self) -> str: ...

    def load(self) -> Any: ...


class _Loaded:
    """A predictor already loaded in this process (``local`` and ``threads`` share it)."""

    __slots__ = ("_predictor",)

    def __init__(self, predictor: Any) -> None:
        self._predictor = predictor

    @property
    def key(self) -> str:
        return f"loaded:{id(self._predictor)}"

    def load(self) -> Any:
        return self._predictor


def loaded(predictor: Any) -> ModelSpec:
    """The spec of a predictor that is already loaded here."""
    return _Loaded(predictor)


_models: dict[str, Any] = {}
_models_lock = threading.Lock()


def worker_model(spec: ModelSpec) -> Any:
    """The predictor of ``spec``, loaded once per worker process and reused by every work item."""
    key = spec.key
    with _models_lock:
        found = _models.get(key)
        if found is None:
            found = _models[key] = spec.load()
        return found
