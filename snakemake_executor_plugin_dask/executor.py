"""The executor: each Snakemake job (or group job) is one Dask task."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import AsyncGenerator
from pathlib import Path

from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_executor_plugins.executors.base import SubmittedJobInfo
from snakemake_interface_executor_plugins.executors.remote import RemoteExecutor
from snakemake_interface_executor_plugins.jobs import JobExecutorInterface

from .cluster import DaskConnection, connect
from .settings import check_settings
from .worker import check_workdir, run_job_command, terminate_jobs

# Seconds between checks for finished tasks, so a finished task is seen at
# most this much later.
WAKE_POLL_SECONDS = 0.05


class Executor(RemoteExecutor):
    """Runs each job's Snakemake command with subprocess on a Dask worker.

    A job occupies one worker thread whatever its ``threads`` because Dask
    reserves no cores, so size the workers' threads to the jobs you run.
    Workers must see the working directory at the same path (a shared file
    system).
    """

    def __init__(self, workflow, logger):
        # Set by every finished task and by shutdown, so the status loop
        # wakes at once instead of after --seconds-between-status-checks.
        # The base class starts that loop's thread before __post_init__, so
        # the event has to exist first.
        self._wake = threading.Event()
        super().__init__(workflow, logger)

    def __post_init__(self):
        self._closed = False
        self.connection: DaskConnection | None = None

        settings = self.workflow.executor_settings
        check_settings(settings)
        self.run_id = secrets.token_hex(6)
        self.workdir = self.workflow.workdir_init
        self.log_folder = Path(self.workdir, ".snakemake", "dask", self.run_id)
        self.log_folder.mkdir(parents=True, exist_ok=True)

        self.marker = self.log_folder / "workdir-check"
        self.token = secrets.token_hex(16)
        self.marker.write_text(self.token)

        try:
            self.connection = connect(settings)
            self.client = self.connection.client
            self.logger.info(f"Dask executor: {self.connection.description}")
            self.check_workers()
        except BaseException:
            self.close()
            raise

    def check_workers(self) -> None:
        """Raise WorkflowError if a connected worker cannot see the workdir."""
        try:
            problems = self.client.run(
                check_workdir, self.workdir, str(self.marker), self.token
            )
        except Exception as error:
            # The worker's exception arrives re-raised as is, and can be of any
            # type (an ImportError when the plugin is not installed there).
            raise WorkflowError(
                f"checking the Dask workers failed: {type(error).__name__}: "
                f"{error}. Workers need this plugin and Snakemake installed."
            ) from None
        failures = {worker: text for worker, text in problems.items() if text}
        if failures:
            lines = "\n".join(
                f"  {worker}: {text}" for worker, text in failures.items()
            )
            raise WorkflowError(
                f"{len(failures)} of {len(problems)} Dask workers cannot use the "
                f"working directory:\n{lines}"
            )
        if not problems:
            self.logger.warning(
                "The Dask scheduler has no workers yet, so jobs wait until a "
                "worker joins. Start workers with: dask worker ADDRESS"
            )

    def task_key(self, job: JobExecutorInterface) -> str:
        return f"snakemake-{self.run_id}-{job.name}-{job.jobid}-{job.attempt}"

    def run_job(self, job: JobExecutorInterface):
        key = self.task_key(job)
        kind = "group" if job.is_group() else "rule"
        log_path = self.log_folder / f"{kind}-{job.name}-{job.jobid}-{job.attempt}.log"
        future = self.client.submit(
            run_job_command,
            key,
            self.format_job_exec(job),
            self.workdir,
            str(self.marker),
            self.token,
            str(log_path),
            key=key,
            pure=False,
        )
        future.add_done_callback(lambda _: self._wake.set())
        self.logger.debug(f"Job {job.jobid} submitted as Dask task {key}")
        self.report_job_submission(
            SubmittedJobInfo(
                job, external_jobid=key, aux={"future": future, "log": log_path}
            )
        )

    async def check_active_jobs(
        self, active_jobs: list[SubmittedJobInfo]
    ) -> AsyncGenerator[SubmittedJobInfo, None]:
        self._wake.clear()
        for job_info in active_jobs:
            future = job_info.aux["future"]
            if not future.done():
                yield job_info
                continue

            try:
                # Future.result blocks on the client's event loop, which runs
                # in another thread. This loop must not block on it.
                outcome = await asyncio.to_thread(read_outcome, future)
            except Exception as error:
                # Anything raised here would end Snakemake's status thread
                # and leave the run waiting forever, so it fails the job.
                outcome = {"status": "unreadable", "error": repr(error)}
            future.release()
            message = describe_failure(job_info, outcome)
            if message is None:
                self.report_job_success(job_info)
            else:
                self.report_job_error(job_info, msg=message)

    async def sleep(self):
        # Polls the event instead of waiting for it in a thread, because the
        # default executor's threads are joined at exit, which would delay the
        # exit of a failed run by up to the whole interval.
        interval = self.next_seconds_between_status_checks
        deadline = time.monotonic() + interval
        while True:
            await asyncio.sleep(WAKE_POLL_SECONDS)
            if self._wake.is_set() or time.monotonic() >= deadline:
                return

    def cancel_jobs(self, active_jobs: list[SubmittedJobInfo]):
        if not active_jobs or self.connection is None:
            return
        futures = [job_info.aux["future"] for job_info in active_jobs]
        keys = [job_info.external_jobid for job_info in active_jobs]
        self.client.cancel(futures, force=True)
        # Cancelling a future does not stop a task that already runs, so the
        # workers stop the job processes themselves.
        try:
            self.client.run(terminate_jobs, keys)
        except OSError as error:
            self.logger.warning(
                f"Could not reach the Dask workers to stop {len(keys)} running "
                f"jobs ({error}); stop them on the workers by hand."
            )

    def shutdown(self):
        self._wake.set()
        super().shutdown()
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.marker.unlink(missing_ok=True)
        if self.connection is not None:
            self.connection.close()


def read_outcome(future) -> dict:
    """Return the task's result, or its status and exception if it failed."""
    if future.status == "finished":
        return {"status": "finished", **future.result()}
    if future.status == "cancelled":
        return {"status": "cancelled"}
    error = future.exception()
    return {"status": future.status, "error": f"{type(error).__name__}: {error}"}


def describe_failure(job_info: SubmittedJobInfo, outcome: dict) -> str | None:
    """Return the error message of a failed job, or None if it succeeded."""
    key = job_info.external_jobid
    log = job_info.aux["log"]
    if outcome["status"] == "cancelled":
        return f"Dask task {key} was cancelled. "
    if outcome["status"] != "finished":
        return f"Dask task {key} failed: {outcome['error']}. "
    if outcome["returncode"] == 0:
        return None
    return (
        f"Dask task {key} on {outcome['host']} (worker pid {outcome['pid']}) "
        f"exited with status {outcome['returncode']}; log {log} ends with:\n"
        f"{outcome['log_tail']}\n"
    )
