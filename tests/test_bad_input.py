"""Broken shards and bad lines, read and cleaned without the workflow.

Shards are real zstd files, written by the ``zstd`` command where it is
installed and by the ``zstandard`` module otherwise.
"""

import json
import logging
import shutil
import subprocess

import pytest
import zstandard

from indw.clean import ShardOutputs, clean_shard
from indw.config import CleaningConfig, PipelineConfig
from indw.gates import GateConfig
from indw.records import is_blank_line
from indw.settings import RunSettings
from indw.shards import ShardReadError, iter_lines, list_shards

ZSTD = shutil.which("zstd")
# Gates off: these tests count what happens to short made-up lines.
NO_GATES = GateConfig(enabled=False)
CONFIG = PipelineConfig(cleaning=CleaningConfig(min_chars=10), gates=NO_GATES)


def document_lines(first: int, count: int) -> list[bytes]:
    return [
        json.dumps({"id": i, "text": f"document number {i} with some words"}).encode()
        for i in range(first, first + count)
    ]


def joined(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def compress(data: bytes, checksum: bool = True) -> bytes:
    """Compress like the zstd command: a checksum and the content size."""
    if ZSTD:
        flag = "--check" if checksum else "--no-check"
        return subprocess.run(
            [ZSTD, "-q", "-c", flag], input=data, capture_output=True, check=True
        ).stdout
    return zstandard.ZstdCompressor(write_checksum=checksum).compress(data)


def compress_from_pipe(data: bytes) -> bytes:
    """Compress as a stream of unknown length: no content size in the header."""
    if ZSTD:
        # zstd reads its input from a pipe here, so it cannot know the size.
        process = subprocess.Popen(
            [ZSTD, "-q", "-c"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        output, _ = process.communicate(data)
        assert process.returncode == 0
        return output
    compressor = zstandard.ZstdCompressor(write_checksum=True)
    chunks = compressor.compressobj()
    return chunks.compress(data) + chunks.flush()


def decompress(path) -> bytes:
    with path.open("rb") as handle:
        return zstandard.ZstdDecompressor().stream_reader(handle).read()


def read_lines(path) -> list[bytes]:
    return [line for _, line in iter_lines(path)]


def clean(tmp_path, name: str, data: bytes, config=CONFIG, strict=False):
    shard = tmp_path / "in" / name
    shard.parent.mkdir(exist_ok=True)
    shard.write_bytes(data)
    outputs = ShardOutputs.under(tmp_path / "results", name.split(".")[0], False)
    run = RunSettings(backend="local", chunk_size=3, strict=strict)
    return clean_shard(shard, outputs, config, run), outputs


def quarantine_entries(outputs: ShardOutputs) -> list[dict]:
    return [json.loads(line) for line in outputs.quarantine.read_text().splitlines()]


def test_frames_of_concatenated_files_all_read(tmp_path):
    lines = document_lines(0, 30)
    parts = [joined(lines[:10]), joined(lines[10:11]), b"", joined(lines[11:])]
    path = tmp_path / "cat.jsonl.zst"
    # `cat a.zst b.zst > c.zst`, including a frame of no content at all.
    path.write_bytes(b"".join(compress(part) for part in parts))
    assert read_lines(path) == lines


def test_skippable_frames_read_without_warning(tmp_path, caplog):
    lines = document_lines(0, 20)
    # A skippable frame: magic 0x184D2A50, a 4-byte length, that many bytes.
    skippable = (0x184D2A50).to_bytes(4, "little") + (8).to_bytes(4, "little")
    skippable += bytes(8)
    parts = [compress(joined(lines[:10])), compress(joined(lines[10:]))]
    path = tmp_path / "skip.jsonl.zst"
    path.write_bytes(skippable + parts[0] + skippable + parts[1] + skippable)
    with caplog.at_level(logging.WARNING, logger="indw.shards"):
        assert read_lines(path) == lines
    assert caplog.text == ""


def test_frame_split_inside_a_line(tmp_path):
    data = joined(document_lines(0, 10))
    path = tmp_path / "split.jsonl.zst"
    path.write_bytes(compress(data[:37]) + compress(data[37:]))
    assert read_lines(path) == document_lines(0, 10)


def test_frame_from_pipe_has_no_content_size(tmp_path):
    lines = document_lines(0, 2000)
    data = compress_from_pipe(joined(lines))
    params = zstandard.get_frame_parameters(data)
    assert params.content_size == zstandard.CONTENTSIZE_UNKNOWN
    path = tmp_path / "pipe.jsonl.zst"
    path.write_bytes(data)
    assert read_lines(path) == lines


@pytest.mark.parametrize("cut", [1, 5, 100, 1000])
def test_cut_inside_frame_names_file(tmp_path, cut):
    data = compress(joined(document_lines(0, 3000)))
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(data[:-cut])
    with pytest.raises(ShardReadError, match="cut.jsonl.zst.*truncated"):
        read_lines(path)


def test_cut_inside_frame_header(tmp_path):
    path = tmp_path / "header.jsonl.zst"
    path.write_bytes(compress(b"")[:3])
    with pytest.raises(ShardReadError, match="header.jsonl.zst"):
        read_lines(path)


def test_damaged_byte_in_last_block_names_file(tmp_path):
    data = compress(joined(document_lines(0, 3000)))
    path = tmp_path / "flip.jsonl.zst"
    # The last 4 bytes are the checksum; the 40 before them end the last block.
    for position in range(len(data) - 44, len(data)):
        damaged = bytearray(data)
        damaged[position] ^= 0x10
        path.write_bytes(bytes(damaged))
        with pytest.raises(ShardReadError, match="flip.jsonl.zst"):
            read_lines(path)


def test_trailing_garbage_after_frame(tmp_path):
    path = tmp_path / "tail.jsonl.zst"
    path.write_bytes(compress(joined(document_lines(0, 5))) + b"\x00" * 16)
    with pytest.raises(ShardReadError, match="tail.jsonl.zst.*damaged"):
        read_lines(path)


def test_frame_without_checksum_logged(tmp_path, caplog):
    path = tmp_path / "nocheck.jsonl.zst"
    path.write_bytes(compress(joined(document_lines(0, 5)), checksum=False))
    with caplog.at_level(logging.WARNING, logger="indw.shards"):
        assert len(read_lines(path)) == 5
    assert "nocheck.jsonl.zst: 1 zstd frame(s) without a checksum" in caplog.text


def test_unreadable_shard_is_read_error(tmp_path):
    with pytest.raises(ShardReadError, match="gone.jsonl.zst"):
        read_lines(tmp_path / "gone.jsonl.zst")


def test_damaged_shard_leaves_no_outputs(tmp_path):
    data = compress(joined(document_lines(0, 3000)))
    with pytest.raises(ShardReadError, match="cut.jsonl.zst"):
        clean(tmp_path, "cut.jsonl.zst", data[: len(data) // 2])
    files = [path for path in (tmp_path / "results").rglob("*") if path.is_file()]
    assert files == []


def test_blank_lines_never_end_the_file(tmp_path):
    docs = document_lines(0, 4)
    lines = [b"", docs[0], b"   ", b"\t", docs[1], b"", b"", b"\r"]
    lines += ["\u00a0\u3000".encode(), docs[2], b" \x0b\x0c ", docs[3], b"", b""]
    stats, outputs = clean(tmp_path, "blank.jsonl.zst", compress(joined(lines)))
    assert stats["counts"]["blank_lines"] == 10
    assert stats["counts"]["read"] == 4
    assert stats["counts"]["kept"] == 4
    assert quarantine_entries(outputs) == []


def test_blank_line_detection():
    assert is_blank_line(b"")
    assert is_blank_line(b" \t\r")
    assert is_blank_line("\u2028\u00a0".encode())
    assert not is_blank_line(b'{"text": " "}')
    assert not is_blank_line(b"\xa0")
    assert not is_blank_line("\ufeff".encode())


def test_cut_last_record_quarantined_with_line(tmp_path):
    docs = document_lines(0, 5)
    data = joined(docs[:4]) + docs[4][:20]
    stats, outputs = clean(tmp_path, "cut.jsonl.zst", compress(data))
    entries = quarantine_entries(outputs)
    assert len(entries) == 1
    assert entries[0]["file"].endswith("cut.jsonl.zst")
    assert entries[0]["line"] == 5
    assert entries[0]["reason"] == "invalid_json"
    assert stats["counts"]["kept"] == 4


def test_cut_inside_utf8_character_quarantined(tmp_path):
    record = json.dumps({"text": "caf\u00e9 " * 5}, ensure_ascii=False).encode()
    cut = record[: record.index("\u00e9".encode()) + 1]
    stats, outputs = clean(tmp_path, "cut.jsonl.zst", compress(cut))
    entries = quarantine_entries(outputs)
    assert [entry["reason"] for entry in entries] == ["invalid_utf8"]
    assert entries[0]["line"] == 1
    assert entries[0]["error"].startswith(f"byte {len(cut) - 1} of the line")


def test_invalid_utf8_quarantined_with_offset(tmp_path):
    lines = document_lines(0, 2) + [b'{"text": "ten bytes \xff\xfe in the text"}']
    stats, outputs = clean(tmp_path, "bytes.jsonl.zst", compress(joined(lines)))
    entries = quarantine_entries(outputs)
    assert [entry["reason"] for entry in entries] == ["invalid_utf8"]
    assert entries[0]["line"] == 3
    assert entries[0]["error"].startswith("byte 20 of the line")
    assert entries[0]["raw"].startswith('{"text": "ten bytes \\xff\\xfe')
    assert stats["counts"]["kept"] == 2


def test_invalid_utf8_replace_setting(tmp_path):
    config = PipelineConfig(
        cleaning=CleaningConfig(min_chars=10, invalid_utf8="replace"), gates=NO_GATES
    )
    line = b'{"text": "ten bytes \xff\xfe in the text", "\xc3": 1}'
    stats, outputs = clean(tmp_path, "bytes.jsonl.zst", compress(line), config)
    assert quarantine_entries(outputs) == []
    assert json.loads(decompress(outputs.documents)) == {
        "text": "ten bytes \ufffd\ufffd in the text",
        "\ufffd": 1,
    }


@pytest.mark.parametrize(
    "line,reason",
    [
        (b'"a bare string"', "quarantined_record_is_string"),
        (b'["an", "array"]', "quarantined_record_is_array"),
        (b"12.5", "quarantined_record_is_number"),
        (b'{"id": 1, "body": "no text field"}', "quarantined_text_missing"),
        (b'{"text": null}', "quarantined_text_null"),
        (b'{"text": 17}', "quarantined_text_not_string"),
        (b'{"text": ""}', "dropped_empty"),
    ],
    ids=["string", "array", "number", "no-text", "null", "text-number", "empty"],
)
def test_each_kind_counted_under_reason(tmp_path, line, reason):
    lines = [line, *document_lines(0, 2)]
    stats, _ = clean(tmp_path, "kind.jsonl.zst", compress(joined(lines)))
    counts = stats["counts"]
    assert counts[reason] == 1
    assert counts["read"] == 3
    assert counts["kept"] == 2
    assert counts["read"] == counts["kept"] + counts.get("dropped", 0) + counts.get(
        "quarantined", 0
    )


@pytest.mark.parametrize(
    "number", [b"1e999", b"-1e400", b"9" * 5000], ids=["inf", "minus-inf", "long"]
)
def test_number_out_of_range_quarantined(tmp_path, number):
    line = b'{"text": "a text of enough length", "n": ' + number + b"}"
    stats, outputs = clean(tmp_path, "num.jsonl.zst", compress(line))
    assert [entry["reason"] for entry in quarantine_entries(outputs)] == [
        "number_out_of_range"
    ]
    assert stats["counts"].get("kept", 0) == 0


@pytest.mark.parametrize("data", [b"", compress(b"")], ids=["0-bytes", "empty-frame"])
def test_empty_shard_has_no_documents(tmp_path, data):
    stats, outputs = clean(tmp_path, "empty.jsonl.zst", data)
    assert stats["documents"] == 0
    assert stats["counts"] == {}
    assert outputs.stats.is_file()
    assert decompress(outputs.documents) == b""


def test_shard_of_bad_lines_only(tmp_path):
    lines = [b"{", b"[]", b'{"text": 1}', b"\xff", b"nope"]
    stats, outputs = clean(tmp_path, "bad.jsonl.zst", compress(joined(lines)))
    assert stats["documents"] == 0
    assert stats["counts"]["read"] == 5
    assert stats["counts"]["quarantined"] == 5
    assert [entry["line"] for entry in quarantine_entries(outputs)] == [1, 2, 3, 4, 5]


def test_shard_name_with_space_listed(tmp_path):
    (tmp_path / "shard 01.jsonl.zst").write_bytes(b"")
    (tmp_path / "shard 1.jsonl.zst").write_bytes(b"")
    names = [path.name for path in list_shards(tmp_path)]
    assert names == ["shard 01.jsonl.zst", "shard 1.jsonl.zst"]


def test_shard_name_with_brace_rejected(tmp_path):
    (tmp_path / "x{1}.jsonl.zst").write_bytes(b"")
    with pytest.raises(ValueError, match="contains a brace"):
        list_shards(tmp_path)


def test_shard_name_not_utf8_rejected(tmp_path):
    (tmp_path / b"bad\xff.jsonl.zst".decode("utf-8", "surrogateescape")).write_bytes(
        b""
    )
    with pytest.raises(ValueError, match="not valid UTF-8; rename the file"):
        list_shards(tmp_path)
