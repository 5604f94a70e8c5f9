"""Word and line splitting shared by the gates."""

import sys
import unicodedata

import pytest

from indw.gates.text import WORD, DocumentText, split_words


@pytest.mark.parametrize(
    "text,words",
    [
        ("don't stop", ["don", "t", "stop"]),
        ("e.g. 3.14, snake_case!", ["e", "g", "3", "14", "snake_case"]),
        ("Café au lait", ["Café", "au", "lait"]),
        ("Cafe\u0301 au lait", ["Cafe\u0301", "au", "lait"]),
        ("हिन्दी भाषा", ["हिन्दी", "भाषा"]),
        ("数据 清洗。", ["数据", "清洗"]),
        ("-- ... # ‣", []),
    ],
)
def test_split_words(text, words):
    assert split_words(text) == words


def test_ascii_path_matches_regex():
    text = "".join(chr(code) for code in range(128)) * 3 + " a_b c-d 12x"
    assert text.isascii()
    assert split_words(text) == WORD.findall(text)


def test_every_combining_mark_is_a_word_character():
    marks = [
        chr(code)
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code))[0] == "M"
    ]
    assert len(marks) > 2000
    assert all(WORD.fullmatch(mark) for mark in marks)


def test_nonblank_lines_skip_whitespace_only_lines():
    doc = DocumentText("one\n\n  \n\ttwo\n")
    assert doc.lines == ["one", "", "  ", "\ttwo", ""]
    assert doc.nonblank_lines == ["one", "\ttwo"]
