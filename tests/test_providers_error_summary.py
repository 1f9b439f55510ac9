"""Upstream error bodies reach the client only as a summary: the provider's error type and
message, truncated, with credential-shaped text cut out; never the body itself."""

from __future__ import annotations

import orjson
import pytest

from origin.providers.registry import adapter_for

KEY = "sk-proj-" + "Ab12" * 12

CASES = [
    # (id, upstream body, text the client's message must contain, text it must not)
    (
        "openai-shape",
        {"error": {"type": "invalid_request_error", "message": "Unknown parameter: 'foo'."}},
        "invalid_request_error: Unknown parameter: 'foo'.",
        None,
    ),
    (
        "anthropic-shape",
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        "overloaded_error: Overloaded",
        None,
    ),
    (
        "gemini-shape",
        {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "Bad schema"}},
        "INVALID_ARGUMENT: Bad schema",
        None,
    ),
    ("echoed-bearer", {"error": {"message": f"bad header Bearer {KEY}"}}, "Bearer ***", KEY),
    ("echoed-key", {"error": {"message": f"key {KEY} is wrong"}}, "key *** is wrong", KEY),
    ("partial-key", {"error": {"message": f"key {KEY[:20]}**** is wrong"}}, "***", KEY[:20]),
    ("no-message", {"detail": {"headers": {"authorization": KEY}}}, "without a message", KEY),
]


@pytest.mark.parametrize(
    ("body", "shown", "hidden"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
def test_error_bodies_are_summarised(
    kind: str, body: object, shown: str, hidden: str | None
) -> None:
    error = adapter_for(kind).map_error(500, orjson.dumps(body), {}, "p")
    assert shown in error.message
    assert hidden is None or hidden not in error.message


@pytest.mark.parametrize(
    "raw",
    [b"<html>502 Bad Gateway from proxy-7 with auth=" + KEY.encode() + b"</html>", b"x" * 5000],
)
def test_bodies_that_are_not_json_are_not_relayed(raw: bytes) -> None:
    error = adapter_for("openai").map_error(502, raw, {}, "p")
    assert (
        "proxy-7" not in error.message and KEY not in error.message and "xxx" not in error.message
    )
    assert f"{len(raw)} bytes" in error.message


def test_long_messages_are_truncated() -> None:
    body = orjson.dumps({"error": {"message": "word " * 2000}})
    assert len(adapter_for("openai").map_error(400, body, {}, "p").message) < 600
