"""Run the repository's Snakemake workflow in a folder of its own.

``indw validate`` and ``indw certify`` use this to compare whole runs under
different settings, the same way a user runs the workflow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from indw.settings import RunSettings

REPOSITORY = Path(__file__).resolve().parent.parent
SNAKEFILE = REPOSITORY / "Snakefile"
SHIPPED_CORPUS = REPOSITORY / "data" / "corpus"

# Every variable that carries a run setting, so that a run gets exactly the
# settings its caller names and never inherits one from the shell.
RUN_SETTING_VARIABLES = (
    *(item.metadata["env"] for item in fields(RunSettings)),
    "DASK_SCHEDULER_ADDRESS",
)


class WorkflowRunError(RuntimeError):
    """A Snakemake run exited non-zero; the message holds the end of its log."""


@dataclass(frozen=True)
class WorkflowRun:
    workdir: Path
    seconds: float

    @property
    def results(self) -> Path:
        return self.workdir / "results"

    def output_hash(self) -> str:
        return (self.results / "merged.xxh128").read_text().split()[0]

    def manifest(self) -> dict:
        return json.loads((self.results / "manifest.json").read_text())


def require_snakefile() -> Path:
    if not SNAKEFILE.is_file():
        raise FileNotFoundError(
            f"the workflow's Snakefile was not found at {SNAKEFILE}; install "
            "indw from a clone of its repository with pip install -e ."
        )
    return SNAKEFILE


def snakemake_command(
    workdir: Path,
    input_dir: Path,
    cores: int,
    config: Mapping[str, object] | None = None,
    options: Iterable[str] = (),
) -> list[str]:
    """Build the command that runs the workflow on ``input_dir`` in ``workdir``.

    ``options`` go before ``--config``, whose values would otherwise take
    them in.
    """
    config_args = [f"input_dir={Path(input_dir).resolve()}"]
    for key, value in (config or {}).items():
        config_args.append(f"{key}={json.dumps(value)}")
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(require_snakefile()),
        "--directory",
        str(workdir),
        "--cores",
        str(cores),
        *options,
        "--config",
        *config_args,
    ]


def run_workflow(
    workdir: Path,
    input_dir: Path,
    env: Mapping[str, str] | None = None,
    cores: int = 2,
    config: Mapping[str, object] | None = None,
    extra_args: Iterable[str] = (),
) -> WorkflowRun:
    """Run the workflow on ``input_dir`` with results under ``workdir``.

    ``env`` replaces the caller's run settings: variables it does not name
    are removed, so a run never inherits a setting by accident.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in RUN_SETTING_VARIABLES
    }
    environment.update(env or {})
    # Errors must stay in the output, since a failed run's message quotes
    # them; "--quiet all" would hide them as well.
    options = ["--quiet", "progress", "rules", "host", *extra_args]
    command = snakemake_command(workdir, input_dir, cores, config, options)
    started = time.perf_counter()
    result = subprocess.run(command, env=environment, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).splitlines()[-30:]
        details = "\n".join(tail + job_errors(workdir))
        raise WorkflowRunError(
            f"snakemake failed with exit status {result.returncode} in "
            f"{workdir}:\n{details}"
        )
    return WorkflowRun(workdir, seconds)


def job_errors(workdir: Path, limit: int = 10) -> list[str]:
    """Return the ERROR lines of the job logs under ``workdir/logs``.

    Snakemake's own output names a failed job's log but not its error, and
    callers such as ``indw validate`` run in a folder that is removed
    afterwards, so the error has to travel in the message.
    """
    errors = []
    for log_path in sorted((workdir / "logs").rglob("*.log")):
        for line in log_path.read_text(errors="replace").splitlines():
            if " ERROR " in line:
                errors.append(f"{log_path.relative_to(workdir)}: {line}")
    if len(errors) > limit:
        errors = errors[:limit] + [f"and {len(errors) - limit} more error lines"]
    return errors
