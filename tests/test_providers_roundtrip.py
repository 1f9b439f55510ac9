"""ProviderClient against the real simulator: exact upstream requests, answers and usage.

Expected token counts follow the simulator's documented rules: tokens(text) =
ceil(len/4), and each message (a system prompt included) costs 4 more.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from origin.providers.base import Completion, Endpoint
from origin.providers.registry import endpoint_for
from origin.providers.transport import ProviderClient
from origin.settings import Secret, Settings
from shared.pricing import TokenUsage
from tests.fixtures.simulator import SimHandle

# The servers these tests call run on loopback, which provider calls reach only if allowed.
LOCAL = ("127.0.0.1",)

KEY = Secret("sk-roundtrip-9f8e7d6c5b4a")
MODEL = "sim-model"
SYSTEM, QUESTION = "Be brief.", "What is the capital of France?"
BODY = {
    "model": "gpt-4o",
    "temperature": 0.5,
    "max_tokens": 100,
    "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
}
REPLY = f"Simulated {MODEL} reply: {QUESTION[:60]}"
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOL = {"type": "function", "function": {"name": "weather", "parameters": WEATHER}}
FAMILIES = ["openai", "groq", "custom", "anthropic", "gemini"]


def tokens(text: str) -> int:
    return (len(text) + 3) // 4


PLAIN_USAGE = TokenUsage(
    prompt_tokens=(4 + tokens(SYSTEM)) + (4 + tokens(QUESTION)), completion_tokens=tokens(REPLY)
)


@pytest_asyncio.fixture(scope="module")
async def client() -> AsyncIterator[ProviderClient]:
    providers = ProviderClient(
        Settings(
            upstream_allowlist=LOCAL,
            connect_timeout_s=5,
            first_byte_timeout_s=10,
            total_timeout_s=30,
        )
    )
    yield providers
    await providers.aclose()


def endpoint(sim: SimHandle, family: str) -> Endpoint:
    if family == "custom":  # a project's own OpenAI-compatible server, by base URL
        return endpoint_for("local-llm", KEY, f"{sim.url}/p/local-llm/v1", "", vendor="custom")
    return endpoint_for(family, KEY, None, sim.url)


def segment(family: str) -> str:
    return "local-llm" if family == "custom" else family


def recorded(sim: SimHandle, family: str) -> dict[str, Any]:
    (request,) = sim.requests(segment(family))
    return request


def expected_body(family: str, stream: bool) -> dict[str, Any]:
    messages = BODY["messages"]
    if family in ("openai", "groq", "custom"):
        limit = "max_completion_tokens" if family == "openai" else "max_tokens"
        body = {"model": MODEL, "temperature": 0.5, limit: 100, "messages": messages}
        if stream:
            body.update(stream=True, stream_options={"include_usage": True})
        return body
    if family == "anthropic":
        body = {
            "model": MODEL,
            "max_tokens": 100,
            "temperature": 0.5,
            "system": [{"type": "text", "text": SYSTEM}],
            "messages": [{"role": "user", "content": QUESTION}],
        }
        return {**body, "stream": True} if stream else body
    return {
        "contents": [{"role": "user", "parts": [{"text": QUESTION}]}],
        "systemInstruction": {"parts": [{"text": SYSTEM}]},
        "generationConfig": {"temperature": 0.5, "maxOutputTokens": 100},
    }


def expected_route(sim: SimHandle, family: str, stream: bool) -> tuple[str, dict[str, str]]:
    if family == "anthropic":
        return "/p/anthropic/v1/messages", {}
    if family == "gemini":
        action = "streamGenerateContent" if stream else "generateContent"
        return f"/p/gemini/v1beta/models/{MODEL}:{action}", {"alt": "sse"} if stream else {}
    return f"/p/{segment(family)}/v1/chat/completions", {}


def assert_credentials(family: str, headers: dict[str, str]) -> None:
    if family == "anthropic":
        assert (headers["x-api-key"], headers["anthropic-version"]) == (KEY.reveal(), "2023-06-01")
    elif family == "gemini":
        assert headers["x-goog-api-key"] == KEY.reveal()
    else:
        assert headers["authorization"] == f"Bearer {KEY.reveal()}"


async def collect(
    client: ProviderClient, ep: Endpoint, body: dict[str, Any], model: str = MODEL
) -> tuple[list[dict[str, Any]], Any]:
    async with client.stream(ep, model, body, "chatcmpl-test", 1700000000) as stream:
        chunks = [chunk async for chunk in stream]
    return chunks, stream.state


def streamed_text(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)


def streamed_calls(chunks: list[dict[str, Any]]) -> dict[int, dict[str, str]]:
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for part in chunk["choices"][0]["delta"].get("tool_calls") or ():
            call = calls.setdefault(part["index"], {"id": "", "name": "", "arguments": ""})
            call["id"] = part.get("id") or call["id"]
            call["name"] = part.get("function", {}).get("name") or call["name"]
            call["arguments"] += part.get("function", {}).get("arguments") or ""
    return calls


@pytest.mark.parametrize("family", FAMILIES)
async def test_text_completion(sim: SimHandle, client: ProviderClient, family: str) -> None:
    completion = await client.complete(endpoint(sim, family), MODEL, BODY)
    request = recorded(sim, family)
    assert request["body"] == expected_body(family, stream=False)
    assert (request["path"], request["query"]) == expected_route(sim, family, stream=False)
    assert_credentials(family, request["headers"])
    assert isinstance(completion, Completion)
    (choice,) = completion.body["choices"]
    assert choice["message"]["content"] == REPLY
    assert choice["finish_reason"] == "stop"
    assert completion.body["model"] == MODEL
    assert completion.usage == PLAIN_USAGE


@pytest.mark.parametrize("family", FAMILIES)
async def test_text_stream(sim: SimHandle, client: ProviderClient, family: str) -> None:
    chunks, state = await collect(client, endpoint(sim, family), {**BODY, "stream": True})
    request = recorded(sim, family)
    assert request["body"] == expected_body(family, stream=True)
    assert (request["path"], request["query"]) == expected_route(sim, family, stream=True)
    assert streamed_text(chunks) == REPLY
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(
        c["object"] == "chat.completion.chunk"
        and c["id"] == "chatcmpl-test"
        and c["model"] == MODEL
        and "usage" not in c
        for c in chunks
    )
    assert state.usage == PLAIN_USAGE
    assert state.finish_reasons == ["stop"]


@pytest.mark.parametrize("family", FAMILIES)
async def test_tool_call(sim: SimHandle, client: ProviderClient, family: str) -> None:
    body = {"messages": [{"role": "user", "content": "Weather in Oslo?"}], "tools": [TOOL]}
    completion = await client.complete(endpoint(sim, family), MODEL, body)
    (choice,) = completion.body["choices"]
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "sim"}
    assert call["id"]

    chunks, state = await collect(client, endpoint(sim, family), {**body, "stream": True})
    streamed = streamed_calls(chunks)
    assert list(streamed) == [0]
    assert streamed[0]["name"] == "weather" and streamed[0]["id"]
    assert json.loads(streamed[0]["arguments"]) == {"city": "sim"}
    assert state.finish_reasons == ["tool_calls"]


CONVERSATION = [
    {"role": "system", "content": "Use tools."},
    {"role": "user", "content": "Weather in Oslo?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_7",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_7", "content": "sunny"},
]
TRANSLATED_CONVERSATION = {
    "anthropic": {
        "model": MODEL,
        "max_tokens": 4096,
        "system": [{"type": "text", "text": "Use tools."}],
        "messages": [
            {"role": "user", "content": "Weather in Oslo?"},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "call_7",
                        "name": "weather",
                        "input": {"city": "Oslo"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "call_7", "content": "sunny"}],
            },
        ],
        "tools": [{"name": "weather", "input_schema": WEATHER}],
        "tool_choice": {"type": "auto"},
    },
    "gemini": {
        "contents": [
            {"role": "user", "parts": [{"text": "Weather in Oslo?"}]},
            {
                "role": "model",
                "parts": [{"functionCall": {"name": "weather", "args": {"city": "Oslo"}}}],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "weather", "response": {"content": "sunny"}}}
                ],
            },
        ],
        "systemInstruction": {"parts": [{"text": "Use tools."}]},
        "tools": [{"functionDeclarations": [{"name": "weather", "parameters": WEATHER}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
    },
    "openai": {"model": MODEL, "messages": CONVERSATION, "tools": [TOOL], "tool_choice": "auto"},
}


@pytest.mark.parametrize("family", ["openai", "anthropic", "gemini"])
async def test_tool_results_are_translated(
    sim: SimHandle, client: ProviderClient, family: str
) -> None:
    body = {"messages": CONVERSATION, "tools": [TOOL], "tool_choice": "auto"}
    completion = await client.complete(endpoint(sim, family), MODEL, body)
    assert recorded(sim, family)["body"] == TRANSLATED_CONVERSATION[family]
    (choice,) = completion.body["choices"]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == f"Simulated {MODEL} reply: Weather in Oslo?"


NATIVE_USAGE: dict[str, tuple[dict[str, Any], TokenUsage]] = {
    "openai": (
        {
            "prompt_tokens": 2100,
            "completion_tokens": 33,
            "total_tokens": 2133,
            "prompt_tokens_details": {"cached_tokens": 1920},
        },
        TokenUsage(2100, 33, cache_read_tokens=1920),
    ),
    "anthropic": (
        {
            "input_tokens": 40,
            "output_tokens": 12,
            "cache_read_input_tokens": 3000,
            "cache_creation_input_tokens": 700,
            "cache_creation": {"ephemeral_5m_input_tokens": 200, "ephemeral_1h_input_tokens": 500},
        },
        TokenUsage(
            3740, 12, cache_read_tokens=3000, cache_write_5m_tokens=200, cache_write_1h_tokens=500
        ),
    ),
    "gemini": (
        {
            "promptTokenCount": 5000,
            "candidatesTokenCount": 20,
            "thoughtsTokenCount": 80,
            "totalTokenCount": 5100,
            "cachedContentTokenCount": 4096,
        },
        TokenUsage(5000, 100, cache_read_tokens=4096),
    ),
}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("family", ["openai", "groq", "anthropic", "gemini"])
async def test_exact_native_usage(
    sim: SimHandle, client: ProviderClient, family: str, stream: bool
) -> None:
    native, expected = NATIVE_USAGE["openai" if family == "groq" else family]
    sim.script({"kind": "usage", "usage": native}, provider=family)
    ep = endpoint(sim, family)
    if stream:
        _, state = await collect(client, ep, {**BODY, "stream": True})
        assert state.usage == expected
    else:
        assert (await client.complete(ep, MODEL, BODY)).usage == expected


@pytest.mark.parametrize("family", ["openai", "anthropic", "gemini"])
async def test_stream_without_usage_leaves_it_unknown(
    sim: SimHandle, client: ProviderClient, family: str
) -> None:
    sim.script({"kind": "no_usage"}, provider=family)
    chunks, state = await collect(client, endpoint(sim, family), {**BODY, "stream": True})
    assert streamed_text(chunks) == REPLY
    assert state.usage is None
    sim.script({"kind": "no_usage"}, provider=family)
    completion = await client.complete(endpoint(sim, family), MODEL, BODY)
    assert completion.usage.reported is False


async def test_anthropic_cache_markers_reach_upstream_and_bill_as_writes_then_reads(
    sim: SimHandle,
    client: ProviderClient,
) -> None:
    rules = "Follow the house style guide in every answer. " * 10
    marker = {"type": "ephemeral", "ttl": "1h"}
    body = {
        "messages": [
            {
                "role": "system",
                "content": [{"type": "text", "text": rules, "cache_control": marker}],
            },
            {"role": "user", "content": QUESTION},
        ]
    }
    ep = endpoint(sim, "anthropic")
    first = await client.complete(ep, MODEL, body)
    _, state = await collect(client, ep, {**body, "stream": True})
    sent = [r["body"] for r in sim.requests("anthropic")]
    assert all(
        b["system"] == [{"type": "text", "text": rules, "cache_control": marker}] for b in sent
    )
    prefix, prompt = 4 + tokens(rules), (4 + tokens(rules)) + (4 + tokens(QUESTION))
    assert first.usage == TokenUsage(prompt, tokens(REPLY), cache_write_1h_tokens=prefix)
    assert state.usage == TokenUsage(prompt, tokens(REPLY), cache_read_tokens=prefix)


@pytest.mark.parametrize("family", ["openai", "gemini"])
async def test_automatic_prompt_caching_is_read_back(
    sim: SimHandle, client: ProviderClient, family: str
) -> None:
    context = "x" * 4400  # 1100 tokens: over the 1024-token caching threshold
    body = {
        "messages": [{"role": "system", "content": context}, {"role": "user", "content": QUESTION}]
    }
    ep = endpoint(sim, family)
    first = await client.complete(ep, MODEL, body)
    second = await client.complete(ep, MODEL, body)
    prefix = 4 + tokens(context)
    assert first.usage.cache_read_tokens == 0
    assert second.usage == TokenUsage(
        prefix + 4 + tokens(QUESTION), tokens(REPLY), cache_read_tokens=prefix // 128 * 128
    )
