#!/usr/bin/env python3
"""Run the workflow under every combination of run settings and compare hashes.

The matrix: backends local, thread and multiprocess; 1, 2 and 4 workers;
chunk sizes 1, 100, 500 and 2000; --cores 1 and 2; two PYTHONHASHSEED
values. That is 144 runs of a few seconds each on the shipped corpus, so
``--quick`` takes one value of each setting in turn against a base instead.
Exits 1 when any hash differs from the first run's.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

from indw.runner import SHIPPED_CORPUS, run_workflow

BACKENDS = ("local", "thread", "multiprocess")
WORKERS = (1, 2, 4)
CHUNK_SIZES = (1, 100, 500, 2000)
CORES = (1, 2)
HASH_SEEDS = ("0", "12345")


def combinations(quick: bool) -> list[tuple[str, int, int, int, str]]:
    full = list(itertools.product(BACKENDS, WORKERS, CHUNK_SIZES, CORES, HASH_SEEDS))
    if not quick:
        return full
    base = ("local", 1, 500, 1, "0")
    cases = [base]
    for position, values in enumerate(
        (BACKENDS, WORKERS, CHUNK_SIZES, CORES, HASH_SEEDS)
    ):
        for value in values:
            case = list(base)
            case[position] = value
            if tuple(case) not in cases:
                cases.append(tuple(case))
    cases.append(("multiprocess", 4, 1, 2, "12345"))
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=SHIPPED_CORPUS)
    parser.add_argument(
        "--quick", action="store_true", help="vary one setting at a time"
    )
    args = parser.parse_args()

    hashes = {}
    with tempfile.TemporaryDirectory(prefix="indw-matrix-") as scratch:
        for number, (backend, workers, chunk, cores, seed) in enumerate(
            combinations(args.quick)
        ):
            env = {
                "INSTANT_PIPELINE_BACKEND": backend,
                "INSTANT_PIPELINE_WORKERS": str(workers),
                "INSTANT_PIPELINE_CHUNK_SIZE": str(chunk),
                "PYTHONHASHSEED": seed,
            }
            run = run_workflow(
                Path(scratch) / f"run-{number}",
                args.input,
                env,
                cores=cores,
                config={"clean_threads": cores},
            )
            key = (backend, workers, chunk, cores, seed)
            hashes[key] = run.output_hash()
            print(
                f"{backend:12} workers={workers} chunk={chunk:<4} cores={cores} "
                f"PYTHONHASHSEED={seed:<5} {hashes[key]} ({run.seconds:.1f} s)",
                flush=True,
            )

    distinct = set(hashes.values())
    print(f"{len(hashes)} runs, {len(distinct)} distinct hash(es)")
    return 0 if len(distinct) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
