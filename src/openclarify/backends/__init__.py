"""Executors that run an analysis's work functions: ``local`` (in order, here) and ``threads``.

An executor maps a module-level work function over picklable items and yields the results in the
order of the items, whatever order they finished in. Results never depend on the executor or on its
number of workers (the random numbers are keyed on record numbers, see ``shapley/_random.py``).
A new backend is one module plus one line in :data:`BACKENDS`.
"""

from __future__ import annotations

import importlib
from typing import Literal

from ._base import Executor, ModelSpec, loaded, worker_model

__all__ = ["BACKENDS", "BackendName", "Executor", "ModelSpec", "get_executor", "loaded", "worker_model"]

BackendName = Literal["local", "threads"]

#: Backend name -> "module:class" of its executor; the module is imported only when the name is chosen.
BACKENDS: dict[BackendName, str] = {
    "local": "openclarify.backends._local:LocalExecutor",
    "threads": "openclarify.backends._threads:ThreadExecutor",
}


def get_executor(name: BackendName, workers: int = 1) -> Executor:
    """The executor called ``name`` with ``workers`` workers (``local`` has one)."""
    if name not in BACKENDS:
        raise ValueError(f"backend: unknown name {name!r}; the backends are {sorted(BACKENDS)!r}.")
    if workers < 1:
        raise ValueError(f"workers: must be >= 1; got {workers!r}.")
    module, _, attr = BACKENDS[name].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    executor: Executor = cls(workers)
    return executor
