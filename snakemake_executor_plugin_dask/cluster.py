"""Connect to a Dask scheduler, or start a local cluster bound to 127.0.0.1."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from snakemake_interface_common.exceptions import WorkflowError

from .settings import ADDRESS_VARIABLES, ExecutorSettings, scheduler_address

LOCAL_HOST = "127.0.0.1"

# The distributed package logs every worker start and stop at INFO, and a
# Snakemake run shows only its warnings.
CLUSTER_LOG_LEVEL = logging.WARNING


@dataclass
class DaskConnection:
    """A client and, when this run started it, the local cluster behind it."""

    client: Any
    cluster: Any | None
    description: str

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def import_distributed():
    try:
        import distributed
    except ImportError as error:
        raise WorkflowError(
            "the Dask executor needs the packages dask and distributed "
            f"({error}); install them with: pip install 'dask[distributed]'"
        ) from None
    return distributed


def connect(settings: ExecutorSettings) -> DaskConnection:
    """Return a connection to the configured scheduler or a new local cluster.

    Raises WorkflowError when the connection fails or does not succeed within
    ``settings.connect_timeout`` seconds.
    """
    distributed = import_distributed()
    address = scheduler_address(settings)
    timeout = settings.connect_timeout

    if address is None and settings.scheduler_file is None:
        return start_local_cluster(distributed, settings)

    if address is not None:
        target = f"Dask scheduler at {address}"
        arguments = {"address": address}
    else:
        target = f"Dask scheduler of scheduler file {settings.scheduler_file}"
        arguments = {"scheduler_file": settings.scheduler_file}

    try:
        client = distributed.Client(
            **arguments, timeout=f"{timeout}s", set_as_default=False
        )
    except (OSError, TimeoutError, ValueError) as error:
        raise WorkflowError(
            f"could not connect to {target} within {timeout} s ({error}). Check "
            "that the scheduler runs and the address is right, raise "
            "--dask-connect-timeout (at most 30 s), or unset "
            f"{' and '.join(ADDRESS_VARIABLES)} to run on a local cluster."
        ) from None
    return DaskConnection(client=client, cluster=None, description=target)


def start_local_cluster(distributed, settings: ExecutorSettings) -> DaskConnection:
    """Start workers on this machine with every socket bound to 127.0.0.1."""
    workers = settings.local_workers or os.cpu_count() or 1
    dashboard = settings.local_dashboard_port is not None
    # The scheduler serves /health and /metrics over HTTP even without the
    # dashboard, by default on port 8787 of every interface, so its address
    # is always set: 127.0.0.1 and, unless a port is given, a free port.
    http_address = f"{LOCAL_HOST}:{settings.local_dashboard_port or 0}"

    cluster = distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=settings.local_threads_per_worker,
        processes=settings.local_processes,
        # Without it, a cluster of threads would use in-process transport.
        # TCP makes both kinds of cluster behave the same.
        protocol="tcp://",
        host=LOCAL_HOST,
        scheduler_port=0,
        dashboard_address=http_address if dashboard else None,
        worker_dashboard_address=None,
        scheduler_kwargs={"dashboard": dashboard, "dashboard_address": http_address},
        silence_logs=CLUSTER_LOG_LEVEL,
    )
    try:
        client = distributed.Client(cluster, set_as_default=False)
    except BaseException:
        cluster.close()
        raise

    kind = "processes" if settings.local_processes else "threads"
    description = (
        f"local Dask cluster at {cluster.scheduler_address} with {workers} "
        f"workers ({kind}) of {settings.local_threads_per_worker} threads"
    )
    if dashboard:
        description += f", dashboard {cluster.dashboard_link}"
    return DaskConnection(client=client, cluster=cluster, description=description)
