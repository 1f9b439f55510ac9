"""The official openai SDK, unmodified but for its base URL, against the origin.

One table of (model, provider family); every row is exercised sync, async, streaming,
with tools and in JSON mode, and every request must leave exactly one usage row.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pydantic
import pytest

FAMILIES = [
    pytest.param("gpt-4o-mini", "openai", id="openai"),
    pytest.param("claude-haiku-4-5", "anthropic", id="anthropic"),
    pytest.param("gemini-2.5-flash", "gemini", id="gemini"),
    pytest.param("groq-llama-8b", "groq", id="openai-compatible"),
]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
HELLO = [{"role": "user", "content": "Say hello to the gateway"}]


@pytest.fixture
async def project(make_project: Any) -> Any:
    return await make_project("sdk")


def client(origin_server: Any, project: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=origin_server.base_url, api_key=project.api_key, max_retries=0)


def aclient(origin_server: Any, project: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=origin_server.base_url, api_key=project.api_key, max_retries=0
    )


@pytest.mark.parametrize("model,provider", FAMILIES)
async def test_sync_completion_with_receipt_headers(origin_server, project, sim, model, provider):
    raw = client(origin_server, project).chat.completions.with_raw_response.create(
        model=model, messages=HELLO
    )
    completion = raw.parse()
    assert completion.choices[0].message.content.startswith("Simulated")
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    headers = raw.headers
    assert headers["x-prism-provider"] == provider
    assert headers["x-prism-cache-status"] in ("miss", "bypass")
    assert float(headers["x-prism-cost-cents"]) > 0
    rows = await origin_server.rows(project.id, expect=1)
    assert len(rows) == 1
    row = rows[0]
    assert row["request_id"] == headers["x-prism-request-id"]
    assert row["provider"] == provider and row["success"] is True
    assert str(row["cost_total_cents"].normalize()) == headers["x-prism-cost-cents"]
    assert row["tokens_in"] == completion.usage.prompt_tokens


@pytest.mark.parametrize("model,provider", FAMILIES)
async def test_async_streaming_with_usage(origin_server, project, sim, model, provider):
    stream = await aclient(origin_server, project).chat.completions.create(
        model=model, messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    text, usage, finish = "", None, None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    assert text.startswith("Simulated") and finish == "stop"
    assert usage is not None and usage.completion_tokens > 0
    rows = await origin_server.rows(project.id, expect=1)
    assert len(rows) == 1 and rows[0]["was_streaming"] is True
    assert rows[0]["tokens_out"] == usage.completion_tokens
    # A stream has no cost header; its final usage chunk says what the row says.
    assert (usage.model_extra or {}).get("cost_cents") == str(
        rows[0]["cost_total_cents"].normalize()
    )


@pytest.mark.parametrize("model,provider", FAMILIES)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_tools(origin_server, project, sim, model, provider, stream):
    sdk = client(origin_server, project)
    messages = [{"role": "user", "content": "What's the weather in Lisbon?"}]
    if not stream:
        completion = sdk.chat.completions.create(
            model=model, messages=messages, tools=[WEATHER_TOOL]
        )
        call = completion.choices[0].message.tool_calls[0]
        assert completion.choices[0].finish_reason == "tool_calls"
        name, arguments = call.function.name, call.function.arguments
    else:
        name, arguments, finish = "", "", None
        for chunk in sdk.chat.completions.create(
            model=model, messages=messages, tools=[WEATHER_TOOL], stream=True
        ):
            for delta_call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                name += delta_call.function.name or ""
                arguments += delta_call.function.arguments or ""
            if chunk.choices and chunk.choices[0].finish_reason:
                finish = chunk.choices[0].finish_reason
        assert finish == "tool_calls"
    assert name == "get_weather"
    assert json.loads(arguments) == {"city": "sim"}
    assert len(await origin_server.rows(project.id, expect=1)) == 1


@pytest.mark.parametrize("model,provider", FAMILIES)
def test_json_mode(origin_server, project, sim, model, provider):
    completion = client(origin_server, project).chat.completions.create(
        model=model, messages=HELLO, response_format={"type": "json_object"}
    )
    choice = completion.choices[0]
    assert isinstance(json.loads(choice.message.content), dict)
    assert (choice.finish_reason, choice.message.tool_calls) == ("stop", None)


@pytest.mark.parametrize("stream", [False, True])
def test_json_object_on_claude_answers_json_through_a_forced_tool(
    origin_server, project, sim, stream
):
    create = client(origin_server, project).chat.completions.create
    reply = create(
        model="claude-haiku-4-5",
        messages=HELLO,
        response_format={"type": "json_object"},
        stream=stream,
    )
    if stream:
        chunks = [c for c in reply if c.choices]
        text = "".join(c.choices[0].delta.content or "" for c in chunks)
        assert not any(c.choices[0].delta.tool_calls for c in chunks)
        assert chunks[-1].choices[0].finish_reason == "stop"
    else:
        text = reply.choices[0].message.content
    assert isinstance(json.loads(text), dict)
    sent = sim.requests("anthropic")[-1]["body"]
    assert sent["tool_choice"] == {"type": "tool", "name": "prism_json_answer"}


@pytest.mark.parametrize("stream", [False, True])
def test_a_json_schema_on_claude_is_its_structured_output(origin_server, project, sim, stream):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "place", "schema": schema}}
    create = client(origin_server, project).chat.completions.create
    reply = create(model="claude-sonnet-4-6", messages=HELLO, response_format=fmt, stream=stream)
    if stream:
        text = "".join(c.choices[0].delta.content or "" for c in reply if c.choices)
    else:
        text = reply.choices[0].message.content
    assert json.loads(text) == {"city": "sim"}  # the simulator's example of the schema
    sent = sim.requests("anthropic")[-1]["body"]
    assert sent["output_config"] == {"format": {"type": "json_schema", "schema": schema}}


async def test_auto_routing_explains_itself(origin_server, project, sim):
    raw = client(origin_server, project).chat.completions.with_raw_response.create(
        model="auto", messages=HELLO, extra_headers={"X-Prism-Mode": "eco"}
    )
    headers = raw.headers
    assert headers["x-prism-mode"] == "eco"
    assert headers["x-prism-task-type"] in ("simple", "code", "reasoning", "complex")
    assert headers["x-prism-route-reason"]
    assert headers["x-prism-model"] and headers["x-prism-provider"]


def test_bad_key_is_401_in_the_openai_envelope(origin_server, sim):
    bad = openai.OpenAI(base_url=origin_server.base_url, api_key="prism_sk_nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert caught.value.status_code == 401
    assert caught.value.body["code"] == "invalid_api_key"
    assert sim.requests() == []


def test_unknown_model_is_404(origin_server, project, sim):
    with pytest.raises(openai.NotFoundError) as caught:
        client(origin_server, project).chat.completions.create(
            model="no-such-model", messages=HELLO
        )
    assert caught.value.body["code"] == "model_not_found"


def test_models_list(origin_server, project):
    models = client(origin_server, project).models.list()
    ids = {m.id for m in models.data}
    assert {"gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash"} <= ids


def test_models_retrieve_returns_the_listed_object(origin_server, project):
    sdk = client(origin_server, project)
    listed = {m.id: m for m in sdk.models.list().data}
    # The SDK sends "groq/llama-3.1-8b-instant" as groq%2Fllama-3.1-8b-instant.
    for model_id in ("gpt-4o-mini", "groq/llama-3.1-8b-instant"):
        assert sdk.models.retrieve(model_id) == listed[model_id]
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.models.retrieve("no-such-model")
    assert caught.value.body["code"] == "model_not_found"
    assert caught.value.body["param"] == "model"
    bad = openai.OpenAI(base_url=origin_server.base_url, api_key="prism_sk_nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.retrieve("gpt-4o-mini")


class Address(pydantic.BaseModel):
    city: str


class Person(pydantic.BaseModel):
    name: str
    home: Address  # a nested model: pydantic puts it in $defs behind a $ref
    past: list[Address]


def test_parse_with_a_nested_pydantic_model_on_gemini(origin_server, project, sim):
    completion = client(origin_server, project).beta.chat.completions.parse(
        model="gemini-2.5-flash", messages=HELLO, response_format=Person
    )
    assert completion.choices[0].message.parsed == Person(
        name="sim", home=Address(city="sim"), past=[]
    )
    sent = sim.requests("gemini")[-1]["body"]["generationConfig"]["responseSchema"]
    assert sent["properties"]["home"]["properties"] == {"city": {"title": "City", "type": "string"}}


def test_auto_with_n_2_is_routed_where_n_is_honoured(origin_server, project, sim):
    """sport's simple cell is Claude, which has no n: "auto" must not answer a 400 for it."""
    completion = client(origin_server, project).chat.completions.create(
        model="auto", messages=HELLO, n=2, extra_headers={"X-Prism-Mode": "sport"}
    )
    assert [c.index for c in completion.choices] == [0, 1]
    assert not sim.requests("anthropic")


@pytest.mark.parametrize("model", ["claude-haiku-4-5", "gemini-2.5-flash", "groq-llama-8b"])
def test_logprobs_a_model_cannot_return_are_a_400_naming_them(origin_server, project, sim, model):
    with pytest.raises(openai.BadRequestError) as caught:
        client(origin_server, project).chat.completions.create(
            model=model, messages=HELLO, logprobs=True, top_logprobs=2
        )
    assert caught.value.body["param"] == "logprobs"
    assert sim.requests() == []


@pytest.mark.parametrize("model", ["claude-haiku-4-5", "gemini-2.5-flash", "groq-llama-8b"])
def test_logit_bias_a_model_cannot_take_is_a_400_naming_it(origin_server, project, sim, model):
    """Dropped, the answer could hold the very tokens the client banned."""
    with pytest.raises(openai.BadRequestError) as caught:
        client(origin_server, project).chat.completions.create(
            model=model, messages=HELLO, logit_bias={"1734": -100}
        )
    assert caught.value.body["param"] == "logit_bias"
    assert sim.requests() == []


def test_auto_with_logit_bias_is_routed_where_it_is_honoured(origin_server, project, sim):
    """sport's simple cell is Claude, which has no logit_bias."""
    completion = client(origin_server, project).chat.completions.create(
        model="auto",
        messages=HELLO,
        logit_bias={"1734": -100},
        extra_headers={"X-Prism-Mode": "sport"},
    )
    assert completion.choices[0].message.content
    [request] = sim.requests()
    assert request["body"]["logit_bias"] == {"1734": -100}


@pytest.mark.parametrize("stream", [False, True])
def test_the_sdk_request_id_is_the_receipts(origin_server, project, sim, stream):
    """The SDK reads x-request-id into completion._request_id and APIError.request_id."""
    sdk = client(origin_server, project)
    raw = sdk.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=HELLO, stream=stream
    )
    assert raw.request_id == raw.headers["x-prism-request-id"]
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model="gpt-4o-mini", messages=HELLO, temperature=3)
    assert caught.value.request_id == caught.value.response.headers["x-prism-request-id"]


@pytest.mark.parametrize("model,provider", FAMILIES[1:3])
def test_a_pdf_file_part_reaches_claude_and_gemini(origin_server, project, sim, model, provider):
    pdf = {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}
    content = [{"type": "text", "text": "Sum this up"}, {"type": "file", "file": pdf}]
    completion = client(origin_server, project).chat.completions.create(
        model=model, messages=[{"role": "user", "content": content}]
    )
    assert completion.choices[0].message.content.startswith("Simulated")
    sent = json.dumps(sim.requests(provider)[-1]["body"])
    assert "JVBERi0=" in sent and "application/pdf" in sent
