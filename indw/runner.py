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
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
SNAKEFILE = REPOSITORY / "Snakefile"
SHIPPED_CORPUS = REPOSITORY / "data" / "corpus"

RUN_SETTING_VARIABLES = (
    "INSTANT_PIPELINE_BACKEND",
    "INSTANT_PIPELINE_WORKERS",
    "INSTANT_PIPELINE_CHUNK_SIZE",
    "INSTANT_MERGE_HW_PROBE",
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
    snakefile = require_snakefile()
    workdir.mkdir(parents=True, exist_ok=True)
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in RUN_SETTING_VARIABLES
    }
    environment.update(env or {})
    config_args = [f"input_dir={Path(input_dir).resolve()}"]
    for key, value in (config or {}).items():
        config_args.append(f"{key}={json.dumps(value)}")
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(snakefile),
        "--directory",
        str(workdir),
        "--cores",
        str(cores),
        # Errors must stay in the output, since a failed run's message
        # quotes them; "all" would hide them as well.
        "--quiet",
        "progress",
        "rules",
        "host",
        "--config",
        *config_args,
        *extra_args,
    ]
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
