import pytest

from indw.config import ConfigError, coerce_config_strings, validate_config
from indw.settings import (
    BACKENDS,
    RunSettings,
    SettingsError,
    normalize_backend,
    resolve_run_settings,
    run_settings_environment,
)

ALIASES = {
    "mp": "multiprocess",
    "Process": "multiprocess",
    "SPAWN": "multiprocess",
    "threads": "thread",
    "threaded": "thread",
    "sync": "local",
    "inline": "local",
    "direct": "local",
    "distributed": "dask",
    "Cluster": "dask",
}


@pytest.mark.parametrize("alias,canonical", sorted(ALIASES.items()))
def test_backend_alias_maps_to_canonical(alias, canonical):
    assert normalize_backend(alias) == canonical


@pytest.mark.parametrize("name", BACKENDS)
def test_canonical_backend_maps_to_itself(name):
    assert normalize_backend(name.upper()) == name


def test_bogus_backend_names_choices():
    with pytest.raises(SettingsError) as caught:
        resolve_run_settings({}, {"INSTANT_PIPELINE_BACKEND": "bogus"})
    message = str(caught.value)
    assert "INSTANT_PIPELINE_BACKEND" in message
    assert "'bogus'" in message
    for name in BACKENDS:
        assert name in message


@pytest.mark.parametrize("value", ["0", "-3", "two", "1.5", ""])
def test_bad_worker_count_names_variable(value):
    if value == "":
        # An empty variable counts as unset.
        assert (
            resolve_run_settings({}, {"INSTANT_PIPELINE_WORKERS": ""}).workers is None
        )
        return
    with pytest.raises(SettingsError, match="INSTANT_PIPELINE_WORKERS"):
        resolve_run_settings({}, {"INSTANT_PIPELINE_WORKERS": value})


def test_bad_chunk_size_in_config_names_key():
    with pytest.raises(SettingsError, match="chunk_size"):
        resolve_run_settings({"chunk_size": 0}, {})


def test_environment_overrides_config():
    settings = resolve_run_settings(
        {"backend": "thread", "workers": 3, "chunk_size": 7},
        {"INSTANT_PIPELINE_BACKEND": "sync", "INSTANT_PIPELINE_CHUNK_SIZE": "11"},
    )
    assert settings.backend == "local"
    assert settings.workers == 3
    assert settings.chunk_size == 11


def test_scheduler_falls_back_to_dask_variable():
    settings = resolve_run_settings({}, {"DASK_SCHEDULER_ADDRESS": "tcp://127.0.0.1:1"})
    assert settings.dask_scheduler == "tcp://127.0.0.1:1"
    named = resolve_run_settings(
        {},
        {
            "DASK_SCHEDULER_ADDRESS": "tcp://127.0.0.1:1",
            "INSTANT_DASK_SCHEDULER": "tcp://127.0.0.1:2",
        },
    )
    assert named.dask_scheduler == "tcp://127.0.0.1:2"


def test_workers_default_to_threads():
    assert RunSettings().effective_workers(threads=4) == 4
    assert RunSettings(workers=2).effective_workers(threads=4) == 2


def test_environment_round_trip():
    settings = RunSettings(backend="thread", workers=2, chunk_size=9, strict=True)
    assert resolve_run_settings({}, run_settings_environment(settings)) == settings


def test_probe_fills_unset_values_only():
    probed = resolve_run_settings({}, {"INSTANT_MERGE_HW_PROBE": "1"})
    assert probed.workers >= 1
    assert probed.chunk_size >= 1
    explicit = resolve_run_settings(
        {"workers": 3},
        {"INSTANT_MERGE_HW_PROBE": "1", "INSTANT_PIPELINE_CHUNK_SIZE": "9"},
    )
    assert explicit.workers == 3
    assert explicit.chunk_size == 9


def test_probe_chunk_size_follows_memory():
    from indw.probe import MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, choose

    small = choose(2, 256 * 2**20)
    large = choose(2, 64 * 2**30)
    assert small.chunk_size < large.chunk_size
    assert MIN_CHUNK_SIZE <= small.chunk_size <= MAX_CHUNK_SIZE
    assert large.chunk_size == MAX_CHUNK_SIZE
    assert choose(4, None).workers == 4


def test_schema_defaults_match_dataclasses():
    import yaml

    from indw.config import CleaningConfig, DedupKeyConfig, ExactDedupConfig
    from indw.runner import REPOSITORY

    schema = yaml.safe_load(
        (REPOSITORY / "workflow" / "schemas" / "config.schema.yaml").read_text()
    )
    sections = {
        "cleaning": CleaningConfig(),
        "dedup_key": DedupKeyConfig(),
        "exact_dedup": ExactDedupConfig(),
    }
    for section, defaults in sections.items():
        properties = schema["properties"][section]["properties"]
        for key, spec in properties.items():
            assert spec["default"] == getattr(defaults, key), f"{section}.{key}"


def test_config_strings_parsed_where_schema_expects_other():
    config = {
        "input_dir": "123",
        "strict": "true",
        "workers": "3",
        "gates": {"enabled": "false", "c4": {"min_sentences": "4"}},
        "exact_dedup": {"buckets": "8"},
        "cleaning": {"normalization": "NFC"},
    }
    coerced = coerce_config_strings(config)
    assert coerced["input_dir"] == "123"
    assert coerced["strict"] is True
    assert coerced["workers"] == 3
    assert coerced["gates"]["enabled"] is False
    assert coerced["gates"]["c4"]["min_sentences"] == 4
    assert coerced["exact_dedup"]["buckets"] == 8
    assert coerced["cleaning"]["normalization"] == "NFC"
    validate_config(coerced)


def test_config_string_not_parsed_stays_invalid():
    coerced = coerce_config_strings({"input_dir": "x", "workers": "three"})
    with pytest.raises(ConfigError, match="workers"):
        validate_config(coerced)
