"""Shared helpers: write real shards and run the real Snakemake workflow."""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest
import zstandard

REPOSITORY = Path(__file__).resolve().parent.parent
SNAKEFILE = REPOSITORY / "Snakefile"

# Variables that would make a test depend on the shell it was started from.
RUN_SETTING_VARIABLES = (
    "INSTANT_PIPELINE_BACKEND",
    "INSTANT_PIPELINE_WORKERS",
    "INSTANT_PIPELINE_CHUNK_SIZE",
    "INSTANT_MERGE_HW_PROBE",
    "INSTANT_DASK_SCHEDULER",
    "INSTANT_STRICT",
    "DASK_SCHEDULER_ADDRESS",
)


def encode_lines(records: Iterable[object]) -> bytes:
    """Return JSON Lines bytes; a bytes item is written as the raw line."""
    lines = []
    for record in records:
        if isinstance(record, bytes):
            lines.append(record)
        else:
            lines.append(json.dumps(record, ensure_ascii=False).encode("utf-8"))
    return b"".join(line + b"\n" for line in lines)


def write_shard(path: Path, records: Iterable[object]) -> Path:
    """Write records as a shard compressed by its suffix (.zst, .gz or none)."""
    data = encode_lines(records)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".zst"):
        data = zstandard.ZstdCompressor(level=3).compress(data)
    elif path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


def clean_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in RUN_SETTING_VARIABLES}
    env.update(extra or {})
    return env


def run_workflow(
    workdir: Path,
    input_dir: Path,
    cores: int = 2,
    env: Mapping[str, str] | None = None,
    config: Mapping[str, object] | None = None,
    extra_args: Iterable[str] = (),
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile in ``workdir`` on ``input_dir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_args = [f"input_dir={input_dir}"]
    for key, value in (config or {}).items():
        config_args.append(f"{key}={json.dumps(value)}")
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        "--cores",
        str(cores),
        "--config",
        *config_args,
        *extra_args,
    ]
    result = subprocess.run(
        command,
        env=clean_environment(env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result


def read_hash(workdir: Path) -> str:
    return (workdir / "results" / "merged.xxh128").read_text().split()[0]


def read_merged(workdir: Path) -> list[dict]:
    data = zstandard.ZstdDecompressor().stream_reader(
        (workdir / "results" / "merged.jsonl.zst").open("rb"), read_across_frames=True
    )
    return [json.loads(line) for line in data.read().splitlines()]


def read_manifest(workdir: Path) -> dict:
    return json.loads((workdir / "results" / "manifest.json").read_text())


def long_text(seed: int, words: int = 40) -> str:
    """Return a deterministic document text well above the length gates."""
    vocabulary = (
        "the river runs past old stone walls where children play and "
        "merchants sell bread fish cloth and lamps to travellers from the "
        "north who come with news of harvests storms and weddings"
    ).split()
    # Independent draws per seed: a fixed stride through the vocabulary made
    # texts whose word 5-grams overlap, which near-dedup rightly removes.
    generator = random.Random(seed)
    picked = [generator.choice(vocabulary) for _ in range(words)]
    return f"Document {seed}. " + " ".join(picked) + "."


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A folder of four shards with duplicates within and across shards."""
    folder = tmp_path / "corpus"
    shared = long_text(1000)
    write_shard(
        folder / "a.jsonl.zst",
        [{"id": "a0", "text": long_text(1)}, {"id": "a1", "text": shared}]
        + [{"id": f"a{i}", "text": long_text(i)} for i in range(2, 30)],
    )
    write_shard(
        folder / "b.jsonl.zst",
        [{"id": "b0", "text": shared}, {"id": "b1", "text": long_text(2)}]
        + [{"id": f"b{i}", "text": long_text(100 + i)} for i in range(2, 30)],
    )
    write_shard(
        folder / "c.jsonl.gz",
        [{"id": "c0", "text": shared}]
        + [{"id": f"c{i}", "text": long_text(200 + i)} for i in range(1, 30)],
    )
    write_shard(
        folder / "d.jsonl",
        [{"id": f"d{i}", "text": long_text(300 + i)} for i in range(30)],
    )
    return folder
