"""Compare the wall time of ``snakemake --profile dask`` with ``--cores 2``.

All runs use the same corpus in one invocation, each in a fresh working
directory, from the repository root (where Snakemake finds the profile):

- ``--cores 2``: the local executor;
- ``--profile dask``: a local Dask cluster of 2 single-thread workers, with
  the profile's grouping;
- ``--profile dask`` with one job per group, which shows what grouping buys.

It prints the seconds of each run and the ratios to ``--cores 2``, and fails
if the runs disagree on the output hash.

Usage: python benchmarks/bench_dask_profile.py [--corpus DIR] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
SNAKEMAKE = Path(sys.executable).with_name("snakemake")

# Variables that would send the runs to another scheduler or change settings.
CLEARED_VARIABLES = (
    "DASK_SCHEDULER_ADDRESS",
    "INSTANT_DASK_SCHEDULER",
    "INSTANT_PIPELINE_BACKEND",
    "INSTANT_PIPELINE_WORKERS",
    "INSTANT_PIPELINE_CHUNK_SIZE",
    "INSTANT_MERGE_HW_PROBE",
)


def run(label: str, arguments: list[str], corpus: Path, scratch: Path) -> tuple:
    """Run Snakemake in a fresh folder; return (seconds, hash)."""
    workdir = scratch / label.replace(" ", "-")
    command = [
        str(SNAKEMAKE),
        *arguments,
        "--directory",
        str(workdir),
        "--config",
        f"input_dir={corpus}",
        "--quiet",
    ]
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_VARIABLES}
    start = time.perf_counter()
    result = subprocess.run(
        command, cwd=REPOSITORY, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(
            f"{label} failed with exit status {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )
    digest = (workdir / "results" / "merged.xxh128").read_text().split()[0]
    return seconds, digest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus",
        type=Path,
        default=REPOSITORY / "data" / "corpus",
        help="corpus folder (default: data/corpus)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="cores of the local run and single-thread workers of the local "
        "Dask cluster (default: 2)",
    )
    args = parser.parse_args()
    corpus = args.corpus.resolve()
    workers = str(args.workers)

    runs = {
        f"--cores {workers}": ["--cores", workers],
        "--profile dask": ["--profile", "dask", "--dask-local-workers", workers],
        "--profile dask, one job per group": [
            "--profile",
            "dask",
            "--dask-local-workers",
            workers,
            "--group-components",
            "clean_shards=1",
            "--groups",
            "clean_shard=clean_shards",
        ],
    }

    print(f"corpus {corpus}")
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as scratch:
        for label, arguments in runs.items():
            results[label] = run(label, arguments, corpus, Path(scratch))
            print(f"{label:36} {results[label][0]:7.2f} s", flush=True)

    baseline = results[f"--cores {workers}"][0]
    for label, (seconds, _) in results.items():
        print(f"ratio {label:30} {seconds / baseline:5.2f}")

    digests = {digest for _, digest in results.values()}
    if len(digests) != 1:
        print(f"hashes differ: {results}", file=sys.stderr)
        return 1
    print(f"hash {digests.pop()} (same in every run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
