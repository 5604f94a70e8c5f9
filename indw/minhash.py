"""MinHash signatures of documents for near-duplicate detection."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

SIGNATURE_DTYPE = np.dtype(np.uint32)


@dataclass(frozen=True)
class MinHashConfig:
    enabled: bool = False
    num_perm: int = 112

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> MinHashConfig:
        return cls(**dict(mapping))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def signature(text: str, config: MinHashConfig) -> np.ndarray:
    """Return the MinHash signature of a text, ``config.num_perm`` uint32 values."""
    raise NotImplementedError("near-duplicate detection is not built yet")
