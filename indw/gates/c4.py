"""C4 rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning").

Each line, stripped of surrounding whitespace, goes through these steps in
this order, as in the C4 code of TensorFlow Datasets (``c4_utils.py``):
1. removed if a whitespace-separated word is longer than ``max_word_length``;
2. Wikipedia citation marks (``[1]``, ``[edit]``, ``[citation needed]``) are
   cut out of it, and the line is stripped again, which C4's code does not
   do: "ends here. [3]" then keeps its full stop and passes step 3;
3. removed unless it ends in ``. ? ! " '``, or if it ends in ``...``;
4. removed if it has fewer than ``min_words_per_line`` words;
5. the document is dropped if the line contains "lorem ipsum" (any case);
6. removed if it mentions "javascript" (any case);
7. the document is dropped if the line contains a curly brace ``{``;
8. removed if it contains a cookie or policy phrase (``POLICY_PHRASES``).
A document whose kept lines hold fewer than ``min_sentences`` sentences is
dropped. So the lorem-ipsum and curly-brace rules look only at lines that
passed steps 1 to 4, as C4 did: a brace in a code line without terminal
punctuation removes the line, not the document.

A sentence ends at ``.``, ``!`` or ``?`` (repeated or followed by closing
quotes or brackets) before whitespace or the line end, and every kept line
counts at least one. Words in this family are whitespace-separated, as in C4.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from indw.gates.text import DocumentText

CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]")
TERMINAL_PUNCTUATION = (".", "?", "!", '"', "'")
SENTENCE_END = re.compile(r"[.!?]+[\"')\]’”]*(?=\s|$)")
POLICY_PHRASES = re.compile(
    "terms of use|privacy policy|cookie policy|uses cookies|use of cookies|use cookies"
)

REASONS = (
    "c4_lorem_ipsum",
    "c4_curly_brace",
    "c4_too_few_sentences",
    "c4_no_lines_kept",
)


@dataclass(frozen=True)
class C4Config:
    enabled: bool = True
    # Line removals.
    max_word_length: int | None = 1000
    remove_citations: bool = True
    require_terminal_punctuation: bool = True
    min_words_per_line: int | None = 3
    remove_javascript_lines: bool = True
    remove_policy_lines: bool = True
    # Document drops.
    drop_lorem_ipsum: bool = True
    drop_curly_brace: bool = True
    min_sentences: int | None = 5


def count_sentences(line: str) -> int:
    return max(1, len(SENTENCE_END.findall(line)))


def check(doc: DocumentText, config: C4Config) -> tuple[str, str | None]:
    """Return the text with C4's line removals and the failing rule, if any.

    A document with no line left is dropped as ``c4_no_lines_kept`` (this
    can only happen with ``min_sentences`` switched off).
    """
    max_word_length = config.max_word_length
    min_words = config.min_words_per_line or 0
    min_sentences = config.min_sentences or 0
    kept: list[str] = []
    sentences = 0

    for line in doc.lines:
        line = line.strip()
        if max_word_length is not None and len(line) > max_word_length:
            if any(len(word) > max_word_length for word in line.split()):
                continue
        if config.remove_citations and "[" in line:
            line = CITATION.sub("", line).strip()
        if config.require_terminal_punctuation and (
            not line.endswith(TERMINAL_PUNCTUATION) or line.endswith("...")
        ):
            continue
        if min_words and len(line.split(None, min_words - 1)) < min_words:
            continue
        lower = line.lower()
        if config.drop_lorem_ipsum and "lorem ipsum" in lower:
            return doc.text, "c4_lorem_ipsum"
        if config.remove_javascript_lines and "javascript" in lower:
            continue
        if config.drop_curly_brace and "{" in line:
            return doc.text, "c4_curly_brace"
        if config.remove_policy_lines and POLICY_PHRASES.search(lower):
            continue
        if not line:
            continue
        if sentences < min_sentences:
            sentences += count_sentences(line)
        kept.append(line)

    if sentences < min_sentences:
        return doc.text, "c4_too_few_sentences"
    if not kept:
        return doc.text, "c4_no_lines_kept"
    return "\n".join(kept), None
