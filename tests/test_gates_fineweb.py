"""FineWeb line rules: each threshold from just inside and just outside."""

from gate_texts import distinct_words, only_rules, prose

from indw.gates import FineWebConfig
from indw.gates.fineweb import check
from indw.gates.text import DocumentText

DEFAULTS = FineWebConfig()


def run(text: str, config: FineWebConfig) -> str | None:
    return check(DocumentText(text), config)


def long_lines(count: int, ending: str = "") -> list[str]:
    """Return ``count`` different lines of 8 words (31 characters or more)."""
    words = distinct_words(count * 8)
    return [" ".join(words[i * 8 : i * 8 + 8]) + ending for i in range(count)]


def test_default_rules_pass_plain_prose():
    assert run(prose(6), DEFAULTS) is None


def test_punctuation_lines_boundary():
    config = only_rules(DEFAULTS, min_punctuation_lines=0.12)
    ending, plain = long_lines(3, "."), long_lines(25)[3:]
    # Blank lines do not count as lines.
    assert run("\n\n".join(ending + plain), config) is None
    outside = "\n".join(ending[:2] + plain + long_lines(26)[25:])
    assert run(outside, config) == "fineweb_punctuation_lines"


def test_punctuation_of_other_scripts_counts():
    config = only_rules(DEFAULTS, min_punctuation_lines=0.5)
    for mark in ["?", "!", "。", "！", "؟", "।"]:
        assert run(f"first line{mark}\nsecond line", config) is None, mark


def test_short_lines_boundary():
    config = only_rules(DEFAULTS, max_short_lines=0.67)
    short = ["s" * 30 + str(i) for i in range(68)]
    short = [line[-30:] for line in short]
    assert all(len(line) == 30 for line in short)
    inside = "\n".join(short[:67] + long_lines(33))
    assert run(inside, config) is None
    outside = "\n".join(short[:68] + long_lines(32))
    assert run(outside, config) == "fineweb_short_lines"


def test_short_line_length_is_a_setting():
    config = only_rules(DEFAULTS, max_short_lines=0.5, short_line_length=5)
    assert run("abcdef\nabcdefg", config) is None
    assert run("abcde\nabcde", config) == "fineweb_short_lines"


def test_duplicate_line_chars_boundary():
    config = only_rules(DEFAULTS, max_duplicate_line_chars=0.1)
    repeated = "r" * 10
    # Without newlines: 10 + 80 + 10 = 100 characters, 10 repeated.
    inside = "\n".join([repeated, "f" * 80, repeated])
    assert run(inside, config) is None
    outside = "\n".join([repeated, "f" * 79, repeated])
    assert run(outside, config) == "fineweb_duplicate_line_chars"


def test_newlines_per_word_boundary():
    config = only_rules(DEFAULTS, max_newlines_per_word=0.3)
    words = distinct_words(10)
    inside = (
        " ".join(words[:4]) + "\n" + "\n".join(words[4:7]) + " " + " ".join(words[7:])
    )
    assert inside.count("\n") == 3
    assert run(inside, config) is None
    outside = "\n".join(words[:5]) + " " + " ".join(words[5:])
    assert outside.count("\n") == 4
    assert run(outside, config) == "fineweb_newlines_per_word"


def test_first_failing_rule_names_reason():
    text = "\n".join(["short"] * 10)
    assert run(text, DEFAULTS) == "fineweb_punctuation_lines"
    text = "\n".join(["short."] * 10)
    assert run(text, DEFAULTS) == "fineweb_short_lines"
