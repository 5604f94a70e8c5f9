"""The near-dedup workflow steps as ``indw`` subcommands.

``near-bands`` finds candidate pairs in one group of bands, ``near-verify``
checks candidate pairs against their true Jaccard similarity, and
``near-cluster`` joins pairs into groups and writes the duplicates file that
the merge reads. Files given on one command line must be in global shard
order, because a file's position is its shard number.
"""

from __future__ import annotations

import argparse
import logging
import resource
import time
from pathlib import Path

from indw.atomic import OutputWriteError
from indw.config import ConfigError, PipelineConfig
from indw.dedup import save_duplicates
from indw.near_dedup import (
    cluster_duplicates,
    find_candidate_pairs,
    load_edges,
    save_edges,
    verify_pairs,
)
from indw.shards import ShardReadError

log = logging.getLogger(__name__)

EXIT_FAILED = 1
EXIT_USAGE = 2


def _name_without(path: str, suffix: str) -> str:
    return Path(path).name.removesuffix(suffix)


def peak_memory_mib() -> float:
    """Return this process's peak resident memory in MiB.

    Reads VmHWM from /proc, which starts afresh at exec. ``ru_maxrss`` is
    the fallback where /proc is missing, but on Linux it keeps the peak of
    the parent that forked this process, such as the Snakemake process.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def add_step_arguments(step: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="file to write")
    if step in ("near-bands", "near-verify"):
        parser.add_argument(
            "--settings",
            required=True,
            help="output settings as JSON, as the Snakefile passes them",
        )
    if step == "near-bands":
        parser.add_argument(
            "--job", type=int, required=True, help="band job number, from 0"
        )
        parser.add_argument(
            "signatures", nargs="+", help="signature files of every shard, in order"
        )
    elif step == "near-verify":
        parser.add_argument(
            "--documents",
            nargs="+",
            required=True,
            help="cleaned shards (.jsonl.zst) of every shard, in order",
        )
        parser.add_argument(
            "--edges", nargs="+", required=True, help="edge files of the band jobs"
        )
    elif step == "near-cluster":
        parser.add_argument(
            "--keys",
            nargs="+",
            required=True,
            help="exact-dedup key files of every shard, in order",
        )
        parser.add_argument(
            "--edges", nargs="+", required=True, help="edge files to join"
        )
    else:
        raise ValueError(f"unknown step {step!r}")


def _near_settings(args: argparse.Namespace):
    return PipelineConfig.from_json(args.settings).near_dedup


def run_near_bands(args: argparse.Namespace) -> int:
    try:
        config = _near_settings(args)
        config.band_range(args.job)
    except (ConfigError, ValueError) as error:
        log.error("%s", error)
        return EXIT_USAGE
    started = time.perf_counter()
    names = [_name_without(path, ".npy") for path in args.signatures]
    try:
        edges = find_candidate_pairs(args.signatures, config, args.job)
        save_edges(args.out, edges, names)
    except (ValueError, OSError) as error:
        log.error("%s", error)
        return EXIT_FAILED
    log.info(
        "band job %d (bands %s): %d candidate pairs, %.1f s, peak memory %.0f MiB",
        args.job,
        list(config.band_range(args.job)),
        len(edges),
        time.perf_counter() - started,
        peak_memory_mib(),
    )
    return 0


def run_near_verify(args: argparse.Namespace) -> int:
    try:
        config = _near_settings(args)
    except ConfigError as error:
        log.error("%s", error)
        return EXIT_USAGE
    started = time.perf_counter()
    names = [_name_without(path, ".jsonl.zst") for path in args.documents]
    try:
        edges = load_edges(args.edges, names)
        verified = verify_pairs(edges, args.documents, config)
        save_edges(args.out, verified, names)
    except (ValueError, KeyError, ShardReadError, OSError) as error:
        log.error("%s", error)
        return EXIT_FAILED
    log.info(
        "verified pairs: %d of %d kept, %.1f s, peak memory %.0f MiB",
        len(verified),
        len(edges),
        time.perf_counter() - started,
        peak_memory_mib(),
    )
    return 0


def run_near_cluster(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    names = [_name_without(path, ".keys.npy") for path in args.keys]
    try:
        edges = load_edges(args.edges, names)
        records = cluster_duplicates(edges, args.keys)
        save_duplicates(args.out, records, names)
    except (ValueError, OutputWriteError, OSError) as error:
        log.error("%s", error)
        return EXIT_FAILED
    log.info(
        "clustered %d pairs: %d near duplicates, %.1f s, peak memory %.0f MiB",
        len(edges),
        len(records),
        time.perf_counter() - started,
        peak_memory_mib(),
    )
    return 0


STEPS = {
    "near-bands": run_near_bands,
    "near-verify": run_near_verify,
    "near-cluster": run_near_cluster,
}
