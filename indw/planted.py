"""Synthetic corpora with planted near duplicates, and their exact scoring.

Tests and benchmarks use these to measure near-duplicate removal against
the truth: ``planted_corpus`` writes base documents plus copies with a few
words changed, added or removed, and ``score_removal`` compares what was
removed with the true shingle Jaccard similarity of every pair of documents
that share a shingle (every other pair has Jaccard 0).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from indw.minhash import MinHashConfig, jaccard, shingle_hashes

SYLLABLES = (
    "ka ri to me su na lo pe vi da ru mo te sa ni ko ba le gu fi "
    "zo ha ye wu ce pa go di la mu"
).split()


def vocabulary(size: int, seed: int) -> list[str]:
    """Return ``size`` distinct made-up words of two to four syllables."""
    generator = np.random.default_rng(seed)
    words: dict[str, None] = {}
    while len(words) < size:
        count = int(generator.integers(2, 5))
        picks = generator.integers(0, len(SYLLABLES), size=count)
        words["".join(SYLLABLES[i] for i in picks)] = None
    return list(words)


def edit_words(
    words: list[str], edits: int, lexicon: list[str], generator: np.random.Generator
) -> list[str]:
    """Return a copy of ``words`` with ``edits`` random changes, additions or
    removals of one word each."""
    copy = list(words)
    for _ in range(edits):
        kind = int(generator.integers(0, 3))
        position = int(generator.integers(0, len(copy)))
        word = lexicon[int(generator.integers(0, len(lexicon)))]
        if kind == 0:
            copy[position] = word
        elif kind == 1:
            copy.insert(position, word)
        elif len(copy) > 1:
            del copy[position]
    return copy


def planted_corpus(
    documents: int,
    shards: int,
    seed: int = 0,
    duplicated_share: float = 0.3,
    max_copies: int = 3,
    max_edits: int = 4,
    related_share: float = 0.1,
) -> list[list[str]]:
    """Return the texts of each shard of a corpus with planted near duplicates.

    Base documents have 100 to 300 words drawn with Zipf-like frequencies
    from 5,000 made-up words. A ``duplicated_share`` of them get 1 to
    ``max_copies`` near copies, each with 1 to ``max_edits`` words changed,
    added or removed. A ``related_share`` of them get a related document
    that keeps a run of 40 to 60% of the base's words and replaces the rest,
    a pair with a Jaccard of about 0.2 to 0.45 that must not be removed. All
    texts are shuffled into ``shards`` shards; the result has about
    ``documents`` texts.
    """
    generator = np.random.default_rng(seed)
    lexicon = vocabulary(5000, seed)
    weights = 1 / np.arange(1, len(lexicon) + 1)
    weights /= weights.sum()

    def draw(count: int) -> list[str]:
        return [lexicon[i] for i in generator.choice(len(lexicon), count, p=weights)]

    texts = []
    while len(texts) < documents:
        base = draw(int(generator.integers(100, 301)))
        texts.append(" ".join(base).capitalize() + ".")
        if generator.random() < duplicated_share:
            for _ in range(int(generator.integers(1, max_copies + 1))):
                edits = int(generator.integers(1, max_edits + 1))
                copy = edit_words(base, edits, lexicon, generator)
                texts.append(" ".join(copy).capitalize() + ".")
        if generator.random() < related_share:
            kept = len(base) * int(generator.integers(40, 61)) // 100
            start = int(generator.integers(0, len(base) - kept + 1))
            related = draw(start) + base[start : start + kept]
            related += draw(len(base) - len(related))
            texts.append(" ".join(related).capitalize() + ".")
    order = generator.permutation(len(texts))
    return [[texts[i] for i in order[shard::shards]] for shard in range(shards)]


@dataclass(frozen=True)
class RemovalScore:
    """Near-duplicate removal measured against the true Jaccard."""

    pairs_at_recall_threshold: int
    pairs_in_one_group: int
    removed: int
    removed_similar_to_survivor: int
    recall_threshold: float
    precision_threshold: float

    @property
    def recall(self) -> float:
        """Share of pairs at or above the recall threshold in one group."""
        if not self.pairs_at_recall_threshold:
            return 1.0
        return self.pairs_in_one_group / self.pairs_at_recall_threshold

    @property
    def precision(self) -> float:
        """Share of removed documents at or above the precision threshold."""
        if not self.removed:
            return 1.0
        return self.removed_similar_to_survivor / self.removed


def score_removal(
    texts: Sequence[str],
    survivor_of: Mapping[int, int],
    config: MinHashConfig,
    recall_threshold: float = 0.9,
    precision_threshold: float = 0.7,
) -> RemovalScore:
    """Score removal on documents numbered by global order.

    ``survivor_of`` maps each removed document to the document that was
    kept in its place. Pairs are found through an inverted index of
    shingles, so every pair with a Jaccard above 0 is checked exactly.
    """
    sets = [shingle_hashes(text, config) for text in texts]
    postings: dict[int, list[int]] = defaultdict(list)
    for number, hashes in enumerate(sets):
        for value in hashes.tolist():
            postings[value].append(number)
    candidates: set[tuple[int, int]] = set()
    for members in postings.values():
        for i, first in enumerate(members):
            for second in members[i + 1 :]:
                candidates.add((first, second))

    def group(number: int) -> int:
        return survivor_of.get(number, number)

    at_threshold = 0
    in_one_group = 0
    for first, second in sorted(candidates):
        if jaccard(sets[first], sets[second]) >= recall_threshold:
            at_threshold += 1
            in_one_group += group(first) == group(second)

    similar = sum(
        jaccard(sets[removed], sets[survivor]) >= precision_threshold
        for removed, survivor in survivor_of.items()
    )
    return RemovalScore(
        pairs_at_recall_threshold=at_threshold,
        pairs_in_one_group=in_one_group,
        removed=len(survivor_of),
        removed_similar_to_survivor=similar,
        recall_threshold=recall_threshold,
        precision_threshold=precision_threshold,
    )
