import json

import xxhash

from indw.clean import clean_chunk
from indw.config import CleaningConfig, PipelineConfig
from indw.gates import GateConfig
from indw.normalize import dedup_key_text, normalize_text
from indw.shards import Chunk

# These texts are too short for the quality gates, which tests/test_gates*.py
# cover; here they would drop every document before the step under test.
GATES_OFF = GateConfig(enabled=False)
CONFIG = PipelineConfig(cleaning=CleaningConfig(min_chars=10), gates=GATES_OFF)


def run_chunk(lines, config=CONFIG):
    return clean_chunk(Chunk(0, 1, lines), config, "test.jsonl")


def test_normalize_composes_combining_accent():
    assert normalize_text("Cafe\u0301") == "Caf\u00e9"


def test_normalize_removes_controls_keeps_tab_newline():
    assert normalize_text("a\x00b\tc\nd\x1be\x7f\x85") == "ab\tc\nde"


def test_normalize_line_endings_and_trailing_spaces():
    assert normalize_text("\n\none  \r\ntwo\t\rthree \n\n") == "one\ntwo\nthree"


def test_control_between_base_and_accent_still_composes():
    assert normalize_text("e\x00\u0301") == "\u00e9"


def test_dedup_key_folds_width_and_zero_width():
    assert dedup_key_text("\uff21b\u200bc", "NFKC", True) == "Abc"
    assert dedup_key_text("\uff21b\u200bc", "NFC", False) == "\uff21b\u200bc"


def test_cafe_spellings_share_a_key():
    first = run_chunk(
        [json.dumps({"text": "Caf\u00e9 au lait, s'il vous plait"}).encode()]
    )
    second = run_chunk(
        [json.dumps({"text": "Cafe\u0301 au lait, s'il vous plait"}).encode()]
    )
    assert first.key_hi == second.key_hi
    assert first.key_lo == second.key_lo
    assert first.kept == second.kept


def test_kept_record_keeps_other_fields_in_order():
    line = json.dumps({"z": 1, "text": "Cafe\u0301 " * 5, "a": [1, 2.5, None]})
    result = run_chunk([line.encode()])
    assert result.kept == [
        '{"z":1,"text":"Café Café Café Café Café","a":[1,2.5,null]}\n'.encode()
    ]


def test_key_is_xxh128_of_key_text():
    text = "An ordinary document of some length."
    result = run_chunk([json.dumps({"text": text}).encode()])
    key = xxhash.xxh3_128_intdigest(text.encode())
    assert (result.key_hi[0], result.key_lo[0]) == (key >> 64, key & (2**64 - 1))


def test_empty_and_short_dropped_with_reason():
    result = run_chunk(
        [
            json.dumps({"text": ""}).encode(),
            json.dumps({"text": " \n\t "}).encode(),
            json.dumps({"text": "tiny"}).encode(),
        ]
    )
    assert result.counts["dropped_empty"] == 2
    assert result.counts["dropped_too_short"] == 1
    assert result.kept == []
    reasons = [json.loads(line)["reason"] for line in result.rejected]
    assert reasons == ["empty", "empty", "too_short"]
    assert json.loads(result.rejected[2])["line"] == 3


def test_quarantine_reasons_by_kind():
    lines = [
        b'"just a string"',
        b"[1, 2]",
        b"42",
        b"true",
        b"null",
        b'{"id": 1}',
        b'{"text": null}',
        b'{"text": 5}',
        b"{not json",
        b'{"text": "caf\xe9 latin-1 byte"}',
        b'{"text": "lone \\ud800 surrogate in a long enough text"}',
        b'{"text": NaN}',
    ]
    result = run_chunk(lines)
    reasons = [json.loads(line)["reason"] for line in result.quarantined]
    assert reasons == [
        "record_is_string",
        "record_is_array",
        "record_is_number",
        "record_is_boolean",
        "record_is_null",
        "text_missing",
        "text_null",
        "text_not_string",
        "invalid_json",
        "invalid_utf8",
        "lone_surrogate",
        "invalid_json",
    ]
    assert [json.loads(line)["line"] for line in result.quarantined] == list(
        range(1, 13)
    )
    assert "byte 13" in json.loads(result.quarantined[9])["error"]
    assert result.counts["quarantined"] == 12
    assert result.counts["read"] == 12


def test_invalid_utf8_replace_setting_repairs():
    config = PipelineConfig(
        cleaning=CleaningConfig(min_chars=10, invalid_utf8="replace"), gates=GATES_OFF
    )
    result = run_chunk([b'{"text": "caf\xe9 with a bad byte"}'], config)
    assert result.quarantined == []
    assert json.loads(result.kept[0])["text"] == "caf\ufffd with a bad byte"


def test_blank_lines_counted_not_read():
    result = run_chunk([b"", b"   ", b"\t", json.dumps({"text": "x" * 20}).encode()])
    assert result.counts["blank_lines"] == 3
    assert result.counts["read"] == 1
    assert result.kept_lines == [4]
