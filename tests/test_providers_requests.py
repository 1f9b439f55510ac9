"""Request translation golden values for every adapter, and the provider registry."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from origin.providers.base import Endpoint
from origin.providers.registry import PROVIDERS, adapter_for, endpoint_for
from origin.settings import Secret
from shared.catalog import MODELS
from shared.errors import InvalidRequest, PrismError

KEY = Secret("sk-test-0123456789abcdef")
USER = {"role": "user", "content": "hi"}


def endpoint(provider: str, vendor: str = "", key: Secret = KEY) -> Endpoint:
    kind = PROVIDERS[vendor or provider].kind if (vendor or provider) in PROVIDERS else "openai"
    return Endpoint(provider, kind, f"https://{provider}.example/v1", key, vendor)


# ---------------------------------------------------------------- OpenAI family

OPENAI_CASES: list[tuple[str, Endpoint, dict[str, Any], bool, dict[str, Any]]] = [
    (
        "openai passes the body through, new max-tokens name",
        endpoint("openai"),
        {"model": "gpt-4o", "messages": [USER], "max_tokens": 10, "store": True, "stream": False},
        False,
        {"model": "up", "messages": [USER], "max_completion_tokens": 10, "store": True},
    ),
    (
        "streaming forces include_usage",
        endpoint("openai"),
        {"model": "m", "messages": [USER], "stream": True},
        True,
        {
            "model": "up",
            "messages": [USER],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    ),
    (
        "a client's include_usage false is overridden",
        endpoint("openai"),
        {
            "model": "m",
            "messages": [USER],
            "stream": True,
            "stream_options": {"include_usage": False},
        },
        True,
        {
            "model": "up",
            "messages": [USER],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    ),
    (
        "groq drops logprobs left off, an empty logit_bias, OpenAI-only fields and message names",
        endpoint("groq"),
        {
            "model": "m",
            "messages": [{"role": "user", "content": "hi", "name": "bob"}],
            "logprobs": False,
            "logit_bias": {},
            "store": True,
            "temperature": 0.5,
        },
        False,
        {"model": "up", "messages": [USER], "temperature": 0.5},
    ),
    (
        "deepseek takes max_tokens",
        endpoint("deepseek"),
        {"model": "m", "messages": [USER], "max_completion_tokens": 7},
        False,
        {"model": "up", "messages": [USER], "max_tokens": 7},
    ),
    (
        "mistral renames seed and drops user",
        endpoint("mistral"),
        {"model": "m", "messages": [USER], "seed": 3, "user": "u1"},
        False,
        {"model": "up", "messages": [USER], "random_seed": 3},
    ),
    (
        "perplexity has no tools",
        endpoint("perplexity"),
        {"model": "m", "messages": [USER], "tools": [{"type": "function"}], "tool_choice": "auto"},
        False,
        {"model": "up", "messages": [USER]},
    ),
    (
        "cerebras drops penalties",
        endpoint("cerebras"),
        {"model": "m", "messages": [USER], "frequency_penalty": 1, "presence_penalty": 1},
        False,
        {"model": "up", "messages": [USER]},
    ),
    (
        "a key named by the project follows its vendor's rules",
        endpoint("groq-batch", vendor="groq"),
        {"model": "m", "messages": [USER], "store": True},
        False,
        {"model": "up", "messages": [USER]},
    ),
    (
        "fireworks takes logit_bias",
        endpoint("fireworks"),
        {"model": "m", "messages": [USER], "logit_bias": {"1": 2}},
        False,
        {"model": "up", "messages": [USER], "logit_bias": {"1": 2}},
    ),
    (
        "custom endpoints keep everything but OpenAI-only fields",
        endpoint("ollama", vendor="custom"),
        {"model": "m", "messages": [USER], "logprobs": True, "store": True},
        False,
        {"model": "up", "messages": [USER], "logprobs": True},
    ),
]


@pytest.mark.parametrize(
    ("ep", "body", "stream", "expected"),
    [c[1:] for c in OPENAI_CASES],
    ids=[c[0] for c in OPENAI_CASES],
)
def test_openai_family_request(
    ep: Endpoint, body: dict[str, Any], stream: bool, expected: dict[str, Any]
) -> None:
    before = copy.deepcopy(body)
    request = adapter_for("openai").build_request(ep, "up", body, stream)
    assert request.json == expected
    assert request.url == f"{ep.base_url}/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY.reveal()}"
    assert request.stream is stream
    assert body == before  # the caller's body is never mutated


@pytest.mark.parametrize(
    ("ep", "upstream", "effort", "sent"),
    [
        (endpoint("openai"), "gpt-5.4", "minimal", "minimal"),
        (endpoint("xai"), "grok-3-mini", "none", "low"),
        (endpoint("xai"), "grok-3-mini", "low", "low"),
        (endpoint("xai"), "grok-3-mini", "medium", "high"),
        (endpoint("xai"), "grok-3-mini", "xhigh", "high"),
        (endpoint("groq"), "qwen/qwen3-32b", "none", "none"),
        (endpoint("groq"), "qwen/qwen3-32b", "high", "default"),
        (endpoint("groq"), "qwen/qwen3-32b", "ultra", "ultra"),  # the provider refuses it
    ],
)
def test_reasoning_effort_in_the_values_each_model_takes(
    ep: Endpoint, upstream: str, effort: str, sent: str
) -> None:
    """grok-3-mini takes low or high, Groq's qwen3-32b none or default: OpenAI's value as
    either (the router sends reasoning_effort only to models that take one at all)."""
    body = {"messages": [USER], "reasoning_effort": effort}
    request = adapter_for("openai").build_request(ep, upstream, body, False)
    assert request.json["reasoning_effort"] == sent


def test_keyless_custom_endpoint_sends_no_authorization() -> None:
    ep = endpoint("ollama", vendor="custom", key=Secret(""))
    request = adapter_for("openai").build_request(ep, "llama3", {"messages": [USER]}, False)
    assert "authorization" not in request.headers


# ---------------------------------------------------------------- Anthropic

CACHE = {"type": "ephemeral"}
CACHE_1H = {"type": "ephemeral", "ttl": "1h"}
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOL: dict[str, Any] = {
    "type": "function",
    "function": {"name": "weather", "description": "Weather now", "parameters": WEATHER},
}
CALLS = [
    {
        "id": "call_1",
        "type": "function",
        "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
    },
    {
        "id": "call_2",
        "type": "function",
        "function": {"name": "weather", "arguments": '{"city": "Rome"}'},
    },
]


@pytest.mark.parametrize(
    ("ep", "extra", "param"),
    [
        (endpoint("groq"), {"logprobs": True, "top_logprobs": 2}, "logprobs"),
        (endpoint("groq-batch", vendor="groq"), {"logprobs": True}, "logprobs"),
        (endpoint("mistral"), {"logprobs": True}, "logprobs"),
        (endpoint("anthropic"), {"logprobs": True}, "logprobs"),
        (endpoint("gemini"), {"logprobs": True, "top_logprobs": 3}, "logprobs"),
        (endpoint("groq-batch", vendor="groq"), {"logit_bias": {"1": 2}}, "logit_bias"),
        (endpoint("deepseek"), {"logit_bias": {"1": 2}}, "logit_bias"),
        (endpoint("cerebras"), {"logit_bias": {"1": 2}}, "logit_bias"),
        (endpoint("anthropic"), {"logit_bias": {"1": -100}}, "logit_bias"),
        (endpoint("gemini"), {"logit_bias": {"1": -100}}, "logit_bias"),
        (endpoint("anthropic"), {"functions": [{"name": "f"}]}, "functions"),
        (endpoint("gemini"), {"function_call": "auto"}, "function_call"),
        (endpoint("perplexity"), {"n": 2}, "n"),
        (endpoint("anthropic"), {"modalities": ["text", "audio"]}, "modalities"),
        (endpoint("gemini"), {"modalities": ["text", "audio"]}, "modalities"),
        (endpoint("groq"), {"modalities": ["text", "audio"]}, "modalities"),
    ],
)
def test_what_a_provider_cannot_answer_is_refused_by_name(
    ep: Endpoint, extra: dict[str, Any], param: str
) -> None:
    """Dropped, these would bring back an answer without what the client reads from it
    (choice.logprobs, message.function_call): a 400 naming the parameter instead."""
    body = {"model": "m", "messages": [USER], **extra}
    with pytest.raises(InvalidRequest) as caught:
        adapter_for(ep.kind).build_request(ep, "up", body, False)
    assert caught.value.param == param


def anthropic_body(body: dict[str, Any], stream: bool = False) -> dict[str, Any]:
    ep = Endpoint("anthropic", "anthropic", "https://a.example", KEY)
    return adapter_for("anthropic").build_request(ep, "claude-up", body, stream).json


def test_anthropic_system_tools_and_tool_results() -> None:
    body = {
        "model": "claude-sonnet",
        "max_completion_tokens": 300,
        "temperature": 1.7,
        "top_p": 0.9,
        "stop": "END",
        "user": "u-1",
        "tools": [{**TOOL, "cache_control": CACHE_1H}],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "messages": [
            {
                "role": "system",
                "content": [{"type": "text", "text": "Long rules", "cache_control": CACHE}],
            },
            {"role": "developer", "content": "Be brief"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "Weather?", "cache_control": CACHE}],
            },
            {"role": "assistant", "content": "Checking", "tool_calls": CALLS},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {
                "role": "tool",
                "tool_call_id": "call_2",
                "content": [{"type": "text", "text": "rain"}],
            },
        ],
    }
    assert anthropic_body(body) == {
        "model": "claude-up",
        "max_tokens": 300,
        "system": [
            {"type": "text", "text": "Long rules", "cache_control": CACHE},
            {"type": "text", "text": "Be brief"},
        ],
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "Weather?", "cache_control": CACHE}],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking"},
                    {
                        "type": "tool_use",
                        "id": "call_1",
                        "name": "weather",
                        "input": {"city": "Oslo"},
                    },
                    {
                        "type": "tool_use",
                        "id": "call_2",
                        "name": "weather",
                        "input": {"city": "Rome"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "call_2",
                        "content": [{"type": "text", "text": "rain"}],
                    },
                ],
            },
        ],
        "temperature": 1.0,
        "stop_sequences": ["END"],
        "tools": [
            {
                "name": "weather",
                "description": "Weather now",
                "input_schema": WEATHER,
                "cache_control": CACHE_1H,
            }
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "metadata": {"user_id": "u-1"},
    }


def test_anthropic_cache_control_objects_pass_through_untouched() -> None:
    odd = {"type": "ephemeral", "ttl": "5m", "future_field": [1, 2]}
    body = {
        "messages": [
            {"role": "system", "content": "rules", "cache_control": odd},
            {"role": "user", "content": "hi", "cache_control": odd},
        ],
        "tools": [{**TOOL, "function": {**TOOL["function"], "cache_control": odd}}],
    }
    out = anthropic_body(body)
    assert out["system"] == [{"type": "text", "text": "rules", "cache_control": odd}]
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": odd}]}
    ]
    assert out["tools"][0]["cache_control"] == odd


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        (None, None, None),
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        (
            {"type": "function", "function": {"name": "weather"}},
            None,
            {"type": "tool", "name": "weather"},
        ),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
    ],
)
def test_anthropic_tool_choice(choice: Any, parallel: Any, expected: Any) -> None:
    body: dict[str, Any] = {"messages": [USER], "tools": [TOOL]}
    if choice is not None:
        body["tool_choice"] = choice
    if parallel is not None:
        body["parallel_tool_calls"] = parallel
    assert anthropic_body(body).get("tool_choice") == expected


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, {"max_tokens": 4096}),
        ({"max_tokens": 50}, {"max_tokens": 50}),
        ({"max_completion_tokens": 60, "max_tokens": 50}, {"max_tokens": 60}),
        ({"top_p": 0.5}, {"max_tokens": 4096, "top_p": 0.5}),
        ({"temperature": 0.2, "top_p": 0.5}, {"max_tokens": 4096, "temperature": 0.2}),
        ({"stop": ["a", "b"]}, {"max_tokens": 4096, "stop_sequences": ["a", "b"]}),
        ({"top_k": 5, "temperature": 0.2}, {"max_tokens": 4096, "temperature": 0.2, "top_k": 5}),
    ],
)
def test_anthropic_sampling(extra: dict[str, Any], expected: dict[str, Any]) -> None:
    out = anthropic_body({"messages": [USER], **extra})
    assert {k: v for k, v in out.items() if k not in ("model", "messages")} == expected


def test_anthropic_images_and_stream_flag() -> None:
    parts = [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://img.example/cat.jpg"}},
    ]
    out = anthropic_body({"messages": [{"role": "user", "content": parts}]}, stream=True)
    assert out["stream"] is True
    assert out["messages"][0]["content"] == [
        {"type": "text", "text": "what is this"},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        },
        {"type": "image", "source": {"type": "url", "url": "https://img.example/cat.jpg"}},
    ]


PDF = {
    "type": "file",
    "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="},
}


def test_a_pdf_file_part_is_a_claude_document_and_gemini_inline_data() -> None:
    """OpenAI's chat completions take PDFs as `file` parts; both providers read PDFs too."""
    message = {"role": "user", "content": [{"type": "text", "text": "sum up"}, PDF]}
    claude = anthropic_body({"messages": [message]})["messages"][0]["content"][1]
    assert claude == {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
    }
    gemini = gemini_request({"messages": [message]}).json["contents"][0]["parts"][1]
    assert gemini == {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}}


@pytest.mark.parametrize("provider", ["anthropic", "gemini"])
def test_a_file_id_is_refused_by_name(provider: str) -> None:
    part = {"type": "file", "file": {"file_id": "file-abc"}}
    body = {"messages": [{"role": "user", "content": [part]}]}
    with pytest.raises(InvalidRequest) as caught:
        (anthropic_body if provider == "anthropic" else gemini_request)(body)
    assert caught.value.param == "messages" and "file_id" in caught.value.message


def test_anthropic_headers_and_url() -> None:
    ep = Endpoint("anthropic", "anthropic", "https://a.example", KEY)
    request = adapter_for("anthropic").build_request(ep, "m", {"messages": [USER]}, False)
    assert request.url == "https://a.example/v1/messages"
    assert request.headers["x-api-key"] == KEY.reveal()
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers


@pytest.mark.parametrize(
    "body",
    [
        {"messages": [USER], "n": 2},
        {"messages": []},
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": "x",
                    "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "not json"}}],
                }
            ]
        },
        {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
        {"messages": [USER], "tools": [TOOL], "tool_choice": "sometimes"},
    ],
)
def test_anthropic_rejects_what_it_cannot_express(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        anthropic_body(body)


SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}


def test_anthropic_sends_a_json_schema_as_structured_output() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "r", "schema": SCHEMA, "strict": True}}
    body = anthropic_body({"messages": [USER], "response_format": fmt})
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    assert "response_format" not in body


JSON_ANSWER = {
    "name": "prism_json_answer",
    "description": "Give your whole answer as this JSON object.",
    "input_schema": {"type": "object"},
}
WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}
CLAUDE_WEATHER = {"name": "get_weather", "input_schema": SCHEMA}


@pytest.mark.parametrize(
    ("extra", "tools", "choice"),
    [
        # JSON mode alone: the JSON answer is the one tool, and it must be used
        ({}, [JSON_ANSWER], {"type": "tool", "name": "prism_json_answer"}),
        # with tools, as in OpenAI's JSON mode: call a tool or answer in JSON
        ({"tools": [WEATHER_TOOL]}, [CLAUDE_WEATHER, JSON_ANSWER], {"type": "any"}),
        (
            {"tools": [WEATHER_TOOL], "parallel_tool_calls": False},
            [CLAUDE_WEATHER, JSON_ANSWER],
            {"type": "any", "disable_parallel_tool_use": True},
        ),
        # "none": no client tool may be called, so JSON is the answer
        (
            {"tools": [WEATHER_TOOL], "tool_choice": "none"},
            [JSON_ANSWER],
            {"type": "tool", "name": "prism_json_answer"},
        ),
        # a named tool stands: the client asked for that call
        (
            {
                "tools": [WEATHER_TOOL],
                "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            },
            [CLAUDE_WEATHER],
            {"type": "tool", "name": "get_weather"},
        ),
    ],
    ids=["alone", "with tools", "no parallel calls", "tool choice none", "named tool"],
)
@pytest.mark.parametrize(
    "fmt",
    [{"type": "json_object"}, {"type": "json_schema", "json_schema": {"name": "r"}}],
    ids=["json_object", "json_schema without a schema"],
)
def test_anthropic_json_mode_without_a_schema_is_the_json_answer_tool(
    fmt: dict[str, Any], extra: dict[str, Any], tools: list[Any], choice: dict[str, Any]
) -> None:
    body = anthropic_body({"messages": [USER], "response_format": fmt, **extra})
    assert (body["tools"], body["tool_choice"]) == (tools, choice)
    assert "output_config" not in body and "response_format" not in body


def test_anthropic_refuses_a_client_tool_named_like_the_json_answer() -> None:
    tool = {"type": "function", "function": {"name": "prism_json_answer", "parameters": SCHEMA}}
    with pytest.raises(InvalidRequest) as raised:
        anthropic_body({"messages": [USER], "tools": [tool]})
    assert raised.value.param == "tools"


def test_anthropic_takes_a_plain_text_response_format() -> None:
    body = anthropic_body({"messages": [USER], "response_format": {"type": "text"}})
    assert "response_format" not in body and "output_config" not in body


# ---------------------------------------------------------------- Gemini


def gemini_request(body: dict[str, Any], stream: bool = False, model: str = "gemini-up") -> Any:
    ep = Endpoint("gemini", "gemini", "https://g.example", KEY)
    return adapter_for("gemini").build_request(ep, model, body, stream)


def test_gemini_conversation_tools_and_config() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "Be brief"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather?"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/"}},
                ],
            },
            {"role": "assistant", "content": None, "tool_calls": CALLS},
            {"role": "tool", "tool_call_id": "call_1", "content": '{"sky": "sunny"}'},
            {"role": "tool", "tool_call_id": "call_2", "content": "rain"},
        ],
        "tools": [TOOL],
        "tool_choice": {"type": "function", "function": {"name": "weather"}},
        "temperature": 0.3,
        "top_p": 0.8,
        "max_tokens": 99,
        "stop": "END",
        "n": 2,
        "seed": 5,
    }
    request = gemini_request(body)
    assert request.url == "https://g.example/v1beta/models/gemini-up:generateContent"
    assert request.headers["x-goog-api-key"] == KEY.reveal()
    assert request.json == {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "Weather?"},
                    {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/"}},
                ],
            },
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"name": "weather", "args": {"city": "Oslo"}}},
                    {"functionCall": {"name": "weather", "args": {"city": "Rome"}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "weather", "response": {"sky": "sunny"}}},
                    {"functionResponse": {"name": "weather", "response": {"content": "rain"}}},
                ],
            },
        ],
        "systemInstruction": {"parts": [{"text": "Be brief"}]},
        "tools": [
            {
                "functionDeclarations": [
                    {"name": "weather", "description": "Weather now", "parameters": WEATHER}
                ]
            }
        ],
        "toolConfig": {
            "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["weather"]}
        },
        "generationConfig": {
            "temperature": 0.3,
            "topP": 0.8,
            "candidateCount": 2,
            "seed": 5,
            "maxOutputTokens": 99,
            "stopSequences": ["END"],
        },
    }


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
    ],
)
def test_gemini_tool_choice(choice: str, expected: dict[str, Any]) -> None:
    body = {"messages": [USER], "tools": [TOOL], "tool_choice": choice}
    assert gemini_request(body).json["toolConfig"] == {"functionCallingConfig": expected}


def test_gemini_json_modes_and_schema_subset() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "required": ["a"],
        "properties": {
            "a": {"type": ["string", "null"], "description": "x"},
            "b": {"type": "array", "items": {"type": "integer", "additionalProperties": False}},
        },
    }
    json_schema = {"type": "json_schema", "json_schema": {"name": "r", "schema": schema}}
    config = gemini_request({"messages": [USER], "response_format": json_schema}).json
    assert config["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseSchema": {
            "type": "object",
            "required": ["a"],
            "properties": {
                "a": {"type": "string", "nullable": True, "description": "x"},
                "b": {"type": "array", "items": {"type": "integer"}},
            },
        },
    }
    plain = gemini_request({"messages": [USER], "response_format": {"type": "json_object"}}).json
    assert plain["generationConfig"] == {"responseMimeType": "application/json"}


# What pydantic (and so the SDK's beta.chat.completions.parse) sends for a nested model.
NESTED = {
    "$defs": {
        "Addr": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        }
    },
    "type": "object",
    "properties": {
        "home": {"$ref": "#/$defs/Addr", "description": "where"},
        "past": {"type": "array", "items": {"$ref": "#/$defs/Addr"}},
    },
    "required": ["home", "past"],
}
ADDR = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def test_gemini_inlines_schema_references_for_output_and_tools() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "p", "schema": NESTED}}
    tool = {"type": "function", "function": {"name": "save", "parameters": NESTED}}
    body = gemini_request({"messages": [USER], "response_format": fmt, "tools": [tool]}).json
    expected = {
        "type": "object",
        "properties": {
            "home": {**ADDR, "description": "where"},
            "past": {"type": "array", "items": ADDR},
        },
        "required": ["home", "past"],
    }
    assert body["generationConfig"]["responseSchema"] == expected
    assert body["tools"][0]["functionDeclarations"][0]["parameters"] == expected


def test_gemini_takes_a_string_const_as_a_one_value_enum() -> None:
    """pydantic writes Literal["a"], a discriminated union's tag, as const, which Gemini lacks."""
    tag = {"type": "object", "properties": {"kind": {"const": "a", "type": "string"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "p", "schema": tag}}
    sent = gemini_request({"messages": [USER], "response_format": fmt}).json
    kind = sent["generationConfig"]["responseSchema"]["properties"]["kind"]
    assert kind == {"enum": ["a"], "type": "string"}


@pytest.mark.parametrize(
    "schema",
    [
        {
            "$ref": "#/$defs/Node",
            "$defs": {"Node": {"properties": {"next": {"$ref": "#/$defs/Node"}}}},
        },
        {"type": "object", "properties": {"a": {"$ref": "https://x.example/a.json"}}},
    ],
    ids=["recursive", "remote"],
)
def test_gemini_refuses_references_it_cannot_inline(schema: dict[str, Any]) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "p", "schema": schema}}
    with pytest.raises(InvalidRequest) as caught:
        gemini_request({"messages": [USER], "response_format": fmt})
    assert caught.value.param == "response_format"


def test_gemini_leaves_out_the_penalties_gemini_2_5_refuses() -> None:
    body = {"messages": [USER], "presence_penalty": 0.5, "frequency_penalty": -1, "seed": 1}
    assert gemini_request(body).json["generationConfig"] == {"seed": 1}


def test_gemini_takes_top_k_from_extra_body() -> None:
    body = gemini_request({"messages": [USER], "top_k": 5, "temperature": 0.2}).json
    assert body["generationConfig"] == {"temperature": 0.2, "topK": 5}


@pytest.mark.parametrize(
    ("model", "effort", "budget"),
    [
        ("gemini-up", "none", 0),
        ("gemini-up", "minimal", 1024),
        ("gemini-up", "medium", 8192),
        ("gemini-up", "high", 24576),
        ("gemini-2.5-flash", "none", 0),
        ("gemini-2.5-flash", "xhigh", 24576),
        # Pro cannot stop thinking: 128 tokens is the least it takes.
        ("gemini-2.5-pro", "none", 128),
        ("models/gemini-2.5-pro", "none", 128),
        ("gemini-2.5-pro", "low", 1024),
        ("gemini-2.5-pro", "high", 24576),
    ],
)
def test_gemini_reasoning_effort_is_a_thinking_budget_the_model_takes(
    model: str, effort: str, budget: int
) -> None:
    body = gemini_request({"messages": [USER], "reasoning_effort": effort}, model=model).json
    assert body["generationConfig"] == {"thinkingConfig": {"thinkingBudget": budget}}


def test_gemini_refuses_a_reasoning_effort_it_cannot_map() -> None:
    with pytest.raises(InvalidRequest) as caught:
        gemini_request({"messages": [USER], "reasoning_effort": "ultra"})
    assert caught.value.param == "reasoning_effort"


def test_gemini_streaming_url() -> None:
    request = gemini_request({"messages": [USER]}, stream=True)
    assert request.url == (
        "https://g.example/v1beta/models/gemini-up:streamGenerateContent?alt=sse"
    )
    assert request.json == {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def test_gemini_tool_result_needs_its_call() -> None:
    with pytest.raises(InvalidRequest):
        gemini_request(
            {"messages": [USER, {"role": "tool", "tool_call_id": "nope", "content": "x"}]}
        )


# ---------------------------------------------------------------- registry


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("openai", None, "", None), ("openai", "openai", "https://api.openai.com/v1")),
        (("groq", None, "", None), ("groq", "openai", "https://api.groq.com/openai/v1")),
        (("perplexity", None, "", None), ("perplexity", "openai", "https://api.perplexity.ai")),
        (("anthropic", None, "", None), ("anthropic", "anthropic", "https://api.anthropic.com")),
        (
            ("gemini", None, "", None),
            ("gemini", "gemini", "https://generativelanguage.googleapis.com"),
        ),
        (
            ("ollama", "http://127.0.0.1:11434/v1/", "", "custom"),
            ("ollama", "openai", "http://127.0.0.1:11434/v1"),
        ),
        (
            ("groq-eu", "https://eu.groq.example/v1", "", "groq"),
            ("groq-eu", "openai", "https://eu.groq.example/v1"),
        ),
        (
            ("groq", None, "http://127.0.0.1:9/", None),
            ("groq", "openai", "http://127.0.0.1:9/p/groq/v1"),
        ),
        (
            ("anthropic", None, "http://127.0.0.1:9", None),
            ("anthropic", "anthropic", "http://127.0.0.1:9/p/anthropic"),
        ),
        (
            ("gemini", None, "http://127.0.0.1:9", None),
            ("gemini", "gemini", "http://127.0.0.1:9/p/gemini"),
        ),
        (
            ("vllm", "http://10.0.0.1/v1", "http://127.0.0.1:9", None),
            ("vllm", "openai", "http://127.0.0.1:9/p/vllm/v1"),
        ),
    ],
)
def test_endpoint_for(
    args: tuple[str, str | None, str, str | None], expected: tuple[str, str, str]
) -> None:
    provider, base_url, simulator, vendor = args
    ep = endpoint_for(provider, KEY, base_url, simulator, vendor=vendor)
    assert (ep.provider, ep.kind, ep.base_url) == expected
    assert ep.api_key is KEY


def test_unknown_provider_without_base_url_is_a_configuration_error() -> None:
    with pytest.raises(PrismError) as info:
        endpoint_for("mystery", KEY, None, "")
    assert info.value.code == "provider_not_configured"


def test_every_catalog_provider_has_an_adapter() -> None:
    for model in MODELS.values():
        assert (
            adapter_for(PROVIDERS[model["provider"]].kind).kind == PROVIDERS[model["provider"]].kind
        )
    with pytest.raises(ValueError):
        adapter_for("carrier-pigeon")
