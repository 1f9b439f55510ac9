"""The simulator's Anthropic Messages format, driven by the official anthropic SDK."""

from __future__ import annotations

import json
import math
from typing import Any

import anthropic
import httpx
import pytest
from anthropic import Anthropic, AsyncAnthropic

MODEL = "claude-sonnet-4-5"
QUESTION = "Name three primary colours."
REPLY = f"Simulated {MODEL} reply: {QUESTION}"
SEARCH = {
    "name": "search",
    "description": "Search the docs",
    "input_schema": {
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "limit": {"type": "integer"},
            "mode": {"enum": ["fast", "deep"]},
        },
        "required": ["query", "mode"],
    },
}
LOOKUP = {
    "name": "lookup",
    "input_schema": {
        "type": "object",
        "properties": {"id": {"type": "integer"}},
        "required": ["id"],
    },
}


def tk(text: str) -> int:
    return math.ceil(len(text) / 4)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


@pytest.fixture
def client(sim: Any) -> Anthropic:
    return Anthropic(base_url=sim.base_url("anthropic"), api_key="sk-ant-test", max_retries=0)


def usage_of(message: Any) -> dict[str, Any]:
    return message.usage.model_dump(exclude_none=True)


def test_messages_json(client: Anthropic, sim: Any) -> None:
    out = client.messages.create(
        model=MODEL, max_tokens=100, system="Be brief.", messages=[user(QUESTION)]
    )
    assert (out.type, out.role, out.model, out.stop_reason) == (
        "message",
        "assistant",
        MODEL,
        "end_turn",
    )
    assert out.content[0].type == "text" and out.content[0].text == REPLY
    assert usage_of(out) == {
        "input_tokens": (4 + tk("Be brief.")) + (4 + tk(QUESTION)),
        "output_tokens": tk(REPLY),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "service_tier": "standard",
    }
    headers = sim.requests("anthropic")[-1]["headers"]
    assert "sk-ant-test" in (
        headers.get("x-api-key"),
        headers.get("authorization", "").removeprefix("Bearer "),
    )
    assert headers["anthropic-version"]


def test_structured_output_answers_the_schema(client: Anthropic) -> None:
    out = client.messages.create(
        model=MODEL,
        max_tokens=100,
        messages=[user(QUESTION)],
        output_config={"format": {"type": "json_schema", "schema": SEARCH["input_schema"]}},
    )
    assert out.content[0].type == "text"
    assert json.loads(out.content[0].text) == {"query": "sim", "mode": "fast"}


def test_structured_output_without_a_schema_is_a_400(client: Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(
            model=MODEL,
            max_tokens=100,
            messages=[user(QUESTION)],
            output_config={"format": {"type": "json_schema"}},  # type: ignore[typeddict-item]
        )


async def test_streaming_text(sim: Any) -> None:
    client = AsyncAnthropic(base_url=sim.base_url("anthropic"), api_key="k", max_retries=0)
    async with (
        client,
        client.messages.stream(model=MODEL, max_tokens=100, messages=[user(QUESTION)]) as stream,
    ):
        kinds = []
        async for event in stream:
            kinds.append(event.type)
        final = await stream.get_final_message()
    assert final.content[0].text == REPLY and final.stop_reason == "end_turn"
    assert final.usage.output_tokens == tk(REPLY) and final.usage.input_tokens == 4 + tk(QUESTION)
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop" and "message_delta" in kinds


def test_raw_stream_event_order(client: Anthropic) -> None:
    events = list(
        client.messages.create(model=MODEL, max_tokens=100, messages=[user(QUESTION)], stream=True)
    )
    names = [e.type for e in events]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]  # the SDK drops ping events
    assert events[0].message.usage.output_tokens == 1 and events[-2].usage.output_tokens == tk(
        REPLY
    )


@pytest.mark.parametrize(
    ("tool_choice", "name", "arguments"),
    [
        (None, "search", {"query": "sim", "mode": "fast"}),
        ({"type": "any"}, "search", {"query": "sim", "mode": "fast"}),
        ({"type": "tool", "name": "lookup"}, "lookup", {"id": 1}),
    ],
)
def test_tool_use(
    client: Anthropic, tool_choice: Any, name: str, arguments: dict[str, Any]
) -> None:
    extra = {"tool_choice": tool_choice} if tool_choice else {}
    out = client.messages.create(
        model=MODEL, max_tokens=100, messages=[user(QUESTION)], tools=[SEARCH, LOOKUP], **extra
    )
    block = out.content[0]
    assert (
        out.stop_reason == "tool_use" and block.type == "tool_use" and block.id.startswith("toolu_")
    )
    assert (block.name, block.input) == (name, arguments)
    assert out.usage.output_tokens == tk(json.dumps(arguments))
    tool_tokens = sum(tk(json.dumps(t, separators=(",", ":"))) for t in (SEARCH, LOOKUP))
    assert out.usage.input_tokens == tool_tokens + 4 + tk(QUESTION)


def test_tool_use_streaming_and_tool_result_turn(client: Anthropic) -> None:
    with client.messages.stream(
        model=MODEL, max_tokens=100, messages=[user(QUESTION)], tools=[SEARCH]
    ) as stream:
        final = stream.get_final_message()
    call = final.content[0]
    assert call.type == "tool_use" and call.input == {"query": "sim", "mode": "fast"}
    follow_up = [
        user(QUESTION),
        {"role": "assistant", "content": [call.model_dump()]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": call.id, "content": "red, blue, yellow"}
            ],
        },
    ]
    out = client.messages.create(model=MODEL, max_tokens=100, messages=follow_up, tools=[SEARCH])
    assert out.stop_reason == "end_turn" and out.content[0].text == REPLY
    none = client.messages.create(
        model=MODEL,
        max_tokens=100,
        messages=[user(QUESTION)],
        tools=[SEARCH],
        tool_choice={"type": "none"},
    )
    assert none.content[0].type == "text"


@pytest.mark.parametrize(
    ("extra", "text", "stop_reason", "stop_sequence"),
    [
        ({"max_tokens": 4}, REPLY[:16], "max_tokens", None),
        ({"stop_sequences": ["reply"]}, f"Simulated {MODEL} ", "stop_sequence", "reply"),
    ],
)
def test_limits_and_stop_sequences(
    client: Anthropic, extra: dict[str, Any], text: str, stop_reason: str, stop_sequence: str | None
) -> None:
    out = client.messages.create(
        **{"model": MODEL, "max_tokens": 100, "messages": [user(QUESTION)], **extra}
    )
    assert (out.content[0].text, out.stop_reason, out.stop_sequence) == (
        text,
        stop_reason,
        stop_sequence,
    )


def test_cache_control_writes_then_reads(client: Anthropic) -> None:
    policy = "Always answer in English. " * 40
    system = [{"type": "text", "text": policy, "cache_control": {"type": "ephemeral"}}]
    cached = 4 + tk(policy)
    first = client.messages.create(
        model=MODEL, max_tokens=50, system=system, messages=[user("one")]
    )
    second = client.messages.create(
        model=MODEL, max_tokens=50, system=system, messages=[user("two")]
    )
    assert (first.usage.cache_creation_input_tokens, first.usage.cache_read_input_tokens) == (
        cached,
        0,
    )
    assert first.usage.cache_creation.ephemeral_5m_input_tokens == cached
    assert first.usage.input_tokens == 4 + tk("one")
    assert (second.usage.cache_creation_input_tokens, second.usage.cache_read_input_tokens) == (
        0,
        cached,
    )
    assert second.usage.input_tokens == 4 + tk("two")


def test_cache_control_on_tools_and_messages_with_1h_ttl_and_moving_marker(
    client: Anthropic,
) -> None:
    marked_tool = {**SEARCH, "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    tool_tokens = tk(json.dumps(SEARCH, separators=(",", ":")))
    history = [user("first question " * 10), {"role": "assistant", "content": "first answer " * 10}]

    def marked(text: str) -> dict[str, Any]:
        return {
            "role": "user",
            "content": [{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}],
        }

    first = client.messages.create(
        model=MODEL, max_tokens=50, tools=[marked_tool], messages=[marked(history[0]["content"])]
    )
    assert first.usage.cache_creation.model_dump() == {
        "ephemeral_1h_input_tokens": tool_tokens,
        "ephemeral_5m_input_tokens": 4 + tk(history[0]["content"]),
    }
    assert first.usage.input_tokens == 0
    turn_two = [user(history[0]["content"]), history[1], marked("second question")]
    second = client.messages.create(
        model=MODEL, max_tokens=50, tools=[marked_tool], messages=turn_two
    )
    assert second.usage.cache_read_input_tokens == tool_tokens + 4 + tk(history[0]["content"])
    assert second.usage.cache_creation_input_tokens == (4 + tk(history[1]["content"])) + (
        4 + tk("second question")
    )
    assert second.usage.input_tokens == 0


def test_streaming_reports_cache_usage_on_message_start(client: Anthropic) -> None:
    system = [
        {"type": "text", "text": "stable prefix " * 30, "cache_control": {"type": "ephemeral"}}
    ]
    client.messages.create(model=MODEL, max_tokens=50, system=system, messages=[user("warm")])
    events = list(
        client.messages.create(
            model=MODEL, max_tokens=50, system=system, messages=[user("hit")], stream=True
        )
    )
    start = events[0].message.usage
    assert start.cache_read_input_tokens == 4 + tk(
        "stable prefix " * 30
    ) and start.input_tokens == 4 + tk("hit")


def test_errors_use_anthropic_shapes(sim: Any) -> None:
    good = Anthropic(base_url=sim.base_url("anthropic"), api_key="k", max_retries=0)
    with pytest.raises(anthropic.NotFoundError) as missing:
        good.messages.create(model="nonexistent-claude", max_tokens=10, messages=[user("hi")])
    assert missing.value.body["error"]["type"] == "not_found_error"
    keyless = httpx.post(
        f"{sim.base_url('anthropic')}/v1/messages",
        headers={"anthropic-version": "2023-06-01"},
        json={"model": MODEL, "max_tokens": 10, "messages": [user("hi")]},
    )
    assert keyless.status_code == 401
    assert keyless.json() == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "x-api-key header is required"},
    }
    versionless = httpx.post(
        f"{sim.base_url('anthropic')}/v1/messages",
        headers={"x-api-key": "k"},
        json={"model": MODEL},
    )
    assert (
        versionless.status_code == 400
        and versionless.json()["error"]["type"] == "invalid_request_error"
    )
    raw = sim.chat("anthropic", max_tokens=None)
    assert raw.status_code == 400 and raw.json()["error"]["type"] == "invalid_request_error"


THINK = {"type": "enabled", "budget_tokens": 1024}
CALL = {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}}
RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"}


@pytest.mark.parametrize(
    "extra",
    [
        {"thinking": {"type": "enabled", "budget_tokens": 1023}, "max_tokens": 4096},
        {"thinking": {"type": "enabled", "budget_tokens": 2048}, "max_tokens": 2048},
        {"thinking": THINK, "temperature": 0.5},
        {"thinking": THINK, "top_k": 5},
        {"thinking": THINK, "top_p": 0.5},
        {"thinking": THINK, "tools": [LOOKUP], "tool_choice": {"type": "any"}},
        {
            "thinking": THINK,
            "messages": [
                user(QUESTION),
                {"role": "assistant", "content": [CALL]},
                {"role": "user", "content": [RESULT]},
            ],
        },
    ],
    ids=["budget", "budget-vs-max", "temperature", "top_k", "top_p", "forced-tool", "tool-turn"],
)
def test_thinking_is_refused_where_anthropic_refuses_it(sim: Any, extra: dict[str, Any]) -> None:
    body = {"max_tokens": 2048, **extra}
    assert sim.chat("anthropic", QUESTION, model=MODEL, **body).status_code == 400


@pytest.mark.parametrize("stream", [False, True])
def test_a_thinking_answer_opens_with_a_thinking_block(sim: Any, stream: bool) -> None:
    response = sim.chat(
        "anthropic", QUESTION, model=MODEL, stream=stream, max_tokens=2048, thinking=THINK
    )
    assert response.status_code == 200
    if stream:
        assert response.text.index('"thinking_delta"') < response.text.index('"text_delta"')
        return
    blocks = response.json()["content"]
    assert [b["type"] for b in blocks] == ["thinking", "text"]
    assert response.json()["usage"]["output_tokens"] == tk(REPLY) + tk(blocks[0]["thinking"])
