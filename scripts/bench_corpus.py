"""Build a benchmark corpus of real text from Debian documentation packages.

The corpus is for throughput benchmarks, so it is written outside git
(``benchmarks/data/`` is ignored). Every source is a Debian package in main
whose documentation is free to redistribute; ``SOURCES.json`` in the output
folder records the package versions that went in. The same installed
packages give the same bytes, but nothing pins their versions, so two
machines may differ.

Run it through ``scripts/build_corpus.py --bench DIR``.
"""

from __future__ import annotations

import codecs
import gzip
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import build_corpus as corpus

LOG = logging.getLogger("bench_corpus")

BENCH_SHARDS = 16
# Level 3 is zstd's default. A benchmark corpus is rebuilt, not shipped, so
# it is compressed for speed.
BENCH_ZSTD_LEVEL = 3

HEADING_TAGS = {"h1", "h2", "h3"}
BLOCK_TAGS = {
    "p", "div", "li", "ul", "ol", "dl", "dt", "dd", "pre", "table", "tr",
    "br", "section", "article", "blockquote", "h4", "h5", "h6", "hr",
    "figcaption", "caption",
}  # fmt: skip
# Table cells stay on their row's line, separated by a space.
CELL_TAGS = {"td", "th"}
SKIPPED_TAGS = {"script", "style", "head", "noscript", "svg"}
META_CHARSET = re.compile(rb"charset=[\"']?([A-Za-z0-9_.:-]+)", re.IGNORECASE)
POD_HEADING = re.compile(r"^=head[1-2]\s", re.MULTILINE)


@dataclass(frozen=True)
class Source:
    """A folder of documentation files from one Debian package."""

    package: str
    root: Path
    pattern: str
    reader: str


SOURCES = (
    Source(
        "python3.11-doc",
        Path("/usr/share/doc/python3.11/html/_sources"),
        "*.rst.txt",
        "rst",
    ),
    Source(
        "linux-doc-6.1",
        Path("/usr/share/doc/linux-doc-6.1/html/_sources"),
        "*.rst.txt",
        "rst",
    ),
    Source(
        "linux-doc-6.1",
        Path("/usr/share/doc/linux-doc-6.1/Documentation"),
        "*.txt.gz",
        "rst",
    ),
    Source(
        "git-doc",
        Path("/usr/share/doc/git-doc"),
        "*.txt",
        "rst",
    ),
    Source(
        "perl-doc",
        Path("/usr/share/perl/5.36.0/pod"),
        "*.pod",
        "pod",
    ),
    Source(
        "postgresql-doc-15",
        Path("/usr/share/doc/postgresql-doc-15/html"),
        "*.html",
        "html",
    ),
    Source(
        "python-django-doc",
        Path("/usr/share/doc/python-django-doc/html"),
        "*.html",
        "html",
    ),
    Source(
        "python-sqlalchemy-doc",
        Path("/usr/share/doc/python-sqlalchemy-doc/rst"),
        "*.rst",
        "rst",
    ),
    Source(
        "apache2-doc",
        Path("/usr/share/doc/apache2-doc/manual"),
        "*.html",
        "html",
    ),
    Source(
        "debian-handbook",
        Path("/usr/share/doc/debian-handbook/html"),
        "*.html",
        "html",
    ),
)


class HTMLSectionParser(HTMLParser):
    """Collect the visible text of a page, cut into sections at h1 to h3.

    Block elements end a line, table cells are joined by spaces on their
    row's line, ``<pre>`` keeps its whitespace, and scripts,
    styles and the ``<head>`` are dropped. Navigation links stay, as they do
    in text extracted from web pages.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[tuple[str, str]] = []
        self._parts: list[str] = []
        self._title = ""
        self._heading: list[str] | None = None
        self._skip_depth = 0
        self._pre_depth = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag in HEADING_TAGS:
            self._flush()
            self._heading = []
            self._parts.append("\n")
        elif tag in BLOCK_TAGS:
            self._parts.append("\n")
        elif tag in CELL_TAGS:
            self._parts.append(" ")
        if tag == "pre":
            self._pre_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in HEADING_TAGS and self._heading is not None:
            # Sphinx and the Apache manual end headings with a permalink sign.
            self._title = " ".join("".join(self._heading).split()).rstrip(" ¶")
            self._heading = None
            self._parts.append("\n")
        elif tag in BLOCK_TAGS:
            self._parts.append("\n")
        if tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._pre_depth:
            self._parts.append(data.replace("\n", "\0"))
        else:
            self._parts.append(" ".join(data.split("\n")))
        if self._heading is not None:
            self._heading.append(data)

    def close(self) -> None:
        super().close()
        self._flush()

    def _flush(self) -> None:
        lines = []
        for line in "".join(self._parts).split("\n"):
            if "\0" in line:
                lines.extend(line.rstrip().split("\0"))
            else:
                lines.append(" ".join(line.split()))
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
        if text.strip():
            self.sections.append((self._title, text))
        self._parts = []


def read_text(path: Path) -> str:
    """Read a text file, uncompressing it first when its name ends in .gz.

    HTML is decoded with the charset its ``<meta>`` tag names (the Apache
    manual has EUC-KR and ISO-8859-1 pages); everything else as UTF-8.
    Undecodable bytes become U+FFFD.
    """
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    encoding = "utf-8"
    if path.name.endswith(".html"):
        match = META_CHARSET.search(data[:4096])
        if match:
            try:
                encoding = codecs.lookup(match[1].decode("ascii")).name
            except LookupError:
                LOG.warning("%s: unknown charset %r, reading as UTF-8", path, match[1])
    return data.decode(encoding, errors="replace")


def split_html(text: str) -> list[tuple[str, str]]:
    parser = HTMLSectionParser()
    parser.feed(text)
    parser.close()
    return parser.sections


def split_rst(text: str) -> list[tuple[str, str]]:
    return [(section.title, section.text) for section in corpus.split_sections(text)]


def split_pod(text: str) -> list[tuple[str, str]]:
    """Cut POD at ``=head1`` and ``=head2`` lines, keeping each with its body."""
    starts = [0] + [match.start() for match in POD_HEADING.finditer(text)]
    sections = []
    for number, start in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else len(text)
        piece = text[start:end].strip("\n")
        if not piece.strip():
            continue
        first = piece.split("\n", 1)[0]
        words = first.split(None, 1)
        title = words[1] if first.startswith("=head") and len(words) > 1 else ""
        sections.append((title.strip(), piece))
    return sections


SPLITTERS: dict[str, Callable[[str], list[tuple[str, str]]]] = {
    "html": split_html,
    "rst": split_rst,
    "pod": split_pod,
}


def missing_packages(sources: tuple[Source, ...]) -> list[str]:
    """Return the packages of ``sources`` whose folder is not on this machine."""
    missing = []
    for source in sources:
        if not source.root.is_dir() and source.package not in missing:
            missing.append(source.package)
    return missing


def iter_source_records(source: Source) -> Iterator[dict]:
    """Yield one record per section of every file of ``source``, in order."""
    split = SPLITTERS[source.reader]
    files = corpus.list_source_files(source.root, suffix=source.pattern[1:])
    for relative in files:
        text = read_text(source.root / relative)
        for index, (title, section) in enumerate(split(text)):
            name = f"{source.package}/{source.root.name}/{relative}"
            yield {
                "id": f"{name}#{index}",
                "text": section,
                "source": name,
                "title": title,
            }


def build(
    out_dir: Path,
    shards: int = BENCH_SHARDS,
    sources: tuple[Source, ...] = SOURCES,
) -> int:
    """Build the benchmark corpus into ``out_dir``; return an exit status."""
    missing = missing_packages(sources)
    if missing:
        LOG.error(
            "documentation packages not installed: %s; install them with "
            "`apt-get update && apt-get install -y --no-install-recommends %s`",
            ", ".join(missing),
            " ".join(missing),
        )
        return 2

    started = time.monotonic()
    records: list[dict] = []
    summary = []
    for source in sources:
        before = len(records)
        records.extend(iter_source_records(source))
        text_bytes = sum(len(r["text"].encode()) for r in records[before:])
        summary.append(
            {
                "package": source.package,
                "version": corpus.installed_version(source.package),
                "folder": str(source.root),
                "pattern": source.pattern,
                "documents": len(records) - before,
                "text_bytes": text_bytes,
            }
        )
        LOG.info(
            "%s %s: %d documents, %.1f MB of text",
            source.package,
            source.root,
            len(records) - before,
            text_bytes / 1e6,
        )

    paths = corpus.write_shards(records, out_dir, shards, level=BENCH_ZSTD_LEVEL)
    total = sum(item["text_bytes"] for item in summary)
    manifest = {"documents": len(records), "text_bytes": total, "sources": summary}
    corpus.write_atomic(
        out_dir / "SOURCES.json", (json.dumps(manifest, indent=2) + "\n").encode()
    )
    LOG.info(
        "wrote %d documents, %.1f MB of text, into %d shards in %s in %.0f s",
        len(records),
        total / 1e6,
        len(paths),
        out_dir,
        time.monotonic() - started,
    )
    return 0
