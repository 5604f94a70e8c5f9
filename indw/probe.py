"""The hardware probe: pick workers and chunk size from CPU count and memory.

With ``INSTANT_MERGE_HW_PROBE=1``, a worker count or chunk size that neither
the config nor the environment sets comes from the probe. The probe runs where
the Snakefile is parsed, and the jobs inherit its choice through the
environment. Neither choice changes the output, only how the work is spread.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from indw.settings import DEFAULT_CHUNK_SIZE

# An estimate of the memory one in-flight document costs a worker: the raw
# line, the parsed record, the cleaned text and the output line, for documents
# of a few kilobytes. Chunk sizes are derived from it.
BYTES_PER_DOCUMENT_ESTIMATE = 64 * 1024
# Share of the available memory the probe lets chunks in flight take.
MEMORY_SHARE = 0.25
MIN_CHUNK_SIZE = 50
MAX_CHUNK_SIZE = 5000


@dataclass(frozen=True)
class ProbeChoice:
    cpus: int
    memory_bytes: int | None
    workers: int
    chunk_size: int
    reasons: list[str]


def usable_cpus() -> tuple[int, str]:
    """Return the CPUs this process may use and where that number came from."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    source = "CPU affinity"
    if count is None:
        count = os.cpu_count() or 1
        source = "os.cpu_count()"
    quota = _cgroup_cpu_quota()
    if quota is not None and quota < count:
        return max(1, int(quota)), "cgroup cpu.max quota"
    return count, source


def _cgroup_cpu_quota() -> float | None:
    path = Path("/sys/fs/cgroup/cpu.max")
    try:
        quota, period = path.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return int(quota) / int(period)


def available_memory() -> tuple[int | None, str]:
    """Return the bytes of memory available to this process and their source."""
    limit = None
    try:
        text = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if text != "max":
            limit = int(text)
    except (OSError, ValueError):
        pass
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError):
        pass
    if limit is not None and (available is None or limit < available):
        return limit, "cgroup memory.max"
    if available is not None:
        return available, "MemAvailable in /proc/meminfo"
    return None, "unknown"


def choose(cpus: int, memory_bytes: int | None) -> ProbeChoice:
    """Choose workers and chunk size for the given CPU count and memory."""
    reasons = [f"{cpus} usable CPUs: one worker each"]
    workers = max(1, cpus)
    if memory_bytes is None:
        reasons.append(f"memory unknown: default chunk size {DEFAULT_CHUNK_SIZE}")
        return ProbeChoice(cpus, None, workers, DEFAULT_CHUNK_SIZE, reasons)

    # Each worker has up to two chunks in flight (see indw.backends).
    budget = memory_bytes * MEMORY_SHARE
    chunk = int(budget / (2 * workers * BYTES_PER_DOCUMENT_ESTIMATE))
    chunk = min(MAX_CHUNK_SIZE, max(MIN_CHUNK_SIZE, chunk))
    reasons.append(
        f"{memory_bytes / 2**30:.1f} GiB available, {MEMORY_SHARE:.0%} of it for "
        f"2 chunks per worker at about {BYTES_PER_DOCUMENT_ESTIMATE // 1024} KiB "
        f"per document: chunk size {chunk} (kept within "
        f"{MIN_CHUNK_SIZE}..{MAX_CHUNK_SIZE})"
    )
    return ProbeChoice(cpus, memory_bytes, workers, chunk, reasons)


def probe() -> ProbeChoice:
    cpus, cpu_source = usable_cpus()
    memory, memory_source = available_memory()
    choice = choose(cpus, memory)
    choice.reasons.insert(0, f"CPUs from {cpu_source}, memory from {memory_source}")
    return choice


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the choice as JSON")


def run(args: argparse.Namespace) -> int:
    choice = probe()
    if args.json:
        print(json.dumps(asdict(choice), indent=2))
        return 0
    print(f"workers: {choice.workers}")
    print(f"chunk size: {choice.chunk_size}")
    for reason in choice.reasons:
        print(f"  because {reason}")
    return 0
