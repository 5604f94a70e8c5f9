#!/usr/bin/env python3
"""Build the corpus of CPython documentation that ships in ``data/corpus/``.

The input is the reStructuredText source of the Python 3.11 documentation as
Debian's ``python3.11-doc`` package installs it. Each section of each source
file becomes one document, and so does each note, "See also" list or version
note boxed at the top level of a section; markup is kept as written. The
output is byte-for-byte reproducible: files are read in sorted order, shards
are cut at fixed document counts, and every shard is one zstd frame written
at a fixed level by a single thread, with no timestamps anywhere.

``--bench DIR`` builds the larger benchmark corpus instead (see
``scripts/bench_corpus.py``).

Usage::

    python scripts/build_corpus.py                 # rebuild data/corpus/
    python scripts/build_corpus.py --out DIR       # build elsewhere
    python scripts/build_corpus.py --bench benchmarks/data/bench-corpus
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import zstandard

LOG = logging.getLogger("build_corpus")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "data" / "corpus"

SOURCE_PACKAGE = "python3.11-doc"
SOURCE_VERSION = "3.11.2-6+deb12u9"
SOURCE_DIR = Path("/usr/share/doc/python3.11/html/_sources")
# sha256 over "<relative path>\0<sha256 of content>\n" for every source file,
# in sorted path order (see tree_digest). It pins the input, not the package
# version string, so another Debian revision with identical docs still builds.
SOURCE_TREE_SHA256 = "a562bb4c7d19b6a91fd5866af451e60f3d5738d4075d922d8b4c48885dccb039"
SOURCE_SUFFIX = ".rst.txt"

# Pages of the doc set copied next to the shards; shard readers skip them
# because they do not end in .jsonl.zst.
LICENCE_FILES = ("license.rst.txt", "copyright.rst.txt")

CHECKSUM_FILE = "SHA256SUMS"

SHARD_COUNT = 8
NEAR_SHINGLE_WORDS = 5
ZSTD_LEVEL = 19

# Characters docutils accepts as section adornment.
ADORNMENT = re.compile(r"""^([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])\1{2,}\s*$""")
LABEL = re.compile(r"^\.\. _[^:]+:\s*$")
# Directives rendered as boxes apart from the running text.
BOX = re.compile(
    r"^\.\. (note|warning|seealso|availability|versionchanged|versionadded"
    r"|deprecated|deprecated-removed|important|caution|tip|attention|danger"
    r"|impl-detail|admonition)::"
)
INCLUDE = re.compile(r"^(?P<indent>[ ]*)\.\. include:: (?P<target>\S+)\s*$")


class SourceError(Exception):
    """The source tree is missing or is not the pinned version."""


@dataclass(frozen=True)
class Section:
    """One section of a source file: its title and its full text."""

    title: str
    text: str


def list_source_files(root: Path, suffix: str = SOURCE_SUFFIX) -> list[str]:
    """List the source files under ``root`` as relative POSIX paths, bytes order."""
    paths = [
        path.relative_to(root).as_posix()
        for path in root.rglob(f"*{suffix}")
        if path.is_file()
    ]
    paths.sort(key=lambda p: p.encode("utf-8", "surrogateescape"))
    return paths


def tree_digest(root: Path, files: Iterable[str]) -> str:
    """Hash the relative paths and contents of ``files`` into one sha256 hex."""
    digest = hashlib.sha256()
    for relative in files:
        content = hashlib.sha256((root / relative).read_bytes()).hexdigest()
        digest.update(f"{relative}\0{content}\n".encode())
    return digest.hexdigest()


def installed_version(package: str) -> str | None:
    """Return the installed Debian version of ``package``, or None."""
    try:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        return None
    if result.returncode != 0 or not result.stdout:
        return None
    return result.stdout.strip()


def check_source(root: Path, files: list[str], expected_digest: str) -> None:
    """Raise SourceError unless ``root`` holds the pinned documentation sources."""
    fix = (
        f"install it with `apt-get update && apt-get install -y "
        f"{SOURCE_PACKAGE}={SOURCE_VERSION}`"
    )
    if not root.is_dir():
        raise SourceError(f"source folder {root} not found; {fix}")
    if not files:
        raise SourceError(f"no *{SOURCE_SUFFIX} files under {root}; {fix}")

    digest = tree_digest(root, files)
    if digest != expected_digest:
        found = installed_version(SOURCE_PACKAGE) or "not installed"
        raise SourceError(
            f"source tree {root} has digest {digest}, expected {expected_digest} "
            f"({SOURCE_PACKAGE} {SOURCE_VERSION}; installed: {found}); {fix}, "
            "or pass --no-verify to build from this tree anyway"
        )


def expand_includes(text: str, path: str, root: Path) -> str:
    """Replace ``.. include::`` lines whose target is in the tree by its text.

    Sphinx renders an included file in place, so the rendered page repeats it.
    Targets are resolved like Sphinx does: relative to the including file, or
    to the documentation root when they start with ``/``. Targets missing from
    the tree (Sphinx copies only documents into ``_sources``) stay as written.
    """
    lines = []
    for line in text.split("\n"):
        match = INCLUDE.match(line)
        if match is None:
            lines.append(line)
            continue

        target = match["target"]
        if target.startswith("/"):
            relative = Path(target.lstrip("/"))
        else:
            relative = Path(path).parent / target
        resolved = Path(os.path.normpath(relative)).as_posix() + ".txt"
        included = root / resolved
        if resolved.startswith("..") or not included.is_file():
            lines.append(line)
            continue

        indent = match["indent"]
        body = included.read_text(encoding="utf-8").rstrip("\n")
        lines.extend(indent + part if part else part for part in body.split("\n"))
    return "\n".join(lines)


def find_headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """Find section titles as (first line, line after the title, title).

    A title is a line at column 0 followed by an adornment line, or a line
    between an overline and an underline of the same character. The line
    before a title must be blank so that a paragraph followed by a transition
    is not taken for one. Indented literal blocks never match.
    """
    headings = []
    i = 0
    while i < len(lines) - 1:
        line = lines[i]
        above_blank = i == 0 or not lines[i - 1].strip()
        over = ADORNMENT.match(line)
        if (
            over
            and above_blank
            and i + 2 < len(lines)
            and lines[i + 1].strip()
            and not ADORNMENT.match(lines[i + 1])
            and lines[i + 2].rstrip() == line.rstrip()
        ):
            headings.append((i, i + 3, lines[i + 1].strip()))
            i += 3
            continue

        if (
            line.strip()
            and not line[0].isspace()
            and not over
            and above_blank
            and ADORNMENT.match(lines[i + 1])
            and len(lines[i + 1].rstrip()) >= min(len(line.rstrip()), 4)
        ):
            headings.append((i, i + 2, line.strip()))
            i += 2
            continue
        i += 1
    return headings


def split_sections(text: str) -> list[Section]:
    """Split reStructuredText into sections, one per title at any level.

    Label lines (``.. _name:``) right above a title go with that title. A
    section with nothing under its title is joined to the next one, so a
    chapter title that opens straight into a subsection stays with it. Text
    above the first title opens the first section.
    """
    lines = text.split("\n")

    # (first line of the piece, first line after its title, title)
    pieces = [(0, 0, "")]
    for first, after, title in find_headings(lines):
        start = first
        while start > 0 and (
            not lines[start - 1].strip() or LABEL.match(lines[start - 1])
        ):
            start -= 1
        pieces.append((start, after, title))

    sections: list[Section] = []
    pending: list[str] = []
    pending_title = ""
    for number, (start, after, title) in enumerate(pieces):
        end = pieces[number + 1][0] if number + 1 < len(pieces) else len(lines)
        piece = "\n".join(lines[start:end]).strip("\n")
        if not piece.strip():
            continue

        if not pending_title:
            pending_title = title
        pending.append(piece)
        has_body = any(
            line.strip() and not LABEL.match(line) for line in lines[after:end]
        )
        # The text above the first title (page options such as
        # ``.. highlight:: c``) belongs to the page, so it opens the first
        # section instead of standing alone.
        if number > 0 and has_body:
            sections.append(Section(pending_title, "\n\n".join(pending)))
            pending = []
            pending_title = ""
    if pending:
        sections.append(Section(pending_title, "\n\n".join(pending)))
    return sections


def extract_boxes(text: str) -> tuple[str, list[tuple[str, str]]]:
    """Take the boxed blocks out of a section's text.

    A box is a directive at column 0 that Sphinx renders as a separate block
    (a note, a "See also" list, an availability or version note) and that has
    a body. Web text extractors split such blocks off a page, and they are
    where the documentation repeats itself, so each becomes its own document.
    Returns the remaining text and the boxes as (directive name, text) pairs.
    """
    lines = text.split("\n")
    kept: list[str] = []
    boxes: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        match = BOX.match(lines[i])
        if match is None or (i > 0 and lines[i - 1].strip()):
            kept.append(lines[i])
            i += 1
            continue

        end = i + 1
        while end < len(lines) and (not lines[end].strip() or lines[end][0] == " "):
            end += 1
        block = lines[i:end]
        if not any(line.strip() for line in block[1:]):
            kept.extend(block)
        else:
            boxes.append((match[1], "\n".join(block).strip("\n")))
        i = end

    remaining = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n")
    return remaining, boxes


def iter_documents(root: Path, files: Iterable[str]) -> Iterator[dict]:
    """Yield the records of every file, in file order then text order.

    Each section gives one ``section`` record followed by one record per box
    taken out of it, named after its directive (``note``, ``seealso``, ...).
    """
    for relative in files:
        text = (root / relative).read_text(encoding="utf-8")
        text = expand_includes(text, relative, root)
        parts = []
        for section in split_sections(text):
            remaining, boxes = extract_boxes(section.text)
            if remaining.strip():
                parts.append(("section", section.title, remaining))
            parts.extend((kind, section.title, box) for kind, box in boxes)

        for index, (kind, title, part) in enumerate(parts):
            yield {
                "id": f"{relative}#{index}",
                "text": part,
                "source": relative,
                "title": title,
                "kind": kind,
            }


def encode_record(record: dict) -> bytes:
    """Encode a record as one JSON line; key order is the record's own."""
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


def compress(data: bytes, level: int = ZSTD_LEVEL) -> bytes:
    """Compress ``data`` into one zstd frame with content size and checksum."""
    compressor = zstandard.ZstdCompressor(
        level=level,
        write_checksum=True,
        write_content_size=True,
        threads=0,
    )
    return compressor.compress(data)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary name in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def shard_bounds(count: int, shards: int) -> list[tuple[int, int]]:
    """Cut ``count`` documents into ``shards`` runs whose sizes differ by <= 1."""
    return [(count * i // shards, count * (i + 1) // shards) for i in range(shards)]


def write_shards(
    records: list[dict],
    out_dir: Path,
    shards: int = SHARD_COUNT,
    level: int = ZSTD_LEVEL,
) -> list[Path]:
    """Write ``records`` in order as ``shard-NNN.jsonl.zst`` files in ``out_dir``.

    Shard files from an earlier build that this build does not write are
    removed, so the folder holds exactly this corpus.
    """
    if shards < 1:
        raise ValueError(f"shard count must be >= 1, got {shards}")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for number, (start, end) in enumerate(shard_bounds(len(records), shards)):
        path = out_dir / f"shard-{number:03d}.jsonl.zst"
        data = b"".join(encode_record(record) for record in records[start:end])
        write_atomic(path, compress(data, level))
        written.append(path)

    for stale in sorted(out_dir.glob("shard-*.jsonl.zst")):
        if stale not in written:
            LOG.info("removing stale shard %s", stale)
            stale.unlink()
    return written


def copy_licence(source_dir: Path, out_dir: Path) -> None:
    """Copy the licence and copyright pages of the doc set beside the shards.

    The PSF License Agreement asks that its text and the PSF copyright notice
    travel with any copy. Files missing from the tree are not copied.
    """
    for name in LICENCE_FILES:
        source = source_dir / name
        if source.is_file():
            write_atomic(out_dir / name, source.read_bytes())


def write_checksums(out_dir: Path) -> None:
    """Write ``SHA256SUMS`` for the shards and licence files, as sha256sum does.

    ``cd data/corpus && sha256sum -c SHA256SUMS`` checks a copy without the
    Debian package.
    """
    names = sorted(
        (path.name for path in out_dir.iterdir() if path.name != CHECKSUM_FILE),
        key=str.encode,
    )
    lines = [
        f"{hashlib.sha256((out_dir / name).read_bytes()).hexdigest()}  {name}\n"
        for name in names
        if (out_dir / name).is_file() and not name.startswith(".")
    ]
    write_atomic(out_dir / CHECKSUM_FILE, "".join(lines).encode())


def build_corpus(
    source_dir: Path,
    out_dir: Path,
    shards: int = SHARD_COUNT,
    expected_digest: str | None = SOURCE_TREE_SHA256,
) -> list[Path]:
    """Build the shipped corpus from ``source_dir`` into ``out_dir``.

    ``expected_digest=None`` skips the source version check, for building
    from another tree (tests use a small fixture tree).
    """
    files = list_source_files(source_dir)
    if expected_digest is not None:
        check_source(source_dir, files, expected_digest)
    records = list(iter_documents(source_dir, files))
    paths = write_shards(records, out_dir, shards)
    copy_licence(source_dir, out_dir)
    write_checksums(out_dir)
    LOG.info(
        "wrote %d documents from %d files into %d shards in %s",
        len(records),
        len(files),
        len(paths),
        out_dir,
    )
    return paths


def read_corpus(folder: Path) -> Iterator[dict]:
    """Yield the records of every ``*.jsonl.zst`` shard in ``folder``, in order."""
    paths = sorted(folder.glob("*.jsonl.zst"), key=lambda p: p.name.encode())
    decompressor = zstandard.ZstdDecompressor()
    for path in paths:
        data = decompressor.decompress(path.read_bytes())
        for line in data.splitlines():
            yield json.loads(line)


def shingle_hashes(text: str, width: int = NEAR_SHINGLE_WORDS) -> set[int]:
    """Hash every run of ``width`` words of ``text`` to a 64-bit integer."""
    words = text.split()
    runs = [words[i : i + width] for i in range(max(1, len(words) - width + 1))]
    return {
        int.from_bytes(
            hashlib.blake2b(" ".join(run).encode(), digest_size=8).digest(), "big"
        )
        for run in runs
    }


def count_near_duplicates(texts: list[str], threshold: float) -> int:
    """Count texts whose word-shingle Jaccard with an earlier text is >= threshold.

    Candidates come from MinHash banding (16 bands of 4 rows), so a pair with a
    Jaccard near the threshold may be missed: the count is an estimate from
    below. Exact duplicates are not counted. Each candidate pair is checked on
    its real shingle sets.
    """
    import numpy as np

    # Multiply-add hashing modulo 2**64 (numpy's uint64 wraps around).
    rng = np.random.default_rng(0)
    a = rng.integers(1, 2**63, size=(64, 1), dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, size=(64, 1), dtype=np.uint64)

    shingles = [shingle_hashes(text) for text in texts]
    buckets: dict[tuple, list[int]] = {}
    near = 0
    seen_texts: set[str] = set()
    for index, values in enumerate(shingles):
        text = texts[index]
        exact = text in seen_texts
        seen_texts.add(text)
        column = np.fromiter(values, dtype=np.uint64, count=len(values))
        signature = (column[None, :] * a + b).min(axis=1).tolist()
        candidates = set()
        for band in range(16):
            key = (band, *signature[band * 4 : band * 4 + 4])
            candidates.update(buckets.setdefault(key, []))
            buckets[key].append(index)
        if exact:
            continue
        for other in candidates:
            union = len(values | shingles[other])
            if union and len(values & shingles[other]) / union >= threshold:
                near += 1
                break
    return near


def report_corpus(folder: Path, near_threshold: float = 0.8) -> dict:
    """Count the documents, bytes and duplicates of the corpus in ``folder``."""
    records = list(read_corpus(folder))
    texts = [record["text"] for record in records]
    words = sorted(len(text.split()) for text in texts)
    counts: dict[str, int] = {}
    for text in texts:
        counts[text] = counts.get(text, 0) + 1
    groups = [count for count in counts.values() if count > 1]
    shards = sorted(folder.glob("*.jsonl.zst"))
    return {
        "shards": len(shards),
        "documents": len(records),
        "text_bytes": sum(len(text.encode()) for text in texts),
        "jsonl_bytes": sum(len(encode_record(record)) for record in records),
        "compressed_bytes": sum(path.stat().st_size for path in shards),
        "median_words": words[len(words) // 2] if words else 0,
        "under_50_words": sum(1 for count in words if count < 50),
        "under_50_chars": sum(1 for text in texts if len(text) < 50),
        "exact_duplicate_groups": len(groups),
        "exact_duplicates": sum(count - 1 for count in groups),
        "near_duplicate_threshold": near_threshold,
        "near_duplicates": count_near_duplicates(texts, near_threshold),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source",
        type=Path,
        default=SOURCE_DIR,
        help=f"folder of *{SOURCE_SUFFIX} sources (default: {SOURCE_DIR})",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"output folder for the shards (default: {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--shards",
        type=int,
        help=f"number of shards (default: {SHARD_COUNT}, or 16 with --bench)",
    )
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="build even when the source tree is not the pinned version",
    )
    parser.add_argument(
        "--print-digest",
        action="store_true",
        help="print the digest of the source tree and exit",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="print document, byte and duplicate counts of the corpus in DIR",
    )
    parser.add_argument(
        "--bench",
        type=Path,
        metavar="DIR",
        help="build the benchmark corpus into DIR instead (outside git)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    args = parse_args(argv)

    if args.bench is not None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import bench_corpus

        if args.shards is None:
            return bench_corpus.build(args.bench)
        return bench_corpus.build(args.bench, args.shards)

    if args.report is not None:
        print(json.dumps(report_corpus(args.report), indent=2))
        return 0

    if args.print_digest:
        print(tree_digest(args.source, list_source_files(args.source)))
        return 0

    expected = None if args.no_verify else SOURCE_TREE_SHA256
    try:
        build_corpus(args.source, args.out, args.shards or SHARD_COUNT, expected)
    except SourceError as error:
        LOG.error("%s", error)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
