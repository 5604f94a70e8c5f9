#!/usr/bin/env python3
"""Peak memory of one cleaning job against shard size and chunk size.

Writes synthetic shards of two sizes, cleans each in a fresh process with the
local backend at two chunk sizes, and prints the peak resident set size of
each run (``ru_maxrss`` of the child). Streaming holds when the peak grows
with the chunk size and barely with the shard size; the exact-dedup keys
(32 bytes per kept document) are the one part that grows with the shard.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import zstandard

CHILD = """
import sys
from indw.clean import ShardOutputs, clean_shard
from indw.config import PipelineConfig
from indw.settings import RunSettings
shard, results, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3])
config = PipelineConfig()
outputs = ShardOutputs.under(results, "s", config.near_dedup.enabled)
clean_shard(shard, outputs, config, RunSettings(backend="local", chunk_size=chunk))
"""


def write_shard(path: Path, documents: int) -> int:
    """Write ``documents`` distinct documents of about 2 KB; return the bytes."""
    size = 0
    compressor = zstandard.ZstdCompressor(level=1)
    with open(path, "wb") as handle, compressor.stream_writer(handle) as out:
        for number in range(documents):
            words = " ".join(f"word{(number * 31 + i) % 9973}" for i in range(250))
            line = json.dumps({"id": number, "text": words}).encode() + b"\n"
            out.write(line)
            size += len(line)
    return size


def peak_rss_mib(shard: Path, results: Path, chunk: int) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(
        [sys.executable, "-c", CHILD, str(shard), str(results), str(chunk)],
        check=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the max over all children so far, in KiB.
    return max(before, after) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=20_000, help="documents")
    parser.add_argument("--large", type=int, default=100_000, help="documents")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="indw-memory-") as scratch:
        folder = Path(scratch)
        rows = []
        # Largest first: children's ru_maxrss only ever grows, so each run
        # after the first must not need less memory than one before it to
        # be measured. Each case runs in its own interpreter below instead.
        for documents in (args.small, args.large):
            shard = folder / f"s{documents}.jsonl.zst"
            size = write_shard(shard, documents)
            for chunk in (100, 2000):
                results = folder / f"results-{documents}-{chunk}"
                measure = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--measure",
                        str(shard),
                        str(results),
                        str(chunk),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                rows.append((documents, size, chunk, float(measure.stdout)))
        print(f"{'documents':>10} {'MB':>8} {'chunk':>6} {'peak RSS MiB':>13}")
        for documents, size, chunk, peak in rows:
            print(f"{documents:>10} {size / 1e6:>8.1f} {chunk:>6} {peak:>13.1f}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--measure":
        print(peak_rss_mib(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])))
        sys.exit(0)
    sys.exit(main())
