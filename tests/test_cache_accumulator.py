"""A streamed answer folds back into the completion a JSON call returns, and the cache's SSE
replay of that completion folds back into the same thing (the round trip a cached stream makes)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from origin.cache.accumulator import StreamAccumulator
from shared.cache_entry import CacheEntry, cacheable, replay_chunks
from shared.pricing import TokenUsage

USAGE = TokenUsage(prompt_tokens=12, completion_tokens=5)


def chunk(
    delta: dict[str, Any], finish: str | None = None, index: int = 0, **extra: Any
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 7,
        "model": "m",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish, **extra}],
    }


def collect(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    acc = StreamAccumulator()
    for c in chunks:
        acc.add(c)
    return acc.completion(USAGE).body


CALL_START = {
    "tool_calls": [
        {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        }
    ]
}
CASES = [
    (
        "text",
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk({}, "stop"),
        ],
        [{"content": "Hello", "finish": "stop", "calls": None}],
    ),
    (
        "cut off",
        [chunk({"content": "Hel"}), chunk({}, "length")],
        [{"content": "Hel", "finish": "length", "calls": None}],
    ),
    (
        "tool call in fragments",
        [
            chunk(CALL_START),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ty":1}'}}]}),
            chunk({}, "tool_calls"),
        ],
        [
            {
                "content": None,
                "finish": "tool_calls",
                "calls": [("call_1", "get_weather", '{"city":1}')],
            }
        ],
    ),
    (
        "two choices",
        [
            chunk({"content": "a"}, index=0),
            chunk({"content": "b"}, index=1),
            chunk({}, "stop", index=1),
            chunk({}, "stop", index=0),
        ],
        [
            {"content": "a", "finish": "stop", "calls": None},
            {"content": "b", "finish": "stop", "calls": None},
        ],
    ),
    (
        "never finished",
        [chunk({"content": "a"})],
        [{"content": "a", "finish": None, "calls": None}],
    ),
]


@pytest.mark.parametrize(("chunks", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_stream_folds_into_a_completion(
    chunks: list[dict[str, Any]], expected: list[dict[str, Any]]
) -> None:
    body = collect(chunks)
    assert (body["id"], body["object"], body["model"]) == ("chatcmpl-1", "chat.completion", "m")
    assert body["usage"]["prompt_tokens"] == 12
    got = []
    for choice in body["choices"]:
        message = choice["message"]
        calls = message.get("tool_calls")
        got.append(
            {
                "content": message["content"],
                "finish": choice["finish_reason"],
                "calls": [
                    (c["id"], c["function"]["name"], c["function"]["arguments"]) for c in calls
                ]
                if calls
                else None,
            }
        )
    assert got == expected
    # Only the complete ones may be stored.
    assert cacheable(body) is all(e["finish"] in ("stop", "tool_calls") for e in expected)


@given(
    st.lists(st.text(max_size=20), max_size=12),
    st.sampled_from(["stop", "tool_calls"]),
    st.booleans(),
)
def test_replay_of_a_collected_stream_collects_to_the_same_answer(
    parts: list[str], finish: str, with_call: bool
) -> None:
    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": p}) for p in parts]
    if with_call:
        chunks.append(chunk(CALL_START))
        chunks.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}))
    chunks.append(chunk({}, finish))
    stored = collect(chunks)
    entry = CacheEntry(
        model="gpt-4o-mini", provider="openai", response=stored, usage=USAGE, created_at=0.0
    )
    replayed = collect(replay_chunks(entry, "chatcmpl-1", include_usage=True))
    assert replayed["choices"] == stored["choices"]


def logprob(token: str) -> dict[str, Any]:
    return {"token": token, "logprob": -0.5, "bytes": None, "top_logprobs": []}


def test_logprobs_and_a_refusal_survive_the_cache_round_trip() -> None:
    """The key holds logprobs, so a stored stream answers a later logprobs request; without
    them the SDK's choice.logprobs came back None, and a refusal came back as empty content."""
    streamed = [
        chunk({"content": "Hel"}, logprobs={"content": [logprob("Hel")]}),
        chunk({"content": "lo"}, logprobs={"content": [logprob("lo")]}),
        chunk({}, "stop"),
        chunk({"refusal": "I can't"}, index=1),
        chunk({}, "stop", index=1),
    ]
    stored = collect(streamed)
    first, second = stored["choices"]
    assert first["logprobs"] == {"content": [logprob("Hel"), logprob("lo")]}
    assert (first["message"]["content"], first["message"]["refusal"]) == ("Hello", None)
    assert (second["message"]["content"], second["message"]["refusal"]) == (None, "I can't")
    entry = CacheEntry(
        model="gpt-4o-mini", provider="openai", response=stored, usage=USAGE, created_at=0.0
    )
    replayed = collect(replay_chunks(entry, "chatcmpl-1", include_usage=False))
    assert replayed["choices"] == stored["choices"]
