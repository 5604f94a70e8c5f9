"""Gopher repetition rules: each threshold from just inside and just outside."""

import random

import pytest
from gate_texts import distinct_words, only_rules, prose

from indw.gates import GopherRepetitionConfig
from indw.gates.gopher_repetition import (
    DUPLICATE_NGRAM_SIZES,
    TOP_NGRAM_SIZES,
    check,
    check_ngrams,
    group,
    split_paragraphs,
)
from indw.gates.text import DocumentText

DEFAULTS = GopherRepetitionConfig()


def run(text: str, config: GopherRepetitionConfig) -> str | None:
    return check(DocumentText(text), config)


def test_default_rules_pass_plain_prose():
    assert run(prose(10), DEFAULTS) is None


def test_duplicate_paragraphs_boundary():
    config = only_rules(DEFAULTS, max_duplicate_paragraphs=0.3)
    unique = distinct_words(10)
    inside = unique[:7] + unique[:3]
    assert run("\n\n".join(inside), config) is None
    outside = unique[:6] + unique[:4]
    assert run("\n\n".join(outside), config) == (
        "gopher_repetition_duplicate_paragraphs"
    )


def test_duplicate_paragraph_chars_boundary():
    config = only_rules(DEFAULTS, max_duplicate_paragraph_chars=0.2)
    repeated = "r" * 20
    # 20 + 2 + 20 + 2 + 56 = 100 characters, 20 of them repeated.
    inside = "\n\n".join([repeated, repeated, "f" * 56])
    assert len(inside) == 100
    assert run(inside, config) is None
    outside = "\n\n".join([repeated, repeated, "f" * 55])
    assert run(outside, config) == "gopher_repetition_duplicate_paragraph_chars"


def test_paragraphs_split_at_two_or_more_newlines():
    assert split_paragraphs("a\n\n\nb\n\n\n\nc\nd") == ["a", "b", "c\nd"]
    assert split_paragraphs("a\nb") == ["a\nb"]


def test_duplicate_lines_boundary():
    config = only_rules(DEFAULTS, max_duplicate_lines=0.3)
    unique = distinct_words(10)
    assert run("\n".join(unique[:7] + unique[:3]), config) is None
    outside = "\n".join(unique[:6] + unique[:4])
    assert run(outside, config) == "gopher_repetition_duplicate_lines"


def test_duplicate_line_chars_boundary():
    config = only_rules(DEFAULTS, max_duplicate_line_chars=0.2)
    repeated = "r" * 20
    inside = "\n".join([repeated, "f" * 58, repeated])
    assert len(inside) == 100
    assert run(inside, config) is None
    outside = "\n".join([repeated, "f" * 57, repeated])
    assert run(outside, config) == "gopher_repetition_duplicate_line_chars"


def text_with_repeated_gram(n: int, copies: int, total_words: int) -> str:
    """Return ``total_words`` 3-letter words in which one n-gram occurs
    ``copies`` times, apart, and every other word is different."""
    words = distinct_words(total_words + n)
    gram, filler = words[:n], iter(words[n:])
    result = []
    for _ in range(copies):
        result.extend(gram)
        result.append(next(filler))
    while len(result) < total_words:
        result.append(next(filler))
    assert len(result) == total_words
    return " ".join(result)


@pytest.mark.parametrize(
    "n,copies,limit", [(2, 5, 0.2), (3, 3, 0.18), (4, 2, 0.16)], ids=str
)
def test_top_ngram_boundary(n, copies, limit):
    config = only_rules(DEFAULTS, **{f"max_top_{n}gram_chars": limit})
    # The n-gram's copies contain copies * n of 50 equally long words.
    assert copies * n / 50 == limit
    assert run(text_with_repeated_gram(n, copies, 50), config) is None
    outside = text_with_repeated_gram(n, copies + 1, 50)
    assert run(outside, config) == f"gopher_repetition_top_{n}gram"


def test_top_ngram_counts_word_characters_only():
    config = only_rules(DEFAULTS, max_top_2gram_chars=0.2)
    plain = text_with_repeated_gram(2, 5, 50)
    # Punctuation and extra spaces change nothing: only words count.
    noisy = plain.replace(" ", " ,  ")
    assert run(noisy, config) is None


@pytest.mark.parametrize("n", DUPLICATE_NGRAM_SIZES)
def test_duplicate_ngram_boundary(n):
    limit = getattr(DEFAULTS, f"max_duplicate_{n}gram_chars")
    config = only_rules(DEFAULTS, **{f"max_duplicate_{n}gram_chars": limit})
    # Two copies cover 2n words; the fewest words that keep 2n / words within
    # the limit are just inside, one word fewer is just outside.
    words = next(count for count in range(2 * n, 1000) if 2 * n / count <= limit)
    assert 2 * n / (words - 1) > limit
    assert run(text_with_repeated_gram(n, 2, words), config) is None
    outside = text_with_repeated_gram(n, 2, words - 1)
    assert run(outside, config) == f"gopher_repetition_duplicate_{n}gram"


def test_overlapping_ngrams_count_each_word_once():
    config = only_rules(DEFAULTS, max_duplicate_5gram_chars=0.99)
    # Eight equal words: every 5-gram is the same and covers all of them, so
    # the share is exactly 1, not the sum over overlapping occurrences.
    assert run("same " * 8, config) == "gopher_repetition_duplicate_5gram"
    config = only_rules(DEFAULTS, max_duplicate_5gram_chars=1.0)
    assert run("same " * 8, config) is None


def reference_shares(words: list[str]) -> dict[str, float]:
    """Return every n-gram share by the rules' definitions, in plain Python."""
    total = sum(map(len, words))
    shares = {}
    for n in TOP_NGRAM_SIZES:
        grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
        if not grams:
            continue
        counts = {gram: grams.count(gram) for gram in grams}
        max_count = max(counts.values())
        first = next(gram for gram in grams if counts[gram] == max_count)
        if max_count > 1:
            shares[f"top_{n}gram"] = max_count * sum(map(len, first)) / total
    for n in DUPLICATE_NGRAM_SIZES:
        starts = range(len(words) - n + 1)
        grams = [tuple(words[i : i + n]) for i in starts]
        covered = set()
        for i, gram in enumerate(grams):
            if grams.count(gram) > 1:
                covered.update(range(i, i + n))
        shares[f"duplicate_{n}gram"] = sum(len(words[i]) for i in covered) / total
    return shares


def reference_reason(words, config) -> str | None:
    shares = reference_shares(words)
    for n, limit in config.top_limits() + config.duplicate_limits():
        kind = "top" if n in TOP_NGRAM_SIZES else "duplicate"
        if limit is not None and shares.get(f"{kind}_{n}gram", 0) > limit:
            return f"gopher_repetition_{kind}_{n}gram"
    return None


def test_ngram_rules_match_plain_python_reference():
    generator = random.Random(7)
    vocabulary = ["a", "bb", "ccc", "dddd", "ee", "f", "gg", "hhh", "ii", "jjjjj"]
    checked = 0
    for _ in range(300):
        length = generator.randint(2, 60)
        words = [generator.choice(vocabulary)]
        while len(words) < length:
            if generator.random() < 0.08 and len(words) > 6:
                start = generator.randrange(len(words) - 5)
                words.extend(words[start : start + generator.randint(2, 12)])
            else:
                words.append(generator.choice(vocabulary))
        words = words[:length]
        limits = {
            f"max_top_{n}gram_chars": generator.uniform(0.1, 1.5)
            for n in TOP_NGRAM_SIZES
        }
        limits.update(
            {
                f"max_duplicate_{n}gram_chars": generator.uniform(0.1, 1.5)
                for n in DUPLICATE_NGRAM_SIZES
            }
        )
        config = only_rules(DEFAULTS, **limits)
        expected = reference_reason(words, config)
        assert check_ngrams(words, config) == expected, (words, limits)
        checked += expected is not None
    # The random texts fail some rules and pass others.
    assert 50 < checked < 250, checked


def test_group_matches_numpy_unique():
    import numpy as np

    generator = np.random.default_rng(3)
    for size in [1, 2, 17, 300]:
        keys = generator.integers(0, 9, size=size)
        _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        ids, occurrences = group(keys)
        assert ids.tolist() == inverse.tolist()
        assert occurrences.tolist() == counts[inverse].tolist()


def test_repeated_document_fails_defaults():
    text = prose(6) + "\n\n" + prose(6)
    assert run(text, DEFAULTS) == "gopher_repetition_duplicate_paragraphs"


def test_top_ngram_share_zero_without_repeats():
    config = only_rules(DEFAULTS, max_top_2gram_chars=0.0)
    # Three different words: the first 2-gram is two thirds of the text,
    # but nothing repeats, so the rule passes.
    assert run("one two six", config) is None
    assert run("one two one two", config) == "gopher_repetition_top_2gram"
