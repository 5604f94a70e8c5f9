"""Snakemake executor plugin that runs each job as a task on a Dask cluster.

``snakemake --executor dask`` connects to the scheduler named by
``--dask-scheduler-address``, ``INSTANT_DASK_SCHEDULER`` or
``DASK_SCHEDULER_ADDRESS``, or starts a local cluster bound to 127.0.0.1.
Each job runs its Snakemake command on a worker, which must share the file
system with the machine that runs Snakemake.

Snakemake imports every installed executor plugin at start, so this module
imports neither dask nor distributed; the executor does when it starts.
"""

from snakemake_interface_executor_plugins.settings import CommonSettings

from .executor import Executor
from .settings import ExecutorSettings

__all__ = ["Executor", "ExecutorSettings", "common_settings"]

common_settings = CommonSettings(
    non_local_exec=True,
    implies_no_shared_fs=False,
    job_deploy_sources=False,
    pass_default_storage_provider_args=True,
    pass_default_resources_args=True,
    pass_envvar_declarations_to_cmd=True,
    auto_deploy_default_storage_provider=False,
    init_seconds_before_status_checks=0,
    # Group jobs are rebuilt by the Snakemake that runs on the worker.
    pass_group_args=True,
)
