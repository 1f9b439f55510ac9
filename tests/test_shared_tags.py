"""X-Prism-Tags parsing and the text cleaning under it: documented rules as a table, totality
and idempotence as properties."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.tags import MAX_LENGTH, MAX_PAIRS, format_tags, parse_tags
from shared.text import clean

A64 = "a" * 64
ELEVEN = ",".join(f"k{i}=v{i}" for i in range(11))

TAG_CASES: list[tuple[str, str | None, dict[str, str] | None]] = [
    ("none", None, None),
    ("empty", "", None),
    ("blank", "   ", None),
    ("one pair", "feature=onboarding", {"feature": "onboarding"}),
    ("two pairs", "feature=onboarding,team=growth", {"feature": "onboarding", "team": "growth"}),
    (
        "whitespace trimmed",
        "  feature = onboarding ,\tteam=growth  ",
        {"feature": "onboarding", "team": "growth"},
    ),
    ("no separator dropped", "feature,team=growth", {"team": "growth"}),
    ("empty key dropped", "=x,team=growth", {"team": "growth"}),
    ("empty value dropped", "team=,a=b", {"a": "b"}),
    ("blank value dropped", "team=   ,a=b", {"a": "b"}),
    ("only empties", "=,=,,", None),
    ("double equals", "==", None),
    ("value keeps later equals", "k=v=w", {"k": "v=w"}),
    ("equals-only value", "k==", {"k": "="}),
    ("repeated key keeps first", "team=a,team=b", {"team": "a"}),
    ("repeated key after trim", "team=a, team =b", {"team": "a"}),
    ("ten kept", ",".join(f"k{i}=v{i}" for i in range(10)), {f"k{i}": f"v{i}" for i in range(10)}),
    ("eleventh dropped", ELEVEN, {f"k{i}": f"v{i}" for i in range(10)}),
    (
        "repeats do not use up slots",
        "a=1,a=2," + ",".join(f"k{i}=v{i}" for i in range(9)),
        {"a": "1", **{f"k{i}": f"v{i}" for i in range(9)}},
    ),
    ("key truncated", "k" * 100 + "=v", {"k" * 64: "v"}),
    ("value truncated", "k=" + "v" * 100, {"k": "v" * 64}),
    ("exactly 64 kept", f"{A64}={A64}", {A64: A64}),
    ("truncation that leaves a space is trimmed", "k=" + "v" * 63 + " tail", {"k": "v" * 63}),
    ("keys equal after truncation", f"{A64}x=1,{A64}y=2", {A64: "1"}),
    ("CR LF dropped", "team=gro\r\nwth", {"team": "growth"}),
    ("header injection stays one value", "a=b\r\nX-Evil: 1", {"a": "bX-Evil: 1"}),
    ("NUL dropped", "te\x00am=gr\x00owth", {"team": "growth"}),
    ("NUL-only value dropped", "team=\x00", None),
    ("tab inside dropped", "team=gro\twth", {"team": "growth"}),
    ("lone surrogate dropped", "team=gro\ud800wth", {"team": "growth"}),
    ("unicode kept", "équipe=croissance,チーム=成長", {"équipe": "croissance", "チーム": "成長"}),
    ("emoji ZWJ sequence kept", "who=👩\u200d💻", {"who": "👩\u200d💻"}),
    ("persian ZWNJ kept", "lang=می\u200cخواهم", {"lang": "می\u200cخواهم"}),
    ("no-break space is a space", "team=growth\u00a0eng", {"team": "growth eng"}),
    ("line separator is a space, trimmed", "team=growth\u2028", {"team": "growth"}),
    ("100 KB value", "k=" + "x" * 100_000, {"k": "x" * 64}),
    ("100 KB of pairs", ",".join(["a=b"] * 25_000), {"a": "b"}),
    ("100 KB of commas", "," * 100_000, None),
]


@pytest.mark.parametrize(
    ("header", "expected"), [c[1:] for c in TAG_CASES], ids=[c[0] for c in TAG_CASES]
)
def test_parse_tags(header: str | None, expected: dict[str, str] | None) -> None:
    assert parse_tags(header) == expected


@pytest.mark.parametrize("value", [b"a=b", 42, ["a=b"], {"a": "b"}])
def test_parse_tags_non_string_is_none(value: object) -> None:
    assert parse_tags(value) is None  # type: ignore[arg-type]


FORMAT_CASES: list[tuple[dict[str, str] | None, str]] = [
    (None, ""),
    ({}, ""),
    ({"a": "b"}, "a=b"),
    ({"a": "b", "c": "d=e"}, "a=b,c=d=e"),
]


@pytest.mark.parametrize(("tags", "header"), FORMAT_CASES)
def test_format_tags(tags: dict[str, str] | None, header: str) -> None:
    assert format_tags(tags) == header


CLEAN_CASES: list[tuple[str, str]] = [
    ("", ""),
    ("  plain  ", "plain"),
    ("a\x00b", "ab"),
    ("a\x7fb\x9fc", "abc"),
    ("\r\n\tx\v\f", "x"),
    ("a\udfffb", "ab"),
    ("a\u3000b", "a b"),
    ("\u2029a\u00a0", "a"),
    ("a\u200db", "a\u200db"),
    ("ß ẞ Ω", "ß ẞ Ω"),
]


@pytest.mark.parametrize(("raw", "expected"), CLEAN_CASES)
def test_clean(raw: str, expected: str) -> None:
    assert clean(raw) == expected


# Every code point, surrogates included, so lone surrogates from a lenient decoder are covered.
SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
ANY_TEXT = st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF) | SURROGATES)
# Text built from the characters that matter to the grammar, so pairs actually form.
PAIR_TEXT = st.text(
    st.sampled_from(list("ab=, \t\r\n\x00\u00a0\ud800é😀")) | st.characters(), max_size=400
)


def _assert_valid(tags: dict[str, str] | None) -> None:
    if tags is None:
        return
    assert isinstance(tags, dict) and 0 < len(tags) <= MAX_PAIRS
    for key, value in tags.items():
        for text in (key, value):
            assert isinstance(text, str) and 0 < len(text) <= MAX_LENGTH
            assert text == text.strip()
            assert not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text)
        assert "," not in key + value and "=" not in key
    encoded = json.dumps(tags, ensure_ascii=False).encode("utf-8")
    assert b"\x00" not in encoded and b"\\u0000" not in encoded
    assert json.loads(encoded) == tags


@settings(max_examples=400, deadline=None)
@given(st.none() | ANY_TEXT | PAIR_TEXT)
def test_parse_tags_is_total_and_valid(header: str | None) -> None:
    _assert_valid(parse_tags(header))


@settings(max_examples=400, deadline=None)
@given(st.none() | ANY_TEXT | PAIR_TEXT)
def test_parse_tags_is_idempotent(header: str | None) -> None:
    parsed = parse_tags(header)
    assert parse_tags(format_tags(parsed)) == parsed


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_clean_is_idempotent_and_storable(text: str) -> None:
    once = clean(text)
    assert clean(once) == once
    assert "\x00" not in once
    once.encode("utf-8")
