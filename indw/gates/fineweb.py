"""FineWeb line rules (Penedo et al. 2024, "The FineWeb Datasets").

Lines are the non-blank lines of the text, taken as they are (not stripped).
The rules run in this order:
1. the share of lines that end in terminal punctuation must be at least
   ``min_punctuation_lines``;
2. the share of lines of at most ``short_line_length`` characters must be at
   most ``max_short_lines``;
3. the characters of lines that repeat an earlier line, over the characters
   of the text without its newlines, must be at most
   ``max_duplicate_line_chars``;
4. newlines per word (words of ``indw.gates.text``) must be at most
   ``max_newlines_per_word``. This rule is in datatrove's FineWeb filter,
   not in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

from indw.gates.gopher_repetition import duplicates
from indw.gates.text import DocumentText, share

# Full stop, question and exclamation marks of the common scripts: Latin,
# full-width and CJK, Arabic, Urdu, Devanagari, Armenian, Ethiopic, Myanmar
# and Khmer, plus the double marks of General Punctuation. This is a subset
# of Unicode's Sentence_Terminal property.
TERMINAL_PUNCTUATION = frozenset(".!?。．｡！？؟۔।॥։።፧။។៕‼⁇⁈⁉")

REASONS = (
    "fineweb_punctuation_lines",
    "fineweb_short_lines",
    "fineweb_duplicate_line_chars",
    "fineweb_newlines_per_word",
)


@dataclass(frozen=True)
class FineWebConfig:
    enabled: bool = True
    min_punctuation_lines: float | None = 0.12
    max_short_lines: float | None = 0.67
    short_line_length: int = 30
    max_duplicate_line_chars: float | None = 0.1
    max_newlines_per_word: float | None = 0.3


def check(doc: DocumentText, config: FineWebConfig) -> str | None:
    """Return the reason of the first FineWeb rule that fails, or None."""
    text = doc.text
    lines = doc.nonblank_lines

    if config.min_punctuation_lines is not None:
        ending = sum(line[-1] in TERMINAL_PUNCTUATION for line in lines)
        if share(ending, len(lines)) < config.min_punctuation_lines:
            return "fineweb_punctuation_lines"

    if config.max_short_lines is not None:
        limit = config.short_line_length
        short = sum(length <= limit for length in map(len, lines))
        if share(short, len(lines)) > config.max_short_lines:
            return "fineweb_short_lines"

    if config.max_duplicate_line_chars is not None:
        _, chars = duplicates(lines)
        if share(chars, len(text) - text.count("\n")) > config.max_duplicate_line_chars:
            return "fineweb_duplicate_line_chars"

    if config.max_newlines_per_word is not None:
        if share(text.count("\n"), len(doc.words)) > config.max_newlines_per_word:
            return "fineweb_newlines_per_word"

    return None
