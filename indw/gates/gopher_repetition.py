"""Gopher repetition rules (Rae et al. 2021, appendix A, table A1).

Duplicate paragraphs and lines: a paragraph or line is a duplicate when the
same text occurred earlier in the document; the first copy does not count.
Paragraphs are separated by two or more newlines, lines by one or more.
Their shares are of the element count and of ``len(text)``.

N-grams are over the words of ``indw.gates.text``, and their shares are of the
characters of all words (whitespace and punctuation count on neither side):
- top n-gram (n = 2, 3, 4): the characters of the most frequent n-gram times
  its count, overlapping occurrences included. Among n-grams of equal count
  the one that occurs first wins.
- duplicated n-grams (n = 5 to 10): the characters of every word inside an
  occurrence of an n-gram that occurs more than once, first occurrence
  included, each word counted once however many such n-grams cover it.

Words become integer ids and each n-gram's id comes from the (n-1)-gram's id
and the next word's, renumbered densely with ``numpy.unique``, so counting is
exact (no hashing) and runs in numpy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from indw.gates.text import DocumentText, share

PARAGRAPH_BREAK = re.compile(r"\n{2,}")

TOP_NGRAM_SIZES = (2, 3, 4)
DUPLICATE_NGRAM_SIZES = (5, 6, 7, 8, 9, 10)

REASONS = (
    "gopher_repetition_duplicate_paragraphs",
    "gopher_repetition_duplicate_paragraph_chars",
    "gopher_repetition_duplicate_lines",
    "gopher_repetition_duplicate_line_chars",
    *(f"gopher_repetition_top_{n}gram" for n in TOP_NGRAM_SIZES),
    *(f"gopher_repetition_duplicate_{n}gram" for n in DUPLICATE_NGRAM_SIZES),
)


@dataclass(frozen=True)
class GopherRepetitionConfig:
    enabled: bool = True
    # Share of paragraphs that repeat an earlier one, by count and characters.
    max_duplicate_paragraphs: float | None = 0.3
    max_duplicate_paragraph_chars: float | None = 0.2
    # Share of lines that repeat an earlier one, by count and characters.
    max_duplicate_lines: float | None = 0.3
    max_duplicate_line_chars: float | None = 0.2
    # Share of word characters in the most frequent n-gram.
    max_top_2gram_chars: float | None = 0.2
    max_top_3gram_chars: float | None = 0.18
    max_top_4gram_chars: float | None = 0.16
    # Share of word characters covered by n-grams that occur more than once.
    max_duplicate_5gram_chars: float | None = 0.15
    max_duplicate_6gram_chars: float | None = 0.14
    max_duplicate_7gram_chars: float | None = 0.13
    max_duplicate_8gram_chars: float | None = 0.12
    max_duplicate_9gram_chars: float | None = 0.11
    max_duplicate_10gram_chars: float | None = 0.10

    def top_limits(self) -> list[tuple[int, float | None]]:
        return [(n, getattr(self, f"max_top_{n}gram_chars")) for n in TOP_NGRAM_SIZES]

    def duplicate_limits(self) -> list[tuple[int, float | None]]:
        return [
            (n, getattr(self, f"max_duplicate_{n}gram_chars"))
            for n in DUPLICATE_NGRAM_SIZES
        ]


def duplicates(items: list[str]) -> tuple[int, int]:
    """Return how many items repeat an earlier item, and their characters."""
    unique = set(items)
    count = len(items) - len(unique)
    if not count:
        return 0, 0
    return count, sum(map(len, items)) - sum(map(len, unique))


def split_paragraphs(text: str) -> list[str]:
    """Split at runs of two or more newlines, as PARAGRAPH_BREAK.split does."""
    if "\n\n" not in text:
        return [text]
    pieces = (piece.strip("\n") for piece in text.split("\n\n"))
    return [piece for piece in pieces if piece]


def word_ids(words: list[str]) -> np.ndarray:
    """Return an int64 id per word; equal words get equal ids."""
    index = {word: i for i, word in enumerate(dict.fromkeys(words))}
    return np.fromiter(map(index.__getitem__, words), dtype=np.int64, count=len(words))


def group(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return a dense id per key (equal keys, equal ids) and each key's count.

    Does what numpy.unique with return_inverse and return_counts does, with
    fewer passes. Ids follow key order, so they do not depend on the sort.
    """
    order = np.argsort(keys)
    ordered = keys[order]
    starts = np.empty(len(keys), dtype=bool)
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    ranks = np.cumsum(starts) - 1
    bounds = np.append(np.flatnonzero(starts), len(keys))
    sizes = np.diff(bounds)
    ids = np.empty(len(keys), dtype=np.int64)
    ids[order] = ranks
    return ids, sizes[ids]


def check(doc: DocumentText, config: GopherRepetitionConfig) -> str | None:
    """Return the reason of the first Gopher repetition rule that fails, or None."""
    text = doc.text

    paragraphs = split_paragraphs(text.strip())
    count, chars = duplicates(paragraphs)
    limit = config.max_duplicate_paragraphs
    if limit is not None and share(count, len(paragraphs)) > limit:
        return "gopher_repetition_duplicate_paragraphs"
    limit = config.max_duplicate_paragraph_chars
    if limit is not None and share(chars, len(text)) > limit:
        return "gopher_repetition_duplicate_paragraph_chars"

    lines = [line for line in doc.lines if line]
    count, chars = duplicates(lines)
    limit = config.max_duplicate_lines
    if limit is not None and share(count, len(lines)) > limit:
        return "gopher_repetition_duplicate_lines"
    limit = config.max_duplicate_line_chars
    if limit is not None and share(chars, len(text)) > limit:
        return "gopher_repetition_duplicate_line_chars"

    return check_ngrams(doc.words, config)


def check_ngrams(words: list[str], config: GopherRepetitionConfig) -> str | None:
    """Return the reason of the first n-gram rule that fails, or None."""
    top = {n: limit for n, limit in config.top_limits() if limit is not None}
    duplicate = {
        n: limit for n, limit in config.duplicate_limits() if limit is not None
    }
    if not top and not duplicate or len(words) < 2:
        return None
    largest = max([*top, *duplicate])

    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    total = int(lengths.sum())
    # ends[i + n] - ends[i] is the characters of the n words from position i.
    ends = np.concatenate(([0], np.cumsum(lengths)))
    ids = word_ids(words)
    vocabulary = int(ids.max()) + 1
    grams = ids

    for n in range(2, min(largest, len(words)) + 1):
        # Pair each (n-1)-gram id with the next word's id. Both are below the
        # word count, so the key fits in int64 for any real document.
        keys = grams[:-1] * vocabulary + ids[n - 1 :]
        grams, occurrences = group(keys)

        if n in top:
            most = int(occurrences.max())
            first = int(np.argmax(occurrences == most))
            chars = most * int(ends[first + n] - ends[first])
            if share(chars, total) > top[n]:
                return f"gopher_repetition_top_{n}gram"

        if n in duplicate:
            repeated = occurrences > 1
            if not repeated.any():
                # No n-gram repeats, so no longer n-gram does either.
                break
            window = np.convolve(repeated.view(np.int8), np.ones(n, dtype=np.int8))
            covered = window[: len(words)] > 0
            fraction = share(int(lengths[covered].sum()), total)
            if fraction > duplicate[n]:
                return f"gopher_repetition_duplicate_{n}gram"
            # The words covered by repeated longer n-grams are a subset of
            # these, so once the share is within every later limit, all pass.
            if all(fraction <= limit for m, limit in duplicate.items() if m > n):
                break
    return None
