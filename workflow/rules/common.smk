import os
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from indw.config import (
    ConfigError,
    PipelineConfig,
    coerce_config_strings,
    validate_config,
)
from indw.settings import SettingsError, resolve_run_settings, run_settings_environment
from indw.shards import list_shards, shard_name

REPOSITORY = Path(workflow.basedir)
RESULTS = "results"
# The interpreter that runs Snakemake runs every step, so a job finds the
# installed indw package without the virtual environment on PATH.
PYTHON = shlex.quote(sys.executable)

try:
    config.update(coerce_config_strings(config, REPOSITORY / "workflow" / "schemas"))
    validate_config(config, REPOSITORY / "workflow" / "schemas")
    PIPELINE = PipelineConfig.from_config(config)
    RUN = resolve_run_settings(config)
except (ConfigError, SettingsError) as error:
    raise WorkflowError(str(error)) from None

# Jobs read their run settings from the environment; exporting the resolved
# values here gives every job, local or remote, the settings checked above.
os.environ.update(run_settings_environment(RUN))

PIPELINE_JSON = PIPELINE.to_json()

try:
    SHARD_PATHS = {
        shard_name(path): str(path) for path in list_shards(config["input_dir"])
    }
except (FileNotFoundError, ValueError) as error:
    raise WorkflowError(str(error)) from None
if not SHARD_PATHS:
    raise WorkflowError(
        f"no shards (*.jsonl.zst, *.jsonl.gz, *.jsonl) in input_dir "
        f"{config['input_dir']}"
    )
SHARDS = list(SHARD_PATHS)
BUCKETS = list(range(PIPELINE.exact_dedup.buckets))


wildcard_constraints:
    shard=r"[^/]+",
    bucket=r"\d+",


def clean_outputs():
    outputs = {
        "documents": f"{RESULTS}/clean/{{shard}}.jsonl.zst",
        "dedup_keys": f"{RESULTS}/clean/{{shard}}.keys.npy",
        "rejected": f"{RESULTS}/rejected/{{shard}}.jsonl.zst",
        "quarantine": f"{RESULTS}/quarantine/{{shard}}.jsonl",
        "stats": f"{RESULTS}/clean/{{shard}}.stats.json",
    }
    if PIPELINE.near_dedup.enabled:
        outputs["signatures"] = f"{RESULTS}/minhash/{{shard}}.npy"
    return outputs


MERGE_OUTPUTS = [
    f"{RESULTS}/merged.jsonl.zst",
    f"{RESULTS}/merged.xxh128",
    f"{RESULTS}/manifest.json",
    f"{RESULTS}/duplicates.jsonl.zst",
]


def results_folder(path, depth):
    """Return the results folder that holds ``path`` ``depth`` levels down."""
    folder = Path(path)
    for _ in range(depth):
        folder = folder.parent
    return str(folder)


def near_duplicate_inputs():
    if PIPELINE.near_dedup.enabled:
        return [f"{RESULTS}/dedup/near/duplicates.npz"]
    return []
