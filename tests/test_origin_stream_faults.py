"""Providers answering 200 with garbage, through the origin and the official openai SDK.

The simulator plays OpenAI (gpt-4o-mini) sending chunks and answers of shapes no client can
read. Before anything reached the client that is a failure to fail over from; after the
first chunk, an error event the SDK raises. Either way, exactly one usage row that says so.
"""

from __future__ import annotations

import uuid
from typing import Any

import openai
import pytest

from tests.test_routing_failover import sdk

MODEL, PROVIDER = "gpt-4o-mini", "openai"
STRICT = {"X-Prism-Fallback": "none"}
# Chunk shapes an OpenAI-compatible server has no business sending; each once crashed the
# origin (an internal 500 with no usage row, or a cut body the SDK reports as a connection
# error) instead of being treated as the provider's failure. The huge index also made the
# stream decoder allocate a slot per index, until memory ran out.
ODD_CHOICES: list[Any] = [
    pytest.param([None], id="null-choice"),
    pytest.param([{"index": 0, "delta": "text"}], id="string-delta"),
    pytest.param([{"index": "a", "delta": {"content": "x"}}], id="string-index"),
    pytest.param(
        [{"index": 10**12, "delta": {"content": "x"}, "finish_reason": "stop"}], id="huge-index"
    ),
    pytest.param([{"index": 0, "delta": {"tool_calls": [7]}}], id="number-tool-call"),
]


@pytest.fixture
async def project(make_project: Any) -> Any:
    return await make_project("stream-faults")


def ask() -> list[dict[str, str]]:
    # A prompt of its own per test, so no answer can come from the response cache.
    return [{"role": "user", "content": f"Say hello to {uuid.uuid4().hex}"}]


def odd_chunk(choices: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-odd", "object": "chat.completion.chunk", "choices": choices}


def streamed(client: openai.OpenAI, model: str = MODEL) -> tuple[str, dict[str, str]]:
    raw = client.chat.completions.with_raw_response.create(model=model, messages=ask(), stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    return text, dict(raw.headers)


@pytest.mark.parametrize("choices", ODD_CHOICES)
async def test_an_odd_chunk_before_any_content_fails_over(
    origin_server: Any, project: Any, sim: Any, choices: Any
) -> None:
    sim.script({"kind": "extra_event", "data": odd_chunk(choices)}, provider=PROVIDER)
    text, headers = streamed(sdk(origin_server, project))
    assert text.startswith("Simulated") and headers["x-prism-provider"] != PROVIDER
    rows = await origin_server.rows(project.id, expect=1)
    assert [(r["success"], r["provider"]) for r in rows] == [(True, headers["x-prism-provider"])]


@pytest.mark.parametrize("choices", ODD_CHOICES[:2])
async def test_an_odd_chunk_is_a_bad_gateway_when_nothing_may_fail_over(
    origin_server: Any, project: Any, sim: Any, choices: Any
) -> None:
    sim.script({"kind": "extra_event", "data": odd_chunk(choices)}, provider=PROVIDER)
    with pytest.raises(openai.APIStatusError) as caught:
        streamed(sdk(origin_server, project, **STRICT))
    assert caught.value.status_code == 502
    assert "malformed choice" in caught.value.message
    rows = await origin_server.rows(project.id, expect=1)
    assert [(r["success"], r["error_code"]) for r in rows] == [(False, "upstream_bad_response")]


@pytest.mark.parametrize("choices", ODD_CHOICES)
async def test_an_odd_chunk_after_content_ends_the_stream_with_an_error_event(
    origin_server: Any, project: Any, sim: Any, choices: Any
) -> None:
    # After the role chunk and the first piece of text: the client has its first byte.
    sim.script(
        {"kind": "extra_event", "data": odd_chunk(choices), "after_chunks": 2}, provider=PROVIDER
    )
    stream = sdk(origin_server, project).chat.completions.create(
        model=MODEL, messages=ask(), stream=True
    )
    text = ""
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            text += (chunk.choices[0].delta.content or "") if chunk.choices else ""
    assert text  # what came before the odd chunk was delivered, and nothing after it
    assert not isinstance(caught.value, openai.APIConnectionError)  # an error event, not a cut
    assert "malformed choice" in caught.value.message
    rows = await origin_server.rows(project.id, expect=1)
    (row,) = rows
    # The provider broke the answer: the client did not go away.
    assert (row["success"], row["error_code"], row["provider"]) == (
        False,
        "upstream_bad_response",
        PROVIDER,
    )
    assert row["tokens_out"] > 0 and row["usage_reported"] is False


ODD_ANSWERS: list[Any] = [
    pytest.param([], id="no-choice"),
    pytest.param([None], id="null-choice"),
    pytest.param([{"index": 0, "message": "hello", "finish_reason": "stop"}], id="string-message"),
]


@pytest.mark.parametrize("choices", ODD_ANSWERS)
async def test_a_whole_answer_without_a_readable_choice_fails_over(
    origin_server: Any, project: Any, sim: Any, choices: Any
) -> None:
    # Passed on as it was, the SDK user's `choices[0].message.content` raised, while the row
    # said the request succeeded.
    body = {"id": "chatcmpl-odd", "object": "chat.completion", "choices": choices}
    sim.script({"kind": "body", "body": body}, provider=PROVIDER, times=2)
    await fails_over_then_is_a_bad_gateway(origin_server, project)


async def fails_over_then_is_a_bad_gateway(
    origin_server: Any, project: Any, message: str = ""
) -> None:
    """The scripted answer is failed over; with fallback off it is a 502 (saying `message`)."""
    raw = sdk(origin_server, project).chat.completions.with_raw_response.create(
        model=MODEL, messages=ask()
    )
    assert raw.parse().choices[0].message.content.startswith("Simulated")
    assert raw.headers["x-prism-provider"] != PROVIDER
    with pytest.raises(openai.APIStatusError) as caught:
        sdk(origin_server, project, **STRICT).chat.completions.create(model=MODEL, messages=ask())
    assert caught.value.status_code == 502 and message in caught.value.message
    await one_success_and_one_bad_response(origin_server, project)


async def one_success_and_one_bad_response(origin_server: Any, project: Any) -> None:
    rows = await origin_server.rows(project.id, expect=2)
    assert sorted((r["success"], r["error_code"]) for r in rows) == [
        (False, "upstream_bad_response"),
        (True, None),
    ]


# A stream that ends cleanly with nothing in it: OpenAI's [DONE] alone; Anthropic's
# message_start then message_stop, with no content block and no stop reason.
EMPTY_STREAMS: list[Any] = [
    pytest.param(MODEL, PROVIDER, 0, "[DONE]", None, id="openai-done-only"),
    pytest.param(
        "claude-haiku-4-5",
        "anthropic",
        1,
        {"type": "message_stop"},
        "message_stop",
        id="anthropic-stop-only",
    ),
]


@pytest.mark.parametrize(("model", "provider", "after", "data", "event"), EMPTY_STREAMS)
async def test_a_stream_that_ends_with_no_answer_fails_over(
    origin_server: Any,
    project: Any,
    sim: Any,
    model: str,
    provider: str,
    after: int,
    data: Any,
    event: str | None,
) -> None:
    # Once a 200 whose stream held nothing, recorded as a success: the SDK user got an empty
    # answer and no failover was tried.
    fault = {"kind": "extra_event", "data": data, "after_chunks": after, "end": True}
    if event is not None:
        fault["event"] = event
    sim.script(fault, provider=provider, times=2)
    text, headers = streamed(sdk(origin_server, project), model)
    assert text.startswith("Simulated") and headers["x-prism-provider"] != provider
    with pytest.raises(openai.APIStatusError) as caught:
        streamed(sdk(origin_server, project, **STRICT), model)
    assert caught.value.status_code == 502
    assert "without any answer" in caught.value.message
    await one_success_and_one_bad_response(origin_server, project)


async def test_a_chunk_too_deep_to_pass_on_ends_the_stream_with_an_error_event(
    origin_server: Any, project: Any, sim: Any
) -> None:
    # Valid JSON that the origin reads (up to 1024 levels) but cannot write back (254): once
    # a crash mid-body, which the SDK reported as a connection error and the row as the
    # client having gone.
    deep = "[" * 300 + "]" * 300
    chunk = '{"choices": [{"index": 0, "delta": {"content": "x"}, "logprobs": %s}]}' % deep
    sim.script({"kind": "extra_event", "data": chunk, "after_chunks": 2}, provider=PROVIDER)
    stream = sdk(origin_server, project).chat.completions.create(
        model=MODEL, messages=ask(), stream=True
    )
    with pytest.raises(openai.APIError) as caught:
        list(stream)
    assert not isinstance(caught.value, openai.APIConnectionError)
    assert "nested too deeply" in caught.value.message
    rows = await origin_server.rows(project.id, expect=1)
    assert [(r["success"], r["error_code"]) for r in rows] == [(False, "upstream_bad_response")]


async def test_a_whole_answer_too_deep_to_pass_on_fails_over(
    origin_server: Any, project: Any, sim: Any
) -> None:
    # Once a success row (and the bill) for an answer the origin then failed to encode: the
    # client got a 500 "internal error" for a request its usage row said had succeeded.
    deep = "[" * 300 + "]" * 300
    body = (
        '{"id": "chatcmpl-deep", "object": "chat.completion", "choices": [{"index": 0,'
        ' "message": {"role": "assistant", "content": "x"}, "logprobs": %s}]}' % deep
    )
    sim.script({"kind": "body", "body": body}, provider=PROVIDER, times=2)
    await fails_over_then_is_a_bad_gateway(origin_server, project, "nested too deeply")


async def test_a_claude_stream_cut_midway_keeps_the_input_side_claude_reported(
    origin_server: Any, project: Any, sim: Any
) -> None:
    # Anthropic reports the input side (prompt, cache reads and writes) in message_start,
    # before any text. A stream cut after it was priced on a guess of the prompt instead: in
    # one probe 9 input tokens where Claude had reported 50.
    model, headers = "claude-haiku-4-5", {"X-Prism-Cache": "no-store", **STRICT}
    messages = [{"role": "user", "content": "Tell me about lighthouses " * 40}]
    client = sdk(origin_server, project, **headers)
    whole = client.chat.completions.create(model=model, messages=messages, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in whole if c.choices)
    (full,) = await origin_server.rows(project.id, expect=1)
    sim.script({"kind": "disconnect", "after_chunks": 6}, provider="anthropic")
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model=model, messages=messages, stream=True))
    rows = await origin_server.rows(project.id, expect=2)
    (cut,) = [r for r in rows if not r["success"]]
    assert full["usage_reported"] and not cut["usage_reported"]
    assert cut["tokens_in"] == full["tokens_in"] > 100
    assert 0 < cut["tokens_out"] < full["tokens_out"]
