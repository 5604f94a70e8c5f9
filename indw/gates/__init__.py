"""Quality gates: plain functions of a document's text and their settings.

Four families run in ``GateConfig.order``, cheapest first by default. Every
family looks at the same normalized text; C4's line removals apply to the
output only once every family has passed. So the set of kept documents does
not depend on the order, only the reason recorded for a dropped document
does: it is the first rule that fails, as a stable snake_case word
(``REASONS`` lists them all).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from indw.gates import c4, fineweb, gopher_quality, gopher_repetition
from indw.gates.c4 import C4Config
from indw.gates.fineweb import FineWebConfig
from indw.gates.gopher_quality import GopherQualityConfig
from indw.gates.gopher_repetition import GopherRepetitionConfig
from indw.gates.text import DocumentText

__all__ = [
    "C4Config",
    "DEFAULT_ORDER",
    "FAMILIES",
    "FineWebConfig",
    "GateConfig",
    "GopherQualityConfig",
    "GopherRepetitionConfig",
    "REASONS",
    "apply_gates",
]

# Cheapest first, measured with benchmarks/bench_gates.py on real text.
# C4 and FineWeb walk the lines and drop most low-quality documents before
# any word is split; Gopher quality then scans the words, and the repetition
# n-grams, which need numpy sorting, see only the documents left.
DEFAULT_ORDER = ("c4", "fineweb", "gopher_quality", "gopher_repetition")

FAMILIES = {
    "gopher_quality": GopherQualityConfig,
    "gopher_repetition": GopherRepetitionConfig,
    "c4": C4Config,
    "fineweb": FineWebConfig,
}

# The families that only inspect the text; C4 also returns the trimmed text.
CHECKS = {
    "gopher_quality": gopher_quality.check,
    "gopher_repetition": gopher_repetition.check,
    "fineweb": fineweb.check,
}

REASONS = (
    *gopher_quality.REASONS,
    *gopher_repetition.REASONS,
    *c4.REASONS,
    *fineweb.REASONS,
)


def _family_from_mapping(name: str, mapping: Mapping[str, Any]) -> Any:
    cls = FAMILIES[name]
    if not isinstance(mapping, Mapping):
        raise ValueError(f"gates.{name} must be a mapping of settings")
    defaults = cls()
    types = {item.name: str(item.type) for item in fields(cls)}
    known = set(types)
    unknown = sorted(set(mapping) - known)
    if unknown:
        raise ValueError(
            f"gates.{name}.{unknown[0]} is not a setting; valid keys: "
            f"{', '.join(sorted(known))}"
        )
    values = {}
    for key, value in mapping.items():
        nullable = "None" in types[key]
        default = getattr(defaults, key)
        values[key] = _checked(f"gates.{name}.{key}", value, default, nullable)
    return cls(**values)


def _checked(key: str, value: Any, default: Any, nullable: bool) -> Any:
    """Return a setting in the type of its default; raise ValueError if invalid.

    The schema checks the config file; this check covers settings built in
    code, such as a benchmark's.
    """
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{key}={value!r} is invalid; use true or false")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list | tuple) or not all(
            isinstance(item, str) for item in value
        ):
            raise ValueError(f"{key}={value!r} is invalid; use a list of strings")
        return tuple(value)
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        switch_off = ", or null to switch the rule off" if nullable else ""
        raise ValueError(f"{key}={value!r} is invalid; use a number >= 0{switch_off}")
    return value


@dataclass(frozen=True)
class GateConfig:
    """Settings of the quality gates: the families that run, their order, thresholds."""

    enabled: bool = True
    order: tuple[str, ...] = DEFAULT_ORDER
    gopher_quality: GopherQualityConfig = field(default_factory=GopherQualityConfig)
    gopher_repetition: GopherRepetitionConfig = field(
        default_factory=GopherRepetitionConfig
    )
    c4: C4Config = field(default_factory=C4Config)
    fineweb: FineWebConfig = field(default_factory=FineWebConfig)

    def __post_init__(self) -> None:
        if sorted(self.order) != sorted(FAMILIES):
            raise ValueError(
                f"gates.order={list(self.order)} is invalid; list each of "
                f"{', '.join(sorted(FAMILIES))} once"
            )
        self.gopher_quality.check()

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> GateConfig:
        """Build the settings from the ``gates`` config mapping.

        Missing keys take their defaults. Raises ValueError naming the key for
        an unknown key or an invalid order.
        """
        values: dict[str, Any] = {}
        for key, value in mapping.items():
            if key in FAMILIES:
                values[key] = _family_from_mapping(key, value or {})
            elif key == "order":
                values[key] = tuple(value)
            elif key == "enabled":
                values[key] = value
            else:
                raise ValueError(
                    f"gates.{key} is not a setting; valid keys: enabled, order, "
                    f"{', '.join(sorted(FAMILIES))}"
                )
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as plain JSON values; from_mapping reads it back."""
        result: dict[str, Any] = {"enabled": self.enabled, "order": list(self.order)}
        for name in FAMILIES:
            family = getattr(self, name)
            result[name] = {
                item.name: _plain(getattr(family, item.name)) for item in fields(family)
            }
        return result


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def apply_gates(text: str, config: GateConfig) -> tuple[str, str | None]:
    """Run the enabled gates on a document's text.

    Returns the text after C4's line removals and None when every gate
    passes, or the unchanged text and the reason of the first failing rule.
    """
    if not config.enabled:
        return text, None

    doc = DocumentText(text)
    output = text
    for name in config.order:
        settings = getattr(config, name)
        if not settings.enabled:
            continue
        if name == "c4":
            output, reason = c4.check(doc, settings)
        else:
            reason = CHECKS[name](doc, settings)
        if reason is not None:
            return text, reason
    return output, None
