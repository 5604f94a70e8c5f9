"""Tests of scripts/build_corpus.py and of the corpus it ships in data/corpus/."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest
import zstandard

REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED = REPO_ROOT / "data" / "corpus"


def load_builder():
    spec = importlib.util.spec_from_file_location(
        "build_corpus", REPO_ROOT / "scripts" / "build_corpus.py"
    )
    module = importlib.util.module_from_spec(spec)
    # dataclasses look the module up in sys.modules while the class is built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


build = load_builder()
sys.path.insert(0, str(REPO_ROOT / "scripts"))
import bench_corpus  # noqa: E402  (needs build_corpus in sys.modules)

PAGE_A = """\
.. highlight:: c

.. _top:

*********
Top title
*********

Intro paragraph of the top page, long enough to be a real document.

.. _first:

First section
=============

Body of the first section.

.. include:: ../includes/shared.rst

.. seealso::

   :func:`other` for the other way.

.. versionadded:: 3.2

Empty section
-------------

Nested section
^^^^^^^^^^^^^^

Nested body::

   Indented code
   -------------

A paragraph line
followed by text.
"""

PAGE_B = """\
Second page
===========

Text of the second page.

.. note::

   A note that the first page does not have.
"""

SHARED = """\
.. note::

   Shared note included by two pages.
"""


def make_tree(root: Path) -> Path:
    """Write a small doc set with nesting, an include and mixed-case names."""
    (root / "lib").mkdir(parents=True)
    (root / "includes").mkdir()
    (root / "lib" / "a.rst.txt").write_text(PAGE_A, encoding="utf-8")
    (root / "lib" / "B.rst.txt").write_text(PAGE_B, encoding="utf-8")
    (root / "lib" / "c.rst.txt").write_text(
        "Third\n=====\n\n.. include:: ../includes/shared.rst\n", encoding="utf-8"
    )
    (root / "includes" / "shared.rst.txt").write_text(SHARED, encoding="utf-8")
    (root / "lib" / "ignored.html").write_text("<p>not a source</p>")
    (root / "license.rst.txt").write_text("Licence text\n============\n\nPSF.\n")
    return root


def read_records(path: Path) -> list[dict]:
    data = zstandard.ZstdDecompressor().decompress(path.read_bytes())
    return [json.loads(line) for line in data.splitlines()]


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_source_files_sorted_by_bytes(tmp_path):
    tree = make_tree(tmp_path / "src")

    files = build.list_source_files(tree)

    assert files == [
        "includes/shared.rst.txt",
        "lib/B.rst.txt",
        "lib/a.rst.txt",
        "lib/c.rst.txt",
        "license.rst.txt",
    ]


def test_split_sections_titles(tmp_path):
    sections = build.split_sections(PAGE_A)

    titles = [section.title for section in sections]
    assert titles == ["Top title", "First section", "Empty section"]


def test_split_sections_keeps_labels(tmp_path):
    sections = build.split_sections(PAGE_A)

    assert sections[0].text.startswith(".. highlight:: c\n\n.. _top:\n")
    assert sections[1].text.startswith(".. _first:\n\nFirst section\n")


def test_split_sections_joins_empty_title():
    sections = build.split_sections(PAGE_A)

    last = sections[2].text
    assert last.startswith("Empty section\n-------------\n\nNested section\n")
    assert "Indented code\n   -------------" in last
    assert last.endswith("A paragraph line\nfollowed by text.")


def test_extract_boxes_with_body_only():
    text = build.split_sections(PAGE_A)[1].text

    remaining, boxes = build.extract_boxes(text)

    assert [kind for kind, _ in boxes] == ["seealso"]
    assert ".. versionadded:: 3.2" in remaining
    assert ".. seealso::" not in remaining


def test_include_expanded_in_place(tmp_path):
    tree = make_tree(tmp_path / "src")
    text = (tree / "lib" / "c.rst.txt").read_text()

    expanded = build.expand_includes(text, "lib/c.rst.txt", tree)

    assert ".. include::" not in expanded
    assert "Shared note included by two pages." in expanded


def test_build_twice_same_bytes(tmp_path):
    tree = make_tree(tmp_path / "src")

    build.build_corpus(tree, tmp_path / "first", shards=3, expected_digest=None)
    build.build_corpus(tree, tmp_path / "second", shards=3, expected_digest=None)

    first = folder_bytes(tmp_path / "first")
    second = folder_bytes(tmp_path / "second")
    assert list(first) == list(second)
    assert first == second


def test_build_shards_and_records(tmp_path):
    tree = make_tree(tmp_path / "src")
    out = tmp_path / "out"

    paths = build.build_corpus(tree, out, shards=3, expected_digest=None)

    assert [path.name for path in paths] == [
        "shard-000.jsonl.zst",
        "shard-001.jsonl.zst",
        "shard-002.jsonl.zst",
    ]
    records = [record for path in paths for record in read_records(path)]
    sizes = [len(read_records(path)) for path in paths]
    assert max(sizes) - min(sizes) <= 1
    assert [record["source"] for record in records] == sorted(
        (record["source"] for record in records), key=str.encode
    )
    assert all(
        set(record) == {"id", "text", "source", "title", "kind"} for record in records
    )
    assert len({record["id"] for record in records}) == len(records)


def test_build_finds_included_duplicate(tmp_path):
    tree = make_tree(tmp_path / "src")
    out = tmp_path / "out"

    build.build_corpus(tree, out, shards=2, expected_digest=None)

    report = build.report_corpus(out)
    assert report["documents"] == 11
    assert report["exact_duplicate_groups"] == 1
    assert report["exact_duplicates"] == 2


def test_build_frames_have_checksum(tmp_path):
    tree = make_tree(tmp_path / "src")

    paths = build.build_corpus(tree, tmp_path / "out", 2, expected_digest=None)

    for path in paths:
        data = path.read_bytes()
        params = zstandard.get_frame_parameters(data)
        assert params.has_checksum
        assert params.content_size == len(zstandard.decompress(data))


def test_build_removes_stale_shards(tmp_path):
    tree = make_tree(tmp_path / "src")
    out = tmp_path / "out"

    build.build_corpus(tree, out, shards=4, expected_digest=None)
    build.build_corpus(tree, out, shards=2, expected_digest=None)

    assert sorted(path.name for path in out.glob("shard-*")) == [
        "shard-000.jsonl.zst",
        "shard-001.jsonl.zst",
    ]
    assert "license.rst.txt" in (out / "SHA256SUMS").read_text()


def test_check_source_wrong_digest(tmp_path):
    tree = make_tree(tmp_path / "src")

    with pytest.raises(build.SourceError) as error:
        build.build_corpus(tree, tmp_path / "out", expected_digest="0" * 64)

    assert f"apt-get install -y python3.11-doc={build.SOURCE_VERSION}" in str(
        error.value
    )
    assert not (tmp_path / "out").exists()


def test_main_missing_source_exit_2(tmp_path, caplog):
    status = build.main(["--source", str(tmp_path / "none"), "--out", str(tmp_path)])

    assert status == 2
    assert "not found" in caplog.text
    assert "apt-get install" in caplog.text


def test_shipped_corpus_checksums():
    sums = (SHIPPED / "SHA256SUMS").read_text().splitlines()

    names = sorted(path.name for path in SHIPPED.iterdir())
    assert names == sorted([line.split("  ", 1)[1] for line in sums] + ["SHA256SUMS"])
    for line in sums:
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((SHIPPED / name).read_bytes()).hexdigest() == digest


def test_shipped_corpus_shape():
    shards = sorted(SHIPPED.glob("shard-*.jsonl.zst"))
    compressed = sum(path.stat().st_size for path in shards)

    assert len(shards) >= 8
    assert 1_000_000 <= compressed <= 5_000_000
    for path in shards:
        for record in read_records(path):
            assert isinstance(record["text"], str)
            assert record["id"].startswith(record["source"] + "#")


def test_shipped_corpus_rebuilds_byte_for_byte(tmp_path):
    """Rebuild data/corpus/ from the Debian package and compare every byte.

    Without the package the build must fail with the install command, and
    the checksum and shape tests above check the shipped files instead.
    INDW_CORPUS_SOURCE_REQUIRED=1 makes a missing package a failure.
    """
    out = tmp_path / "corpus"
    if not build.SOURCE_DIR.is_dir():
        assert os.environ.get("INDW_CORPUS_SOURCE_REQUIRED") != "1", (
            f"{build.SOURCE_DIR} not found; install it with `apt-get install -y "
            f"{build.SOURCE_PACKAGE}={build.SOURCE_VERSION}`"
        )
        with pytest.raises(build.SourceError, match="apt-get install"):
            build.build_corpus(build.SOURCE_DIR, out)
        return

    build.build_corpus(build.SOURCE_DIR, out)

    rebuilt = folder_bytes(out)
    shipped = folder_bytes(SHIPPED)
    assert sorted(rebuilt) == sorted(shipped)
    for name in sorted(shipped):
        if name.endswith(".jsonl.zst"):
            assert zstandard.decompress(rebuilt[name]) == zstandard.decompress(
                shipped[name]
            ), f"{name}: documents differ"
        assert rebuilt[name] == shipped[name], (
            f"{name}: same documents, different zstd bytes; libzstd is "
            f"{zstandard.ZSTD_VERSION}"
        )


PAGE_HTML = """\
<html><head><meta charset="ISO-8859-1"><title>Page</title>
<style>p { color: red }</style></head>
<body><script>var x = 1;</script>
<p>Navigation</p>
<h1>Caf\xe9 guide<a class="headerlink">\xb6</a></h1>
<p>First   paragraph
over two lines.</p>
<table><tr><td>cell a</td><td>cell b</td></tr></table>
<h2>Code</h2>
<pre>line one
    indented line</pre>
</body></html>
"""

PAGE_POD = """\
=pod

Intro.

=head1 NAME

perlfake - a fake page

=head2 Details

Some details.
"""


def make_bench_tree(root: Path) -> tuple:
    """Write one folder per reader and return matching bench sources."""
    (root / "html").mkdir(parents=True)
    (root / "html" / "page.html").write_bytes(PAGE_HTML.encode("latin-1"))
    (root / "pod").mkdir()
    (root / "pod" / "perlfake.pod").write_text(PAGE_POD)
    (root / "txt").mkdir()
    (root / "txt" / "notes.txt.gz").write_bytes(
        gzip.compress(b"Notes\n=====\n\nPlain notes.\n", mtime=0)
    )
    return (
        bench_corpus.Source("fake-html", root / "html", "*.html", "html"),
        bench_corpus.Source("fake-pod", root / "pod", "*.pod", "pod"),
        bench_corpus.Source("fake-txt", root / "txt", "*.txt.gz", "rst"),
    )


def test_html_sections_at_headings():
    sections = bench_corpus.split_html(PAGE_HTML)

    assert [title for title, _ in sections] == ["", "Caf\xe9 guide", "Code"]
    assert sections[0][1] == "Navigation"
    assert sections[1][1] == (
        "Caf\xe9 guide\xb6\n\nFirst paragraph over two lines.\n\ncell a cell b"
    )
    assert sections[2][1] == "Code\n\nline one\n    indented line"


def test_read_text_meta_charset(tmp_path):
    path = tmp_path / "page.html"
    path.write_bytes(PAGE_HTML.encode("latin-1"))

    text = bench_corpus.read_text(path)

    assert "Caf\xe9 guide" in text
    assert "\ufffd" not in text


def test_split_pod_heads():
    sections = bench_corpus.split_pod(PAGE_POD)

    assert [title for title, _ in sections] == ["", "NAME", "Details"]
    assert sections[1][1] == "=head1 NAME\n\nperlfake - a fake page"


def test_bench_build_twice_same_bytes(tmp_path):
    sources = make_bench_tree(tmp_path / "src")

    first = bench_corpus.build(tmp_path / "first", shards=2, sources=sources)
    second = bench_corpus.build(tmp_path / "second", shards=2, sources=sources)

    assert first == 0
    assert second == 0
    assert folder_bytes(tmp_path / "first") == folder_bytes(tmp_path / "second")
    manifest = json.loads((tmp_path / "first" / "SOURCES.json").read_text())
    assert [item["documents"] for item in manifest["sources"]] == [3, 3, 1]
    records = [
        record
        for path in sorted((tmp_path / "first").glob("shard-*.jsonl.zst"))
        for record in read_records(path)
    ]
    assert records[0]["id"] == "fake-html/html/page.html#0"
    assert records[-1]["text"] == "Notes\n=====\n\nPlain notes."


def test_bench_missing_package_exit_2(tmp_path, caplog):
    source = bench_corpus.Source("no-such-doc", tmp_path / "none", "*.html", "html")

    status = bench_corpus.build(tmp_path / "out", sources=(source,))

    assert status == 2
    assert "apt-get install -y --no-install-recommends no-such-doc" in caplog.text
    assert not (tmp_path / "out").exists()
