"""Exact deduplication across shards, one bucket of key space per job.

Each shard's key file is sorted by key, so the keys of a bucket (a range of
the top bits of the key) are one contiguous slice that a bucket job reads
through a memory map; no process holds every key of the corpus. In a group
of equal keys the survivor is the first member in global order: shard name
order, then the document's place in its shard.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from indw.atomic import atomic_outputs, open_output

# A removed document and the survivor it duplicates. ``shard`` and
# ``survivor_shard`` index the ``shard_names`` stored beside the records.
DUPLICATE_DTYPE = np.dtype(
    [
        ("shard", "<u4"),
        ("ordinal", "<u8"),
        ("line", "<u8"),
        ("survivor_shard", "<u4"),
        ("survivor_line", "<u8"),
    ]
)


def bucket_bounds(keys_hi: np.ndarray, bucket: int, buckets: int) -> tuple[int, int]:
    """Return the slice of a sorted ``hi`` column that falls in ``bucket``.

    A bucket is a range of the top ``log2(buckets)`` bits of the key, so any
    power of two splits the same sorted file without rewriting it.
    """
    bits = buckets.bit_length() - 1
    if buckets < 1 or 1 << bits != buckets:
        raise ValueError(f"buckets must be a power of two, not {buckets}")
    if not 0 <= bucket < buckets:
        raise ValueError(f"bucket {bucket} is outside 0..{buckets - 1}")
    if bits == 0:
        return 0, len(keys_hi)
    shift = 64 - bits
    start = int(np.searchsorted(keys_hi, np.uint64(bucket << shift), "left"))
    if bucket == buckets - 1:
        return start, len(keys_hi)
    end = int(np.searchsorted(keys_hi, np.uint64((bucket + 1) << shift), "left"))
    return start, end


def find_exact_duplicates(
    key_paths: Sequence[Path | str], bucket: int, buckets: int
) -> np.ndarray:
    """Return the duplicates in one bucket, sorted by shard and ordinal.

    ``key_paths`` must be in global shard order; the index of a path in it is
    the ``shard`` number in the result.
    """
    parts = []
    for index, path in enumerate(key_paths):
        keys = np.load(path, mmap_mode="r", allow_pickle=False)
        start, end = bucket_bounds(keys["hi"], bucket, buckets)
        if end > start:
            part = np.empty(end - start, dtype=[*keys.dtype.descr, ("shard", "<u4")])
            for name in keys.dtype.names:
                part[name] = keys[name][start:end]
            part["shard"] = index
            parts.append(part)
    if not parts:
        return np.empty(0, dtype=DUPLICATE_DTYPE)

    keys = np.concatenate(parts)
    keys = keys[np.lexsort((keys["ordinal"], keys["shard"], keys["lo"], keys["hi"]))]
    same_as_previous = np.zeros(len(keys), dtype=bool)
    same_as_previous[1:] = (keys["hi"][1:] == keys["hi"][:-1]) & (
        keys["lo"][1:] == keys["lo"][:-1]
    )
    positions = np.arange(len(keys))
    group_first = np.maximum.accumulate(np.where(same_as_previous, 0, positions))

    removed = keys[same_as_previous]
    survivors = keys[group_first[same_as_previous]]
    result = np.empty(len(removed), dtype=DUPLICATE_DTYPE)
    result["shard"] = removed["shard"]
    result["ordinal"] = removed["ordinal"]
    result["line"] = removed["line"]
    result["survivor_shard"] = survivors["shard"]
    result["survivor_line"] = survivors["line"]
    return result[np.lexsort((result["ordinal"], result["shard"]))]


def save_duplicates(
    path: Path | str, records: np.ndarray, shard_names: Sequence[str]
) -> None:
    """Write duplicate records and the shard names they index to one ``.npz``."""
    with atomic_outputs(path) as (temp,):
        with open_output(temp, path) as handle:
            np.savez(
                handle,
                records=records.astype(DUPLICATE_DTYPE),
                shard_names=np.array(list(shard_names), dtype=str),
            )


def load_duplicates(path: Path | str) -> tuple[np.ndarray, list[str]]:
    """Read what ``save_duplicates`` wrote: records and shard names."""
    with np.load(path, allow_pickle=False) as data:
        return data["records"], [str(name) for name in data["shard_names"]]
