"""The merge stage: concatenate the surviving documents, hash them, write a manifest.

The output hash is the xxh128 (XXH3, 128 bit) of the decompressed bytes of
``merged.jsonl.zst``, written as lowercase hex, so that
``zstdcat results/merged.jsonl.zst | xxh128sum`` prints the same value.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xxhash
import zstandard

import indw
from indw.atomic import atomic_outputs, open_output
from indw.config import PipelineConfig
from indw.dedup import DUPLICATE_DTYPE, load_duplicates
from indw.shards import iter_lines

log = logging.getLogger(__name__)

ZSTD_LEVEL = 3


def _zstd_writer(handle):
    # One compressor per stream: a ZstdCompressor must not feed two streams.
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True)
    return compressor.stream_writer(handle)


REASON_EXACT = "exact_duplicate"
REASON_NEAR = "near_duplicate"


@dataclass(frozen=True)
class MergeOutputs:
    merged: Path
    hash: Path
    manifest: Path
    duplicates: Path

    @classmethod
    def under(cls, results: Path | str) -> MergeOutputs:
        results = Path(results)
        return cls(
            merged=results / "merged.jsonl.zst",
            hash=results / "merged.xxh128",
            manifest=results / "manifest.json",
            duplicates=results / "duplicates.jsonl.zst",
        )


REASONS = (REASON_EXACT, REASON_NEAR)


@dataclass
class ShardDrops:
    """The duplicates of one shard, sorted by ordinal; ``reasons`` index REASONS."""

    ordinals: np.ndarray
    lines: np.ndarray
    reasons: np.ndarray
    survivor_shards: np.ndarray
    survivor_lines: np.ndarray


def collect_drops(
    shard_names: Sequence[str],
    exact_paths: Sequence[Path | str],
    near_paths: Sequence[Path | str] = (),
) -> list[ShardDrops]:
    """Combine exact and near duplicates into one sorted drop list per shard.

    A document that is both an exact and a near duplicate counts as exact.
    """
    parts = []
    codes = []
    for code, paths in enumerate((exact_paths, near_paths)):
        for path in paths:
            records, names = load_duplicates(path)
            if list(names) != list(shard_names):
                raise ValueError(
                    f"{path} was computed for other shards than the ones being "
                    "merged; rerun the workflow so that the dedup steps run again"
                )
            parts.append(records)
            codes.append(np.full(len(records), code, dtype=np.uint8))
    if parts:
        records = np.concatenate(parts)
        reasons = np.concatenate(codes)
    else:
        records = np.empty(0, dtype=DUPLICATE_DTYPE)
        reasons = np.empty(0, dtype=np.uint8)

    order = np.lexsort((reasons, records["ordinal"], records["shard"]))
    records = records[order]
    reasons = reasons[order]
    first = np.ones(len(records), dtype=bool)
    first[1:] = (records["shard"][1:] != records["shard"][:-1]) | (
        records["ordinal"][1:] != records["ordinal"][:-1]
    )
    records = records[first]
    reasons = reasons[first]

    bounds = np.searchsorted(records["shard"], np.arange(len(shard_names) + 1))
    drops = []
    for shard in range(len(shard_names)):
        part = slice(bounds[shard], bounds[shard + 1])
        drops.append(
            ShardDrops(
                ordinals=records["ordinal"][part],
                lines=records["line"][part],
                reasons=reasons[part],
                survivor_shards=records["survivor_shard"][part],
                survivor_lines=records["survivor_line"][part],
            )
        )
    return drops


def _versions() -> dict[str, str]:
    return {
        "indw": indw.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "xxhash": xxhash.VERSION,
        "zstandard": zstandard.__version__,
    }


def _shard_summary(stats: dict, duplicates: Counter, output_documents: int) -> dict:
    counts = stats["counts"]
    dropped = {
        key.removeprefix("dropped_"): value
        for key, value in counts.items()
        if key.startswith("dropped_")
    }
    quarantined = {
        key.removeprefix("quarantined_"): value
        for key, value in counts.items()
        if key.startswith("quarantined_")
    }
    return {
        "read": counts.get("read", 0),
        "kept": output_documents,
        "dropped": dict(sorted(dropped.items())),
        "dropped_total": counts.get("dropped", 0),
        "duplicates": dict(sorted(duplicates.items())),
        "duplicates_total": sum(duplicates.values()),
        "quarantined": dict(sorted(quarantined.items())),
        "quarantined_total": counts.get("quarantined", 0),
        "blank_lines": counts.get("blank_lines", 0),
    }


def check_balance(name: str, summary: dict) -> None:
    """Raise ValueError unless every document read is accounted for once.

    ``read`` counts non-blank input lines; each one is kept, dropped, removed
    as a duplicate or quarantined.
    """
    parts = ("kept", "dropped_total", "duplicates_total", "quarantined_total")
    counts = {part: summary.get(part, 0) for part in parts}
    read = summary.get("read", 0)
    if read != sum(counts.values()):
        terms = " + ".join(f"{part} {count}" for part, count in counts.items())
        raise ValueError(
            f"counts of {name} do not add up: read {read}, but {terms} = "
            f"{sum(counts.values())}; rerun the workflow from the cleaning step"
        )


def _add_summary(total: dict, summary: dict) -> None:
    for key, value in summary.items():
        if isinstance(value, dict):
            bucket = total.setdefault(key, {})
            for name, count in value.items():
                bucket[name] = bucket.get(name, 0) + count
        else:
            total[key] = total.get(key, 0) + value


def merge_shards(
    stats_paths: Sequence[Path | str],
    documents_paths: Sequence[Path | str],
    exact_paths: Sequence[Path | str],
    near_paths: Sequence[Path | str],
    config: PipelineConfig,
    outputs: MergeOutputs,
) -> str:
    """Write the merged corpus, its hash, the manifest and the duplicates file.

    ``stats_paths`` and ``documents_paths`` are in global shard order.
    Returns the output hash.
    """
    started = time.perf_counter()
    stats_list = [json.loads(Path(p).read_text()) for p in stats_paths]
    shard_names = [stats["shard"] for stats in stats_list]
    if shard_names != sorted(shard_names, key=lambda n: n.encode("utf-8")):
        raise ValueError("shards must be merged in file name order")
    drops = collect_drops(shard_names, exact_paths, near_paths)
    digest = xxhash.xxh3_128()
    shard_summaries = []
    total: dict = {}

    with atomic_outputs(
        outputs.merged, outputs.duplicates, outputs.hash, outputs.manifest
    ) as (merged_tmp, duplicates_tmp, hash_tmp, manifest_tmp):
        with (
            open_output(merged_tmp, outputs.merged) as merged_file,
            _zstd_writer(merged_file) as merged,
            open_output(duplicates_tmp, outputs.duplicates) as duplicates_file,
            _zstd_writer(duplicates_file) as duplicates,
        ):
            for index, (stats, documents) in enumerate(
                zip(stats_list, documents_paths, strict=True)
            ):
                shard_drops = drops[index]
                drop_ordinals = shard_drops.ordinals.tolist()
                removed: Counter = Counter()
                next_drop = 0
                written = 0
                for ordinal, (_, line) in enumerate(iter_lines(documents)):
                    is_dropped = (
                        next_drop < len(drop_ordinals)
                        and drop_ordinals[next_drop] == ordinal
                    )
                    if is_dropped:
                        reason = REASONS[int(shard_drops.reasons[next_drop])]
                        removed[reason] += 1
                        entry = {
                            "shard": stats["shard"],
                            "line": int(shard_drops.lines[next_drop]),
                            "reason": reason,
                            "survivor": {
                                "shard": shard_names[
                                    int(shard_drops.survivor_shards[next_drop])
                                ],
                                "line": int(shard_drops.survivor_lines[next_drop]),
                            },
                        }
                        prefix = json.dumps(
                            entry, ensure_ascii=False, separators=(",", ":")
                        )
                        duplicates.write(
                            prefix[:-1].encode("utf-8")
                            + b',"document":'
                            + line
                            + b"}\n"
                        )
                        next_drop += 1
                        continue
                    output = line + b"\n"
                    merged.write(output)
                    digest.update(output)
                    written += 1
                if next_drop != len(drop_ordinals):
                    raise ValueError(
                        f"{documents} has fewer documents than its dedup records "
                        "name; rerun the workflow from the cleaning step"
                    )
                summary = _shard_summary(stats, removed, written)
                check_balance(stats["shard"], summary)
                shard_summaries.append({"shard": stats["shard"], **summary})
                _add_summary(total, summary)

        check_balance("total", total)
        output_hash = digest.hexdigest()
        with open_output(hash_tmp, outputs.hash) as handle:
            handle.write(f"{output_hash}  merged.jsonl\n".encode())
        manifest = {
            "hash": {"algorithm": "xxh128", "merged.jsonl": output_hash},
            "settings": config.to_dict(),
            "shards": shard_summaries,
            "total": total,
            "versions": _versions(),
        }
        with open_output(manifest_tmp, outputs.manifest) as handle:
            handle.write(json.dumps(manifest, indent=2, sort_keys=True).encode())
            handle.write(b"\n")

    log.info(
        "merged %d shards: %d documents kept, hash %s, %.1f s",
        len(shard_names),
        total.get("kept", 0),
        output_hash,
        time.perf_counter() - started,
    )
    return output_hash
