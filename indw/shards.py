"""Find shards and stream their lines without holding a whole shard in memory."""

from __future__ import annotations

import gzip
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import zstandard

log = logging.getLogger(__name__)

SHARD_SUFFIXES = (".jsonl.zst", ".jsonl.gz", ".jsonl")
# Names that look like corpus data but are not read (upper case, .zstd,
# .json.zst): the run warns about them, since they may be shards misnamed.
LOOKALIKE_SUFFIXES = (".zst", ".zstd", ".gz", ".json", ".jsonl", ".ndjson")

# zstd --long=31 writes frames whose window is 2 GiB; the decoder refuses
# such frames unless it is told that it may allocate that much.
MAX_WINDOW_SIZE = 1 << 31

# The magic numbers 0x184D2A50 to 0x184D2A5F start a skippable frame.
SKIPPABLE_MAGIC = 0x184D2A50
SKIPPABLE_MAGIC_MASK = 0xFFFFFFF0

READ_SIZE = 1 << 20
# The zstd decoder returns all the output of the input it is given, so the
# compressed input goes in small pieces: one piece of highly compressible
# text can otherwise decompress to tens of megabytes at once.
COMPRESSED_READ_SIZE = 1 << 16


class ShardReadError(Exception):
    """A shard cannot be read to its end: damaged, truncated or unreadable."""

    def __init__(self, path: Path | str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read shard {self.path}: {reason}")


@dataclass(frozen=True)
class Chunk:
    """Consecutive input lines of one shard; ``lines[i]`` is line ``first_line + i``."""

    index: int
    first_line: int
    lines: list[bytes]


def _has_shard_suffix(name: str) -> bool:
    return any(name.endswith(s) and len(name) > len(s) for s in SHARD_SUFFIXES)


def shard_name(path: Path | str) -> str:
    """Return the shard's name: its file name without the shard suffix."""
    name = Path(path).name
    for suffix in SHARD_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    raise ValueError(
        f"{path} is not a shard: its name must end with one of "
        + ", ".join(SHARD_SUFFIXES)
    )


def _name_list(names: list[str], limit: int = 10) -> str:
    shown = ", ".join(repr(name) for name in names[:limit])
    if len(names) > limit:
        shown += f" and {len(names) - limit} more"
    return shown


def list_shards(input_dir: Path | str) -> list[Path]:
    """List the shards of a corpus folder in global order: file name bytes order.

    Raises FileNotFoundError when the folder does not exist, and ValueError
    when two files give the same shard name (``a.jsonl`` and ``a.jsonl.zst``),
    when a file name is not valid UTF-8 or contains a brace, or when a shard
    name is not a regular file. Logs a warning naming the files it skips
    whose names look like corpus data (``A.JSONL.ZST``, ``a.json.zst``).
    """
    folder = Path(input_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"input_dir {folder} is not a folder")
    shards = []
    lookalikes = []
    for path in folder.iterdir():
        if not _has_shard_suffix(path.name):
            if path.name.lower().endswith(LOOKALIKE_SUFFIXES):
                lookalikes.append(path.name)
            continue
        # Skipping a shard that cannot be read would drop its documents
        # without a trace, so a broken link or a folder stops the run.
        if not path.is_file():
            raise ValueError(
                f"shard {path} is not a regular file (a broken symbolic link, "
                "a folder or a pipe); restore the file or remove the name"
            )
        shards.append(path)
    if lookalikes:
        log.warning(
            "input_dir %s: ignoring %d file(s) not named like a shard (%s): %s; "
            "rename them to one of these suffixes to include them",
            folder,
            len(lookalikes),
            ", ".join("*" + suffix for suffix in SHARD_SUFFIXES),
            _name_list(sorted(lookalikes)),
        )
    shards.sort(key=lambda p: p.name.encode("utf-8", "surrogateescape"))
    for path in shards:
        # The shard name goes into JSON outputs and the manifest, which hold
        # Unicode text; bytes that are not UTF-8 have no faithful form there.
        try:
            path.name.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                f"shard file name {path.name!r} in {folder} is not valid UTF-8; "
                "rename the file"
            ) from None
        # Snakemake reads braces in a file name as a wildcard pattern.
        if "{" in path.name or "}" in path.name:
            raise ValueError(
                f"shard file name {path.name!r} in {folder} contains a brace, "
                "which Snakemake reads as a wildcard; rename the file"
            )
    seen: dict[str, Path] = {}
    for path in shards:
        name = shard_name(path)
        if name in seen:
            raise ValueError(
                f"shards {seen[name]} and {path} have the same name {name!r}; "
                "keep one of them"
            )
        seen[name] = path
    return shards


def _iter_zstd_blocks(path: Path) -> Iterator[bytes]:
    """Yield the decompressed bytes of every frame in a zstd file, in order.

    A frame that ends before its end mark, or fails its checksum, raises
    ShardReadError, so a truncated shard is never taken for a complete one.
    A frame written without a checksum can hide a changed byte that still
    decodes; such a shard is logged as a warning once.
    """
    with open(path, "rb") as handle:
        decoder = None
        pending = b""
        offset = 0
        unchecked_frames = 0
        while True:
            data = pending or handle.read(COMPRESSED_READ_SIZE)
            pending = b""
            if not data:
                break
            if decoder is None:
                decoder = zstandard.ZstdDecompressor(
                    max_window_size=MAX_WINDOW_SIZE
                ).decompressobj()
                if not _has_checksum(data):
                    unchecked_frames += 1
            try:
                out = decoder.decompress(data)
            except zstandard.ZstdError as error:
                raise ShardReadError(
                    path, f"damaged zstd data near compressed byte {offset}: {error}"
                ) from None
            if out:
                yield out
            if decoder.eof:
                pending = decoder.unused_data
                offset += len(data) - len(pending)
                decoder = None
            else:
                offset += len(data)
        if decoder is not None:
            raise ShardReadError(
                path, f"truncated: the last zstd frame ends early at byte {offset}"
            )
        if unchecked_frames:
            log.warning(
                "%s: %d zstd frame(s) without a checksum, so damage inside them "
                "may go undetected; recompress the shard with the zstd command, "
                "which writes a checksum by default, to have every frame checked",
                path,
                unchecked_frames,
            )


def _has_checksum(frame_start: bytes) -> bool:
    """Return whether the frame that starts here carries a content checksum.

    A skippable frame (pzstd and the seekable format write them) holds no
    content, and a header cut short or damaged is the decoder's to report, so
    both return True.
    """
    magic = int.from_bytes(frame_start[:4], "little")
    if magic & SKIPPABLE_MAGIC_MASK == SKIPPABLE_MAGIC:
        return True
    try:
        return bool(zstandard.get_frame_parameters(frame_start).has_checksum)
    except zstandard.ZstdError:
        return True


def _iter_gzip_blocks(path: Path) -> Iterator[bytes]:
    try:
        with gzip.open(path, "rb") as handle:
            while block := handle.read(READ_SIZE):
                yield block
    except (EOFError, OSError, zlib.error) as error:
        raise ShardReadError(path, f"damaged or truncated gzip data: {error}") from None


def _iter_plain_blocks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while block := handle.read(READ_SIZE):
            yield block


def iter_blocks(path: Path | str) -> Iterator[bytes]:
    """Yield a shard's decompressed bytes in blocks, by its suffix.

    Any failure to read the file (missing, unreadable, an I/O error) raises
    ShardReadError naming it, like damaged data does.
    """
    path = Path(path)
    if path.name.endswith(".zst"):
        blocks = _iter_zstd_blocks(path)
    elif path.name.endswith(".gz"):
        blocks = _iter_gzip_blocks(path)
    else:
        blocks = _iter_plain_blocks(path)
    try:
        yield from blocks
    except OSError as error:
        raise ShardReadError(path, error.strerror or str(error)) from None


def iter_lines(path: Path | str) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, line)`` for every line, numbered from 1.

    Lines are split on ``\\n`` only and returned without it. A last line with
    no newline is yielded too. A read error raises ShardReadError before the
    lines that follow the damage, which may already have been yielded in part
    of the block; callers must treat the shard as failed, not as complete.
    """
    number = 0
    tail = b""
    for block in iter_blocks(path):
        parts = (tail + block).split(b"\n")
        tail = parts.pop()
        for line in parts:
            number += 1
            yield number, line
    if tail:
        yield number + 1, tail


def iter_chunks(path: Path | str, chunk_size: int) -> Iterator[Chunk]:
    """Yield a shard's lines in chunks of ``chunk_size`` lines, in order."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, not {chunk_size}")
    lines: list[bytes] = []
    first = 1
    index = 0
    for number, line in iter_lines(path):
        if not lines:
            first = number
        lines.append(line)
        if len(lines) >= chunk_size:
            yield Chunk(index, first, lines)
            index += 1
            lines = []
    if lines:
        yield Chunk(index, first, lines)
