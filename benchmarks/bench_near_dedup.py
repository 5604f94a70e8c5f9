#!/usr/bin/env python3
"""Near-duplicate removal: quality, signature speed and clustering memory.

Three measurements, printed as they finish:

1. Quality on a planted corpus (``--documents`` texts, default 20,000): the
   share of pairs with true Jaccard >= 0.9 that end in one group (recall)
   and the share of removed documents with true Jaccard >= 0.7 to their
   survivor (precision), by brute force over every pair that shares a
   shingle, with and without the true-Jaccard check.
2. Signature throughput of one process, in documents and words per CPU
   second (``time.process_time``, so other load on the machine does not
   count) and per wall second.
3. Peak resident memory (VmHWM of /proc/self/status) of the ``indw near-bands`` and
   ``indw near-cluster`` steps, each in its own process, on
   ``--synthetic`` documents (default 1,000,000) whose signatures are drawn
   at random, a quarter of them near copies of an earlier row. The memory
   of an idle Python process with NumPy is measured too and subtracted to
   give bytes per document.

Usage: python benchmarks/bench_near_dedup.py [--documents N] [--synthetic N]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from indw.clean import KEY_DTYPE
from indw.config import PipelineConfig
from indw.minhash import MinHashConfig, signature
from indw.near_dedup import (
    cluster_duplicates,
    find_candidate_pairs,
    verify_pairs,
)
from indw.planted import planted_corpus, score_removal

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY / "tests"))
from conftest import write_shard  # noqa: E402

PEAK_PATTERN = re.compile(r"peak memory (\d+) MiB")
IDLE_PROGRAM = (
    "import indw.near_dedup\n"
    "from indw.near_steps import peak_memory_mib\n"
    "print(peak_memory_mib())\n"
)


def write_signatures(folder: Path, shards: list[list[str]], config) -> tuple:
    signature_paths, key_paths = [], []
    for index, texts in enumerate(shards):
        signature_paths.append(folder / f"s{index}.npy")
        np.save(signature_paths[-1], np.stack([signature(t, config) for t in texts]))
        key_paths.append(folder / f"s{index}.keys.npy")
        np.save(key_paths[-1], key_file(len(texts)))
    return signature_paths, key_paths


def key_file(count: int) -> np.ndarray:
    keys = np.zeros(count, dtype=KEY_DTYPE)
    keys["ordinal"] = np.arange(count)
    keys["line"] = np.arange(1, count + 1)
    return keys


def survivors_by_number(records, shards) -> dict[int, int]:
    offsets = np.cumsum([0] + [len(texts) for texts in shards])
    return {
        int(offsets[r["shard"]] + r["ordinal"]): int(
            offsets[r["survivor_shard"]] + r["survivor_line"] - 1
        )
        for r in records
    }


def measure_quality(documents: int, folder: Path) -> None:
    config = MinHashConfig(enabled=True)
    shards = planted_corpus(documents, 8, seed=1)
    texts = [text for shard in shards for text in shard]
    signature_paths, key_paths = write_signatures(folder, shards, config)
    jobs = range(config.band_jobs)
    edges = np.unique(
        np.concatenate([find_candidate_pairs(signature_paths, config, j) for j in jobs])
    )
    documents_paths = [
        write_shard(folder / f"s{i}.jsonl.zst", [{"text": t} for t in shard])
        for i, shard in enumerate(shards)
    ]
    checked = MinHashConfig(enabled=True, verify_jaccard=True)
    verified = verify_pairs(edges, documents_paths, checked)

    print(f"planted corpus: {len(texts)} documents in {len(shards)} shards")
    print(
        f"settings: {config.bands} bands x {config.rows} rows, shingles of "
        f"{config.shingle_size} words, threshold (1/b)^(1/r) = "
        f"{config.threshold():.3f}"
    )
    for label, pairs in (("LSH only", edges), ("with Jaccard check 0.8", verified)):
        started = time.perf_counter()
        records = cluster_duplicates(pairs, key_paths)
        score = score_removal(texts, survivors_by_number(records, shards), config)
        print(
            f"  {label}: {len(pairs)} pairs, {score.removed} removed; recall "
            f"{score.pairs_in_one_group}/{score.pairs_at_recall_threshold} = "
            f"{score.recall:.4f} of pairs with J >= 0.9; precision "
            f"{score.removed_similar_to_survivor}/{score.removed} = "
            f"{score.precision:.4f} of removed with J >= 0.7 to survivor "
            f"({time.perf_counter() - started:.1f} s to score)"
        )


def measure_signature_speed() -> None:
    config = MinHashConfig(enabled=True)
    texts = [text for shard in planted_corpus(3000, 1, seed=2) for text in shard]
    words = sum(len(text.split()) for text in texts)
    signature(texts[0], config)
    cpu = time.process_time()
    wall = time.perf_counter()
    for text in texts:
        signature(text, config)
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    print(
        f"signatures: {len(texts)} documents of {words / len(texts):.0f} words, "
        f"{config.num_perm} permutations: {len(texts) / cpu:,.0f} documents "
        f"({words / cpu / 1e6:.2f} M words) per CPU second, "
        f"{len(texts) / wall:,.0f} documents per wall second"
    )


def synthetic_signatures(folder: Path, documents: int, shards: int, config):
    """Write random signature rows; a quarter copy an earlier row with 10% of
    the values redrawn, so they share most bands with it."""
    generator = np.random.default_rng(3)
    rows = generator.integers(
        0, 1 << 32, size=(documents, config.num_perm), dtype=np.uint32
    )
    copies = np.flatnonzero(generator.random(documents) < 0.25)
    copies = copies[copies > 0]
    sources = (generator.random(len(copies)) * copies).astype(np.int64)
    rows[copies] = rows[sources]
    redraw = generator.random((len(copies), config.num_perm)) < 0.1
    fresh = generator.integers(0, 1 << 32, size=redraw.sum(), dtype=np.uint32)
    block = rows[copies]
    block[redraw] = fresh
    rows[copies] = block
    signature_paths, key_paths = [], []
    for index, part in enumerate(np.array_split(rows, shards)):
        signature_paths.append(folder / f"shard-{index:03d}.npy")
        np.save(signature_paths[-1], part)
        key_paths.append(folder / f"shard-{index:03d}.keys.npy")
        np.save(key_paths[-1], key_file(len(part)))
    return signature_paths, key_paths


def run_step(arguments: list[str]) -> tuple[float, float]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "indw", *arguments],
        capture_output=True,
        text=True,
        check=True,
    )
    peak = PEAK_PATTERN.search(result.stderr)
    if peak is None:
        raise RuntimeError(f"no peak memory in the step's log:\n{result.stderr}")
    return float(peak.group(1)), time.perf_counter() - started


def measure_clustering_memory(documents: int, folder: Path) -> None:
    config = PipelineConfig.from_config({"near_dedup": {"enabled": True}})
    near = config.near_dedup
    signature_paths, key_paths = synthetic_signatures(folder, documents, 16, near)
    settings = config.to_json()
    idle = subprocess.run(
        [sys.executable, "-c", IDLE_PROGRAM], capture_output=True, text=True
    )
    idle_mib = float(idle.stdout)
    print(
        f"synthetic corpus: {documents:,} documents in 16 shards; an idle "
        f"Python process with NumPy peaks at {idle_mib:.0f} MiB"
    )

    edge_paths = []
    for job in range(near.band_jobs):
        edge_paths.append(folder / f"edges-{job}.npz")
        peak, seconds = run_step(
            ["near-bands", "--job", str(job), "--settings", settings]
            + ["--out", str(edge_paths[-1])]
            + [str(path) for path in signature_paths]
        )
        if job == 0:
            print(
                f"  near-bands ({near.bands_per_job} bands): peak {peak:.0f} MiB, "
                f"{(peak - idle_mib) * 2**20 / documents:.0f} bytes per corpus "
                f"document above idle, {seconds:.1f} s"
            )

    peak, seconds = run_step(
        ["near-cluster", "--out", str(folder / "duplicates.npz"), "--keys"]
        + [str(path) for path in key_paths]
        + ["--edges"]
        + [str(path) for path in edge_paths]
    )
    with np.load(folder / "duplicates.npz") as data:
        removed = len(data["records"])
    parts = []
    for path in edge_paths:
        with np.load(path) as data:
            parts.append(data["edges"])
    edges = np.concatenate(parts)
    nodes = len(np.unique(np.concatenate([edges["member"], edges["first"]])))
    print(
        f"  near-cluster: {len(edges):,} edges from all band jobs, {nodes:,} "
        f"documents in an edge, {removed:,} near duplicates; peak {peak:.0f} MiB, "
        f"{(peak - idle_mib) * 2**20 / nodes:.0f} bytes per document in an edge "
        f"above idle, {seconds:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=20000)
    parser.add_argument("--synthetic", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-near-") as temp:
        folder = Path(temp)
        (folder / "quality").mkdir()
        (folder / "memory").mkdir()
        measure_quality(args.documents, folder / "quality")
        measure_signature_speed()
        measure_clustering_memory(args.synthetic, folder / "memory")


if __name__ == "__main__":
    main()
