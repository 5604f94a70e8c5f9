"""C4 rules: line removals, document drops and the sentence count."""

from dataclasses import replace

import pytest
from gate_texts import prose

from indw.gates import C4Config
from indw.gates.c4 import check, count_sentences
from indw.gates.text import DocumentText

DEFAULTS = C4Config()
# Line rules alone: no sentence minimum, so a short text can pass.
LINES_ONLY = replace(DEFAULTS, min_sentences=None)


def run(text: str, config: C4Config = LINES_ONLY) -> tuple[str, str | None]:
    return check(DocumentText(text), config)


def kept_lines(text: str, config: C4Config = LINES_ONLY) -> list[str]:
    output, reason = run(text, config)
    assert reason is None
    return output.split("\n")


def test_default_rules_pass_plain_prose():
    text = prose(5)
    assert run(text, DEFAULTS) == (text, None)


@pytest.mark.parametrize(
    "line,kept",
    [
        ("This line ends well.", True),
        ("Does this line ask?", True),
        ("This line shouts loudly!", True),
        ('He said "it works."', True),
        ("She said 'it works'", True),
        ("This line has no end", False),
        ("This line trails off...", False),
        ("This line ends in a colon:", False),
    ],
)
def test_terminal_punctuation(line, kept):
    text = f"{line}\nA plain line here."
    assert (line in kept_lines(text)) is kept


def test_terminal_punctuation_rule_switches_off():
    config = replace(LINES_ONLY, require_terminal_punctuation=False)
    assert "This line has no end" in kept_lines("This line has no end", config)


def test_min_words_per_line_boundary():
    lines = kept_lines("Two words.\nThree words here.\nFour words right here.")
    assert lines == ["Three words here.", "Four words right here."]
    config = replace(LINES_ONLY, min_words_per_line=None)
    assert kept_lines("Two words.", config) == ["Two words."]


def test_javascript_lines_removed_in_any_case():
    text = "Please enable JavaScript to view it.\nThe rest stays here."
    assert kept_lines(text) == ["The rest stays here."]
    config = replace(LINES_ONLY, remove_javascript_lines=False)
    assert len(kept_lines(text, config)) == 2


@pytest.mark.parametrize(
    "line",
    [
        "Read our Terms of Use first.",
        "See the privacy policy below.",
        "This site uses cookies to work.",
        "We use cookies for analytics.",
        "About our use of cookies here.",
        "Our cookie policy applies here.",
    ],
)
def test_policy_lines_removed(line):
    assert kept_lines(f"{line}\nThe rest stays here.") == ["The rest stays here."]


def test_max_word_length_boundary():
    inside = "A " + "w" * 1000 + " word here."
    outside = "A " + "w" * 1001 + " word here."
    text = f"{inside}\n{outside}\nThe rest stays here."
    assert kept_lines(text) == [inside, "The rest stays here."]


def test_citations_cut_from_lines():
    text = (
        "It was true.[1]\nIt was also true.[citation needed]\nSee the note here. [edit]"
    )
    assert kept_lines(text) == [
        "It was true.",
        "It was also true.",
        "See the note here.",
    ]
    # Without the cut, each line ends in "]" and is removed.
    config = replace(LINES_ONLY, remove_citations=False)
    assert run(text, config)[1] == "c4_no_lines_kept"


def test_lines_are_stripped():
    assert kept_lines("   Indented line stays here.  ") == ["Indented line stays here."]


def test_lorem_ipsum_drops_document():
    text = prose(5) + "\nLorem ipsum dolor sit amet."
    assert run(text, DEFAULTS) == (text, "c4_lorem_ipsum")
    config = replace(DEFAULTS, drop_lorem_ipsum=False)
    assert run(text, config)[1] is None


def test_lorem_ipsum_on_removed_line_keeps_document():
    text = prose(5) + "\nlorem ipsum dolor sit amet"
    output, reason = run(text, DEFAULTS)
    assert reason is None
    assert "lorem" not in output


def test_curly_brace_drops_document():
    text = prose(5) + "\nThe map {a: 1} is shown."
    assert run(text, DEFAULTS) == (text, "c4_curly_brace")
    config = replace(DEFAULTS, drop_curly_brace=False)
    assert run(text, config)[1] is None


def test_curly_brace_on_removed_line_keeps_document():
    text = prose(5) + "\nint main() {"
    output, reason = run(text, DEFAULTS)
    assert reason is None
    assert output == prose(5)


def test_min_sentences_boundary():
    assert run(prose(5), DEFAULTS)[1] is None
    assert run(prose(4), DEFAULTS) == (prose(4), "c4_too_few_sentences")


def test_sentences_counted_within_lines():
    text = (
        "One two three. Four five six! Seven eight nine?\n"
        "Ten eleven twelve. Last one here."
    )
    assert run(text, DEFAULTS)[1] is None
    assert run(text.replace("Last one here.", ""), DEFAULTS)[1] == (
        "c4_too_few_sentences"
    )


@pytest.mark.parametrize(
    "line,count",
    [
        ("One sentence here.", 1),
        ("One. Two! Three?", 3),
        ('He said "stop." Then left.', 2),
        ("Pi is 3.14 and e is 2.72.", 1),
        ("Wait... what?!", 2),
        ('A quote "with no full stop"', 1),
    ],
)
def test_count_sentences(line, count):
    assert count_sentences(line) == count


def test_removed_lines_not_in_output():
    text = "\n".join(
        [
            "First kept line of text.",
            "a heading",
            "",
            "Second kept line of text.",
        ]
    )
    assert kept_lines(text) == ["First kept line of text.", "Second kept line of text."]


def test_no_lines_kept_drops_document():
    assert run("no punctuation\nat all") == (
        "no punctuation\nat all",
        "c4_no_lines_kept",
    )


def test_drop_reasons_come_before_sentence_count():
    assert run("Lorem ipsum dolor sit amet.", DEFAULTS)[1] == "c4_lorem_ipsum"
    assert run("The map {a: 1} is shown.", DEFAULTS)[1] == "c4_curly_brace"
    assert run("int main() {", DEFAULTS)[1] == "c4_too_few_sentences"
