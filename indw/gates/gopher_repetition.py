"""Gopher repetition rules (Rae et al. 2021, appendix A, table A1).

A paragraph or line is a duplicate when the same text occurred earlier in
the document, so the first copy does not count. Paragraphs are separated by
two or more newlines, lines by one or more. Their shares are of the
paragraph or line count and of ``len(text)``.

N-grams are over the words of ``indw.gates.text``, and their shares are of the
characters of all words (whitespace and punctuation count on neither side):
- top n-gram (n = 2, 3, 4): the characters of the most frequent n-gram times
  its count, overlapping occurrences included. Among n-grams of equal count
  the one that occurs first wins, and when no n-gram repeats the share is 0.
- duplicated n-grams (n = 5 to 10): the characters of every word inside an
  occurrence of an n-gram that occurs more than once, first occurrence
  included, each word counted once however many such n-grams cover it.

Words become integer ids, and each n-gram's id comes from the (n-1)-gram's id
and the next word's, renumbered densely by sorting (``group``). So counting is
exact (no hashing) and runs in numpy.
"""

from __future__ import annotations

import itertools
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
    index = dict(zip(dict.fromkeys(words), itertools.count()))
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
    sizes = bounds[1:] - bounds[:-1]
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
    """Return the reason of the first n-gram rule that fails, or None.

    An n-gram can occur more than once only where its first n-1 words do, so
    after the 2-grams only those positions are grouped: every other n-gram
    occurs once. That keeps the sorting to a small part of the words.
    """
    top = {n: limit for n, limit in config.top_limits() if limit is not None}
    duplicate = {
        n: limit for n, limit in config.duplicate_limits() if limit is not None
    }
    size = len(words)
    if not top and not duplicate or size < 2:
        return None
    largest = min(max([*top, *duplicate]), size)

    lengths = np.fromiter(map(len, words), dtype=np.int64, count=size)
    total = int(lengths.sum())
    # ends[i + n] - ends[i] is the characters of the n words from position i.
    ends = np.concatenate(([0], np.cumsum(lengths)))
    ids = word_ids(words)
    vocabulary = int(ids.max()) + 1
    # Start positions of the n-grams that may repeat, and their ids. The ids
    # are below the word count, so a key fits in int64 for any real document.
    positions = np.arange(size - 1)
    grams = ids[:-1]

    for n in range(2, largest + 1):
        if len(positions):
            keys = grams * vocabulary + ids[positions + n - 1]
            grams, occurrences = group(keys)
        else:
            occurrences = positions

        if n in top and len(occurrences):
            max_count = int(occurrences.max())
            first = int(positions[np.argmax(occurrences == max_count)])
            chars = max_count * int(ends[first + n] - ends[first])
            if max_count > 1 and share(chars, total) > top[n]:
                return f"gopher_repetition_top_{n}gram"

        repeated = occurrences > 1
        if n in duplicate:
            if not repeated.any():
                # No n-gram repeats, so no longer n-gram does either.
                break
            starts = np.zeros(size, dtype=np.int8)
            starts[positions[repeated]] = 1
            covered = np.convolve(starts, np.ones(n, dtype=np.int8))[:size] > 0
            fraction = share(int(lengths[covered].sum()), total)
            if fraction > duplicate[n]:
                return f"gopher_repetition_duplicate_{n}gram"
            # The words covered by repeated longer n-grams are a subset of
            # these, so once the share is within every later limit, all pass.
            if all(fraction <= limit for m, limit in duplicate.items() if m > n):
                break

        # Keep the repeated n-grams that have a next word to extend them.
        keep = repeated & (positions + n < size)
        positions = positions[keep]
        grams = grams[keep]
    return None
