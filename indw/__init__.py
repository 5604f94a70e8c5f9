"""INDW: clean and deduplicate sharded JSON Lines text corpora."""

__version__ = "0.1.0"
