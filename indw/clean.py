"""The cleaning stage: parse, normalize and gate the documents of one shard.

``clean_chunk`` is a plain function of a chunk of lines; it knows nothing of
how it is scheduled. ``clean_shard`` reads a shard, sends its chunks through a
backend and writes the shard's outputs, all under temporary names until the
last one is complete.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xxhash
import zstandard

from indw import minhash
from indw.atomic import atomic_outputs, open_output
from indw.backends import map_ordered
from indw.config import PipelineConfig
from indw.gates import apply_gates
from indw.normalize import dedup_key_text, normalize_text
from indw.records import Rejection, is_blank_line, parse_record, serialize_record
from indw.settings import RunSettings
from indw.shards import Chunk, iter_chunks, shard_name

log = logging.getLogger(__name__)

KEY_DTYPE = np.dtype(
    [("hi", "<u8"), ("lo", "<u8"), ("ordinal", "<u8"), ("line", "<u8")]
)
ZSTD_LEVEL = 3


def _zstd_writer(handle):
    # One compressor per stream: a ZstdCompressor must not feed two streams.
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True)
    return compressor.stream_writer(handle)


RAW_EXCERPT_BYTES = 200


class StrictModeError(Exception):
    """A quarantined line in strict mode; names the file and line."""


@dataclass
class ChunkResult:
    """What cleaning one chunk produced, in input order."""

    kept: list[bytes] = field(default_factory=list)
    kept_lines: list[int] = field(default_factory=list)
    key_hi: list[int] = field(default_factory=list)
    key_lo: list[int] = field(default_factory=list)
    signatures: list[np.ndarray] = field(default_factory=list)
    rejected: list[bytes] = field(default_factory=list)
    quarantined: list[bytes] = field(default_factory=list)
    first_quarantined: str | None = None
    counts: Counter = field(default_factory=Counter)


def _json_line(value: dict) -> bytes:
    return (
        json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(
            "utf-8", "backslashreplace"
        )
        + b"\n"
    )


def _quarantine(
    result: ChunkResult, source: str, line_number: int, raw: bytes, why: Rejection
) -> None:
    result.counts["quarantined"] += 1
    result.counts[f"quarantined_{why.reason}"] += 1
    entry = {
        "file": source,
        "line": line_number,
        "reason": why.reason,
        "error": why.detail,
        "raw": raw[:RAW_EXCERPT_BYTES].decode("utf-8", "backslashreplace"),
    }
    result.quarantined.append(_json_line(entry))
    if result.first_quarantined is None:
        result.first_quarantined = f"{source}:{line_number}: {why.reason}"


def clean_chunk(chunk: Chunk, config: PipelineConfig, source: str) -> ChunkResult:
    """Clean one chunk of a shard's lines; ``source`` names the shard file."""
    result = ChunkResult()
    cleaning = config.cleaning
    key_config = config.dedup_key
    near = config.near_dedup

    for offset, raw in enumerate(chunk.lines):
        line_number = chunk.first_line + offset
        if is_blank_line(raw):
            result.counts["blank_lines"] += 1
            continue
        result.counts["read"] += 1

        record = parse_record(raw, cleaning.invalid_utf8)
        if isinstance(record, Rejection):
            _quarantine(result, source, line_number, raw, record)
            continue

        text = normalize_text(record["text"], cleaning.normalization)
        reason = None
        if not text.strip():
            reason = "empty"
        elif len(text) < cleaning.min_chars:
            reason = "too_short"
        else:
            text, reason = apply_gates(text, config.gates)

        record["text"] = text
        output = serialize_record(record)
        if isinstance(output, Rejection):
            _quarantine(result, source, line_number, raw, output)
            continue

        if reason is not None:
            result.counts["dropped"] += 1
            result.counts[f"dropped_{reason}"] += 1
            entry = {
                "file": source,
                "line": line_number,
                "reason": reason,
                "document": record,
            }
            result.rejected.append(_json_line(entry))
            continue

        key = xxhash.xxh3_128_intdigest(
            dedup_key_text(
                text, key_config.normalization, key_config.remove_zero_width
            ).encode("utf-8")
        )
        result.counts["kept"] += 1
        result.kept.append(output)
        result.kept_lines.append(line_number)
        result.key_hi.append(key >> 64)
        result.key_lo.append(key & 0xFFFFFFFFFFFFFFFF)
        if near.enabled:
            result.signatures.append(minhash.signature(text, near))

    return result


def _save_npy(handle, array: np.ndarray) -> None:
    # np.save hands a real file to ndarray.tofile, which writes past the
    # handle and reports a failed write without errno or file name.
    header = np.lib.format.header_data_from_array_1_0(array)
    np.lib.format.write_array_header_1_0(handle, header)
    handle.write(np.ascontiguousarray(array).tobytes())


def _write_npy_from_rows(
    rows_path: Path, target: Path, final: Path, count: int, width: int
) -> None:
    """Write a (count, width) .npy of signature rows from a raw row file."""
    dtype = minhash.SIGNATURE_DTYPE
    header = {
        "descr": np.lib.format.dtype_to_descr(dtype),
        "fortran_order": False,
        "shape": (count, width),
    }
    with open_output(target, final) as out, open(rows_path, "rb") as rows:
        np.lib.format.write_array_header_1_0(out, header)
        while block := rows.read(1 << 20):
            out.write(block)


@dataclass(frozen=True)
class ShardOutputs:
    """The files that cleaning one shard writes; ``stats`` is renamed last."""

    documents: Path
    keys: Path
    rejected: Path
    quarantine: Path
    stats: Path
    signatures: Path | None = None

    @classmethod
    def under(cls, results: Path | str, name: str, signatures: bool) -> ShardOutputs:
        results = Path(results)
        return cls(
            documents=results / "clean" / f"{name}.jsonl.zst",
            keys=results / "clean" / f"{name}.keys.npy",
            rejected=results / "rejected" / f"{name}.jsonl.zst",
            quarantine=results / "quarantine" / f"{name}.jsonl",
            stats=results / "clean" / f"{name}.stats.json",
            signatures=(results / "minhash" / f"{name}.npy") if signatures else None,
        )

    def paths(self) -> list[Path]:
        paths = [self.documents, self.keys, self.rejected, self.quarantine]
        if self.signatures is not None:
            paths.append(self.signatures)
        return [*paths, self.stats]


def clean_shard(
    shard: Path | str,
    outputs: ShardOutputs,
    config: PipelineConfig,
    run: RunSettings,
    threads: int = 1,
) -> dict:
    """Clean one shard and write its outputs; return its counts.

    Raises ShardReadError when the shard is damaged, StrictModeError in strict
    mode on the first quarantined line, and OutputWriteError when an output
    cannot be written. In each case no output is left under its final name.
    """
    shard = Path(shard)
    name = shard_name(shard)
    source = str(shard)
    started = time.perf_counter()
    stage = functools.partial(clean_chunk, config=config, source=source)
    chunks = iter_chunks(shard, run.chunk_size)
    counts: Counter = Counter()
    keys: list[np.ndarray] = []
    ordinal = 0

    with contextlib.ExitStack() as cleanup, atomic_outputs(*outputs.paths()) as temps:
        documents_tmp, keys_tmp, rejected_tmp, quarantine_tmp = temps[:4]
        # Signature rows go to disk as they arrive, so the job's memory does
        # not grow with the shard; they become a .npy once the count is known.
        signature_rows = None
        rows_path = temps[-1].with_name(temps[-1].name + ".signature-rows")
        cleanup.callback(rows_path.unlink, missing_ok=True)
        if outputs.signatures is not None:
            signature_rows = cleanup.enter_context(
                open_output(rows_path, outputs.signatures)
            )
        with (
            open_output(documents_tmp, outputs.documents) as documents_file,
            _zstd_writer(documents_file) as documents,
            open_output(rejected_tmp, outputs.rejected) as rejected_file,
            _zstd_writer(rejected_file) as rejected,
            open_output(quarantine_tmp, outputs.quarantine) as quarantine,
        ):
            # The dask backend spills chunks beside the outputs, on the file
            # system that its workers share with this job.
            dask_options = {"spill_dir": outputs.documents.parent}
            for result in map_ordered(stage, chunks, run, threads, dask_options):
                if run.strict and result.first_quarantined:
                    raise StrictModeError(
                        "strict mode: quarantined input line "
                        f"{result.first_quarantined}"
                    )
                counts.update(result.counts)
                documents.write(b"".join(result.kept))
                rejected.write(b"".join(result.rejected))
                quarantine.write(b"".join(result.quarantined))

                block = np.empty(len(result.kept), dtype=KEY_DTYPE)
                block["hi"] = np.array(result.key_hi, dtype=np.uint64)
                block["lo"] = np.array(result.key_lo, dtype=np.uint64)
                block["ordinal"] = np.arange(ordinal, ordinal + len(result.kept))
                block["line"] = np.array(result.kept_lines, dtype=np.uint64)
                keys.append(block)
                if signature_rows is not None and result.signatures:
                    signature_rows.write(np.stack(result.signatures).tobytes())
                ordinal += len(result.kept)

        all_keys = np.concatenate(keys) if keys else np.empty(0, dtype=KEY_DTYPE)
        order = np.lexsort((all_keys["ordinal"], all_keys["lo"], all_keys["hi"]))
        all_keys = all_keys[order]
        with open_output(keys_tmp, outputs.keys) as handle:
            _save_npy(handle, all_keys)

        if signature_rows is not None:
            signature_rows.close()
            _write_npy_from_rows(
                rows_path,
                temps[4],
                outputs.signatures,
                ordinal,
                config.near_dedup.num_perm,
            )

        stats = {
            "shard": name,
            "file": source,
            "documents": int(ordinal),
            "counts": dict(sorted(counts.items())),
        }
        with open_output(temps[-1], outputs.stats) as handle:
            handle.write(json.dumps(stats, indent=2, sort_keys=True).encode() + b"\n")

    elapsed = time.perf_counter() - started
    log.info(
        "cleaned %s: read %d, kept %d, dropped %d, quarantined %d, %.0f documents/s",
        name,
        counts["read"],
        counts["kept"],
        counts["dropped"],
        counts["quarantined"],
        counts["read"] / elapsed if elapsed > 0 else 0.0,
    )
    return stats
