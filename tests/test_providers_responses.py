"""Response parsing, stream decoding, usage normalisation and error mapping (pure)."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import orjson
import pytest

from origin.providers import anthropic, gemini, openai
from origin.providers.base import SSEEvent, StreamDecoder
from origin.providers.failures import retry_after
from origin.providers.registry import adapter_for
from shared.errors import (
    InvalidRequest,
    ModelNotFound,
    PayloadTooLarge,
    PrismError,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from shared.pricing import TokenUsage


def events(*payloads: tuple[str | None, Any]) -> list[SSEEvent]:
    return [
        SSEEvent(name, data if isinstance(data, str) else orjson.dumps(data).decode())
        for name, data in payloads
    ]


def decode(decoder: StreamDecoder, stream: list[SSEEvent]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for event in stream:
        out.extend(decoder.feed(event))
    out.extend(decoder.finish())
    return out


def deltas(chunks: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str | None]]:
    return [(c["choices"][0]["delta"], c["choices"][0].get("finish_reason")) for c in chunks]


# ---------------------------------------------------------------- usage normalisation


@pytest.mark.parametrize(
    ("family", "raw", "expected"),
    [
        (
            "openai",
            {
                "prompt_tokens": 2000,
                "completion_tokens": 10,
                "prompt_tokens_details": {"cached_tokens": 1024},
            },
            TokenUsage(2000, 10, 1024),
        ),
        (
            "openai",
            {"prompt_tokens": 50, "completion_tokens": 5, "prompt_cache_hit_tokens": 32},
            TokenUsage(50, 5, 32),
        ),
        ("openai", {"prompt_tokens": 5, "completion_tokens": 1}, TokenUsage(5, 1)),
        (
            "anthropic",
            {
                "input_tokens": 20,
                "output_tokens": 7,
                "cache_creation_input_tokens": 300,
                "cache_read_input_tokens": 1000,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 100,
                    "ephemeral_1h_input_tokens": 200,
                },
            },
            TokenUsage(1320, 7, 1000, 100, 200),
        ),
        (
            "anthropic",
            {"input_tokens": 20, "output_tokens": 7, "cache_creation_input_tokens": 300},
            TokenUsage(320, 7, 0, 300, 0),
        ),
        (
            "anthropic",
            {
                "input_tokens": 20,
                "output_tokens": 7,
                "cache_creation_input_tokens": 300,
                "cache_creation": {"ephemeral_5m_input_tokens": 1, "ephemeral_1h_input_tokens": 1},
            },
            TokenUsage(320, 7, 0, 300, 0),
        ),
        (
            "gemini",
            {
                "promptTokenCount": 3000,
                "candidatesTokenCount": 40,
                "thoughtsTokenCount": 60,
                "cachedContentTokenCount": 2048,
            },
            TokenUsage(3000, 100, 2048),
        ),
        ("gemini", {"promptTokenCount": 9, "candidatesTokenCount": 4}, TokenUsage(9, 4)),
    ],
)
def test_usage_normalisation(family: str, raw: dict[str, Any], expected: TokenUsage) -> None:
    reader = {
        "openai": openai.usage_of,
        "anthropic": anthropic.usage_of,
        "gemini": gemini.usage_of,
    }[family]
    assert reader(raw) == expected
    assert reader(None) is None


# ---------------------------------------------------------------- whole responses


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
def test_anthropic_response(stop_reason: str, finish: str) -> None:
    payload = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [
            {"type": "text", "text": "Let me "},
            {"type": "text", "text": "check."},
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}},
        ],
        "stop_reason": stop_reason,
        "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 4},
    }
    completion = adapter_for("anthropic").parse_response(payload, "claude-up")
    assert completion.usage == TokenUsage(14, 5, 4)
    body = completion.body
    assert (body["object"], body["model"], body["id"]) == ("chat.completion", "claude-up", "msg_1")
    assert body["choices"] == [
        {
            "index": 0,
            "logprobs": None,
            "finish_reason": finish,
            "message": {
                "role": "assistant",
                "content": "Let me check.",
                "refusal": None,
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
                    }
                ],
            },
        }
    ]
    assert body["usage"] == {
        "prompt_tokens": 14,
        "completion_tokens": 5,
        "total_tokens": 19,
        "prompt_tokens_details": {"cached_tokens": 4},
    }


JSON_ANSWER_USE = {"type": "tool_use", "id": "toolu_j", "name": "prism_json_answer"}
WEATHER_USE = {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}}


@pytest.mark.parametrize(
    ("blocks", "content", "calls", "finish"),
    [
        # JSON mode's answer tool is the message itself, and the answer is finished
        (
            [{**JSON_ANSWER_USE, "input": {"city": "Oslo", "n": 2}}],
            '{"city":"Oslo","n":2}',
            [],
            "stop",
        ),
        ([{**JSON_ANSWER_USE, "input": {}}], "{}", [], "stop"),
        # a client tool called instead is still a tool call
        ([WEATHER_USE], None, ["weather"], "tool_calls"),
    ],
    ids=["answer", "empty object", "client tool"],
)
def test_anthropic_json_answer_tool_reads_back_as_the_message(
    blocks: list[dict[str, Any]], content: str | None, calls: list[str], finish: str
) -> None:
    payload = {"id": "m", "content": blocks, "stop_reason": "tool_use", "usage": {}}
    [choice] = adapter_for("anthropic").parse_response(payload, "claude-up").body["choices"]
    message = choice["message"]
    assert (message["content"], choice["finish_reason"]) == (content, finish)
    assert [c["function"]["name"] for c in message.get("tool_calls") or []] == calls


def test_anthropic_decoder_streams_the_json_answer_tool_as_content() -> None:
    decoder = adapter_for("anthropic").stream_decoder("claude-up", "c1", 7)
    json_delta = {"type": "content_block_delta", "index": 0}
    out = decode(
        decoder,
        events(
            ("message_start", {"type": "message_start", "message": {"usage": {}}}),
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": JSON_ANSWER_USE},
            ),
            (None, {**json_delta, "delta": {"type": "input_json_delta", "partial_json": ""}}),
            (None, {**json_delta, "delta": {"type": "input_json_delta", "partial_json": '{"a": '}}),
            (None, {**json_delta, "delta": {"type": "input_json_delta", "partial_json": "1}"}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (None, {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {}}),
            ("message_stop", {"type": "message_stop"}),
        ),
    )
    assert deltas(out) == [
        ({"role": "assistant", "content": ""}, None),
        ({"content": '{"a": '}, None),
        ({"content": "1}"}, None),
        ({}, "stop"),
    ]


@pytest.mark.parametrize(
    ("reason", "parts", "finish", "content"),
    [
        ("STOP", [{"text": "Hi"}, {"text": "!"}], "stop", "Hi!"),
        ("MAX_TOKENS", [{"text": "Hi"}], "length", "Hi"),
        ("SAFETY", [], "content_filter", ""),
        ("STOP", [{"text": "thinking...", "thought": True}, {"text": "Hi"}], "stop", "Hi"),
        ("STOP", [{"functionCall": {"name": "f", "args": {"a": 1}}}], "tool_calls", None),
    ],
)
def test_gemini_response(
    reason: str, parts: list[dict[str, Any]], finish: str, content: str | None
) -> None:
    payload = {
        "candidates": [
            {"content": {"role": "model", "parts": parts}, "finishReason": reason, "index": 0}
        ],
        "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 2},
        "responseId": "r1",
    }
    completion = adapter_for("gemini").parse_response(payload, "gemini-up")
    (choice,) = completion.body["choices"]
    assert (choice["finish_reason"], choice["message"]["content"]) == (finish, content)
    if finish == "tool_calls":
        (call,) = choice["message"]["tool_calls"]
        assert call["function"] == {"name": "f", "arguments": '{"a":1}'}
        assert call["id"].startswith("call_")
    assert completion.usage == TokenUsage(8, 2)


def test_missing_usage_is_flagged_not_invented() -> None:
    completion = adapter_for("openai").parse_response(
        {"id": "x", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}]},
        "m",
    )
    assert completion.usage == TokenUsage(reported=False)


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("openai", {"error": {"message": "boom"}}),
        ("anthropic", {"type": "message"}),
        ("gemini", {"promptFeedback": {}}),
    ],
)
def test_a_200_without_an_answer_is_an_upstream_error(kind: str, payload: dict[str, Any]) -> None:
    with pytest.raises(UpstreamError):
        adapter_for(kind).parse_response(payload, "m")


# ---------------------------------------------------------------- stream decoders


def test_openai_decoder_restamps_and_keeps_usage_back() -> None:
    decoder = adapter_for("openai").stream_decoder("up", "chatcmpl-ours", 42)
    base = {"id": "theirs", "object": "chat.completion.chunk", "created": 1, "model": "x"}
    out = decode(
        decoder,
        events(
            (None, {**base, "choices": [{"index": 0, "delta": {"content": "Hi"}}], "usage": None}),
            (None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            (None, {**base, "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}),
            (None, "[DONE]"),
        ),
    )
    assert [(c["id"], c["created"], c["model"]) for c in out] == [("chatcmpl-ours", 42, "up")] * 2
    assert all("usage" not in c for c in out)
    assert deltas(out) == [({"content": "Hi"}, None), ({}, "stop")]
    assert decoder.state.usage == TokenUsage(3, 1)
    assert decoder.state.finish_reasons == ["stop"]


def test_anthropic_decoder_text_and_tool_calls() -> None:
    decoder = adapter_for("anthropic").stream_decoder("claude-up", "c1", 7)
    out = decode(
        decoder,
        events(
            (
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg",
                        "usage": {
                            "input_tokens": 10,
                            "output_tokens": 1,
                            "cache_read_input_tokens": 100,
                            "cache_creation_input_tokens": 50,
                            "cache_creation": {
                                "ephemeral_5m_input_tokens": 0,
                                "ephemeral_1h_input_tokens": 50,
                            },
                        },
                    },
                },
            ),
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
            ("ping", {"type": "ping"}),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": "Checking"},
                },
            ),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 1,
                    "content_block": {
                        "type": "tool_use",
                        "id": "toolu_a",
                        "name": "weather",
                        "input": {},
                    },
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": ""},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": '{"city"'},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": ':"Oslo"}'},
                },
            ),
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 2,
                    "content_block": {
                        "type": "tool_use",
                        "id": "toolu_b",
                        "name": "time",
                        "input": {},
                    },
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 2,
                    "delta": {"type": "input_json_delta", "partial_json": "{}"},
                },
            ),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "tool_use"},
                    "usage": {"output_tokens": 30},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ),
    )
    assert deltas(out) == [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "Checking"}, None),
        (
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "toolu_a",
                        "type": "function",
                        "function": {"name": "weather", "arguments": ""},
                    }
                ]
            },
            None,
        ),
        ({"tool_calls": [{"index": 0, "function": {"arguments": '{"city"'}}]}, None),
        ({"tool_calls": [{"index": 0, "function": {"arguments": ':"Oslo"}'}}]}, None),
        (
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "toolu_b",
                        "type": "function",
                        "function": {"name": "time", "arguments": ""},
                    }
                ]
            },
            None,
        ),
        ({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}, None),
        ({}, "tool_calls"),
    ]
    assert all((c["id"], c["created"], c["model"]) == ("c1", 7, "claude-up") for c in out)
    assert decoder.state.usage == TokenUsage(160, 30, 100, 0, 50)


def test_gemini_decoder_candidates_and_running_usage() -> None:
    decoder = adapter_for("gemini").stream_decoder("g", "c1", 7)

    def response(text: str, finish: str | None, output: int) -> dict[str, Any]:
        candidate: dict[str, Any] = {
            "content": {"role": "model", "parts": [{"text": text}]},
            "index": 0,
        }
        if finish:
            candidate["finishReason"] = finish
        return {
            "candidates": [candidate],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": output},
        }

    out = decode(
        decoder, events((None, response("Hel", None, 1)), (None, response("lo", "STOP", 2)))
    )
    assert deltas(out) == [
        ({"role": "assistant", "content": "Hel"}, None),
        ({"content": "lo"}, None),
        ({}, "stop"),
    ]
    assert decoder.state.usage == TokenUsage(5, 2)


@pytest.mark.parametrize(
    ("kind", "stream"),
    [
        ("openai", events((None, {"choices": [{"index": 0, "delta": {"content": "x"}}]}))),
        ("anthropic", events(("message_start", {"type": "message_start", "message": {}}))),
        ("gemini", events((None, {"candidates": [{"content": {"parts": [{"text": "x"}]}}]}))),
    ],
)
def test_a_stream_ending_before_its_finish_is_an_error(kind: str, stream: list[SSEEvent]) -> None:
    decoder = adapter_for(kind).stream_decoder("m", "c", 1)
    with pytest.raises(UpstreamError):
        decode(decoder, stream)
    assert decoder.state.usage is None


@pytest.mark.parametrize(
    ("kind", "event"),
    [
        ("openai", SSEEvent(None, '{"choices": [')),
        ("openai", SSEEvent(None, '{"error": {"message": "overloaded"}}')),
        (
            "anthropic",
            SSEEvent(
                "error",
                '{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}',
            ),
        ),
        ("anthropic", SSEEvent("content_block_delta", "{not json")),
        ("gemini", SSEEvent(None, '{"candidates": [{"content"')),
        # A finish at a candidate index of 10**12 once sized the decoder's slots by it.
        ("gemini", SSEEvent(None, '{"candidates": [{"index": 1e12, "finishReason": "STOP"}]}')),
        ("gemini", SSEEvent(None, '{"candidates": [{"index": 10000000, "finishReason": "STOP"}]}')),
    ],
)
def test_malformed_or_error_events_raise(kind: str, event: SSEEvent) -> None:
    with pytest.raises(UpstreamError):
        adapter_for(kind).stream_decoder("m", "c", 1).feed(event)


# ---------------------------------------------------------------- error mapping


@pytest.mark.parametrize(
    ("status", "error_class", "http_status"),
    [
        (400, InvalidRequest, 400),
        (422, InvalidRequest, 400),
        (401, UpstreamError, 502),
        (403, UpstreamError, 502),
        (404, ModelNotFound, 404),
        (408, UpstreamTimeout, 504),
        (504, UpstreamTimeout, 504),
        (413, PayloadTooLarge, 413),
        (429, RateLimited, 429),
        (500, UpstreamUnavailable, 503),
        (502, UpstreamUnavailable, 503),
        (503, UpstreamUnavailable, 503),
        (529, UpstreamUnavailable, 503),
        (418, UpstreamError, 502),
    ],
)
@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
def test_status_mapping(
    kind: str, status: int, error_class: type[PrismError], http_status: int
) -> None:
    payload = orjson.dumps({"error": {"message": "upstream says sk-live-SECRET1234 is bad"}})
    error = adapter_for(kind).map_error(status, payload, {}, "groq-eu")
    assert type(error) is error_class
    assert error.status == http_status
    assert "groq-eu" in error.message
    if status in (401, 403):
        assert error.code == "provider_auth_failed"
        assert "SECRET" not in error.message  # upstream auth text can echo the key
    else:
        assert "upstream says" in error.message


def test_upstream_messages_are_truncated() -> None:
    error = adapter_for("openai").map_error(400, b"x" * 5000, {})
    assert len(error.message) < 600


NOW = 1_800_000_000.0  # a fixed clock, so date-based hints are exact
RESETS = {
    "anthropic-ratelimit-tokens-reset": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW + 20)),
    "anthropic-ratelimit-requests-reset": time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW + 40)
    ),
}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": email.utils.formatdate(NOW + 30, usegmt=True)}, 30.0),
        ({"retry-after": email.utils.formatdate(NOW - 30, usegmt=True)}, 0.0),
        (
            {
                **RESETS,
                "anthropic-ratelimit-tokens-remaining": "0",
                "anthropic-ratelimit-requests-remaining": "12",
            },
            20.0,
        ),
        ({**RESETS, "anthropic-ratelimit-requests-remaining": "0"}, 40.0),
        (RESETS, 40.0),  # no bucket says it is empty: wait for the last one
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_header_forms(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after(headers, now=NOW) == expected


@pytest.mark.parametrize(
    ("kind", "headers", "body", "expected"),
    [
        ("openai", {"retry-after-ms": "250"}, b"{}", 0.25),
        ("anthropic", {"retry-after": "4"}, b"{}", 4.0),
        (
            "gemini",
            {},
            orjson.dumps(
                {
                    "error": {
                        "code": 429,
                        "details": [
                            {
                                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                                "retryDelay": "12s",
                            }
                        ],
                    }
                }
            ),
            12.0,
        ),
        ("gemini", {"retry-after": "2"}, b"{}", 2.0),
        ("openai", {}, b"{}", None),
    ],
)
def test_rate_limits_carry_the_retry_hint(
    kind: str, headers: dict[str, str], body: bytes, expected: float | None
) -> None:
    error = adapter_for(kind).map_error(429, body, headers)
    assert isinstance(error, RateLimited)
    assert error.retry_after == expected
