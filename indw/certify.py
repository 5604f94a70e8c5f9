"""``indw certify``: the scale benchmark at 1 and 2 workers, hashes compared.

The scale corpus is the shipped corpus copied several times, each copy's texts
changed by one sentence, so exact deduplication keeps the copies apart while
the documents stay real text. Each run gives every cleaning job 2 Snakemake
threads and sets the in-job worker count, so the two runs differ only in how
many workers spread each shard's chunks.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path

import zstandard

from indw.runner import SHIPPED_CORPUS, WorkflowRunError, run_workflow
from indw.settings import SettingsError, normalize_backend
from indw.shards import iter_lines, list_shards, shard_name

log = logging.getLogger(__name__)


def build_scale_corpus(source: Path, destination: Path, copies: int) -> tuple[int, int]:
    """Write ``copies`` altered copies of every shard; return (documents, bytes).

    Lines that are not JSON objects with a string text are copied unchanged.
    """
    destination.mkdir(parents=True, exist_ok=True)
    documents = 0
    size = 0
    for shard in list_shards(source):
        for copy in range(copies):
            target = destination / f"{shard_name(shard)}-copy{copy:03d}.jsonl.zst"
            compressor = zstandard.ZstdCompressor(level=3)
            with open(target, "wb") as handle, compressor.stream_writer(handle) as out:
                for _, line in iter_lines(shard):
                    try:
                        record = json.loads(line)
                        record["text"] += f"\n\nCopy {copy} of this text."
                        line = json.dumps(record, ensure_ascii=False).encode("utf-8")
                    except (ValueError, TypeError, KeyError, AttributeError):
                        pass
                    out.write(line + b"\n")
                    documents += 1
                    size += len(line) + 1
    return documents, size


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input",
        type=Path,
        default=SHIPPED_CORPUS,
        help="corpus to scale up (default: the shipped corpus)",
    )
    parser.add_argument(
        "--copies", type=int, default=4, help="altered copies of each shard"
    )
    parser.add_argument(
        "--backend", default="multiprocess", help="backend of both runs"
    )
    parser.add_argument("--workdir", type=Path, default=None)


def run(args: argparse.Namespace) -> int:
    if not args.input.is_dir():
        log.error("corpus folder %s not found; pass one with --input", args.input)
        return 2
    if args.copies < 1:
        log.error("--copies must be >= 1, not %d", args.copies)
        return 2
    try:
        backend = normalize_backend(args.backend, "--backend")
    except SettingsError as error:
        log.error("%s", error)
        return 2

    with tempfile.TemporaryDirectory(prefix="indw-certify-") as scratch:
        workdir = args.workdir or Path(scratch)
        corpus = workdir / "corpus"
        documents, size = build_scale_corpus(args.input, corpus, args.copies)
        print(f"scale corpus: {documents} documents, {size / 1e6:.1f} MB uncompressed")
        hashes = {}
        for workers in (1, 2):
            env = {
                "INSTANT_PIPELINE_BACKEND": backend,
                "INSTANT_PIPELINE_WORKERS": str(workers),
            }
            try:
                result = run_workflow(
                    workdir / f"workers-{workers}",
                    corpus,
                    env,
                    cores=2,
                    config={"clean_threads": 2},
                )
            except WorkflowRunError as error:
                log.error("%s", error)
                return 1
            hashes[workers] = result.output_hash()
            print(
                f"{workers} worker(s): {result.seconds:.1f} s, "
                f"{documents / result.seconds:.0f} documents/s, "
                f"{size / 1e6 / result.seconds:.2f} MB/s, hash {hashes[workers]}"
            )
        if hashes[1] != hashes[2]:
            print("fail: the hashes at 1 and 2 workers differ")
            return 1
        print("pass: the hashes at 1 and 2 workers are equal")
        return 0
