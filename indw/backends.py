"""Backends that spread a job's chunks over workers and return results in order.

Every backend calls the same stage function on the same chunks and yields the
results in the chunks' input order, so the output never depends on which
worker finished first. At most ``2 * workers`` chunks are in flight at once,
so memory grows with the chunk size and the worker count, not the shard size.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, TypeVar

from indw.settings import BACKENDS, RunSettings, normalize_backend

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class BackendError(RuntimeError):
    """A backend cannot run the work, for example because a scheduler does not
    respond or a worker cannot read its input. The message states what to do.
    """


def _map_ordered_with_executor(
    executor: Executor,
    func: Callable[[T], R],
    items: Iterable[T],
    window: int,
) -> Iterator[R]:
    pending: deque = deque()
    for item in items:
        pending.append(executor.submit(func, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def map_local(func: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
    for item in items:
        yield func(item)


def map_thread(func: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    with ThreadPoolExecutor(max_workers=workers) as executor:
        yield from _map_ordered_with_executor(executor, func, items, 2 * workers)


def map_multiprocess(
    func: Callable[[T], R], items: Iterable[T], workers: int
) -> Iterator[R]:
    # spawn, not fork: a forked child of a process that runs threads (the
    # Snakemake logger, a Dask client) can inherit a held lock and hang.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as executor:
        yield from _map_ordered_with_executor(executor, func, items, 2 * workers)


def map_ordered(
    func: Callable[[T], R],
    items: Iterable[T],
    settings: RunSettings,
    threads: int = 1,
    dask_options: dict[str, Any] | None = None,
) -> Iterator[R]:
    """Apply ``func`` to every item on the configured backend, in input order.

    ``func`` and the items must be picklable for the ``multiprocess`` and
    ``dask`` backends. With one worker, ``thread`` and ``multiprocess`` run
    inline, because a pool of one only adds the cost of moving the data.
    """
    backend = normalize_backend(settings.backend)
    workers = settings.effective_workers(threads)

    if backend == "local":
        return map_local(func, items)
    if backend == "thread":
        return (
            map_local(func, items) if workers == 1 else map_thread(func, items, workers)
        )
    if backend == "multiprocess":
        if workers == 1:
            return map_local(func, items)
        return map_multiprocess(func, items, workers)
    if backend == "dask":
        from indw.dask_backend import map_dask

        return map_dask(func, items, settings, workers, **(dask_options or {}))
    raise AssertionError(f"backend {backend!r} is not one of {BACKENDS}")
