"""Every scripted fault kind, for each wire format, over real HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import openai
import pytest

PROVIDERS = ["openai", "anthropic", "gemini"]
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-5", "gemini": "gemini-2.0-flash"}
STREAM_EXTRA = {
    "openai": {"stream_options": {"include_usage": True}},
    "anthropic": {},
    "gemini": {},
}
NATIVE_USAGE = {
    "openai": {
        "prompt_tokens": 1000,
        "completion_tokens": 200,
        "total_tokens": 1200,
        "prompt_tokens_details": {"cached_tokens": 512, "audio_tokens": 0},
    },
    "anthropic": {
        "input_tokens": 30,
        "cache_creation_input_tokens": 1000,
        "cache_read_input_tokens": 4000,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 1000},
        "output_tokens": 250,
    },
    "gemini": {
        "promptTokenCount": 2048,
        "candidatesTokenCount": 100,
        "totalTokenCount": 2148,
        "cachedContentTokenCount": 1024,
    },
}


def error_kind(provider: str, body: dict[str, Any]) -> str:
    return str(body["error"]["status"] if provider == "gemini" else body["error"]["type"])


def data_lines(text: str) -> list[str]:
    """The data payloads of an SSE body, in order, whatever the line endings."""
    frames = text.replace("\r\n", "\n").split("\n\n")
    return [
        line[len("data: ") :] for f in frames for line in f.split("\n") if line.startswith("data: ")
    ]


def payloads(text: str) -> list[dict[str, Any]]:
    return [json.loads(d) for d in data_lines(text) if d != "[DONE]"]


def json_text(provider: str, body: dict[str, Any]) -> str:
    if provider == "openai":
        return str(body["choices"][0]["message"]["content"])
    if provider == "anthropic":
        return str(body["content"][0]["text"])
    return str(body["candidates"][0]["content"]["parts"][0]["text"])


def streamed_text(provider: str, events: list[dict[str, Any]]) -> str:
    if provider == "openai":
        return "".join(
            e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"]
        )
    if provider == "anthropic":
        return "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    return "".join(e["candidates"][0]["content"]["parts"][0]["text"] for e in events)


def stream_usage(provider: str, events: list[dict[str, Any]]) -> list[Any]:
    if provider == "openai":
        return [e["usage"] for e in events if e.get("usage")]
    if provider == "anthropic":
        return [u for e in events for u in (e.get("message", {}).get("usage"), e.get("usage")) if u]
    return [e["usageMetadata"] for e in events if "usageMetadata" in e]


STATUS_CASES = [
    ("openai", 500, "server_error"),
    ("openai", 503, "server_error"),
    ("openai", 429, "requests"),
    ("openai", 400, "invalid_request_error"),
    ("anthropic", 500, "api_error"),
    ("anthropic", 529, "overloaded_error"),
    ("anthropic", 429, "rate_limit_error"),
    ("anthropic", 400, "invalid_request_error"),
    ("gemini", 500, "INTERNAL"),
    ("gemini", 503, "UNAVAILABLE"),
    ("gemini", 429, "RESOURCE_EXHAUSTED"),
    ("gemini", 400, "INVALID_ARGUMENT"),
]


@pytest.mark.parametrize(("provider", "status", "kind"), STATUS_CASES)
@pytest.mark.parametrize("stream", [False, True])
def test_status_fault_uses_provider_error_shape(
    sim: Any, provider: str, status: int, kind: str, stream: bool
) -> None:
    sim.script({"kind": "status", "status": status}, provider=provider)
    response = sim.chat(provider, stream=stream)
    assert response.status_code == status
    assert error_kind(provider, response.json()) == kind
    assert response.headers.get("retry-after") == ("1" if status == 429 else None)
    assert sim.chat(provider).status_code == 200  # the fault was used up


def test_status_fault_with_message_and_retry_after(sim: Any) -> None:
    sim.script(
        {"kind": "status", "status": 503, "retry_after": 7, "message": "try later"},
        provider="anthropic",
    )
    response = sim.chat("anthropic")
    assert (
        response.headers["retry-after"] == "7"
        and response.json()["error"]["message"] == "try later"
    )


def test_rate_limit_reaches_the_openai_sdk(sim: Any) -> None:
    sim.script({"kind": "status", "status": 429, "retry_after": 2})
    client = openai.OpenAI(base_url=sim.base_url("openai"), api_key="sk", max_retries=0)
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    assert (
        limited.value.response.headers["retry-after"] == "2"
        and limited.value.code == "rate_limit_exceeded"
    )


def test_scripts_match_provider_and_model_and_count_down(sim: Any) -> None:
    sim.script({"kind": "status", "status": 503}, provider="openai", model="gpt-4o", times=2)
    sim.script({"kind": "reply", "text": "second script"}, provider="openai")
    assert sim.chat("groq", model="gpt-4o").status_code == 200
    assert (
        sim.chat("openai", model="gpt-4o-mini").json()["choices"][0]["message"]["content"]
        == "second script"
    )
    assert [sim.chat("openai", model="gpt-4o").status_code for _ in range(3)] == [503, 503, 200]


async def test_hang_blocks_only_its_own_request(sim: Any) -> None:
    for provider in PROVIDERS:
        sim.script({"kind": "hang"}, provider=provider)
    patience = httpx.Timeout(10, read=3.0)
    async with httpx.AsyncClient() as client:
        hung = [
            asyncio.ensure_future(client.send(sim.native_request(p, timeout=patience)))
            for p in PROVIDERS
        ]
        while len(sim.requests()) < len(PROVIDERS):  # every hung call has reached the simulator
            await asyncio.sleep(0.01)
        normal = [await client.send(sim.native_request(p)) for p in PROVIDERS]
        assert [r.status_code for r in normal] == [200, 200, 200]
        assert not any(task.done() for task in hung)
        results = await asyncio.gather(*hung, return_exceptions=True)
    assert all(isinstance(r, httpx.ReadTimeout) for r in results)


def test_slow_first_byte_delays_then_answers(sim: Any) -> None:
    sim.script({"kind": "slow_first_byte", "delay_ms": 3000}, model="slow-model")
    with pytest.raises(httpx.ReadTimeout):
        sim.chat("openai", model="slow-model", timeout=httpx.Timeout(10, read=0.3))
    sim.script({"kind": "slow_first_byte", "delay_ms": 50}, model="slow-model")
    response = sim.chat("openai", model="slow-model", text="late")
    assert json_text("openai", response.json()) == "Simulated slow-model reply: late"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_disconnect_mid_stream(sim: Any, provider: str) -> None:
    sim.script({"kind": "disconnect", "after_chunks": 2}, provider=provider)
    received = []
    with httpx.Client() as client, pytest.raises(httpx.RemoteProtocolError):
        response = client.send(sim.native_request(provider, stream=True), stream=True)
        assert response.status_code == 200
        received.extend(response.iter_text())
    assert len(data_lines("".join(received))) == 2
    assert sim.chat(provider, stream=True).status_code == 200


@pytest.mark.parametrize("provider", PROVIDERS)
def test_disconnect_json_closes_without_a_response(sim: Any, provider: str) -> None:
    sim.script({"kind": "disconnect"}, provider=provider)
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        sim.chat(provider)
    assert sim.chat(provider).status_code == 200


def test_disconnect_surfaces_in_openai_sdk_stream(sim: Any) -> None:
    sim.script({"kind": "disconnect", "after_chunks": 1})
    client = openai.OpenAI(base_url=sim.base_url("openai"), api_key="sk", max_retries=0)
    with pytest.raises((openai.APIConnectionError, httpx.RemoteProtocolError)):
        list(
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], stream=True
            )
        )


@pytest.mark.parametrize("provider", PROVIDERS)
def test_malformed_chunk(sim: Any, provider: str) -> None:
    sim.script({"kind": "malformed_chunk"}, provider=provider)
    lines = [d for d in data_lines(sim.chat(provider, stream=True, text="q").text) if d != "[DONE]"]
    broken = []
    for line in lines:
        try:
            json.loads(line)
        except json.JSONDecodeError:
            broken.append(line)
    assert len(broken) == 1
    good = [json.loads(line) for line in lines if line not in broken]
    assert streamed_text(provider, good) == f"Simulated {MODELS[provider]} reply: q"
    sim.script({"kind": "malformed_chunk"}, provider=provider)
    response = sim.chat(provider)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_extra_event(sim: Any, provider: str) -> None:
    oddity = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    sim.script(
        {"kind": "extra_event", "data": oddity, "event": "error", "after_chunks": 1},
        provider=provider,
    )
    text = sim.chat(provider, stream=True, text="q").text
    good = payloads(text)
    assert good[1] == oddity and "event: error\n" in text.replace("\r\n", "\n")
    assert streamed_text(provider, good[:1] + good[2:]) == f"Simulated {MODELS[provider]} reply: q"
    sim.script({"kind": "extra_event", "data": "[DONE]", "end": True}, provider=provider)
    assert data_lines(sim.chat(provider, stream=True).text) == ["[DONE]"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_body(sim: Any, provider: str) -> None:
    sim.script({"kind": "body", "body": {"choices": []}}, provider=provider)
    response = sim.chat(provider)
    assert (response.status_code, response.json()) == (200, {"choices": []})


@pytest.mark.parametrize("provider", PROVIDERS)
def test_no_usage(sim: Any, provider: str) -> None:
    sim.script({"kind": "no_usage"}, provider=provider, times=2)
    body = sim.chat(provider).json()
    assert not {"usage", "usageMetadata"} & set(body)
    assert (
        stream_usage(
            provider, payloads(sim.chat(provider, stream=True, **STREAM_EXTRA[provider]).text)
        )
        == []
    )
    assert stream_usage(
        provider, payloads(sim.chat(provider, stream=True, **STREAM_EXTRA[provider]).text)
    )


@pytest.mark.parametrize("provider", PROVIDERS)
def test_scripted_usage_is_reported_exactly(sim: Any, provider: str) -> None:
    block = NATIVE_USAGE[provider]
    sim.script({"kind": "usage", "usage": block}, provider=provider, times=2)
    body = sim.chat(provider).json()
    assert body.get("usage", body.get("usageMetadata")) == block
    events = payloads(sim.chat(provider, stream=True, **STREAM_EXTRA[provider]).text)
    if provider == "openai":
        assert [e["usage"] for e in events if e.get("usage")] == [block]
    elif provider == "anthropic":
        start, delta = (
            events[0]["message"]["usage"],
            next(e for e in events if e["type"] == "message_delta")["usage"],
        )
        assert {**start, "output_tokens": block["output_tokens"]} == block and start[
            "output_tokens"
        ] == 1
        assert delta == {"output_tokens": block["output_tokens"]}
    else:
        assert events[-1]["usageMetadata"] == block


@pytest.mark.parametrize("provider", PROVIDERS)
def test_scripted_reply_text(sim: Any, provider: str) -> None:
    text = "Exactly this, and nothing else."
    sim.script({"kind": "reply", "text": text}, provider=provider, times=2)
    assert json_text(provider, sim.chat(provider).json()) == text
    assert streamed_text(provider, payloads(sim.chat(provider, stream=True).text)) == text


CREDENTIAL = {"openai": "sk-test", "anthropic": "sk-ant-test", "gemini": "g-test"}


@pytest.mark.parametrize("form", ["json", "text", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_echo_key_repeats_the_credentials_everywhere(sim, simulator_server, provider, form):
    start = simulator_server.log_path.stat().st_size
    sim.script({"kind": "echo_key", "status": 401, "form": form}, provider=provider)
    response = sim.chat(provider, stream=form == "stream")
    assert response.status_code == (200 if form == "stream" else 401)
    assert CREDENTIAL[provider] in response.text
    assert CREDENTIAL[provider] in response.headers["x-echo-credentials"]
    if form == "json":
        assert CREDENTIAL[provider] in response.json()["error"]["message"]
    if form == "stream":
        assert response.headers["content-type"].startswith("text/event-stream")
        assert CREDENTIAL[provider] in json.loads(data_lines(response.text)[0])["error"]["message"]
    log = simulator_server.log_path.read_bytes()[start:].decode()
    assert CREDENTIAL[provider] in log


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("gzip", [False, True])
def test_huge_body_is_a_well_formed_answer_of_the_asked_size(
    sim: Any, provider: str, gzip: bool
) -> None:
    size = 3 * 1024 * 1024 + 17
    sim.script({"kind": "huge_body", "bytes": size, "gzip": gzip}, provider=provider)
    res = sim.chat(provider)  # httpx inflates gzip as any client would
    assert res.status_code == 200
    assert ("gzip" in res.headers.get("content-encoding", "")) is gzip
    body = res.json()  # still valid JSON in the provider's own shape
    assert json.dumps(body).count("a" * 1024) >= size // 1024
    assert len(res.content) > size
    if gzip:
        assert int(res.num_bytes_downloaded) < size // 100  # the bomb: small on the wire


async def test_a_call_the_caller_abandons_is_recorded_as_cancelled(sim: Any) -> None:
    sim.script({"kind": "hang"}, model="hung-model")
    sim.script({"kind": "slow_first_byte", "delay_ms": 5000}, model="slow-model")
    async with httpx.AsyncClient() as client:
        for model in ("hung-model", "slow-model"):
            with pytest.raises(httpx.ReadTimeout):
                await client.send(
                    sim.native_request("openai", model=model, timeout=httpx.Timeout(5, read=0.3))
                )
        await client.send(sim.native_request("openai", model="fine-model"))
    deadline = asyncio.get_running_loop().time() + 5
    while asyncio.get_running_loop().time() < deadline:
        records = {r["body"]["model"]: r["cancelled"] for r in sim.requests()}
        if records["hung-model"] and records["slow-model"]:
            break
        await asyncio.sleep(0.05)
    assert records == {"hung-model": True, "slow-model": True, "fine-model": False}


def test_slow_first_chunk_sends_headers_at_once_and_the_event_later(sim: Any) -> None:
    sim.script({"kind": "slow_first_chunk", "delay_ms": 3000})
    request = sim.native_request("openai", stream=True, timeout=httpx.Timeout(10, read=0.5))
    with httpx.Client() as client:
        response = client.send(request, stream=True)
        assert response.status_code == 200  # the status line did not wait
        with pytest.raises(httpx.ReadTimeout):
            response.read()
        response.close()


def test_chaos_rates_fail_and_hang_that_share_of_calls(sim: Any) -> None:
    sim.configure(provider="flaky", fail_rate=0.3)
    statuses = [sim.chat("flaky").status_code for _ in range(200)]
    assert 40 <= statuses.count(500) <= 80 and set(statuses) == {200, 500}
    sim.configure(provider="hangs", hang_rate=1.0)
    with pytest.raises(httpx.ReadTimeout):
        sim.chat("hangs", timeout=httpx.Timeout(5, read=0.3))
    with pytest.raises(httpx.HTTPStatusError):
        sim.configure(provider="x", fail_rate=1.5)
