"""Settings that shape the output, read from the workflow config.

These settings, and only these, go into the manifest and into the Snakemake
params of each rule, so changing one reruns the jobs whose output it changes.
The config file is checked against ``workflow/schemas/config.schema.yaml``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from indw.gates import GateConfig
from indw.minhash import MinHashConfig

NORMALIZATION_FORMS = ("NFC", "NFKC")
INVALID_UTF8_POLICIES = ("quarantine", "replace")


class ConfigError(ValueError):
    """The workflow config is invalid; the message names the key."""


@dataclass(frozen=True)
class CleaningConfig:
    normalization: str = "NFC"
    invalid_utf8: str = "quarantine"
    min_chars: int = 50


@dataclass(frozen=True)
class DedupKeyConfig:
    normalization: str = "NFKC"
    remove_zero_width: bool = True


@dataclass(frozen=True)
class ExactDedupConfig:
    buckets: int = 4


@dataclass(frozen=True)
class PipelineConfig:
    """Everything a worker needs to clean a chunk; small and picklable."""

    cleaning: CleaningConfig = field(default_factory=CleaningConfig)
    dedup_key: DedupKeyConfig = field(default_factory=DedupKeyConfig)
    exact_dedup: ExactDedupConfig = field(default_factory=ExactDedupConfig)
    gates: GateConfig = field(default_factory=GateConfig)
    near_dedup: MinHashConfig = field(default_factory=MinHashConfig)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PipelineConfig:
        cleaning = dict(config.get("cleaning") or {})
        dedup_key = dict(config.get("dedup_key") or {})
        exact = dict(config.get("exact_dedup") or {})
        try:
            result = cls(
                cleaning=CleaningConfig(**cleaning),
                dedup_key=DedupKeyConfig(**dedup_key),
                exact_dedup=ExactDedupConfig(**exact),
                gates=GateConfig.from_mapping(config.get("gates") or {}),
                near_dedup=MinHashConfig.from_mapping(config.get("near_dedup") or {}),
            )
        except (TypeError, ValueError) as error:
            raise ConfigError(f"invalid config: {error}") from None
        result.check()
        return result

    def check(self) -> None:
        """Raise ConfigError for values the schema cannot express."""
        if self.cleaning.normalization not in NORMALIZATION_FORMS:
            raise ConfigError(
                f"cleaning.normalization={self.cleaning.normalization!r} is invalid; "
                f"choose one of {', '.join(NORMALIZATION_FORMS)}"
            )
        if self.dedup_key.normalization not in NORMALIZATION_FORMS:
            raise ConfigError(
                f"dedup_key.normalization={self.dedup_key.normalization!r} is "
                f"invalid; choose one of {', '.join(NORMALIZATION_FORMS)}"
            )
        if self.cleaning.invalid_utf8 not in INVALID_UTF8_POLICIES:
            raise ConfigError(
                f"cleaning.invalid_utf8={self.cleaning.invalid_utf8!r} is invalid; "
                f"choose one of {', '.join(INVALID_UTF8_POLICIES)}"
            )
        buckets = self.exact_dedup.buckets
        if buckets < 1 or buckets & (buckets - 1):
            raise ConfigError(
                f"exact_dedup.buckets={buckets} is invalid; use a power of two "
                "such as 16 or 256"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "cleaning": asdict(self.cleaning),
            "dedup_key": asdict(self.dedup_key),
            "exact_dedup": asdict(self.exact_dedup),
            "gates": self.gates.to_dict(),
            "near_dedup": self.near_dedup.to_dict(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> PipelineConfig:
        return cls.from_config(json.loads(text))


def default_schema_dir() -> Path:
    """Return the schema folder of the repository this package runs from."""
    return Path(__file__).resolve().parent.parent / "workflow" / "schemas"


def validate_config(config: Mapping[str, Any], schema_dir: Path | None = None) -> None:
    """Check a config against the JSON schema; ConfigError names the bad key."""
    import jsonschema
    from referencing import Registry, Resource

    schema_dir = schema_dir or default_schema_dir()

    def retrieve(uri: str) -> Resource:
        path = schema_dir / uri.removeprefix("file:").lstrip("/").split("/")[-1]
        return Resource.from_contents(yaml.safe_load(path.read_text()))

    schema = yaml.safe_load((schema_dir / "config.schema.yaml").read_text())
    validator = jsonschema.Draft202012Validator(
        schema, registry=Registry(retrieve=retrieve)
    )
    errors = sorted(validator.iter_errors(dict(config)), key=lambda e: list(e.path))
    if errors:
        error = errors[0]
        key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ConfigError(f"invalid config key {key}: {error.message}")


def load_config(path: Path | str, schema_dir: Path | None = None) -> dict[str, Any]:
    """Read and validate a YAML config file."""
    with open(path) as handle:
        config = yaml.safe_load(handle) or {}
    if not isinstance(config, dict):
        raise ConfigError(f"{path} must hold a mapping of config keys")
    validate_config(config, schema_dir)
    return config
