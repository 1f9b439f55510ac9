"""usage_logs rows: every column present, the sentinels of a cache hit, JSON money as plain
decimal strings, and request ids that are unique and time-ordered."""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import headers as H
from shared.options import RequestOptions, parse_options
from shared.pricing import Cost, TokenUsage, cost_for_model
from shared.usage import (
    CACHE_PROVIDER,
    CACHE_STATUSES,
    CACHE_TASK_TYPE,
    COLUMNS,
    Caller,
    UsageRow,
    build_cache_hit_row,
    build_row,
    new_request_id,
)

D = Decimal
CALLER = Caller(org_id="org_1", project_id="proj_1", api_key_id="key_1")
OPTIONS = parse_options({H.MODE: "eco", H.SESSION: "sess-9", H.TAGS: "team=growth,f=x"})
USAGE = TokenUsage(
    5200, 100, cache_read_tokens=3000, cache_write_5m_tokens=1000, cache_write_1h_tokens=200
)
COST = Cost(D("0.36"), D("1.35"))


def provider_row(**overrides: Any) -> UsageRow:
    args: dict[str, Any] = dict(
        request_id="req_1",
        caller=CALLER,
        options=OPTIONS,
        task_type="chat",
        model_used="claude-sonnet-4-6",
        provider="anthropic",
        usage=USAGE,
        cost=COST,
        latency_ms=812,
        was_streaming=True,
    )
    return build_row(**{**args, **overrides})


def hit_row(**overrides: Any) -> UsageRow:
    args: dict[str, Any] = dict(
        request_id="req_2",
        caller=CALLER,
        options=OPTIONS,
        model_used="gpt-4o",
        usage=TokenUsage(1000, 200),
        saved=Cost(D("0.45"), D("0")),
        latency_ms=12,
        was_streaming=False,
        cache_status="hit-exact-edge",
        cache_key="fp_1",
    )
    return build_cache_hit_row(**{**args, **overrides})


@pytest.mark.parametrize(
    "row",
    [
        provider_row(),
        provider_row(usage=None, cost=None),
        hit_row(),
        hit_row(cache_status="hit-semantic"),
    ],
    ids=["provider", "no usage", "exact hit", "semantic hit"],
)
def test_rows_have_exactly_the_columns(row: UsageRow) -> None:
    assert tuple(asdict(row)) == COLUMNS
    assert tuple(row.to_json()) == COLUMNS


PROVIDER_EXPECTED: dict[str, Any] = {
    "request_id": "req_1",
    "org_id": "org_1",
    "project_id": "proj_1",
    "api_key_id": "key_1",
    "mode": "eco",
    "task_type": "chat",
    "model_used": "claude-sonnet-4-6",
    "provider": "anthropic",
    "tokens_in": 5200,
    "tokens_out": 100,
    "tokens_cache_read": 3000,
    "tokens_cache_write": 1200,
    "cost_provider_cents": D("0.36"),
    "cost_total_cents": D("0.36"),
    "latency_ms": 812,
    "was_streaming": True,
    "success": True,
    "error_code": None,
    "usage_reported": True,
    "session_id": "sess-9",
    "cache_status": "miss",
    "cache_saved_cents": D(0),
    "native_cache_saved_cents": D("1.35"),
    "request_tags": {"team": "growth", "f": "x"},
    # eco's reference, gpt-4o-mini, for USAGE: 1000 uncached x 0.15 + 3000 read x 0.075
    # + 1200 written x 0.15 (no write price) + 100 out x 0.60 = 615 $/M -> 0.0615 c; - 0.36 paid
    "reference_model": "gpt-4o-mini",
    "routing_saved_cents": D("-0.2985"),
    "cache_key": None,
    "parent_request_id": None,
}
UNPRICED = {"routing_saved_cents": D(0)}

ROW_CASES: list[tuple[str, UsageRow, dict[str, Any]]] = [
    ("provider answer", provider_row(), {}),
    (
        "usage not reported",
        provider_row(usage=None, cost=None),
        {
            "tokens_in": 0,
            "tokens_out": 0,
            "tokens_cache_read": 0,
            "tokens_cache_write": 0,
            "usage_reported": False,
            "cost_provider_cents": D(0),
            "cost_total_cents": D(0),
            "native_cache_saved_cents": D(0),
            **UNPRICED,
        },
    ),
    (
        "failure",
        provider_row(
            success=False, error_code="upstream_timeout", usage=None, cost=None, was_streaming=False
        ),
        {
            "success": False,
            "error_code": "upstream_timeout",
            "usage_reported": False,
            "tokens_in": 0,
            "tokens_out": 0,
            "tokens_cache_read": 0,
            "tokens_cache_write": 0,
            "cost_provider_cents": D(0),
            "cost_total_cents": D(0),
            "native_cache_saved_cents": D(0),
            "was_streaming": False,
            **UNPRICED,
        },
    ),
    ("bypass status", provider_row(cache_status="bypass"), {"cache_status": "bypass"}),
    ("negative latency clamps", provider_row(latency_ms=-5), {"latency_ms": 0}),
    ("float latency is int", provider_row(latency_ms=12.9), {"latency_ms": 12}),
    (
        "default options",
        provider_row(options=RequestOptions()),
        # balanced's reference gpt-4o: 2500 + 3750 + 3000 + 1000 $/M = 1.025 c
        {
            "mode": "balanced",
            "session_id": None,
            "request_tags": None,
            "reference_model": "gpt-4o",
            "routing_saved_cents": D("0.665"),
        },
    ),
    ("auto is the mode's reference", provider_row(requested_model=" auto "), {}),
    (
        # the model asked for: 3000 + 900 + 3750 (5 min writes) + 1200 (1 h) + 1500 $/M
        "asked for a catalog model",
        provider_row(requested_model="claude-sonnet-4-6"),
        {"reference_model": "claude-sonnet-4-6", "routing_saved_cents": D("0.675")},
    ),
    (
        "custom model has no price",
        provider_row(requested_model="ollama/llama3"),
        {"reference_model": None, **UNPRICED},
    ),
    ("anonymous key", provider_row(caller=Caller("org_1", "proj_1")), {"api_key_id": None}),
]


@pytest.mark.parametrize(
    ("row", "changes"), [c[1:] for c in ROW_CASES], ids=[c[0] for c in ROW_CASES]
)
def test_provider_rows(row: UsageRow, changes: dict[str, Any]) -> None:
    assert timeless(row) == {**PROVIDER_EXPECTED, **changes}


@pytest.mark.parametrize(
    "status", ["hit-exact", "hit-semantic", "hit-exact-edge", "hit-semantic-edge"]
)
def test_cache_hit_rows(status: str) -> None:
    row = hit_row(cache_status=status)
    assert timeless(row) == {
        "request_id": "req_2",
        "org_id": "org_1",
        "project_id": "proj_1",
        "api_key_id": "key_1",
        "mode": "eco",
        "task_type": CACHE_TASK_TYPE,
        "model_used": "gpt-4o",
        "provider": CACHE_PROVIDER,
        "tokens_in": 1000,
        "tokens_out": 200,
        "tokens_cache_read": 0,
        "tokens_cache_write": 0,
        "cost_provider_cents": D(0),
        "cost_total_cents": D(0),
        "latency_ms": 12,
        "was_streaming": False,
        "success": True,
        "error_code": None,
        "usage_reported": True,
        "session_id": "sess-9",
        "cache_status": status,
        "cache_saved_cents": D("0.45"),
        "native_cache_saved_cents": D(0),
        "request_tags": {"team": "growth", "f": "x"},
        "reference_model": None,
        "routing_saved_cents": D(0),
        "cache_key": "fp_1",
        "parent_request_id": None,
    }
    assert (CACHE_PROVIDER, CACHE_TASK_TYPE) == ("cache", "cache")


@pytest.mark.parametrize("status", ["miss", "bypass", "hit", "hit-fuzzy", "HIT-EXACT", ""])
def test_cache_hit_row_rejects_other_statuses(status: str) -> None:
    with pytest.raises(ValueError):
        hit_row(cache_status=status)


def test_every_documented_status_is_known() -> None:
    assert set(CACHE_STATUSES) == {
        "miss",
        "hit-exact",
        "hit-semantic",
        "hit-exact-edge",
        "hit-semantic-edge",
        "bypass",
    }


JSON_CASES: list[tuple[str, UsageRow, dict[str, str]]] = [
    (
        "provider",
        provider_row(),
        {
            "cost_provider_cents": "0.36",
            "native_cache_saved_cents": "1.35",
            "cache_saved_cents": "0",
        },
    ),
    # 1 token of groq llama-3.1-8b: 1 x 0.05 µ$ = 0.000005 cents, which Decimal prints as 5E-6.
    (
        "tiny cost",
        provider_row(cost=cost_for_model("groq-llama-8b", TokenUsage(1, 0))),
        {"cost_provider_cents": "0.000005", "cost_total_cents": "0.000005"},
    ),
    (
        "exponent input",
        provider_row(cost=Cost(D("1E-7"), D("2.50E+2"))),
        {"cost_total_cents": "0.0000001", "native_cache_saved_cents": "250"},
    ),
    ("hit", hit_row(), {"cost_total_cents": "0", "cache_saved_cents": "0.45"}),
]


@pytest.mark.parametrize(
    ("row", "money"), [c[1:] for c in JSON_CASES], ids=[c[0] for c in JSON_CASES]
)
def test_to_json_money_is_plain_decimal_text(row: UsageRow, money: dict[str, str]) -> None:
    payload = row.to_json()
    decoded = json.loads(json.dumps(payload, allow_nan=False))
    assert decoded == payload
    for key, text in money.items():
        assert payload[key] == text
    for key in (
        "cost_provider_cents",
        "cost_total_cents",
        "cache_saved_cents",
        "native_cache_saved_cents",
    ):
        assert isinstance(payload[key], str) and re.fullmatch(r"-?\d+(\.\d+)?", payload[key])
        assert D(payload[key]) == getattr(row, key)


MONEY = st.decimals(min_value=0, max_value=10**6, allow_nan=False, allow_infinity=False, places=9)


@st.composite
def usages(draw: st.DrawFn) -> TokenUsage:
    read, w5, w1 = (draw(st.integers(0, 10**7)) for _ in range(3))
    return TokenUsage(
        read + w5 + w1 + draw(st.integers(0, 10**7)),
        draw(st.integers(0, 10**7)),
        read,
        w5,
        w1,
        draw(st.booleans()),
    )


@settings(max_examples=300, deadline=None)
@given(
    st.none() | usages(),
    st.none() | st.builds(Cost, MONEY, MONEY),
    st.text(max_size=60),
    st.text(max_size=60),
    st.integers(-(10**6), 10**9),
)
def test_any_provider_row_serialises(
    usage: TokenUsage | None, cost: Cost | None, tags: str, session: str, latency: int
) -> None:
    options = parse_options({H.TAGS: tags, H.SESSION: session})
    row = provider_row(usage=usage, cost=cost, options=options, latency_ms=latency)
    payload = json.loads(json.dumps(row.to_json(), ensure_ascii=False, allow_nan=False))
    assert tuple(payload) == COLUMNS
    assert payload["usage_reported"] == (usage is not None and usage.reported)
    assert payload["latency_ms"] >= 0
    assert "E" not in payload["cost_total_cents"] + payload["native_cache_saved_cents"]
    assert D(payload["cost_total_cents"]) == (cost.cents if cost else 0)


REQUEST_ID = re.compile(r"req_[0-9a-f]{13}[0-9a-f]{16}")


def test_request_ids_are_unique_and_fixed_width() -> None:
    ids = [new_request_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(REQUEST_ID.fullmatch(i) for i in ids)


def test_request_ids_carry_their_creation_time() -> None:
    before = time.time_ns() // 1_000_000
    request_id = new_request_id()
    after = time.time_ns() // 1_000_000
    assert before <= int(request_id[4:17], 16) <= after


def test_request_ids_sort_by_time() -> None:
    ids = []
    for _ in range(3):
        ids.append(new_request_id())
        # Wait for the millisecond to turn over: ids within one millisecond share a prefix.
        while time.time_ns() // 1_000_000 <= int(ids[-1][4:17], 16):
            time.sleep(0.0005)
    ids.append(new_request_id())
    assert sorted(reversed(ids)) == ids


def timeless(row: Any) -> dict[str, Any]:
    """The row without its timestamp, which must be a UTC ISO-8601 instant from this run."""
    data = asdict(row)
    created = datetime.fromisoformat(data.pop("created_at"))
    assert created.tzinfo is not None and created.utcoffset() == timedelta(0)
    assert created <= datetime.now(UTC)
    return data
