"""Gopher quality rules: each threshold from just inside and just outside."""

from dataclasses import replace

import pytest
from gate_texts import distinct_words, only_rules, prose

from indw.gates import GopherQualityConfig
from indw.gates.gopher_quality import check, count_words_without_letter
from indw.gates.text import DocumentText

DEFAULTS = GopherQualityConfig()


def run(text: str, config: GopherQualityConfig) -> str | None:
    return check(DocumentText(text), config)


def test_default_rules_pass_plain_prose():
    assert run(prose(8), DEFAULTS) is None


def test_min_words_boundary():
    config = only_rules(DEFAULTS, min_words=50)
    assert run(" ".join(distinct_words(50)), config) is None
    assert run(" ".join(distinct_words(49)), config) == "gopher_word_count"


def test_max_words_boundary():
    config = only_rules(DEFAULTS, max_words=60)
    assert run(" ".join(distinct_words(60)), config) is None
    assert run(" ".join(distinct_words(61)), config) == "gopher_word_count"


def test_symbols_are_not_words():
    config = only_rules(DEFAULTS, min_words=5)
    assert run("one, two; three -- four ... # $ %", config) == "gopher_word_count"
    assert run("one, two; three -- four five.", config) is None


def test_min_mean_word_length_boundary():
    config = only_rules(DEFAULTS, min_mean_word_length=3)
    exact = distinct_words(10, length=3)
    assert run(" ".join(exact), config) is None
    below = exact[:9] + ["zz"]
    assert run(" ".join(below), config) == "gopher_mean_word_length"


def test_max_mean_word_length_boundary():
    config = only_rules(DEFAULTS, max_mean_word_length=10)
    exact = [word * 5 for word in distinct_words(10, length=2)]
    assert run(" ".join(exact), config) is None
    above = exact[:9] + ["q" * 11]
    assert run(" ".join(above), config) == "gopher_mean_word_length"


def test_mean_word_length_ignores_punctuation():
    config = only_rules(DEFAULTS, min_mean_word_length=3)
    assert run('"abc," (def) [ghi]. jkl!', config) is None


def test_hash_ratio_boundary():
    config = only_rules(DEFAULTS, max_hash_ratio=0.1)
    words = " ".join(distinct_words(50))
    assert run(words + " #" * 5, config) is None
    assert run(words + " #" * 6, config) == "gopher_hash_ratio"


def test_ellipsis_ratio_boundary_counts_both_forms():
    config = only_rules(DEFAULTS, max_ellipsis_ratio=0.1)
    words = " ".join(distinct_words(50))
    assert run(words + " ..." * 3 + " …" * 2, config) is None
    assert run(words + " ..." * 3 + " …" * 3, config) == "gopher_ellipsis_ratio"


def bullet_text(bullets: int, lines: int) -> str:
    words = distinct_words(lines * 3)
    rows = []
    for index in range(lines):
        row = " ".join(words[index * 3 : index * 3 + 3])
        rows.append(("  - " if index < bullets else "") + row)
    # Blank lines do not count as lines.
    return "\n\n".join(rows)


def test_bullet_lines_boundary():
    config = only_rules(DEFAULTS, max_bullet_lines=0.9)
    assert run(bullet_text(18, 20), config) is None
    assert run(bullet_text(19, 20), config) == "gopher_bullet_lines"


@pytest.mark.parametrize("bullet", ["•", "●", "◦", "‣", "-", "*"])
def test_each_default_bullet_counts(bullet):
    config = only_rules(DEFAULTS, max_bullet_lines=0.5)
    text = f"{bullet} one item\n{bullet} two item\nplain line here"
    assert run(text, config) == "gopher_bullet_lines"


def ellipsis_line_text(ending: int, lines: int, mark: str = "...") -> str:
    words = distinct_words(lines * 3)
    rows = []
    for index in range(lines):
        row = " ".join(words[index * 3 : index * 3 + 3])
        rows.append(row + (mark if index < ending else "."))
    return "\n".join(rows)


@pytest.mark.parametrize("mark", ["...", "…"])
def test_ellipsis_lines_boundary(mark):
    config = only_rules(DEFAULTS, max_ellipsis_lines=0.3)
    assert run(ellipsis_line_text(3, 10, mark), config) is None
    assert run(ellipsis_line_text(4, 10, mark), config) == "gopher_ellipsis_lines"


def test_alpha_words_boundary():
    config = only_rules(DEFAULTS, min_alpha_words=0.8)
    words = distinct_words(8)
    assert run(" ".join(words + ["12", "345"]), config) is None
    fewer = words[:7] + ["12", "345", "6_7"]
    assert run(" ".join(fewer), config) == "gopher_alpha_words"


def test_words_without_letter_are_numeric_or_underscore():
    text = "12 x1 1_000 __ ½ ² a_b ٣ _x"
    words = text.split()
    assert count_words_without_letter(words, text) == 6


def test_stop_words_boundary():
    config = only_rules(DEFAULTS, min_stop_words=2)
    words = " ".join(distinct_words(20))
    assert run(f"{words} the end of it", config) is None
    assert run(f"{words} the the the", config) == "gopher_stop_words"


def test_stop_words_match_whole_words_in_given_case():
    config = only_rules(DEFAULTS, min_stop_words=2)
    assert run("The Of theory often", config) == "gopher_stop_words"
    assert run("then of-the", config) is None


def test_stop_word_list_is_a_setting():
    config = only_rules(DEFAULTS, min_stop_words=2)
    config = replace(config, stop_words=("der", "die", "das"))
    assert run("der Hund und die Katze", config) is None
    assert run("the cat and the dog", config) == "gopher_stop_words"


def test_stop_words_may_contain_combining_marks():
    # "है" and "की" end in vowel signs, which are combining marks.
    config = only_rules(DEFAULTS, min_stop_words=2)
    config = replace(config, stop_words=("है", "की"))
    assert run("यह भारत की राजधानी है", config) is None
    assert run("यह भारत की राजधानी", config) == "gopher_stop_words"


def test_stop_word_must_be_one_word():
    with pytest.raises(ValueError, match="stop_words"):
        GopherQualityConfig(stop_words=("do not",)).check()


def test_null_threshold_switches_rule_off():
    config = only_rules(DEFAULTS)
    assert run("# # #", config) is None


def test_first_failing_rule_names_reason():
    # Too few words and no stop words: the word count comes first.
    assert run("short text here", DEFAULTS) == "gopher_word_count"
    text = " ".join(distinct_words(60))
    assert run(text, DEFAULTS) == "gopher_stop_words"
