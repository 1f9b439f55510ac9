"""Numbers written in words read as the same number as its digits, in the guard and its checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.semantic_guard import guard
from shared.spelled_numbers import respell

_UNIT_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    " fifteen sixteen seventeen eighteen nineteen"
)
_TEN_WORDS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety"
UNITS = _UNIT_WORDS.split()
TENS = _TEN_WORDS.split()


def spelled(n: int, hyphen: bool, and_: bool) -> str:
    """A reference speller, the way people write numbers: 2,506 -> two thousand five hundred
    (and) six; tens and units joined by a hyphen or a space."""
    words: list[str] = []
    thousands, rest = divmod(n, 1000)
    if thousands:
        words += [*spelled(thousands, hyphen, and_).split(), "thousand"]
    hundreds, rest = divmod(rest, 100)
    if hundreds:
        words += [UNITS[hundreds], "hundred"]
    if rest or not words:
        if words and and_:
            words.append("and")
        if rest < 20:
            words.append(UNITS[rest])
        else:
            tens, unit = divmod(rest, 10)
            words.append(
                TENS[tens] + ("-" + UNITS[unit] if hyphen else " " + UNITS[unit])
                if unit
                else TENS[tens]
            )
    return " ".join(words)


@given(st.integers(0, 999_999), st.booleans(), st.booleans())
def test_any_number_in_words_reads_as_its_digits(n: int, hyphen: bool, and_: bool) -> None:
    assert respell(spelled(n, hyphen, and_).split()) == [str(n)]


@pytest.mark.parametrize(
    ("words", "read"),
    [
        ("what's a hundred take away thirty-seven", "what's 100 take away 37"),
        ("a thirty-day free trial", "a 30 day free trial"),
        ("a forty-five-year-old driver", "a 45 year-old driver"),
        ("one hundred and twenty days", "120 days"),
        ("two three four", "2 3 4"),  # a list, not one number
        ("five twenty", "5 20"),
        ("twenty twenty", "20 20"),
        ("which one is better", "which one is better"),  # a pronoun
        ("the one and only", "the one and only"),
        ("cats and dogs", "cats and dogs"),
    ],
)
def test_spelled_numbers_in_context(words: str, read: str) -> None:
    assert " ".join(respell(words.split())) == read


@pytest.mark.parametrize(
    ("stored", "request_text"),
    [
        ("What is the square root of 144?", "Find the square root of one hundred forty-four."),
        (
            "Can I cancel my flight for free within 24 hours?",
            "cancel flight within twenty four hours free?",
        ),
        ("What is 45 divided by 9?", "divide forty-five by nine"),
    ],
)
def test_a_number_in_words_matches_its_digits(stored: str, request_text: str) -> None:
    assert guard(request_text, stored) is None


@pytest.mark.parametrize(
    ("why", "stored", "request_text"),
    [
        ("numbers", "What is the square root of 144?", "the square root of one hundred forty-five"),
        ("numbers", "What is 45 divided by 9?", "divide nine by forty-five"),  # order
        ("numbers", "Is a 30-day trial free?", "is a thirty-one-day trial free"),
        ("operator", "What is 12 times 7?", "what is twelve plus seven"),
    ],
)
def test_a_number_in_words_still_tells_questions_apart(
    why: str, stored: str, request_text: str
) -> None:
    assert guard(request_text, stored) == why
