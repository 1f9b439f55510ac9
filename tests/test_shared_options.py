"""X-Prism-* request options: accepted values, defaults, and rejections naming the header."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import headers as H
from shared.errors import InvalidRequest
from shared.options import RequestOptions, parse_options

DEFAULTS = RequestOptions()

VALID: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    ("no headers", {}, {}),
    (
        "blank headers are defaults",
        {H.MODE: " ", H.CACHE: "", H.CACHE_TTL: "\t", H.CACHE_THRESHOLD: "", H.AUTO_CACHE: ""},
        {},
    ),
    ("mode eco", {H.MODE: "eco"}, {"mode": "eco"}),
    ("mode balanced", {H.MODE: "balanced"}, {"mode": "balanced"}),
    ("mode sport, any case and padding", {H.MODE: "  SPORT "}, {"mode": "sport"}),
    ("cache default", {H.CACHE: "default"}, {"cache": "default"}),
    ("cache no-cache", {H.CACHE: "No-Cache"}, {"cache": "no-cache"}),
    ("cache no-store", {H.CACHE: "no-store"}, {"cache": "no-store"}),
    ("ttl low bound", {H.CACHE_TTL: "60"}, {"cache_ttl_s": 60}),
    ("ttl high bound", {H.CACHE_TTL: "2592000"}, {"cache_ttl_s": 2_592_000}),
    ("ttl padded", {H.CACHE_TTL: " 120 "}, {"cache_ttl_s": 120}),
    ("threshold low bound", {H.CACHE_THRESHOLD: "0.80"}, {"cache_threshold": 0.80}),
    ("threshold high bound", {H.CACHE_THRESHOLD: "0.99"}, {"cache_threshold": 0.99}),
    ("threshold short form", {H.CACHE_THRESHOLD: ".9"}, {"cache_threshold": 0.9}),
    ("auto-cache on", {H.AUTO_CACHE: "on"}, {"auto_cache": True}),
    ("auto-cache ON", {H.AUTO_CACHE: "ON"}, {"auto_cache": True}),
    ("auto-cache off", {H.AUTO_CACHE: "off"}, {"auto_cache": False}),
    ("model prefer", {H.MODEL_PREFER: " claude-haiku "}, {"model_prefer": "claude-haiku"}),
    ("model prefer capped", {H.MODEL_PREFER: "m" * 300}, {"model_prefer": "m" * 200}),
    ("session", {H.SESSION: "sess-1"}, {"session_id": "sess-1"}),
    ("session cleaned", {H.SESSION: "se\x00ss\r\n"}, {"session_id": "sess"}),
    ("session at the limit", {H.SESSION: "s" * 256}, {"session_id": "s" * 256}),
    ("session blank", {H.SESSION: "\x00 "}, {"session_id": None}),
    (
        "memory with a session",
        {H.MEMORY: "on", H.SESSION: "s"},
        {"memory": True, "session_id": "s"},
    ),
    ("memory off without one", {H.MEMORY: "off"}, {"memory": False}),
    ("version", {H.CACHE_VERSION: "v2"}, {"cache_version": "v2"}),
    ("version capped", {H.CACHE_VERSION: "v" * 200}, {"cache_version": "v" * 128}),
    ("tags", {H.TAGS: "team=growth"}, {"tags": {"team": "growth"}}),
    ("tags invalid are none", {H.TAGS: "nonsense"}, {"tags": None}),
]


@pytest.mark.parametrize(("headers", "expected"), [v[1:] for v in VALID], ids=[v[0] for v in VALID])
def test_valid_headers(headers: dict[str, str], expected: dict[str, Any]) -> None:
    options = parse_options(headers)
    want = {field: getattr(DEFAULTS, field) for field in DEFAULTS.__dataclass_fields__}
    assert {f: getattr(options, f) for f in want} == {**want, **expected}


def test_defaults() -> None:
    assert DEFAULTS == RequestOptions(
        mode="balanced", cache="default", cache_ttl_s=3600, cache_threshold=0.99, auto_cache=False
    )
    assert isinstance(parse_options({H.CACHE_TTL: "60"}).cache_ttl_s, int)


def test_names_are_looked_up_through_the_mapping() -> None:
    headers = httpx.Headers({"x-prism-mode": "eco", "X-PRISM-CACHE-TTL": "90"})
    options = parse_options(headers)
    assert (options.mode, options.cache_ttl_s) == ("eco", 90)


@pytest.mark.parametrize(
    ("cache", "lookup", "store"),
    [
        ("default", True, True),
        ("no-cache", False, True),
        ("no-store", False, False),
    ],
)
def test_cache_directive_meaning(cache: str, lookup: bool, store: bool) -> None:
    options = parse_options({H.CACHE: cache})
    assert (options.cache_lookup, options.cache_store) == (lookup, store)


INVALID: list[tuple[str, str, str]] = [
    ("mode unknown", H.MODE, "fast"),
    ("mode unknown once cleaned", H.MODE, "e\x00c\x00o\x00x"),
    ("cache unknown", H.CACHE, "always"),
    ("cache yes", H.CACHE, "yes"),
    ("ttl below", H.CACHE_TTL, "59"),
    ("ttl zero", H.CACHE_TTL, "0"),
    ("ttl negative", H.CACHE_TTL, "-60"),
    ("ttl above", H.CACHE_TTL, "2592001"),
    ("ttl float", H.CACHE_TTL, "120.5"),
    ("ttl exponent", H.CACHE_TTL, "1e3"),
    ("ttl words", H.CACHE_TTL, "an hour"),
    ("ttl huge", H.CACHE_TTL, "9" * 5000),
    ("threshold below", H.CACHE_THRESHOLD, "0.79"),
    ("threshold above", H.CACHE_THRESHOLD, "0.991"),
    ("threshold one", H.CACHE_THRESHOLD, "1"),
    ("threshold percent", H.CACHE_THRESHOLD, "95"),
    ("threshold nan", H.CACHE_THRESHOLD, "nan"),
    ("threshold inf", H.CACHE_THRESHOLD, "inf"),
    ("threshold words", H.CACHE_THRESHOLD, "high"),
    ("auto-cache true", H.AUTO_CACHE, "true"),
    ("auto-cache 1", H.AUTO_CACHE, "1"),
    ("session too long", H.SESSION, "s" * 257),
    ("memory on without a session", H.MEMORY, "on"),
]


@pytest.mark.parametrize(("header", "value"), [i[1:] for i in INVALID], ids=[i[0] for i in INVALID])
def test_invalid_values_name_the_header(header: str, value: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_options({header: value})
    error = info.value
    assert error.param == header and header in error.message
    assert error.status == 400 and error.code == "invalid_header"
    assert error.envelope()["error"]["param"] == header
    assert len(error.message) < 200


@pytest.mark.parametrize(
    ("header", "bounds"),
    [
        (H.CACHE_TTL, ("60", "2592000")),
        (H.CACHE_THRESHOLD, ("0.8", "0.99")),
    ],
)
def test_range_errors_state_the_range_plainly(header: str, bounds: tuple[str, str]) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_options({header: "-1"})
    assert f"from {bounds[0]} to {bounds[1]}" in info.value.message


OPTION_HEADERS = st.sampled_from(
    [
        H.MODE,
        H.MODEL_PREFER,
        H.TAGS,
        H.SESSION,
        H.CACHE,
        H.CACHE_TTL,
        H.CACHE_THRESHOLD,
        H.CACHE_VERSION,
        H.AUTO_CACHE,
        H.MEMORY,
    ]
)
SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
HEADER_TEXT = (
    st.text(st.characters(codec=None) | SURROGATES, max_size=80)
    | st.from_regex(r"\s*[-+]?[0-9._eE]{0,12}\s*", fullmatch=True)
    | st.sampled_from(["eco", "no-store", "on", "0.9", "3600", "NaN", "-inf", "1_000"])
)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(OPTION_HEADERS, HEADER_TEXT))
def test_only_invalid_request_escapes(headers: dict[str, str]) -> None:
    try:
        options = parse_options(headers)
    except InvalidRequest as error:
        assert error.param in headers
        return
    assert options.mode in ("eco", "balanced", "sport")
    assert 60 <= options.cache_ttl_s <= 2_592_000
    assert 0.80 <= options.cache_threshold <= 0.99
    for text in (options.session_id, options.cache_version, options.model_prefer):
        assert text is None or (text and "\x00" not in text and text == text.strip())
