"""Builders of small texts whose gate measures sit exactly where a test wants."""

from __future__ import annotations

import itertools
import string
from dataclasses import fields, replace


def distinct_words(
    count: int, length: int = 3, skip: tuple[str, ...] = ()
) -> list[str]:
    """Return ``count`` different lowercase words of ``length`` letters.

    The words avoid the Gopher stop words and any in ``skip``, so they repeat
    nothing and add no stop word unless a test puts one in.
    """
    avoid = {"the", "be", "to", "of", "and", "that", "have", "with", *skip}
    words = []
    for letters in itertools.product(string.ascii_lowercase, repeat=length):
        word = "".join(letters)
        if word not in avoid:
            words.append(word)
            if len(words) == count:
                return words
    raise ValueError(f"fewer than {count} words of {length} letters")


def only_rules(config, **keep):
    """Return ``config`` with every threshold None except those given."""
    changes = {}
    for item in fields(config):
        is_threshold = item.name.startswith(("min_", "max_"))
        if is_threshold and item.name not in keep:
            changes[item.name] = None
    changes.update(keep)
    return replace(config, **changes)


def prose(sentences: int, words_per_sentence: int = 8, offset: int = 0) -> str:
    """Return one line per sentence of distinct words, each ending in a period.

    Every sentence contains "the" and "of", so the stop-word rule passes.
    """
    pool = distinct_words(offset + sentences * words_per_sentence, length=4)
    lines = []
    for index in range(sentences):
        start = offset + index * words_per_sentence
        words = pool[start : start + words_per_sentence - 2]
        sentence = [words[0].capitalize(), "the", words[1], "of", *words[2:]]
        lines.append(" ".join(sentence) + ".")
    return "\n".join(lines)
