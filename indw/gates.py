"""Quality gates: each a plain function of a document's text and its settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class GateConfig:
    enabled: bool = False

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> GateConfig:
        return cls(**dict(mapping))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def apply_gates(text: str, config: GateConfig) -> tuple[str, str | None]:
    """Return the text after line removals and the first failing gate, if any."""
    return text, None
