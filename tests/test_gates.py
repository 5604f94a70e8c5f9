"""Gate settings, the order of the families and the reason recorded."""

import json
import re
from dataclasses import fields, replace

import pytest
import yaml
from conftest import REPOSITORY
from gate_texts import distinct_words, prose

from indw.clean import clean_chunk
from indw.config import ConfigError, PipelineConfig, load_config, validate_config
from indw.gates import FAMILIES, REASONS, GateConfig, apply_gates
from indw.normalize import normalize_text
from indw.shards import Chunk, iter_lines, list_shards

SCHEMA = yaml.safe_load(
    (REPOSITORY / "workflow" / "schemas" / "gates.schema.yaml").read_text()
)


def test_empty_mapping_gives_defaults():
    assert GateConfig.from_mapping({}) == GateConfig()
    assert GateConfig().enabled
    assert all(getattr(GateConfig(), name).enabled for name in FAMILIES)


def test_schema_defaults_match_dataclasses():
    defaults = GateConfig()
    assert SCHEMA["properties"]["enabled"]["default"] == defaults.enabled
    assert SCHEMA["properties"]["order"]["default"] == list(defaults.order)
    for name in FAMILIES:
        family = getattr(defaults, name)
        properties = SCHEMA["properties"][name]["properties"]
        assert set(properties) == {item.name for item in fields(family)}, name
        for key, spec in properties.items():
            value = getattr(family, key)
            expected = list(value) if isinstance(value, tuple) else value
            assert spec["default"] == expected, f"{name}.{key}"


def test_shipped_config_runs_every_gate_with_defaults():
    config = load_config(REPOSITORY / "config" / "config.yaml")
    assert GateConfig.from_mapping(config["gates"]) == GateConfig()


def test_round_trip_through_json():
    config = GateConfig.from_mapping(
        {
            "order": ["gopher_repetition", "c4", "fineweb", "gopher_quality"],
            "c4": {"enabled": False, "min_sentences": 3},
            "gopher_quality": {"stop_words": ["der", "die"], "max_words": None},
        }
    )
    assert config.c4.min_sentences == 3
    assert config.gopher_quality.stop_words == ("der", "die")
    pipeline = PipelineConfig(gates=config)
    assert PipelineConfig.from_json(pipeline.to_json()).gates == config
    assert GateConfig.from_mapping(json.loads(json.dumps(config.to_dict()))) == config


def test_reasons_are_unique_snake_case_words():
    assert len(REASONS) == len(set(REASONS))
    for reason in REASONS:
        assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", reason), reason
    assert "gopher_repetition_top_2gram" in REASONS
    assert "gopher_repetition_duplicate_10gram" in REASONS


def test_unknown_key_names_key():
    with pytest.raises(ValueError, match="gates.c4.min_sentence "):
        GateConfig.from_mapping({"c4": {"min_sentence": 3}})
    with pytest.raises(ValueError, match="gates.gopher "):
        GateConfig.from_mapping({"gopher": {}})
    with pytest.raises(ConfigError, match="gates.c4.min_sentence"):
        PipelineConfig.from_config({"gates": {"c4": {"min_sentence": 3}}})


def test_order_must_list_each_family_once():
    with pytest.raises(ValueError, match="gates.order"):
        GateConfig(order=("c4", "c4", "fineweb", "gopher_quality"))
    with pytest.raises(ValueError, match="gates.order"):
        GateConfig(order=("c4",))


@pytest.mark.parametrize(
    "gates,key",
    [
        ({"c4": {"min_sentences": "five"}}, "gates.c4.min_sentences"),
        ({"fineweb": {"max_short_lines": -0.1}}, "gates.fineweb.max_short_lines"),
        ({"order": ["c4", "fineweb", "gopher_quality"]}, "gates.order"),
        ({"gopher_quality": {"stop_words": ["two words"]}}, "gates.gopher_quality"),
        ({"gopher_repetition": {"max_top_5gram_chars": 0.1}}, "gates.gopher_rep"),
    ],
)
def test_schema_rejects_bad_value_naming_key(gates, key):
    with pytest.raises(ConfigError, match=re.escape(key)):
        validate_config({"input_dir": "x", "gates": gates})


def test_switched_off_gates_pass_everything():
    text = "x"
    assert apply_gates(text, GateConfig(enabled=False)) == (text, None)
    families_off = {name: {"enabled": False} for name in FAMILIES}
    assert apply_gates(text, GateConfig.from_mapping(families_off)) == (text, None)


def test_family_switch_removes_its_reason():
    text = prose(7) + "\nThe map {a: 1} is shown."
    assert apply_gates(text, GateConfig())[1] == "c4_curly_brace"
    config = GateConfig.from_mapping({"c4": {"drop_curly_brace": False}})
    assert apply_gates(text, config)[1] is None
    config = GateConfig.from_mapping({"c4": {"enabled": False}})
    assert apply_gates(text, config) == (text, None)


def test_first_family_in_order_names_reason():
    # Too few words for Gopher and too few sentences for C4.
    text = "One two three.\nFour five six."
    default = GateConfig()
    assert apply_gates(text, default)[1] == "c4_too_few_sentences"
    gopher_first = ("gopher_quality", "c4", "fineweb", "gopher_repetition")
    config = replace(default, order=gopher_first)
    assert apply_gates(text, config)[1] == "gopher_word_count"


def test_dropped_text_unchanged_kept_text_trimmed():
    text = prose(6) + "\nA heading without a stop"
    output, reason = apply_gates(text, GateConfig())
    assert reason is None
    assert output == prose(6)
    dropped = text + "\nlorem ipsum is here."
    assert apply_gates(dropped, GateConfig()) == (dropped, "c4_lorem_ipsum")


def shipped_texts(count: int) -> list[str]:
    texts = []
    for shard in list_shards(REPOSITORY / "data" / "corpus"):
        for _, line in iter_lines(shard):
            texts.append(normalize_text(json.loads(line)["text"]))
            if len(texts) == count:
                return texts
    return texts


def test_kept_set_does_not_depend_on_order():
    texts = shipped_texts(400)
    default = GateConfig().order
    orders = [
        default,
        default[::-1],
        default[1:] + default[:1],
        default[2:] + default[:2],
    ]
    results = {}
    for order in orders:
        config = replace(GateConfig(), order=order)
        outcome = [apply_gates(text, config) for text in texts]
        results[order] = [
            output if reason is None else None for output, reason in outcome
        ]
    first = next(iter(results.values()))
    assert all(result == first for result in results.values())
    kept = sum(output is not None for output in first)
    assert 0 < kept < len(texts)


def test_clean_chunk_records_reason():
    lines = [
        json.dumps({"id": 1, "text": prose(7)}).encode(),
        json.dumps({"id": 2, "text": " ".join(distinct_words(60)) + "."}).encode(),
    ]
    result = clean_chunk(Chunk(0, 1, lines), PipelineConfig(), "test.jsonl")
    assert result.counts["kept"] == 1
    assert result.counts["dropped"] == 1
    assert result.counts["dropped_c4_too_few_sentences"] == 1
    entry = json.loads(result.rejected[0])
    assert entry["reason"] == "c4_too_few_sentences"
    assert entry["line"] == 2
    assert entry["document"]["id"] == 2


@pytest.mark.parametrize(
    "gates,message",
    [
        ({"c4": {"min_sentences": "5"}}, "gates.c4.min_sentences='5' is invalid"),
        ({"c4": {"drop_curly_brace": 1}}, "gates.c4.drop_curly_brace=1 is invalid"),
        ({"fineweb": {"short_line_length": None}}, "gates.fineweb.short_line_length"),
        ({"fineweb": {"max_short_lines": -1}}, "use a number >= 0, or null"),
        ({"gopher_quality": {"bullets": "-"}}, "use a list of strings"),
    ],
)
def test_settings_built_in_code_are_checked(gates, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        GateConfig.from_mapping(gates)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("text", ["", " ", "\n\n", "#", "...", "{"])
def test_degenerate_text_gets_a_reason_or_none(family, text):
    others_off = {name: {"enabled": name == family} for name in FAMILIES}
    output, reason = apply_gates(text, GateConfig.from_mapping(others_off))
    assert reason is None or reason in REASONS
    if reason is not None:
        assert output == text
