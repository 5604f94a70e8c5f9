"""Run settings: how a job spreads its work, never what it outputs.

Each setting is a config key and an environment variable, and the environment
overrides the config file. None of these settings may change the output bytes,
which is why they are kept apart from the settings that shape the output
(see ``indw.config``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

BACKENDS = ("local", "thread", "multiprocess", "dask")

BACKEND_ALIASES = {
    "local": "local",
    "sync": "local",
    "inline": "local",
    "direct": "local",
    "thread": "thread",
    "threads": "thread",
    "threaded": "thread",
    "multiprocess": "multiprocess",
    "mp": "multiprocess",
    "process": "multiprocess",
    "spawn": "multiprocess",
    "dask": "dask",
    "distributed": "dask",
    "cluster": "dask",
}

DEFAULT_CHUNK_SIZE = 500


class SettingsError(ValueError):
    """A setting has a value outside its valid range; the message names it."""


@dataclass(frozen=True)
class RunSettings:
    backend: str = field(
        default="multiprocess",
        metadata={
            "env": "INSTANT_PIPELINE_BACKEND",
            "help": "where a job's chunks run: " + ", ".join(BACKENDS),
        },
    )
    workers: int | None = field(
        default=None,
        metadata={
            "env": "INSTANT_PIPELINE_WORKERS",
            "help": "workers per job, >= 1; default: the job's Snakemake threads",
        },
    )
    chunk_size: int = field(
        default=DEFAULT_CHUNK_SIZE,
        metadata={
            "env": "INSTANT_PIPELINE_CHUNK_SIZE",
            "help": "documents per batch sent to a worker, >= 1",
        },
    )
    hw_probe: bool = field(
        default=False,
        metadata={
            "env": "INSTANT_MERGE_HW_PROBE",
            "help": "1 picks workers and chunk size from CPU count and memory",
        },
    )
    dask_scheduler: str | None = field(
        default=None,
        metadata={
            "env": "INSTANT_DASK_SCHEDULER",
            "help": "scheduler address for the dask backend; "
            "default: DASK_SCHEDULER_ADDRESS, else a local cluster",
        },
    )
    strict: bool = field(
        default=False,
        metadata={
            "env": "INSTANT_STRICT",
            "help": "1 fails the run on the first quarantined input line",
        },
    )

    def effective_workers(self, threads: int = 1) -> int:
        """Return the worker count: the setting, else the job's threads."""
        if self.workers is not None:
            return self.workers
        return max(1, threads)


def normalize_backend(value: str, source: str = "INSTANT_PIPELINE_BACKEND") -> str:
    """Map a backend name or alias, in any case, to its canonical name."""
    key = str(value).strip().lower()
    if key not in BACKEND_ALIASES:
        aliases = ", ".join(sorted(k for k in BACKEND_ALIASES if k not in BACKENDS))
        raise SettingsError(
            f"{source}={value!r} is not a valid backend; "
            f"choose one of {', '.join(BACKENDS)} (aliases: {aliases})"
        )
    return BACKEND_ALIASES[key]


def _parse_positive_int(value: object, source: str) -> int:
    if isinstance(value, bool):
        raise SettingsError(f"{source}={value!r} is not a whole number >= 1")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise SettingsError(f"{source}={value!r} is not a whole number >= 1") from None
    if number < 1:
        raise SettingsError(f"{source}={value!r} is not a whole number >= 1")
    return number


def _parse_flag(value: object, source: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{source}={value!r} is not a flag; use 1 or 0")


def resolve_run_settings(
    config: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> RunSettings:
    """Build run settings from config keys, overridden by environment variables.

    Raises SettingsError naming the variable or key on the first bad value.
    """
    config = config or {}
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}

    for item in fields(RunSettings):
        env_name = item.metadata["env"]
        raw: object | None = None
        source = f"config key {item.name!r}"
        if config.get(item.name) is not None:
            raw = config[item.name]
        if environ.get(env_name, "").strip():
            raw = environ[env_name]
            source = env_name
        if item.name == "dask_scheduler" and raw is None:
            if environ.get("DASK_SCHEDULER_ADDRESS", "").strip():
                raw = environ["DASK_SCHEDULER_ADDRESS"]
        if raw is None:
            continue
        if item.name == "backend":
            values["backend"] = normalize_backend(raw, source)
        elif item.name in ("workers", "chunk_size"):
            values[item.name] = _parse_positive_int(raw, source)
        elif item.name in ("hw_probe", "strict"):
            values[item.name] = _parse_flag(raw, source)
        else:
            values[item.name] = str(raw).strip()

    if values.get("hw_probe"):
        from indw.probe import probe

        choice = probe()
        values.setdefault("workers", choice.workers)
        values.setdefault("chunk_size", choice.chunk_size)

    return RunSettings(**values)


def run_settings_environment(settings: RunSettings) -> dict[str, str]:
    """Return the environment variables that carry these settings to a job."""
    env: dict[str, str] = {}
    for item in fields(RunSettings):
        value = getattr(settings, item.name)
        if value is None:
            continue
        if isinstance(value, bool):
            value = "1" if value else "0"
        env[item.metadata["env"]] = str(value)
    return env
