"""Executors that run an analysis's work functions: ``local`` (in order, here), ``threads`` and ``dask``.

An executor maps a module-level work function over picklable items and yields the results in the
order of the items, whatever order they finished in. Results never depend on the executor or on its
number of workers (the random numbers are keyed on record numbers, see ``shapley/_random.py``).
A new backend is one module plus one line in :data:`BACKENDS`.
"""

from __future__ import annotations

import importlib
from typing import Literal

from ._base import Executor, ModelSpec, loaded, worker_model

__all__ = [
    "BACKENDS",
    "BACKEND_NAMES",
    "BackendName",
    "Executor",
    "ModelSpec",
    "get_executor",
    "loaded",
    "worker_model",
]

BackendName = Literal["local", "threads", "dask"]
BACKEND_NAMES: tuple[BackendName, ...] = ("local", "threads", "dask")

#: Backend name -> "module:class" of its executor; the module is imported only when the name is chosen.
BACKENDS: dict[BackendName, str] = {
    "local": "openclarify.backends._local:LocalExecutor",
    "threads": "openclarify.backends._threads:ThreadExecutor",
    "dask": "openclarify.backends._dask:DaskExecutor",
}


def get_executor(name: BackendName, workers: int = 1, address: str | None = None) -> Executor:
    """The executor called ``name`` with ``workers`` workers (``local`` has one); ``address`` is a
    cluster's scheduler for the backends that have one (``dask``: ``tcp://host:8786``)."""
    if name not in BACKENDS:
        raise ValueError(f"backend: unknown name {name!r}; the backends are {sorted(BACKENDS)!r}.")
    if workers < 1:
        raise ValueError(f"workers: must be >= 1; got {workers!r}.")
    module, _, attr = BACKENDS[name].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if address is not None:
        if name != "dask":
            raise ValueError(f"address: only the dask backend has a scheduler; got {address!r} for {name!r}.")
        executor: Executor = cls(workers, address)
    else:
        executor = cls(workers)
    return executor
