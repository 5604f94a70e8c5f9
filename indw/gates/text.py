"""Words and lines of a document, split once and shared by the gates.

A word is a maximal run of word characters as Python's ``re`` defines them
(letters, digits, other numeric characters and the underscore) and of
combining marks (Unicode category M). The marks keep whole the words of
scripts that write vowels as marks, such as Devanagari. Punctuation and other
symbols are never part of a word and never count as words, so ``"don't"`` is
the two words ``don`` and ``t`` and ``"e.g."`` is ``e`` and ``g``. Lines are
split at ``\\n`` only: ``indw.normalize.normalize_text`` turns ``\\r\\n``
and ``\\r`` into ``\\n`` and removes the other control characters, and
U+2028 and U+2029 do not end a line here.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cached_property


def _combining_mark_class() -> str:
    """Return the combining marks as regex character ranges.

    Python's ``re`` does not count them as word characters. All marks lie
    below U+20000 or in the variation selectors at U+E0100 to U+E01EF.
    """
    codes = [*range(0x20000), *range(0xE0100, 0xE01F0)]
    marks = [code for code in codes if unicodedata.category(chr(code))[0] == "M"]
    ranges = []
    start = previous = marks[0]
    for code in marks[1:]:
        if code != previous + 1:
            ranges.append((start, previous))
            start = code
        previous = code
    ranges.append((start, previous))
    return "".join(f"\\U{first:08x}-\\U{last:08x}" for first, last in ranges)


WORD = re.compile(rf"[\w{_combining_mark_class()}]+")

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
    """Return ``part / whole``, or for a zero ``whole``: 0 if part is 0, else inf."""
    if whole:
        return part / whole
    return float("inf") if part else 0.0
