"""The edge's pure logic: key memory, request reading, the hit receipt (in CPython)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.callers import CallerCache
from edge.chat import HeaderMap, parse_chat
from edge.hit import cached_response, receipt
from edge.lookup import HIT_EXACT, HIT_SEMANTIC, Hit
from edge.web import Request
from origin.gateway.receipt import Receipt
from shared.pricing import Cost, format_cents
from shared.usage import CACHE_PROVIDER, CACHE_TASK_TYPE, Caller
from tests.fixtures.edge import cached_completion

CALLER = Caller("org", "project", "key")
NAMES = st.text(alphabet="abcXYZ-", min_size=1, max_size=6)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("caller", "elapsed", "remembered"),
    [
        (CALLER, 29.9, True),
        (CALLER, 30.0, False),
        (None, 2.9, True),  # an unknown key is remembered too, but only briefly
        (None, 3.0, False),
    ],
)
def test_answers_are_remembered_for_their_ttl(
    caller: Caller | None, elapsed: float, remembered: bool
) -> None:
    clock = Clock()
    cache = CallerCache(known_ttl_s=30, unknown_ttl_s=3, clock=clock)
    cache.put("h", caller)
    clock.now += elapsed
    found = cache.get("h")
    assert (found is not None) is remembered
    if found is not None:
        assert found.caller == caller


@given(st.lists(st.integers(0, 40), max_size=200), st.integers(1, 10))
def test_memory_is_bounded_and_keeps_the_most_recent(keys: list[int], limit: int) -> None:
    cache = CallerCache(max_entries=limit, clock=Clock())
    for key in keys:
        cache.put(str(key), CALLER)
    assert len(cache) <= limit
    recent = list(dict.fromkeys(reversed(keys)))[:limit]
    assert all(cache.get(str(key)) is not None for key in recent)


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 40)), max_size=200), st.integers(1, 10))
def test_unknown_keys_never_evict_known_ones(puts: list[tuple[bool, int]], limit: int) -> None:
    cache = CallerCache(max_entries=limit, clock=Clock())
    for known, key in puts:
        cache.put(f"{'k' if known else 'u'}{key}", CALLER if known else None)
    known_keys = [f"k{key}" for known, key in puts if known]
    recent = list(dict.fromkeys(reversed(known_keys)))[:limit]
    assert all(cache.get(key) is not None for key in recent)


@given(st.lists(st.tuples(NAMES, st.text(max_size=5)), max_size=8), NAMES)
def test_header_lookup_ignores_case_and_takes_the_first(
    headers: list[tuple[str, str]], name: str
) -> None:
    wanted = [v for k, v in headers if k.lower() == name.lower()]
    mapping = HeaderMap(headers)
    assert mapping.get(name.upper()) == (wanted[0] if wanted else None)


def request(
    body: Any, method: str = "POST", path: str = "/v1/chat/completions", **headers: str
) -> Request:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Request(method, f"https://edge.test{path}", list(headers.items()), raw)


MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("req", "readable"),
    [
        (request({"messages": MESSAGES}), True),
        (request({"messages": MESSAGES}, path="/chat/completions"), True),
        (request({"messages": MESSAGES, "stream": True, "stream_options": {}}), True),
        (request({"messages": MESSAGES}, method="PUT"), False),
        (request({"messages": MESSAGES}, path="/v1/completions"), False),
        (request(b"{"), False),
        (request([MESSAGES]), False),
        (request({"messages": []}), False),
        (request({"messages": ["hi"]}), False),
        (request({"messages": MESSAGES, "stream": 1}), False),
        (request({"messages": MESSAGES, "stream_options": "on"}), False),
        (request(b'{"messages": [{"role": "user", "content": NaN}]}'), False),
        (request({"messages": MESSAGES}, **{"X-Prism-Cache-TTL": "5"}), False),
        (request({"messages": MESSAGES}, **{"x-prism-mode": "sport"}), True),
    ],
)
def test_which_requests_the_edge_reads(req: Request, readable: bool) -> None:
    assert (parse_chat(req) is not None) is readable


def test_options_come_from_the_headers_whatever_their_case() -> None:
    chat = parse_chat(
        request(
            {"messages": MESSAGES},
            **{"x-prism-MODE": "eco", "X-PRISM-TAGS": "a=1", "X-Prism-Cache": "no-cache"},
        )
    )
    assert chat is not None
    assert (chat.options.mode, chat.options.tags, chat.options.cache_lookup) == (
        "eco",
        {"a": "1"},
        False,
    )


@pytest.mark.parametrize(("status", "similarity"), [(HIT_EXACT, None), (HIT_SEMANTIC, 0.97314)])
def test_the_receipt_is_the_origins_for_a_cache_hit(status: str, similarity: float | None) -> None:
    entry = cached_completion("x")
    chat = parse_chat(request({"messages": MESSAGES}, **{"X-Prism-Mode": "eco"}))
    assert chat is not None
    # What the origin's cache sets on its receipt when it answers a hit.
    origin = Receipt(
        "req_1",
        "eco",
        model=entry.model,
        provider=CACHE_PROVIDER,
        task_type=CACHE_TASK_TYPE,
        route_reason="cache",
        cache_status=status.removesuffix("-edge"),
        cost=Cost(Decimal(0), Decimal(0)),
        cache_saved_cents=format_cents(entry.saved().cents),
        cache_similarity=similarity,
    )
    expected = {k.lower(): v for k, v in origin.headers().items()}
    expected["x-prism-cache-status"] = status
    assert {k.lower(): v for k, v in receipt(Hit(entry, status, similarity), chat, "req_1")} == (
        expected
    )


def test_a_hit_carries_this_requests_id_not_the_stored_one() -> None:
    entry = cached_completion("stored answer")
    chat = parse_chat(request({"messages": MESSAGES}))
    assert chat is not None
    response = cached_response(Hit(entry, HIT_EXACT), chat, "req_2")
    assert isinstance(response.body, bytes)
    answer = json.loads(response.body)
    assert answer["id"] == "chatcmpl-req_2"
    assert answer["choices"] == entry.response["choices"]
    assert response.header("content-type") == "application/json"
