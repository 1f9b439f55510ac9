"""The simulator's control API and routing: records, config, reset, health, odd requests."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest


def test_health(sim: Any) -> None:
    assert httpx.get(f"{sim.url}/_sim/health").json() == {"status": "ok"}


def test_requests_are_recorded_newest_last_and_filterable(sim: Any) -> None:
    sim.chat("openai", text="first")
    sim.chat("anthropic", text="second")
    sim.chat("groq", text="third", temperature=0.2)
    records = sim.requests()
    assert [r["provider"] for r in records] == ["openai", "anthropic", "groq"]
    groq = sim.requests("groq")
    assert len(groq) == 1
    assert groq[0]["method"] == "POST" and groq[0]["path"] == "/p/groq/v1/chat/completions"
    assert groq[0]["headers"]["authorization"] == "Bearer sk-test"
    assert groq[0]["body"]["temperature"] == 0.2 and groq[0]["query"] == {}


def test_failed_and_non_json_requests_are_recorded_too(sim: Any) -> None:
    response = httpx.post(
        f"{sim.base_url('openai')}/chat/completions",
        content=b"{not json",
        headers={"authorization": "Bearer k"},
    )
    assert (
        response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
    )
    assert (
        httpx.post(f"{sim.base_url('openai')}/chat/completions", json={"model": "m"}).status_code
        == 401
    )
    assert [r["body"] for r in sim.requests()] == ["{not json", {"model": "m"}]


def test_reset_clears_scripts_records_caches_and_config(sim: Any) -> None:
    long = "context " * 700
    sim.chat(
        "openai",
        text="x",
        messages=[{"role": "system", "content": long}, {"role": "user", "content": "a"}],
    )
    sim.script({"kind": "status", "status": 500})
    sim.configure(latency_ms=5000)
    sim.reset()
    assert sim.requests() == []
    again = sim.chat(
        "openai",
        messages=[{"role": "system", "content": long}, {"role": "user", "content": "b"}],
        timeout=5,
    )
    assert again.status_code == 200
    assert again.json()["usage"]["prompt_tokens_details"]["cached_tokens"] == 0


def test_latency_config_is_per_provider(sim: Any) -> None:
    assert sim.configure(latency_ms=4000, provider="slowco") == {
        "provider": "slowco",
        "latency_ms": 4000,
        "stream_chunk_delay_ms": 0,
        "fail_rate": 0.0,
        "hang_rate": 0.0,
    }
    with pytest.raises(httpx.ReadTimeout):
        sim.chat("slowco", model="slowco-model", timeout=httpx.Timeout(10, read=0.3))
    assert sim.chat("openai").status_code == 200


def _frames(body: str) -> list[str]:
    return [f for f in body.replace("\r\n", "\n").split("\n\n") if f]


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_stream_chunk_delay_still_delivers_every_event(sim: Any, provider: str) -> None:
    undelayed = _frames(sim.chat(provider, stream=True, text="slow drip").text)
    sim.configure(stream_chunk_delay_ms=5)
    delayed = _frames(sim.chat(provider, stream=True, text="slow drip").text)
    assert len(delayed) == len(undelayed) >= 3
    assert all(json.loads(f.split("data: ", 1)[1]) for f in delayed if not f.endswith("[DONE]"))


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("script", {"fault": {"kind": "nope"}}),
        ("script", {"fault": {"kind": "status", "status": 200}}),
        ("script", {"fault": {"kind": "hang"}, "times": 0}),
        ("script", {"fault": {"kind": "usage", "usage": [1]}}),
        ("config", {"latency_ms": "fast"}),
        ("config", {"latency_ms": -5}),
    ],
)
def test_control_api_rejects_bad_input(sim: Any, path: str, body: dict[str, Any]) -> None:
    response = httpx.post(f"{sim.url}/_sim/{path}", json=body)
    assert response.status_code == 400 and response.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/_sim/nothing", 404),
        ("GET", "/elsewhere", 404),
        ("POST", "/p/openai/v1/embeddings", 404),
        ("GET", "/p/openai/v1/models", 401),
    ],
)
def test_unknown_routes_and_unauthenticated_model_list(
    sim: Any, method: str, path: str, status: int
) -> None:
    assert httpx.request(method, f"{sim.url}{path}").status_code == status


def test_openai_compatible_path_under_any_provider(sim: Any) -> None:
    url = f"{sim.url}/p/gemini/v1beta/openai/chat/completions"
    body = {"model": "gemini-2.0-flash", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(url, json=body, headers={"authorization": "Bearer g"})
    assert (
        response.json()["choices"][0]["message"]["content"]
        == "Simulated gemini-2.0-flash reply: hi"
    )
