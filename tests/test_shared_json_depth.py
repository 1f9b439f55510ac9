"""The JSON nesting measure both tiers run before parsing: exact on JSON, safe on anything."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import InvalidRequest
from shared.json_depth import MAX_JSON_DEPTH, check_json_depth, json_depth_exceeds

# Strings full of brackets, quotes and backslashes: they must never count as structure.
tricky_text = st.text(alphabet=st.sampled_from('[]{}"\\:,ab\u00e9\U0001f600 '), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=40,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


def chain(levels: int) -> str:
    """JSON text nesting objects and arrays alternately `levels` deep, built without recursion."""
    opens = ['{"k": ' if i % 2 else "[" for i in range(levels)]
    closes = ["}" if i % 2 else "]" for i in reversed(range(levels))]
    return "".join(opens) + '"leaf [[[{{{"' + "".join(closes)


@settings(max_examples=300)
@given(json_values, st.integers(min_value=0, max_value=12), st.booleans())
def test_exact_on_any_json_value(value: Any, limit: int, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert json_depth_exceeds(text, limit) == (depth(value) > limit)
    assert json_depth_exceeds(text.encode(), limit) == (depth(value) > limit)


@pytest.mark.parametrize("levels", [1, 7, 8, 9, 30, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 5000])
def test_exact_on_deep_chains(levels: int) -> None:
    text = chain(levels)
    assert levels > 900 or depth(json.loads(text)) == levels
    assert json_depth_exceeds(text) == (levels > MAX_JSON_DEPTH)
    assert json_depth_exceeds(text, levels) is False
    assert json_depth_exceeds(text, levels - 1) is True


@pytest.mark.parametrize(
    ("text", "exceeds"),
    [
        (b"[" * 100_000, True),
        (b'{"a":' * 100_000, True),
        (b"[" * MAX_JSON_DEPTH, False),  # unclosed, but no deeper than the limit
        (b"[" * (MAX_JSON_DEPTH + 1), True),
        (b"]" * 100_000 + b"[" * 10, False),  # a parser stops at the first closer
        (b'"' + b"[" * 100_000 + b'"', False),  # all inside one string
        (b'"\\"' + b"[" * 100_000, False),  # an escaped quote does not end the string
        (b'"\\\\"' + b"[" * 100_000, True),  # an escaped backslash does
        (b"", False),
        (b"\xff\xfe not json [[", False),
        ("\ud800 [[[", False),  # lone surrogates are measured, not an error
    ],
)
def test_malformed_text_is_measured_not_parsed(text: str | bytes, exceeds: bool) -> None:
    assert json_depth_exceeds(text) is exceeds


def test_check_raises_the_clients_400() -> None:
    with pytest.raises(InvalidRequest) as info:
        check_json_depth(b"[" * 100_000)
    assert info.value.status == 400 and info.value.code == "json_too_deep"
    check_json_depth(chain(MAX_JSON_DEPTH))
