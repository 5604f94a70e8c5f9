"""Functions that run on Dask workers.

Workers import this module by name, so the plugin has to be installed in the
workers' environment, which they share with the submitting machine anyway to
run ``python -m snakemake``. Only the standard library is used here.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

SUPERVISOR = Path(__file__).with_name("supervisor.py")

# Bytes of a job's log returned to Snakemake when the job fails.
LOG_TAIL_BYTES = 4000

# Supervisor processes of the jobs this worker process runs, by Dask key, so
# that a cancelled run can stop them.
_running: dict[str, subprocess.Popen] = {}
_running_lock = threading.Lock()


def check_workdir(workdir: str, marker: str, token: str) -> str | None:
    """Return why this worker cannot use ``workdir``, or None if it can.

    The submitting machine wrote ``token`` into the file ``marker`` inside
    ``workdir``. Reading it back proves that both see the same file system,
    not merely a folder of the same name.
    """
    host = socket.gethostname()
    if not os.path.isdir(workdir):
        return (
            f"working directory {workdir} not found on Dask worker host {host}; "
            "workers must share the file system with the machine that runs "
            "Snakemake"
        )
    try:
        content = Path(marker).read_text()
    except OSError as error:
        return (
            f"Dask worker host {host} cannot read {marker} ({error}); workers "
            "must share the file system with the machine that runs Snakemake"
        )
    if content != token:
        return (
            f"{workdir} on Dask worker host {host} is a different folder from "
            "the one Snakemake runs in; workers must share the file system with "
            "the machine that runs Snakemake"
        )
    return None


def read_log_tail(path: Path) -> str:
    try:
        with path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - LOG_TAIL_BYTES))
            return log.read().decode("utf-8", errors="replace")
    except OSError as error:
        return f"(log {path} unreadable: {error})"


def run_job_command(
    key: str, command: str, workdir: str, marker: str, token: str, log_path: str
) -> dict:
    """Run one Snakemake job command in ``workdir`` and wait for it.

    The command's output goes to ``log_path``. Returns the exit status, the
    end of the log and where it ran. Raises RuntimeError when this worker
    cannot see the working directory.
    """
    problem = check_workdir(workdir, marker, token)
    if problem:
        raise RuntimeError(problem)

    log = Path(log_path)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, str(SUPERVISOR), str(os.getpid()), command],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        with _running_lock:
            _running[key] = process
        try:
            returncode = process.wait()
        finally:
            with _running_lock:
                _running.pop(key, None)

    return {
        "returncode": returncode,
        "log_tail": read_log_tail(log) if returncode != 0 else "",
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }


def terminate_jobs(keys: list[str]) -> list[str]:
    """Send SIGTERM to the supervisors of ``keys`` and return the keys stopped."""
    stopped = []
    with _running_lock:
        processes = [(key, _running.get(key)) for key in keys]
    for key, process in processes:
        if process is None or process.poll() is not None:
            continue
        try:
            process.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            continue
        stopped.append(key)
    return stopped
