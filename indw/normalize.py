"""Unicode and whitespace normalization of document text."""

from __future__ import annotations

import re
import unicodedata

# C0 and C1 control characters except tab (\x09) and newline (\x0a); carriage
# returns are turned into newlines before this runs.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
TRAILING_SPACES = re.compile(r"[ \t\u00a0\u3000]+$", re.MULTILINE)
ZERO_WIDTH_CHARACTERS = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")


def normalize_text(text: str, form: str = "NFC") -> str:
    """Return the cleaned text of a document.

    Line endings become ``\\n``, control characters other than tab and newline
    are removed, spaces at line ends and blank lines at both ends of the text
    are removed, and the result is put in Unicode normal form ``form``.
    Controls go before normalization, because removing one can leave a base
    character next to a combining mark that the normal form would compose.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = CONTROL_CHARACTERS.sub("", text)
    text = TRAILING_SPACES.sub("", text)
    text = text.strip("\n")
    return unicodedata.normalize(form, text)


def dedup_key_text(text: str, form: str, remove_zero_width: bool) -> str:
    """Return the form of a cleaned text that exact deduplication compares."""
    if remove_zero_width:
        text = ZERO_WIDTH_CHARACTERS.sub("", text)
    if form != "NFC":
        text = unicodedata.normalize(form, text)
    return text
