"""Near-duplicate removal with MinHash LSH across shards.

Three steps, each its own Snakemake job:

1. Candidate pairs, one job per group of bands. A job memory-maps every
   shard's signature file, copies only its bands' columns in blocks of rows
   and hashes each band's ``rows`` values to 64 bits. Documents with equal
   band hashes share a bucket, and every member of a bucket but the first
   in global order gets the edge (member -> first member). A job holds an
   8-byte band hash per band it handles and an 8-byte document key for
   every document of the corpus, plus the sort of one band at a time. It
   releases the pages of the signature files after each block.
2. Optionally, verification: the true Jaccard similarity of the shingle sets
   of each distinct candidate pair, read from the cleaned documents. Pairs
   below ``jaccard_threshold`` are dropped before clustering. It is one job
   after all band jobs, not part of them, because the same pair shows up in
   many bands and each band job would otherwise read the corpus again. As
   one job, it checks every pair once and reads every shard once. The job holds
   the shingle hash sets of the documents that appear in a candidate pair.
3. Clustering: union-find over only the documents that appear in an edge.
   It holds the edges (16 bytes each) and, per document in an edge, its key
   and its parent (16 bytes), plus temporaries of the same order, and never
   a signature. The survivor of a group is its first member in global order
   (the smallest document key); every other member records that survivor.

A document key packs the shard's index in global order above the document's
ordinal (its position among the shard's kept documents), so sorting keys
sorts documents in global order.
"""

from __future__ import annotations

import json
import logging
import mmap
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from indw.atomic import atomic_outputs
from indw.dedup import DUPLICATE_DTYPE
from indw.minhash import SIGNATURE_DTYPE, MinHashConfig, jaccard, shingle_hashes
from indw.shards import iter_lines

log = logging.getLogger(__name__)

ORDINAL_BITS = 40
MAX_SHARDS = 1 << (64 - ORDINAL_BITS)
ORDINAL_MASK = np.uint64((1 << ORDINAL_BITS) - 1)

# An edge joins a document to the first member, in global order, of a bucket
# it shares; both are document keys.
EDGE_DTYPE = np.dtype([("member", "<u8"), ("first", "<u8")])

# Rows of a signature file read at a time. Their pages are released after
# each block, so a band job's memory does not grow with the shard size.
READ_ROWS = 1 << 15

_MIX_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_FINAL_MULTIPLIER_1 = np.uint64(0xFF51AFD7ED558CCD)
_FINAL_MULTIPLIER_2 = np.uint64(0xC4CEB9FE1A85EC53)
_SHIFT_32 = np.uint64(32)
_SHIFT_33 = np.uint64(33)


def document_keys(shard: int, ordinals: np.ndarray) -> np.ndarray:
    """Return the document keys of ``ordinals`` in shard number ``shard``."""
    if not 0 <= shard < MAX_SHARDS:
        raise ValueError(f"near_dedup supports at most {MAX_SHARDS} shards")
    ordinals = np.asarray(ordinals, dtype=np.uint64)
    if len(ordinals) and int(ordinals.max()) > int(ORDINAL_MASK):
        raise ValueError(
            f"near_dedup supports at most 2**{ORDINAL_BITS} documents per shard"
        )
    return (np.uint64(shard) << np.uint64(ORDINAL_BITS)) | ordinals


def split_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the shard numbers and ordinals of document keys."""
    keys = np.asarray(keys, dtype=np.uint64)
    return keys >> np.uint64(ORDINAL_BITS), keys & ORDINAL_MASK


def band_hashes(columns: np.ndarray) -> np.ndarray:
    """Return a 64-bit hash of each row of a (documents, rows) uint32 array.

    Multiply-xorshift rounds over the row's values, then the MurmurHash3
    64-bit finalizer. Two different bands collide with probability about
    2**-64 per pair, which a false candidate pair would need.
    """
    with np.errstate(over="ignore"):
        hashes = np.zeros(len(columns), dtype=np.uint64)
        for index in range(columns.shape[1]):
            hashes ^= columns[:, index].astype(np.uint64)
            hashes *= _MIX_MULTIPLIER
            hashes ^= hashes >> _SHIFT_32
        hashes ^= hashes >> _SHIFT_33
        hashes *= _FINAL_MULTIPLIER_1
        hashes ^= hashes >> _SHIFT_33
        hashes *= _FINAL_MULTIPLIER_2
        hashes ^= hashes >> _SHIFT_33
    return hashes


def _check_signatures(path, shape, dtype, config: MinHashConfig) -> None:
    if len(shape) != 2 or shape[1] != config.num_perm or dtype != SIGNATURE_DTYPE:
        raise ValueError(
            f"{path} holds {dtype} signatures of shape {shape}, not rows of "
            f"{config.num_perm} uint32; rerun the workflow from the cleaning step"
        )


def read_band_hashes(
    path: Path | str, config: MinHashConfig, bands: range
) -> tuple[int, list[np.ndarray]]:
    """Return a shard's document count and its hashes of each of ``bands``.

    The signature file is memory-mapped and read READ_ROWS rows at a time.
    After each block its pages are released with madvise(MADV_DONTNEED), so
    the job's resident memory holds the band hashes, not the file, however
    large the shard.
    """
    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(handle)
        _check_signatures(path, shape, dtype, config)
        if fortran_order:
            raise ValueError(f"{path} is in Fortran order; rerun the cleaning step")
        offset = handle.tell()
        count = shape[0]
        if count == 0:
            return 0, [np.empty(0, np.uint64) for _ in bands]
        row_bytes = shape[1] * dtype.itemsize
        mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)

    rows = config.rows
    parts: list[list[np.ndarray]] = [[] for _ in bands]
    try:
        for start in range(0, count, READ_ROWS):
            stop = min(start + READ_ROWS, count)
            block = np.frombuffer(
                mapping,
                dtype=dtype,
                count=(stop - start) * shape[1],
                offset=offset + start * row_bytes,
            ).reshape(stop - start, shape[1])
            for slot, band in enumerate(bands):
                columns = np.array(block[:, band * rows : (band + 1) * rows])
                parts[slot].append(band_hashes(columns))
            del block
            _release_pages(
                mapping, offset + start * row_bytes, offset + stop * row_bytes
            )
    finally:
        mapping.close()
    return count, [np.concatenate(part) for part in parts]


def _release_pages(mapping: mmap.mmap, start: int, stop: int) -> None:
    if not hasattr(mapping, "madvise") or not hasattr(mmap, "MADV_DONTNEED"):
        return
    # madvise needs a page-aligned start; the pages of a read-only file
    # mapping are read again from the file if they are touched later.
    aligned = start - start % mmap.PAGESIZE
    mapping.madvise(mmap.MADV_DONTNEED, aligned, stop - aligned)


def bucket_edges(hashes: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Return the edges (member -> first member) of the buckets of one band."""
    order = np.lexsort((keys, hashes))
    hashes = hashes[order]
    keys = keys[order]
    same_as_previous = np.zeros(len(keys), dtype=bool)
    same_as_previous[1:] = hashes[1:] == hashes[:-1]
    positions = np.arange(len(keys))
    group_first = np.maximum.accumulate(np.where(same_as_previous, 0, positions))
    edges = np.empty(int(same_as_previous.sum()), dtype=EDGE_DTYPE)
    edges["member"] = keys[same_as_previous]
    edges["first"] = keys[group_first[same_as_previous]]
    return edges


def find_candidate_pairs(
    signature_paths: Sequence[Path | str], config: MinHashConfig, job: int
) -> np.ndarray:
    """Return the distinct edges of the bands of band job ``job``, sorted.

    ``signature_paths`` must be in global shard order; a path's index is its
    shard number in the document keys.
    """
    bands = config.band_range(job)
    band_parts: list[list[np.ndarray]] = [[] for _ in bands]
    key_parts = []
    for shard, path in enumerate(signature_paths):
        count, hashes = read_band_hashes(path, config, bands)
        key_parts.append(document_keys(shard, np.arange(count, dtype=np.uint64)))
        for slot, band_hashes_of_shard in enumerate(hashes):
            band_parts[slot].append(band_hashes_of_shard)

    keys = np.concatenate(key_parts) if key_parts else np.empty(0, np.uint64)
    edges = [np.empty(0, dtype=EDGE_DTYPE)]
    for slot, band in enumerate(bands):
        parts = band_parts[slot]
        hashes = np.concatenate(parts) if parts else np.empty(0, np.uint64)
        band_parts[slot] = []
        found = bucket_edges(hashes, keys)
        log.info(
            "band %d: %d documents share a bucket with an earlier one", band, len(found)
        )
        edges.append(found)
    return np.unique(np.concatenate(edges))


def save_edges(path: Path | str, edges: np.ndarray, shard_names: Sequence[str]) -> None:
    """Write edges and the shard names their keys index to one ``.npz``."""
    with atomic_outputs(path) as (temp,):
        with open(temp, "wb") as handle:
            np.savez(
                handle,
                edges=edges.astype(EDGE_DTYPE),
                shard_names=np.array(list(shard_names), dtype=str),
            )


def load_edges(paths: Sequence[Path | str], shard_names: Sequence[str]) -> np.ndarray:
    """Read edge files into one sorted array of distinct edges.

    Raises ValueError when a file was computed for other shards.
    """
    parts = [np.empty(0, dtype=EDGE_DTYPE)]
    for path in paths:
        with np.load(path, allow_pickle=False) as data:
            names = [str(name) for name in data["shard_names"]]
            if names != list(shard_names):
                raise ValueError(
                    f"{path} was computed for other shards than the ones given; "
                    "rerun the workflow so that the near-dedup steps run again"
                )
            parts.append(data["edges"])
    return np.unique(np.concatenate(parts))


def verify_pairs(
    edges: np.ndarray,
    documents_paths: Sequence[Path | str],
    config: MinHashConfig,
) -> np.ndarray:
    """Return the edges whose documents' true shingle Jaccard is high enough.

    ``documents_paths`` are the cleaned shards in global order; line ``i`` of
    a cleaned shard is the document with ordinal ``i``.
    """
    needed = np.unique(np.concatenate([edges["member"], edges["first"]]))
    needed_shards, needed_ordinals = split_keys(needed)
    shingle_sets: dict[int, np.ndarray] = {}
    bounds = np.searchsorted(
        needed_shards, np.arange(len(documents_paths) + 1, dtype=np.uint64)
    )
    for shard, path in enumerate(documents_paths):
        wanted = needed_ordinals[bounds[shard] : bounds[shard + 1]].tolist()
        if not wanted:
            continue
        base = shard << ORDINAL_BITS
        position = 0
        for ordinal, (_, line) in enumerate(iter_lines(path)):
            if ordinal != wanted[position]:
                continue
            text = json.loads(line)["text"]
            shingle_sets[base | ordinal] = shingle_hashes(text, config)
            position += 1
            if position == len(wanted):
                break
        if position != len(wanted):
            raise ValueError(
                f"{path} has fewer documents than the signatures name; rerun "
                "the workflow from the cleaning step"
            )

    keep = np.zeros(len(edges), dtype=bool)
    members = edges["member"].tolist()
    firsts = edges["first"].tolist()
    for index, (member, first) in enumerate(zip(members, firsts, strict=True)):
        similarity = jaccard(shingle_sets[member], shingle_sets[first])
        keep[index] = similarity >= config.jaccard_threshold
    log.info(
        "verified %d candidate pairs of %d documents: %d at Jaccard >= %g",
        len(edges),
        len(needed),
        int(keep.sum()),
        config.jaccard_threshold,
    )
    return edges[keep]


def connected_components(
    first_ends: np.ndarray, second_ends: np.ndarray, count: int
) -> np.ndarray:
    """Return, for nodes ``0..count-1``, the smallest node of their component.

    Union-find in rounds over all edges at once: each round hooks the larger
    root of every edge that joins two trees under the smaller one, then
    compresses every path to its root. A parent never exceeds its node, so
    the root of a component is its smallest node. The number of rounds
    depends on the graph: a path through a million nodes in random order
    took 14, a random tree of a million nodes 6.
    """
    parent = np.arange(count, dtype=np.int64)
    while True:
        first_roots = parent[first_ends]
        second_roots = parent[second_ends]
        if np.array_equal(first_roots, second_roots):
            return parent
        lower = np.minimum(first_roots, second_roots)
        np.minimum.at(parent, first_roots, lower)
        np.minimum.at(parent, second_roots, lower)
        while True:
            grandparent = parent[parent]
            if np.array_equal(grandparent, parent):
                break
            parent = grandparent


def _lines_of(key_path: Path | str, ordinals: np.ndarray) -> np.ndarray:
    keys = np.load(key_path, mmap_mode="r", allow_pickle=False)
    lines = np.empty(len(keys), dtype=np.uint64)
    lines[np.asarray(keys["ordinal"])] = keys["line"]
    if len(ordinals) and int(ordinals.max()) >= len(lines):
        raise ValueError(
            f"{key_path} has fewer documents than the signatures name; rerun "
            "the workflow from the cleaning step"
        )
    return lines[ordinals.astype(np.int64)]


def cluster_duplicates(
    edges: np.ndarray, key_paths: Sequence[Path | str]
) -> np.ndarray:
    """Return the near duplicates as DUPLICATE_DTYPE records, sorted.

    Every group of documents joined by edges keeps its first member in
    global order; each other member is a record naming that survivor.
    ``key_paths`` are the shards' exact-dedup key files in global order,
    read one at a time to map ordinals to input lines.
    """
    nodes = np.unique(np.concatenate([edges["member"], edges["first"]]))
    member_ends = np.searchsorted(nodes, edges["member"])
    first_ends = np.searchsorted(nodes, edges["first"])
    roots = connected_components(member_ends, first_ends, len(nodes))
    del member_ends, first_ends

    removed_at = np.flatnonzero(roots != np.arange(len(nodes)))
    removed = nodes[removed_at]
    survivors = nodes[roots[removed_at]]
    log.info(
        "%d documents in edges form %d groups; %d are near duplicates",
        len(nodes),
        len(np.unique(survivors)),
        len(removed),
    )
    del nodes, roots, removed_at

    result = np.empty(len(removed), dtype=DUPLICATE_DTYPE)
    result["shard"], result["ordinal"] = split_keys(removed)
    result["survivor_shard"] = split_keys(survivors)[0]
    named = np.unique(np.concatenate([removed, survivors]))
    lines = _lines_of_keys(named, key_paths)
    result["line"] = lines[np.searchsorted(named, removed)]
    result["survivor_line"] = lines[np.searchsorted(named, survivors)]
    return result


def _lines_of_keys(keys: np.ndarray, key_paths: Sequence[Path | str]) -> np.ndarray:
    """Return the input line of each of the sorted document ``keys``."""
    shards, ordinals = split_keys(keys)
    if len(keys) and int(shards[-1]) >= len(key_paths):
        raise ValueError(
            f"the edges name shard number {int(shards[-1])} but only "
            f"{len(key_paths)} key files were given"
        )
    lines = np.empty(len(keys), dtype=np.uint64)
    bounds = np.searchsorted(shards, np.arange(len(key_paths) + 1, dtype=np.uint64))
    for shard, key_path in enumerate(key_paths):
        part = slice(bounds[shard], bounds[shard + 1])
        if part.stop > part.start:
            lines[part] = _lines_of(key_path, ordinals[part])
    return lines
