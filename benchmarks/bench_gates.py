#!/usr/bin/env python3
"""Throughput of the quality gates on one core.

Reads every shard of a corpus folder, normalizes each text as the cleaning
stage does (``indw.normalize.normalize_text``), then times ``apply_gates``
over all of them in this one process. Reading and normalizing are not timed.
Prints MB/s (MB = 10**6 bytes of UTF-8 text) and documents/s, and the count
of each drop reason. ``--per-family`` also times each family alone on every
document, so the figures show what each costs without the others' early
exits. ``--profile`` prints the functions that took the most time.

Build the 133 MB benchmark corpus with
``python scripts/build_corpus.py --bench benchmarks/data/bench-corpus``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from indw.config import load_config
from indw.gates import FAMILIES, GateConfig, apply_gates
from indw.normalize import normalize_text
from indw.shards import iter_lines, list_shards

REPOSITORY = Path(__file__).resolve().parent.parent


def read_texts(folder: Path, limit_bytes: int | None) -> list[str]:
    """Return the normalized texts of a corpus, up to ``limit_bytes`` of text."""
    texts = []
    size = 0
    for shard in list_shards(folder):
        for _, line in iter_lines(shard):
            if not line.strip():
                continue
            text = normalize_text(json.loads(line)["text"])
            if not text:
                continue
            texts.append(text)
            size += len(text.encode("utf-8"))
            if limit_bytes is not None and size >= limit_bytes:
                return texts
    return texts


def run(texts: list[str], config: GateConfig) -> tuple[float, float, Counter]:
    """Run apply_gates over all texts; return CPU and wall seconds, and reasons.

    The CPU time of this process is the per-core figure: on a shared machine
    the wall time also counts the time other processes held the core.
    """
    reasons: Counter = Counter()
    cpu_started = time.process_time()
    wall_started = time.perf_counter()
    for text in texts:
        _, reason = apply_gates(text, config)
        reasons[reason or "kept"] += 1
    cpu = time.process_time() - cpu_started
    return cpu, time.perf_counter() - wall_started, reasons


def rates(megabytes: float, documents: int, cpu: float, wall: float) -> str:
    return (
        f"{cpu:.2f} s CPU, {megabytes / cpu:.2f} MB/s, {documents / cpu:.0f} "
        f"documents/s per core ({wall:.2f} s wall)"
    )


def only(config: GateConfig, family: str) -> GateConfig:
    """Return the settings with every family but ``family`` switched off."""
    changes = {
        name: replace(getattr(config, name), enabled=name == family)
        for name in FAMILIES
    }
    return replace(config, **changes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "corpus",
        nargs="?",
        type=Path,
        default=REPOSITORY / "data" / "corpus",
        help="folder of *.jsonl.zst shards (default: data/corpus)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=REPOSITORY / "config" / "config.yaml",
        help="workflow config whose gates: section to use (default: the shipped one)",
    )
    parser.add_argument(
        "--limit-mb", type=float, help="stop reading after this many MB of text"
    )
    parser.add_argument(
        "--per-family", action="store_true", help="also time each family alone"
    )
    parser.add_argument(
        "--profile", action="store_true", help="print the top functions by time"
    )
    args = parser.parse_args(argv)

    config = GateConfig.from_mapping(load_config(args.config).get("gates") or {})
    limit = int(args.limit_mb * 10**6) if args.limit_mb else None
    texts = read_texts(args.corpus, limit)
    megabytes = sum(len(text.encode("utf-8")) for text in texts) / 10**6
    print(f"corpus: {args.corpus}, {len(texts)} documents, {megabytes:.1f} MB")
    print(f"order: {', '.join(config.order)}")

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
    cpu, wall, reasons = run(texts, config)
    if args.profile:
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(20)

    print(f"all gates: {rates(megabytes, len(texts), cpu, wall)}")
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
        print(f"  {reason:45} {count:8d}")

    if args.per_family:
        for family in config.order:
            cpu, wall, reasons = run(texts, only(config, family))
            dropped = len(texts) - reasons["kept"]
            print(
                f"{family} alone: {rates(megabytes, len(texts), cpu, wall)}, "
                f"{dropped} dropped"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
