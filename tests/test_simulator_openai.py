"""The simulator's OpenAI wire format, driven by the official openai SDK."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

MODEL = "gpt-4o-mini"
QUESTION = "What is the capital of France?"
MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": QUESTION}]
REPLY = f"Simulated {MODEL} reply: {QUESTION}"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["c", "f"]},
                "days": {"type": "integer"},
                "detail": {
                    "type": "object",
                    "properties": {"hourly": {"type": "boolean"}},
                    "required": ["hourly"],
                },
                "optional": {"type": "string"},
            },
            "required": ["city", "unit", "days", "detail"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}


def tk(text: str) -> int:
    return math.ceil(len(text) / 4)


def prompt_tokens(messages: list[dict[str, Any]], tools: Sequence[dict[str, Any]] = ()) -> int:
    compact = (json.dumps(t, separators=(",", ":"), ensure_ascii=False) for t in tools)
    return sum(tk(t) for t in compact) + sum(4 + tk(m["content"]) for m in messages)


@pytest.fixture
def client(sim: Any) -> OpenAI:
    return OpenAI(base_url=sim.base_url("openai"), api_key="sk-test", max_retries=0)


def test_chat_json_reply_and_usage(client: OpenAI) -> None:
    out = client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert out.object == "chat.completion" and out.model == MODEL and out.system_fingerprint
    assert out.choices[0].message.content == REPLY
    assert out.choices[0].finish_reason == "stop"
    usage = out.usage.model_dump(exclude_none=True)
    prompt = prompt_tokens(MESSAGES)
    assert usage["prompt_tokens"] == prompt == 4 + 4 + 4 + 8
    assert usage["completion_tokens"] == tk(REPLY)
    assert usage["total_tokens"] == prompt + tk(REPLY)
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0, "audio_tokens": 0}
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0


async def test_async_client_and_streaming_with_usage(sim: Any) -> None:
    client = AsyncOpenAI(base_url=sim.base_url("openai"), api_key="sk-test", max_retries=0)
    async with client:
        out = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert out.choices[0].message.content == REPLY
        stream = await client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        chunks = [c async for c in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == REPLY
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) == 3
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == prompt_tokens(MESSAGES)
    assert all(c.usage is None for c in chunks[:-1])
    assert {c.object for c in chunks} == {"chat.completion.chunk"}


def test_streaming_without_include_usage_has_no_usage(client: OpenAI) -> None:
    chunks = list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
    assert all(c.usage is None and c.choices for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == REPLY


@pytest.mark.parametrize(
    ("tool_choice", "name", "arguments"),
    [
        (None, "get_weather", {"city": "sim", "unit": "c", "days": 1, "detail": {"hourly": True}}),
        (
            "auto",
            "get_weather",
            {"city": "sim", "unit": "c", "days": 1, "detail": {"hourly": True}},
        ),
        ({"type": "function", "function": {"name": "get_time"}}, "get_time", {}),
    ],
)
def test_tool_calls(client: OpenAI, tool_choice: Any, name: str, arguments: dict[str, Any]) -> None:
    extra = {"tool_choice": tool_choice} if tool_choice else {}
    out = client.chat.completions.create(
        model=MODEL, messages=MESSAGES, tools=[WEATHER, TIME], **extra
    )
    choice = out.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.id.startswith("call_") and call.function.name == name
    assert json.loads(call.function.arguments) == arguments
    assert out.usage.completion_tokens == tk(call.function.arguments)
    assert out.usage.prompt_tokens == prompt_tokens(MESSAGES, [WEATHER, TIME])


def test_tool_call_streaming(client: OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(model=MODEL, messages=MESSAGES, tools=[WEATHER], stream=True)
    )
    deltas = [c.choices[0].delta.tool_calls[0] for c in chunks if c.choices[0].delta.tool_calls]
    assert deltas[0].id and deltas[0].function.name == "get_weather"
    assert json.loads("".join(d.function.arguments for d in deltas))["city"] == "sim"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize(
    "messages",
    [
        pytest.param(MESSAGES, id="tool_choice none"),
        pytest.param(
            [
                *MESSAGES,
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            ],
            id="after tool result",
        ),
    ],
)
def test_text_instead_of_tool_call(client: OpenAI, messages: list[dict[str, Any]]) -> None:
    choice = "none" if len(messages) == len(MESSAGES) else "auto"
    out = client.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER], tool_choice=choice
    )
    assert out.choices[0].message.content == REPLY and out.choices[0].finish_reason == "stop"


@pytest.mark.parametrize(
    ("response_format", "expected"),
    [
        ({"type": "json_object"}, {"reply": REPLY}),
        (
            {
                "type": "json_schema",
                "json_schema": {
                    "name": "x",
                    "schema": {
                        "type": "object",
                        "properties": {"answer": {"type": "string"}, "n": {"type": "number"}},
                        "required": ["answer", "n"],
                    },
                },
            },
            {"answer": "sim", "n": 1},
        ),
    ],
)
def test_json_mode(
    client: OpenAI, response_format: dict[str, Any], expected: dict[str, Any]
) -> None:
    out = client.chat.completions.create(
        model=MODEL, messages=MESSAGES, response_format=response_format
    )
    assert json.loads(out.choices[0].message.content) == expected


def test_n_choices(client: OpenAI) -> None:
    out = client.chat.completions.create(model=MODEL, messages=MESSAGES, n=3)
    assert [c.index for c in out.choices] == [0, 1, 2]
    assert {c.message.content for c in out.choices} == {REPLY}
    assert out.usage.completion_tokens == 3 * tk(REPLY)


@pytest.mark.parametrize(
    ("extra", "content", "finish"),
    [
        ({"max_tokens": 3}, REPLY[:12], "length"),
        ({"max_completion_tokens": 5}, REPLY[:20], "length"),
        ({"max_tokens": 500}, REPLY, "stop"),
        ({"stop": ["capital"]}, f"Simulated {MODEL} reply: What is the ", "stop"),
        ({"stop": "reply"}, f"Simulated {MODEL} ", "stop"),
    ],
)
def test_limits_and_stop_sequences(
    client: OpenAI, extra: dict[str, Any], content: str, finish: str
) -> None:
    out = client.chat.completions.create(model=MODEL, messages=MESSAGES, **extra)
    assert (out.choices[0].message.content, out.choices[0].finish_reason) == (content, finish)
    assert out.usage.completion_tokens == tk(content)


def test_automatic_prompt_caching(client: OpenAI) -> None:
    system = {"role": "system", "content": "policy " * 800}
    prefix = 4 + tk(system["content"])
    first = client.chat.completions.create(
        model=MODEL, messages=[system, {"role": "user", "content": "one"}]
    )
    second = client.chat.completions.create(
        model=MODEL, messages=[system, {"role": "user", "content": "two"}]
    )
    other_model = client.chat.completions.create(
        model="gpt-4o", messages=[system, {"role": "user", "content": "two"}]
    )
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    assert second.usage.prompt_tokens_details.cached_tokens == prefix // 128 * 128 == 1280
    assert second.usage.prompt_tokens == prefix + 4 + tk("two")
    assert other_model.usage.prompt_tokens_details.cached_tokens == 0


def test_errors_use_openai_shapes(sim: Any) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        OpenAI(
            base_url=sim.base_url("openai"), api_key="sk", max_retries=0
        ).chat.completions.create(model="nonexistent-model", messages=MESSAGES)
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.AuthenticationError):
        wrong_scheme = OpenAI(
            base_url=sim.base_url("openai"),
            api_key="sk",
            max_retries=0,
            default_headers={"Authorization": "Basic sk"},
        )
        wrong_scheme.chat.completions.create(model=MODEL, messages=MESSAGES)
    with pytest.raises(openai.BadRequestError):
        OpenAI(
            base_url=sim.base_url("openai"), api_key="sk", max_retries=0
        ).chat.completions.create(model=MODEL, messages=[])


@pytest.mark.parametrize("provider", ["groq", "deepseek", "mistral", "my-custom-vendor"])
def test_any_openai_format_vendor_and_models(sim: Any, provider: str) -> None:
    vendor = OpenAI(base_url=sim.base_url(provider), api_key="k", max_retries=0)
    out = vendor.chat.completions.create(model="llama-3.3-70b", messages=MESSAGES)
    assert out.choices[0].message.content == f"Simulated llama-3.3-70b reply: {QUESTION}"
    assert [m.owned_by for m in vendor.models.list()] == [provider] * 3
    assert [r["provider"] for r in sim.requests()] == [provider, provider]
