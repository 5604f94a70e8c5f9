"""The workflow steps as ``indw`` subcommands; the Snakemake rules call these.

Run settings come from the environment, where the Snakefile puts the resolved
values of the config file and the environment, so a job runs under exactly the
settings that were checked before the first job started.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from indw.atomic import OutputWriteError
from indw.backends import BackendError
from indw.clean import ShardOutputs, StrictModeError, clean_shard
from indw.config import ConfigError, PipelineConfig
from indw.dedup import find_exact_duplicates, save_duplicates
from indw.merge import MergeOutputs, merge_shards
from indw.settings import SettingsError, resolve_run_settings
from indw.shards import ShardReadError, shard_name

log = logging.getLogger(__name__)

EXIT_FAILED = 1
EXIT_USAGE = 2


def _add_settings_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--settings",
        required=True,
        help="output settings as JSON, as the Snakefile passes them",
    )


def add_step_arguments(step: str, parser: argparse.ArgumentParser) -> None:
    if step == "clean-shard":
        parser.add_argument("--shard", required=True, help="shard file to clean")
        parser.add_argument(
            "--results", default="results", help="results folder (default: results)"
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=1,
            help="the job's Snakemake threads; the default worker count",
        )
        _add_settings_argument(parser)
    elif step == "dedup-exact":
        parser.add_argument("--bucket", type=int, required=True)
        parser.add_argument("--buckets", type=int, required=True)
        parser.add_argument("--out", required=True, help="duplicates file to write")
        parser.add_argument(
            "keys", nargs="+", help="key files of every shard, in global order"
        )
    elif step == "merge":
        parser.add_argument("--results", default="results")
        parser.add_argument(
            "--stats", nargs="+", required=True, help="shard stats, global order"
        )
        parser.add_argument("--exact", nargs="*", default=[])
        parser.add_argument("--near", nargs="*", default=[])
        _add_settings_argument(parser)
    else:
        raise ValueError(f"unknown step {step!r}")


def run_clean_shard(args: argparse.Namespace) -> int:
    try:
        config = PipelineConfig.from_json(args.settings)
        run = resolve_run_settings({})
    except (ConfigError, SettingsError) as error:
        log.error("%s", error)
        return EXIT_USAGE
    outputs = ShardOutputs.under(
        args.results, shard_name(args.shard), config.near_dedup.enabled
    )
    try:
        clean_shard(args.shard, outputs, config, run, args.threads)
    except (ShardReadError, StrictModeError, OutputWriteError, BackendError) as error:
        log.error("%s", error)
        return EXIT_FAILED
    return 0


def run_dedup_exact(args: argparse.Namespace) -> int:
    names = [Path(path).name.removesuffix(".keys.npy") for path in args.keys]
    try:
        records = find_exact_duplicates(args.keys, args.bucket, args.buckets)
        save_duplicates(args.out, records, names)
    except (ValueError, OutputWriteError) as error:
        log.error("%s", error)
        return EXIT_FAILED
    log.info("bucket %d of %d: %d duplicates", args.bucket, args.buckets, len(records))
    return 0


def run_merge(args: argparse.Namespace) -> int:
    config = PipelineConfig.from_json(args.settings)
    documents = [
        Path(path).with_name(Path(path).name.removesuffix(".stats.json") + ".jsonl.zst")
        for path in args.stats
    ]
    try:
        merge_shards(
            args.stats,
            documents,
            args.exact,
            args.near,
            config,
            MergeOutputs.under(args.results),
        )
    except (ValueError, ShardReadError, OutputWriteError) as error:
        log.error("%s", error)
        return EXIT_FAILED
    return 0


STEPS = {
    "clean-shard": run_clean_shard,
    "dedup-exact": run_dedup_exact,
    "merge": run_merge,
}
