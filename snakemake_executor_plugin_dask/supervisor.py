"""Run one job command and take its whole process group down with it.

A Dask worker runs this file as a script (stdlib only, so it starts fast):

    python supervisor.py WORKER_PID COMMAND

The command runs under ``sh -c`` in a new process group. This process
terminates that group when it receives SIGTERM, SIGINT or SIGHUP, and on
Linux also when the worker that started it dies (the parent-death signal).
So a killed worker leaves no Snakemake job running that the retried task
would race with. The exit status is the command's, or 128 plus the signal
number.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time

# Seconds the job's processes get to exit after SIGTERM before SIGKILL.
TERMINATE_GRACE_SECONDS = 5

PR_SET_PDEATHSIG = 1


def request_parent_death_signal() -> None:
    """Ask Linux to send SIGTERM here when the parent thread exits."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        print(f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(errno)}", file=sys.stderr)


def terminate_group(process: subprocess.Popen) -> None:
    """Send SIGTERM to the command's process group, then SIGKILL if needed."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + TERMINATE_GRACE_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        time.sleep(0.1)
    try:
        # The shell may be gone while its children still run, so the group
        # gets SIGKILL even when the shell itself has exited.
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: supervisor.py WORKER_PID COMMAND", file=sys.stderr)
        return 2
    worker_pid, command = int(argv[1]), argv[2]

    request_parent_death_signal()
    if os.getppid() != worker_pid:
        print("the Dask worker exited before the job started", file=sys.stderr)
        return 1

    started: list[subprocess.Popen] = []

    def stop(signum, frame):
        for process in started:
            terminate_group(process)
        sys.exit(128 + signum)

    # Handlers go in before the command starts, so no signal can arrive in
    # between and leave the group running.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)

    process = subprocess.Popen(command, shell=True, start_new_session=True)
    started.append(process)

    returncode = process.wait()
    if returncode < 0:
        return 128 - returncode
    return returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
