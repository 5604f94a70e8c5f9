"""Gopher quality rules (Rae et al. 2021, "Scaling Language Models", appendix A).

The rules run in the order of the fields below and the first that fails names
the drop reason. A threshold of ``None`` (``null`` in the config) switches its
rule off. Words are those of ``indw.gates.text``. Blank lines do not count as
lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from operator import methodcaller

from indw.gates.text import DocumentText, share, split_words

STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
BULLETS = ("•", "●", "◦", "‣", "-", "*")

ELLIPSES = ("...", "…")
HAS_UNDERSCORE = methodcaller("__contains__", "_")

REASONS = (
    "gopher_word_count",
    "gopher_mean_word_length",
    "gopher_hash_ratio",
    "gopher_ellipsis_ratio",
    "gopher_bullet_lines",
    "gopher_ellipsis_lines",
    "gopher_alpha_words",
    "gopher_stop_words",
)


@dataclass(frozen=True)
class GopherQualityConfig:
    enabled: bool = True
    # Words in the document; fails below min or above max.
    min_words: int | None = 50
    max_words: int | None = 100_000
    # Mean characters per word.
    min_mean_word_length: float | None = 3
    max_mean_word_length: float | None = 10
    # "#" characters per word, and "..." or "…" per word.
    max_hash_ratio: float | None = 0.1
    max_ellipsis_ratio: float | None = 0.1
    # Share of lines that start with a bullet, or end with an ellipsis.
    max_bullet_lines: float | None = 0.9
    max_ellipsis_lines: float | None = 0.3
    # Share of words with at least one letter.
    min_alpha_words: float | None = 0.8
    # Distinct stop words the document must contain.
    min_stop_words: int | None = 2
    stop_words: tuple[str, ...] = STOP_WORDS
    bullets: tuple[str, ...] = BULLETS

    def check(self) -> None:
        """Raise ValueError for settings the schema cannot express."""
        for word in self.stop_words:
            if split_words(word) != [word]:
                raise ValueError(
                    f"gates.gopher_quality.stop_words: {word!r} is not a single "
                    "word; use letters, digits, marks and underscores only"
                )
        for bullet in self.bullets:
            if not bullet or bullet.isspace():
                raise ValueError(
                    f"gates.gopher_quality.bullets: {bullet!r} is invalid; "
                    "give non-blank strings such as '-' or '•'"
                )


def count_words_without_letter(words: list[str], text: str) -> int:
    """Count the words of ``text`` that have no letter (str.isalpha) in them.

    A word character that is not a letter is numeric or the underscore, so
    such a word is numeric once its underscores become digits.
    """
    count = sum(map(str.isnumeric, words))
    if "_" in text:
        underscored = filter(HAS_UNDERSCORE, words)
        count += sum(word.replace("_", "0").isnumeric() for word in underscored)
    return count


@lru_cache(maxsize=16)
def _stop_word_set(stop_words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(stop_words)


def check(doc: DocumentText, config: GopherQualityConfig) -> str | None:
    """Return the reason of the first Gopher quality rule that fails, or None."""
    text = doc.text
    words = doc.words
    count = len(words)

    if config.min_words is not None and count < config.min_words:
        return "gopher_word_count"
    if config.max_words is not None and count > config.max_words:
        return "gopher_word_count"

    if (
        config.min_mean_word_length is not None
        or config.max_mean_word_length is not None
    ):
        mean = share(sum(map(len, words)), count)
        if config.min_mean_word_length is not None and (
            mean < config.min_mean_word_length
        ):
            return "gopher_mean_word_length"
        if config.max_mean_word_length is not None and (
            mean > config.max_mean_word_length
        ):
            return "gopher_mean_word_length"

    if config.max_hash_ratio is not None:
        if share(text.count("#"), count) > config.max_hash_ratio:
            return "gopher_hash_ratio"
    if config.max_ellipsis_ratio is not None:
        ellipses = text.count("...") + text.count("…")
        if share(ellipses, count) > config.max_ellipsis_ratio:
            return "gopher_ellipsis_ratio"

    if config.max_bullet_lines is not None and config.bullets:
        lines = doc.nonblank_lines
        starts_with_bullet = methodcaller("startswith", config.bullets)
        bullet_lines = sum(map(starts_with_bullet, map(str.lstrip, lines)))
        if share(bullet_lines, len(lines)) > config.max_bullet_lines:
            return "gopher_bullet_lines"
    if config.max_ellipsis_lines is not None and ("..." in text or "…" in text):
        lines = doc.nonblank_lines
        ends_with_ellipsis = methodcaller("endswith", ELLIPSES)
        ellipsis_lines = sum(map(ends_with_ellipsis, map(str.rstrip, lines)))
        if share(ellipsis_lines, len(lines)) > config.max_ellipsis_lines:
            return "gopher_ellipsis_lines"

    if config.min_alpha_words is not None:
        # Each word with an underscore contains one, so those words are looked
        # at only when they could bring the share below the limit.
        lower_bound = count - sum(map(str.isnumeric, words)) - text.count("_")
        if share(lower_bound, count) < config.min_alpha_words:
            alpha = count - count_words_without_letter(words, text)
            if share(alpha, count) < config.min_alpha_words:
                return "gopher_alpha_words"

    if config.min_stop_words:
        found = _stop_word_set(config.stop_words).intersection(words)
        if len(found) < config.min_stop_words:
            return "gopher_stop_words"

    return None
