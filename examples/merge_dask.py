#!/usr/bin/env python3
"""Run the whole workflow through the ``dask`` backend and print the output hash.

The script starts a local Dask cluster bound to 127.0.0.1. It runs the
repository's Snakemake workflow on the shipped corpus (``data/corpus``) with
``INSTANT_PIPELINE_BACKEND=dask`` and ``INSTANT_DASK_SCHEDULER`` set to that
cluster, so every cleaning job sends its chunks there, and prints the hash of
``results/merged.xxh128``. The hash equals that of ``snakemake --cores 2``;
``--compare`` runs that too and exits 1 if the two differ.

    .venv/bin/python examples/merge_dask.py [--workers 2] [--compare]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from indw.dask_backend import start_local_cluster
from indw.runner import SHIPPED_CORPUS, WorkflowRunError, run_workflow

log = logging.getLogger("merge_dask")


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--input",
        type=Path,
        default=SHIPPED_CORPUS,
        help="corpus folder (default: the shipped corpus data/corpus)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="folder for the run's results and logs (default: a new "
        "temporary folder, kept and printed)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="Dask workers (default: 2)"
    )
    parser.add_argument(
        "--cores", type=int, default=2, help="Snakemake --cores (default: 2)"
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also run snakemake --cores 2 on the default backend and exit 1 "
        "if the hashes differ",
    )
    return parser.parse_args()


def main() -> int:
    args = parse_arguments()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="indw-merge-dask-"))

    cluster = start_local_cluster(args.workers)
    try:
        log.info(
            "local Dask cluster of %d workers at %s, dashboard %s",
            args.workers,
            cluster.scheduler_address,
            cluster.dashboard_link,
        )
        env = {
            "INSTANT_PIPELINE_BACKEND": "dask",
            "INSTANT_DASK_SCHEDULER": cluster.scheduler_address,
        }
        run = run_workflow(workdir / "dask", args.input, env=env, cores=args.cores)
    except WorkflowRunError as error:
        log.error("%s", error)
        return 1
    finally:
        cluster.close()
    log.info("dask run took %.1f s; results in %s", run.seconds, run.results)
    print(f"dask backend hash:  {run.output_hash()}")

    if not args.compare:
        return 0
    try:
        reference = run_workflow(workdir / "cores-2", args.input, cores=2)
    except WorkflowRunError as error:
        log.error("%s", error)
        return 1
    print(f"--cores 2 hash:     {reference.output_hash()}")
    if reference.output_hash() != run.output_hash():
        log.error(
            "the hashes differ; compare %s with %s", run.results, reference.results
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
