"""Settings of the Dask executor: where the scheduler is, or what to start."""

import os
from dataclasses import dataclass, field

from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_executor_plugins.settings import ExecutorSettingsBase

# Connecting gives up after this many seconds at most, so a scheduler that
# does not respond fails the run quickly instead of leaving it waiting.
MAX_CONNECT_TIMEOUT = 30

# Checked in this order when no address is given on the command line or in
# the profile. DASK_SCHEDULER_ADDRESS is Dask's own variable (the config key
# "scheduler-address"). INSTANT_DASK_SCHEDULER is the name INDW's settings use.
ADDRESS_VARIABLES = ("INSTANT_DASK_SCHEDULER", "DASK_SCHEDULER_ADDRESS")


# Snakemake builds a --dask-<name> flag from each field. It reads the field's
# type at run time and cannot parse "X | None", so optional fields name their
# type in the metadata.
@dataclass
class ExecutorSettings(ExecutorSettingsBase):
    scheduler_address: str | None = field(
        default=None,
        metadata={
            "type": str,
            "help": "Address of a running Dask scheduler, for example "
            "tcp://10.0.0.5:8786. Default: the environment variable "
            "INSTANT_DASK_SCHEDULER, else DASK_SCHEDULER_ADDRESS (or Dask's "
            "scheduler-address config key), else a local cluster on 127.0.0.1.",
        },
    )
    scheduler_file: str | None = field(
        default=None,
        metadata={
            "type": str,
            "help": "JSON file a running scheduler wrote with --scheduler-file "
            "(dask-jobqueue and dask-mpi deployments write one). Used when no "
            "address is set.",
        },
    )
    connect_timeout: int = field(
        default=10,
        metadata={
            "help": "Seconds to wait for the scheduler to answer before the run "
            f"fails, 1 to {MAX_CONNECT_TIMEOUT}.",
        },
    )
    local_workers: int | None = field(
        default=None,
        metadata={
            "type": int,
            "help": "Workers of the local cluster started when no "
            "scheduler is named. Default: the number of CPUs.",
        },
    )
    local_threads_per_worker: int = field(
        default=1,
        metadata={
            "help": "Threads per worker of the local cluster. Each thread runs "
            "one Snakemake job at a time.",
        },
    )
    local_processes: bool = field(
        default=False,
        metadata={
            "help": "Run the local cluster's workers as separate processes "
            "instead of threads of the Snakemake process. Every job runs in "
            "its own process either way, so worker processes only add start-up "
            "time.",
        },
    )
    local_dashboard_port: int | None = field(
        default=None,
        metadata={
            "type": int,
            "help": "Port of the local cluster's dashboard on 127.0.0.1; 0 picks "
            "a free port. Default: no dashboard.",
        },
    )


def check_settings(settings: ExecutorSettings) -> None:
    """Raise WorkflowError naming the first setting out of range."""
    timeout = settings.connect_timeout
    if not 1 <= timeout <= MAX_CONNECT_TIMEOUT:
        raise WorkflowError(
            f"--dask-connect-timeout must be 1 to {MAX_CONNECT_TIMEOUT} seconds, "
            f"got {timeout}"
        )
    if settings.local_workers is not None and settings.local_workers < 1:
        raise WorkflowError(
            f"--dask-local-workers must be at least 1, got {settings.local_workers}"
        )
    if settings.local_threads_per_worker < 1:
        raise WorkflowError(
            "--dask-local-threads-per-worker must be at least 1, got "
            f"{settings.local_threads_per_worker}"
        )
    port = settings.local_dashboard_port
    if port is not None and not 0 <= port <= 65535:
        raise WorkflowError(
            f"--dask-local-dashboard-port must be 0 to 65535, got {port}"
        )


def scheduler_address(settings: ExecutorSettings) -> str | None:
    """Return the address of the scheduler to use, or None.

    None means: use the scheduler file if one is set, else start a local
    cluster. A setting given on the command line or in the profile wins over
    the environment.
    """
    if settings.scheduler_address:
        return settings.scheduler_address
    if settings.scheduler_file:
        return None
    for variable in ADDRESS_VARIABLES:
        value = os.environ.get(variable, "").strip()
        if value:
            return value

    import dask

    return dask.config.get("scheduler-address", None) or None
