"""The ``dask`` backend: one job's chunks as tasks on a Dask ``distributed`` cluster.

Scheduler. ``settings.dask_scheduler`` (``INSTANT_DASK_SCHEDULER``, else
``DASK_SCHEDULER_ADDRESS``) names a running scheduler. With none named, the
job starts a ``LocalCluster`` of ``workers`` single-threaded worker processes
whose every socket (scheduler, nannies, workers, the HTTP server of the
dashboard) binds to 127.0.0.1, and closes it when the job's chunks are done.
A named scheduler that does not respond raises ``SchedulerUnreachableError``
after ``CONNECT_TIMEOUT`` seconds (10 s), naming the address.

How chunks travel. The client writes each chunk's raw lines to a spill file
in a temporary folder beside the job's outputs and sends only the file's path
and line numbers. The worker reads the file, runs the stage and returns the
stage's result through Dask. The reason: a chunk of 500 documents is about a
megabyte, and sent inline it would pass through the client's and the
scheduler's memory and be pickled into the task for every retry, while a path
is a few hundred bytes and the workers already share the job's file system
(the Snakemake jobs read and write there). The shard itself cannot be sent as
a path plus a line range, because a zstd stream cannot be entered in the
middle: every worker would decompress the shard from its start. Results come
back inline because the client must hold them anyway to write them, in input
order, into the shard's outputs. Items that are not ``Chunk`` objects travel
inline and must be picklable. A worker that cannot read a spill file raises
``SpillFileError``, which names the worker and the path.

Bounded memory. At most ``2 * workers`` chunks are in flight. When a named
scheduler is used and no worker count was set, ``workers`` is the cluster's
thread count at connect time. A spill file is removed as soon as its result
is back, so neither memory nor spill space grows with the shard.

Retries. A task reads its spill file and returns a value: it writes nothing,
so running it twice gives the same result and cannot duplicate output, which
only the client writes. When a worker dies, the scheduler reruns the tasks it
held on other workers, up to ``distributed.scheduler.allowed-failures`` (3 by
default) deaths per task; past that the job fails with ``BackendError``.
Exceptions raised by the stage itself are not retried, because the same
input would raise them again.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import shutil
import socket
import tempfile
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from indw.backends import BackendError
from indw.settings import RunSettings
from indw.shards import Chunk

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

LOOPBACK = "127.0.0.1"
# Seconds to wait for a named scheduler to respond before failing the job.
CONNECT_TIMEOUT = 10.0
# Seconds to wait for the first worker of a named scheduler. An adaptive
# cluster (dask-jobqueue) may need this long to start one.
WORKER_WAIT_TIMEOUT = 120.0
SPILL_PREFIX = ".dask-spill-"


class SchedulerUnreachableError(BackendError):
    """The named Dask scheduler did not respond in time."""


class SpillFileError(BackendError):
    """A worker cannot read a spill file: it does not share the file system."""


@dataclass(frozen=True)
class SpilledChunk:
    """A chunk written to a spill file; ``count`` lines start at ``first_line``."""

    path: str
    index: int
    first_line: int
    count: int


def write_spill(chunk: Chunk, folder: Path) -> SpilledChunk:
    """Write a chunk's lines, each followed by ``\\n``, to a file in ``folder``."""
    path = folder / f"{chunk.index:09d}.lines"
    with open(path, "wb") as handle:
        for line in chunk.lines:
            handle.write(line)
            handle.write(b"\n")
    return SpilledChunk(str(path), chunk.index, chunk.first_line, len(chunk.lines))


def read_spill(spilled: SpilledChunk) -> Chunk:
    """Read a spilled chunk back; raise SpillFileError if it is missing or short.

    Shard lines never contain ``\\n`` (the reader splits on it), so splitting
    the file on ``\\n`` gives back exactly the chunk's lines.
    """
    try:
        with open(spilled.path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise SpillFileError(
            f"dask worker on host {socket.gethostname()} (pid {os.getpid()}) "
            f"cannot read spill file {spilled.path}: {error.strerror or error}. "
            "Dask workers must see the file system of the job that submits "
            "them (its results folder) at the same path."
        ) from None
    lines = data.split(b"\n")[:-1]
    if len(lines) != spilled.count:
        raise SpillFileError(
            f"spill file {spilled.path} contains {len(lines)} lines, expected "
            f"{spilled.count}; it was changed or truncated after it was written"
        )
    return Chunk(spilled.index, spilled.first_line, lines)


def run_chunk_task(func: Callable[[Any], R], item: Any) -> R:
    """Run ``func`` on one item on a worker, reading a spilled chunk first."""
    if isinstance(item, SpilledChunk):
        item = read_spill(item)
    return func(item)


def _quiet_distributed_logging() -> None:
    # distributed logs every connection and worker start at INFO, which would
    # bury the job's own log lines; its warnings and errors stay.
    if not log.isEnabledFor(logging.DEBUG):
        logging.getLogger("distributed").setLevel(logging.WARNING)


def start_local_cluster(workers: int) -> LocalCluster:
    """Start a cluster of ``workers`` one-thread processes bound to 127.0.0.1.

    Processes, not threads, because the cleaning stage is pure Python and
    threads would share one interpreter lock. The dashboard's HTTP server
    takes a free port on 127.0.0.1 (the default 8787 may be taken by another
    cluster on the machine, and the default host listens on every address).
    """
    from distributed import LocalCluster

    _quiet_distributed_logging()
    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host=LOOPBACK,
        dashboard_address=f"{LOOPBACK}:0",
        worker_dashboard_address=None,
        protocol="tcp",
        silence_logs=logging.WARNING,
    )


def _probe_scheduler(address: str, timeout: float) -> None:
    from distributed.comm import connect as open_comm
    from distributed.security import Security

    # The same TLS settings (dask config) that a Client would use.
    connection_args = Security().get_connection_args("client")

    async def probe() -> None:
        comm = await open_comm(address, timeout=f"{timeout}s", **connection_args)
        await comm.close()

    # The comm's own timeout covers the connection only, not the handshake
    # that follows, which a service that is not a Dask scheduler never sends.
    asyncio.run(asyncio.wait_for(probe(), timeout))


def connect(address: str, timeout: float = CONNECT_TIMEOUT) -> Client:
    """Connect a client to a named scheduler or raise SchedulerUnreachableError.

    A bare connection is tried first: a ``Client`` whose start timed out
    stays half open and delays the interpreter's exit while it closes.
    """
    from distributed import Client

    _quiet_distributed_logging()
    try:
        _probe_scheduler(address, timeout)
        return Client(address, timeout=timeout, set_as_default=False)
    except (TypeError, ValueError) as error:
        raise SchedulerUnreachableError(
            f"cannot connect to the Dask scheduler at {address!r}: {error}. "
            "Write the address as tcp://HOST:PORT in INSTANT_DASK_SCHEDULER or "
            "DASK_SCHEDULER_ADDRESS; a tls:// address needs the TLS settings "
            "of the dask config (distributed.comm.tls)."
        ) from None
    except (OSError, TimeoutError) as error:
        # wait_for's TimeoutError has no message: the connection opened, but
        # no handshake came back.
        reason = str(error) or "connected, but no Dask handshake came back"
        raise SchedulerUnreachableError(
            f"the Dask scheduler at {address} did not respond within "
            f"{timeout:g} s ({reason}). Start the scheduler, correct "
            "INSTANT_DASK_SCHEDULER or DASK_SCHEDULER_ADDRESS, or unset both "
            "to run on a local cluster."
        ) from None


def wait_for_workers(client: Client, address: str, timeout: float) -> None:
    """Wait until the scheduler has a worker; raise BackendError after ``timeout``."""
    if client.scheduler_info(n_workers=-1)["workers"]:
        return
    log.info("waiting up to %g s for a worker of the scheduler at %s", timeout, address)
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise BackendError(
            f"the Dask scheduler at {address} has had no workers for "
            f"{timeout:g} s; start workers that connect to it"
        ) from None


@contextlib.contextmanager
def open_client(
    address: str | None,
    workers: int,
    connect_timeout: float = CONNECT_TIMEOUT,
    worker_timeout: float = WORKER_WAIT_TIMEOUT,
) -> Iterator[tuple[Client, str]]:
    """Yield a client and its scheduler address; close what was opened here.

    With ``address`` None, a local cluster of ``workers`` workers is started
    and closed on exit.
    """
    from distributed import Client

    cluster = None
    if address:
        client = connect(address, connect_timeout)
    else:
        cluster = start_local_cluster(workers)
        client = Client(cluster, set_as_default=False)
        address = cluster.scheduler_address
    try:
        wait_for_workers(client, address, worker_timeout)
        yield client, address
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _task_name(func: Callable) -> str:
    inner = getattr(func, "func", func)
    return getattr(inner, "__name__", "task").replace("_", "-")


def _result_in_order(future, address: str, timeout: float | None = None):
    from distributed import KilledWorker
    from distributed.client import FutureCancelledError

    try:
        return future.result(timeout=timeout)
    except KilledWorker as error:
        raise BackendError(
            f"task {future.key} was lost with every worker that ran it "
            f"(scheduler {address}, distributed.scheduler.allowed-failures): "
            f"{error}"
        ) from None
    except FutureCancelledError as error:
        raise BackendError(
            f"task {future.key} was cancelled, most likely because the "
            f"connection to the scheduler at {address} was lost: {error}"
        ) from None


def map_dask(
    func: Callable[[T], R],
    items: Iterable[T],
    settings: RunSettings,
    workers: int,
    spill_dir: Path | str | None = None,
    in_flight: int | None = None,
    connect_timeout: float = CONNECT_TIMEOUT,
) -> Iterator[R]:
    """Apply ``func`` to every item as Dask tasks and yield the results in order.

    ``spill_dir`` is where the temporary spill folder goes (default: the
    working directory). Every worker must be able to read it at the same path.
    ``in_flight`` caps the chunks submitted but not yet returned (default:
    twice the worker count). Raises SchedulerUnreachableError, SpillFileError
    or BackendError as described in the module docstring.
    """
    with open_client(settings.dask_scheduler, workers, connect_timeout) as (
        client,
        address,
    ):
        if settings.dask_scheduler and settings.workers is None:
            workers = max(1, sum(client.nthreads().values()))
        window = in_flight or 2 * workers
        log.info("dask backend: scheduler %s, %d chunks in flight", address, window)
        yield from map_on_client(client, address, func, items, spill_dir, window)


def map_on_client(
    client: Client,
    address: str,
    func: Callable[[T], R],
    items: Iterable[T],
    spill_dir: Path | str | None,
    window: int,
    result_timeout: float | None = None,
) -> Iterator[R]:
    """Run ``func`` over ``items`` on a connected client, results in input order.

    ``result_timeout`` bounds the wait for each result in seconds (default:
    no bound, because one chunk may legitimately take long).
    """
    # Absolute, because a worker of a named scheduler runs in another folder.
    spill_parent = Path(spill_dir or Path.cwd()).resolve()
    spill_parent.mkdir(parents=True, exist_ok=True)
    spill_folder = Path(tempfile.mkdtemp(prefix=SPILL_PREFIX, dir=spill_parent))
    prefix = f"indw-{_task_name(func)}-{uuid.uuid4().hex}"
    pending: deque = deque()

    def submit(position: int, item: Any) -> None:
        spill_path = None
        if isinstance(item, Chunk):
            item = write_spill(item, spill_folder)
            spill_path = Path(item.path)
        # A key unique to this call and item: jobs that share a scheduler
        # never collide, and the dashboard shows which stage runs.
        future = client.submit(
            run_chunk_task, func, item, key=f"{prefix}-{position}", retries=0
        )
        pending.append((future, spill_path))

    def collect() -> R:
        future, spill_path = pending.popleft()
        result = _result_in_order(future, address, result_timeout)
        future.release()
        if spill_path is not None:
            spill_path.unlink(missing_ok=True)
        return result

    try:
        for position, item in enumerate(items):
            submit(position, item)
            if len(pending) >= window:
                yield collect()
        while pending:
            yield collect()
    finally:
        for future, _ in pending:
            future.cancel()
        shutil.rmtree(spill_folder, ignore_errors=True)


def check_scheduler(address: str, timeout: float = CONNECT_TIMEOUT) -> int:
    """Connect to a named scheduler and return its worker count.

    Raises SchedulerUnreachableError when it does not respond within
    ``timeout`` seconds.
    """
    client = connect(address, timeout)
    try:
        return len(client.scheduler_info(n_workers=-1)["workers"])
    finally:
        client.close()


def prepare_run_cluster(settings: RunSettings, cores: int) -> None:
    """Make a cluster ready for a Snakemake run's jobs, before the first starts.

    A named scheduler is checked once, so that a wrong address fails the run
    with one error instead of one per job. With none named, a local cluster of
    ``settings.workers`` (else ``cores``) workers starts, lives until this
    process exits, and is exported as ``INSTANT_DASK_SCHEDULER`` to the jobs
    that this process starts, so they share it instead of each starting one.
    """
    if settings.dask_scheduler:
        check_scheduler(settings.dask_scheduler)
        return
    workers = settings.workers or cores
    cluster = start_local_cluster(workers)
    atexit.register(_close_quietly, cluster)
    log.info(
        "started a local Dask cluster of %d workers at %s for this run",
        workers,
        cluster.scheduler_address,
    )
    os.environ["INSTANT_DASK_SCHEDULER"] = cluster.scheduler_address


def _close_quietly(cluster: LocalCluster) -> None:
    try:
        cluster.close()
    except (OSError, RuntimeError) as error:
        log.warning("closing the local Dask cluster failed: %s", error)
