"""Words and lines of a document, split once and shared by the gates.

A word is a maximal run of word characters as Python's ``re`` defines them:
letters, digits, other numeric characters and the underscore. Punctuation and
other symbols are never part of a word and never count as words, so
``"don't"`` is the two words ``don`` and ``t`` and ``"e.g."`` is ``e`` and
``g``. Lines are split on ``\\n`` only, which is the only line break left in
text that went through ``indw.normalize.normalize_text``.

NOTE: ``re`` does not count combining marks (Unicode category M) as word
characters, so words of scripts that write vowels as marks, such as
Devanagari, are split at each mark. The stop-word rule is English anyway.
"""

from __future__ import annotations

import re
from functools import cached_property

WORD = re.compile(r"\w+")

# Maps every ASCII byte that is not a word character to a space. On ASCII
# text, translating the bytes and splitting at whitespace gives the same
# words as WORD.findall in about a third of the time.
_ASCII_NON_WORD_TO_SPACE = (
    bytes(
        byte if chr(byte).isalnum() or byte == ord("_") else ord(" ")
        for byte in range(128)
    )
    + b" " * 128
)


def split_words(text: str) -> list[str]:
    """Return the words of a text, as WORD.findall does."""
    if text.isascii():
        return text.encode().translate(_ASCII_NON_WORD_TO_SPACE).decode().split()
    return WORD.findall(text)


class DocumentText:
    """The text of one document with its words and lines, each split on first use."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def words(self) -> list[str]:
        return split_words(self.text)

    @cached_property
    def lines(self) -> list[str]:
        return self.text.split("\n")

    @cached_property
    def nonblank_lines(self) -> list[str]:
        """Lines with at least one character that is not whitespace."""
        return list(filter(str.strip, self.lines))


def share(part: float, whole: float) -> float:
    """Return ``part / whole``; 0 when both are 0, infinity when only whole is."""
    if whole:
        return part / whole
    return float("inf") if part else 0.0
