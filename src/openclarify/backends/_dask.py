"""``dask``: partitions run on a Dask cluster, a local one (one worker process per core) or an existing one.

Each work item travels to a worker with the model's spec, not the model: the worker loads the model once
(:func:`~openclarify.backends.worker_model`) and keeps it for every later item. Results come back in the
order of the items, with at most ``2 * workers`` items in flight, so the driver holds little at a time
and writes the files in record order as the ``local`` backend does: the outputs are the same bytes,
whatever the number of workers (the random numbers are keyed on record numbers).

A worker that dies (killed, out of memory) loses its items; the scheduler runs them again on another
worker (Dask's ``allowed-failures``, 3 by default), and a re-run item gives the same bytes. An item
that raises is not retried: the job stops with the exception the work raised (a ``ModelError`` with
the model's message, say). Two Dask settings are changed for the local cluster (measured in the engine
notes): ``distributed.deploy.lost-worker-timeout`` 120 s (the default 15 s gives up on a worker whose
restart is slow, which on a busy machine left a cluster with no workers), and the workers' profiler off.
"""

from __future__ import annotations

import importlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from ..errors import MissingDependencyError, ModelError

__all__ = ["DaskExecutor"]

T = TypeVar("T")
R = TypeVar("R")

_SETTINGS = {
    "distributed.deploy.lost-worker-timeout": "120s",
    "distributed.worker.profile.enabled": False,
    "distributed.worker.daemon": False,  # workers may start processes of their own (a model's pool)
}


def _distributed() -> Any:
    try:
        return importlib.import_module("distributed")
    except ImportError as exc:
        raise MissingDependencyError(
            "backend 'dask' needs the optional dependency 'distributed'. Install it with: "
            "pip install 'openclarify[dask]'."
        ) from exc


class DaskExecutor:
    """Runs items on a Dask cluster: ``address`` (``tcp://host:8786``) or a local one of ``workers`` processes."""

    in_process = False

    def __init__(self, workers: int = 1, address: str | None = None) -> None:
        distributed = _distributed()
        dask = importlib.import_module("dask")
        self._config = dask.config.set(_SETTINGS)
        self._config.__enter__()
        self._cluster: Any = None
        try:
            if address is not None:
                try:
                    self._client = distributed.Client(address, timeout="30s", set_as_default=False)
                except (OSError, TimeoutError) as exc:
                    raise ModelError(
                        f"--scheduler {address!r}: cannot reach the Dask scheduler ({exc}). Check the address "
                        "and that the scheduler runs."
                    ) from None
            else:
                self._cluster = distributed.LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    # its HTTP server (health, and the dashboard when bokeh is there) on a free loopback
                    # port: None would take 8787 on every interface, and fail when another cluster has it
                    dashboard_address="127.0.0.1:0",
                )
                self._client = distributed.Client(self._cluster, set_as_default=False)
        except BaseException:
            self.close()
            raise
        threads = sum(self._client.nthreads().values())
        self.workers = max(1, threads)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        distributed = _distributed()
        pending: deque[Any] = deque()
        try:
            for item in items:
                pending.append(self._client.submit(fn, item, pure=False))
                if len(pending) >= 2 * self.workers:
                    yield self._result(pending.popleft(), distributed)
            while pending:
                yield self._result(pending.popleft(), distributed)
        finally:
            for future in pending:
                future.cancel()

    @staticmethod
    def _result(future: Any, distributed: Any) -> Any:
        try:
            return future.result()
        except distributed.KilledWorker as exc:
            raise ModelError(
                f"backend dask: a partition killed every worker that ran it ({exc}); the model crashes its "
                "process on these records (out of memory, a segmentation fault). Run it with the local backend "
                "to see the error."
            ) from None

    def close(self) -> None:
        """Close the client, and the local cluster when this executor started one."""
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._config.__exit__(None, None, None)
