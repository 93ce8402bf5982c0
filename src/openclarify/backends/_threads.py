"""``threads``: items run on a pool of threads; results come back in the order of the items.

Worth it when the work releases the GIL (numpy, scikit-learn trees, a model server's sockets). At most
``2 * workers`` items are in flight, so a long stream of items is never all held in memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

__all__ = ["ThreadExecutor"]

T = TypeVar("T")
R = TypeVar("R")


class ThreadExecutor:
    in_process = True

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        if self.workers == 1:
            for item in items:
                yield fn(item)
            return
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="openclarify") as pool:
            pending: deque[Future[R]] = deque()
            try:
                for item in items:
                    pending.append(pool.submit(fn, item))
                    if len(pending) >= 2 * self.workers:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()
