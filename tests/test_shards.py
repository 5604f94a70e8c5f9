import gzip
import logging
import os

import pytest
import zstandard

from indw.shards import ShardReadError, iter_chunks, iter_lines, list_shards, shard_name

LINES = [f'{{"text": "line {i}"}}'.encode() for i in range(50)]
DATA = b"".join(line + b"\n" for line in LINES)


def read_all(path):
    return [line for _, line in iter_lines(path)]


def test_list_shards_sorts_by_name_bytes(tmp_path):
    for name in ["b.jsonl", "a.jsonl.zst", "B.jsonl.gz", "notes.txt", "a2.jsonl"]:
        (tmp_path / name).write_bytes(b"")
    names = [path.name for path in list_shards(tmp_path)]
    assert names == ["B.jsonl.gz", "a.jsonl.zst", "a2.jsonl", "b.jsonl"]


def test_list_shards_rejects_same_name(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(b"")
    (tmp_path / "a.jsonl.zst").write_bytes(b"")
    with pytest.raises(ValueError, match="same name"):
        list_shards(tmp_path)


def test_shard_name_strips_suffix():
    assert shard_name("x/shard 01.jsonl.zst") == "shard 01"
    assert shard_name("x/s.jsonl.gz") == "s"
    assert shard_name("s.jsonl") == "s"


def test_zstd_several_frames_all_read(tmp_path):
    compressor = zstandard.ZstdCompressor()
    path = tmp_path / "s.jsonl.zst"
    path.write_bytes(compressor.compress(DATA[:100]) + compressor.compress(DATA[100:]))
    assert read_all(path) == LINES


def test_zstd_from_pipe_without_content_size(tmp_path):
    path = tmp_path / "s.jsonl.zst"
    compressor = zstandard.ZstdCompressor(write_content_size=False)
    path.write_bytes(compressor.compress(DATA))
    assert read_all(path) == LINES


def test_zstd_long_window_frame(tmp_path):
    # A streamed frame keeps its 2 GiB window, as `cat f | zstd --long=31` writes.
    path = tmp_path / "s.jsonl.zst"
    params = zstandard.ZstdCompressionParameters.from_level(
        3, window_log=31, enable_ldm=True
    )
    compressor = zstandard.ZstdCompressor(compression_params=params)
    with compressor.stream_writer(path.open("wb")) as writer:
        writer.write(DATA)
    assert zstandard.get_frame_parameters(path.read_bytes()).window_size == 1 << 31
    with pytest.raises(zstandard.ZstdError, match="too much memory"):
        zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes())
    assert read_all(path) == LINES


def test_gzip_and_plain_read(tmp_path):
    gz = tmp_path / "s.jsonl.gz"
    gz.write_bytes(gzip.compress(DATA))
    plain = tmp_path / "p.jsonl"
    plain.write_bytes(DATA)
    assert read_all(gz) == LINES
    assert read_all(plain) == LINES


def test_truncated_zstd_names_file(tmp_path):
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(DATA * 20)[:-10])
    with pytest.raises(ShardReadError, match="cut.jsonl.zst"):
        read_all(path)


def test_truncated_gzip_names_file(tmp_path):
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(DATA * 20)[:-10])
    with pytest.raises(ShardReadError, match="cut.jsonl.gz"):
        read_all(path)


def test_last_line_without_newline_is_read(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(DATA + b'{"text": "tail"}')
    assert read_all(path)[-1] == b'{"text": "tail"}'


@pytest.mark.parametrize("chunk_size", [1, 7, 50, 1000])
def test_chunks_cover_lines_in_order(tmp_path, chunk_size):
    path = tmp_path / "s.jsonl"
    path.write_bytes(DATA)
    chunks = list(iter_chunks(path, chunk_size))
    assert [line for chunk in chunks for line in chunk.lines] == LINES
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert len(chunk.lines) <= chunk_size
        assert chunk.first_line == chunk.index * chunk_size + 1


@pytest.mark.parametrize("kind", ["broken_link", "folder", "pipe"])
def test_list_shards_rejects_unreadable_shard_name(tmp_path, kind):
    (tmp_path / "a.jsonl.zst").write_bytes(b"")
    not_a_file = tmp_path / "b.jsonl.zst"
    if kind == "broken_link":
        not_a_file.symlink_to(tmp_path / "missing.jsonl.zst")
    elif kind == "folder":
        not_a_file.mkdir()
    else:
        os.mkfifo(not_a_file)
    with pytest.raises(ValueError, match="b.jsonl.zst is not a regular file"):
        list_shards(tmp_path)


def test_list_shards_warns_about_misnamed_shards(tmp_path, caplog):
    for name in [
        "a.jsonl.zst",
        "B.JSONL.ZST",
        "c.json.zst",
        "d.jsonl.zstd",
        "notes.txt",
    ]:
        (tmp_path / name).write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="indw.shards"):
        names = [path.name for path in list_shards(tmp_path)]
    assert names == ["a.jsonl.zst"]
    assert "ignoring 3 file(s)" in caplog.text
    for name in ["B.JSONL.ZST", "c.json.zst", "d.jsonl.zstd"]:
        assert repr(name) in caplog.text
    assert "notes.txt" not in caplog.text
