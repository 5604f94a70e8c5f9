#!/usr/bin/env python3
"""Kill Snakemake runs at random moments and check that reruns give the same hash.

The script runs the workflow once to the end for the reference hash and its
duration. Then, for each kill, it starts a fresh run in its own folder. At a
random moment within that duration it sends SIGKILL to the run's whole process
group, Snakemake and every job it started. Every output left under its final
name must read whole. It then recovers as the README describes (``snakemake
--unlock``, then a rerun with ``--rerun-incomplete``) and compares the final
hash with the reference.

The moments come from a seeded generator as fractions of the uninterrupted
run's duration. The seed is printed, and ``--seed`` repeats the fractions;
the moments in seconds follow the duration measured in that run. Exit
status: 0 when every rerun matched, 1 when one did not, 2 on bad usage.
Run it with the interpreter that has indw and Snakemake installed:

    .venv/bin/python scripts/fault_injection.py     # 20 kills, data/corpus
    .venv/bin/python scripts/fault_injection.py --corpus DIR --kills 5 --seed 7
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from indw.runner import RUN_SETTING_VARIABLES, SHIPPED_CORPUS, snakemake_command
from indw.shards import ShardReadError, iter_blocks


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in RUN_SETTING_VARIABLES}


def run_to_end(command: list[str], extra: list[str] = ()) -> None:
    result = subprocess.run(
        [*command, *extra], env=environment(), capture_output=True, text=True
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise RuntimeError(f"snakemake {' '.join(extra)} failed:\n{tail}")


def read_hash(workdir: Path) -> str:
    return (workdir / "results" / "merged.xxh128").read_text().split()[0]


def temporary_files(workdir: Path) -> list[Path]:
    results = workdir / "results"
    return sorted(results.rglob(".*.tmp-*")) if results.is_dir() else []


def broken_outputs(workdir: Path) -> list[str]:
    """Return the outputs under their final names that cannot be read whole."""
    results = workdir / "results"
    if not results.is_dir():
        return []
    broken = []
    for path in sorted(results.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        if "benchmarks" in path.relative_to(results).parts:
            continue
        try:
            check_complete(path)
        except (OSError, ValueError, ShardReadError) as error:
            broken.append(f"{path.relative_to(workdir)}: {error}")
    return broken


def check_complete(path: Path) -> None:
    """Read a whole output and raise if it ends early or does not parse."""
    name = path.name
    if name.endswith(".zst"):
        for _ in iter_blocks(path):
            pass
    elif name.endswith(".json"):
        json.loads(path.read_text())
    elif name.endswith(".npy"):
        np.load(path, allow_pickle=False)
    elif name.endswith(".npz"):
        with np.load(path, allow_pickle=False) as data:
            for key in data.files:
                data[key]
    elif name.endswith(".xxh128"):
        fields = path.read_text().split()
        if not fields or len(fields[0]) != 32:
            raise ValueError("not a hash line")
    elif name.endswith(".jsonl"):
        for line in path.read_text().splitlines():
            json.loads(line)


def kill_and_rerun(
    index: int, moment: float, workdir: Path, command: list[str]
) -> dict:
    process = subprocess.Popen(
        command,
        env=environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        process.wait(timeout=moment)
        killed = False
    except subprocess.TimeoutExpired:
        # The process group id is Snakemake's pid: start_new_session made it
        # the leader, and its jobs inherit the group.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        killed = True
    except BaseException:
        # Interrupted: the run's own session would outlive this script.
        os.killpg(process.pid, signal.SIGKILL)
        raise
    finished = sorted(
        path
        for path in (workdir / "results").rglob("*")
        if path.is_file() and not path.name.startswith(".")
    )
    report = {
        "index": index,
        "moment": moment,
        "killed": killed,
        "finished_outputs": len(finished),
        "temporary_files": len(temporary_files(workdir)),
        "broken": broken_outputs(workdir),
    }
    try:
        run_to_end(command, ["--unlock"])
        run_to_end(command, ["--rerun-incomplete"])
        report["hash"] = read_hash(workdir)
        report["rerun_error"] = None
    except RuntimeError as error:
        report["hash"] = None
        report["rerun_error"] = str(error)
    report["left_temporary_files"] = [
        str(path.relative_to(workdir)) for path in temporary_files(workdir)
    ]
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Kill Snakemake runs at random moments, rerun each to the "
        "end and compare the output hash with an uninterrupted run."
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        default=SHIPPED_CORPUS,
        help="corpus folder to run on (default: the shipped data/corpus)",
    )
    parser.add_argument(
        "--kills", type=int, default=20, help="number of runs to kill (default: 20)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the kill moments (default: a random seed, printed)",
    )
    parser.add_argument("--cores", type=int, default=2, help="Snakemake --cores")
    parser.add_argument(
        "--configfile",
        type=Path,
        default=None,
        help="config file whose keys override config/config.yaml in every run",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="folder for the runs (default: a new temporary folder, removed "
        "at the end unless --keep)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the run folders for inspection"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.kills < 1 or args.cores < 1:
        print("--kills and --cores must be >= 1", file=sys.stderr)
        return 2
    corpus = args.corpus.resolve()
    if not corpus.is_dir():
        print(f"corpus folder {corpus} not found", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    rng = random.Random(seed)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="indw-fault-injection-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"seed {seed}; corpus {corpus}; runs under {root}", flush=True)

    options = ["--configfile", str(args.configfile)] if args.configfile else []
    started = time.perf_counter()
    reference = root / "reference"
    try:
        run_to_end(snakemake_command(reference, corpus, args.cores, options=options))
    except RuntimeError as error:
        print(f"the uninterrupted run failed: {error}", file=sys.stderr)
        return 1
    duration = time.perf_counter() - started
    expected = read_hash(reference)
    print(f"uninterrupted run: {duration:.1f} s, hash {expected}", flush=True)

    matched = 0
    killed = 0
    failures = 0
    for index in range(1, args.kills + 1):
        # The last tenth is left out: a run that ends before its kill tests
        # nothing, and run times vary by more than that on a busy machine.
        moment = rng.uniform(0.0, 0.9 * duration)
        workdir = root / f"kill-{index:02d}"
        command = snakemake_command(workdir, corpus, args.cores, options=options)
        report = kill_and_rerun(index, moment, workdir, command)
        same = report["hash"] == expected
        clean = not report["broken"] and not report["left_temporary_files"]
        matched += same
        killed += report["killed"]
        failures += not (same and clean)
        state = "killed" if report["killed"] else "finished before the kill"
        if same:
            outcome = "rerun hash matches"
        elif report["rerun_error"]:
            outcome = "RERUN FAILED"
        else:
            outcome = f"rerun hash DIFFERS: {report['hash']}"
        print(
            f"run {index:2d}: {state} at {moment:5.2f} s with "
            f"{report['finished_outputs']} outputs finished and "
            f"{report['temporary_files']} temporary files; {outcome}",
            flush=True,
        )
        if report["rerun_error"]:
            print(f"    {report['rerun_error']}")
        for problem in report["broken"]:
            print(f"    incomplete output under its final name: {problem}")
        for path in report["left_temporary_files"]:
            print(f"    temporary file left after the rerun: {path}")
        if not args.keep:
            shutil.rmtree(workdir)

    print(
        f"{matched} of {args.kills} reruns matched the uninterrupted hash "
        f"({killed} runs killed, {args.kills - killed} finished first; seed {seed})"
    )
    if not args.keep and args.workdir is None:
        shutil.rmtree(root)
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
