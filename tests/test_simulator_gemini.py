"""The simulator's Gemini format over raw HTTP: JSON, alt=sse and a streamed JSON array."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest

MODEL = "gemini-2.0-flash"
QUESTION = "Why is the sky blue?"
REPLY = f"Simulated {MODEL} reply: {QUESTION}"
FORECAST = {
    "name": "forecast",
    "parameters": {
        "type": "OBJECT",
        "properties": {
            "place": {"type": "STRING"},
            "days": {"type": "INTEGER"},
            "metric": {"type": "BOOLEAN"},
        },
        "required": ["place", "days", "metric"],
    },
}
CLOCK = {
    "name": "clock",
    "parameters": {
        "type": "OBJECT",
        "properties": {"zone": {"type": "STRING", "enum": ["UTC", "CET"]}},
        "required": ["zone"],
    },
}


def tk(text: str) -> int:
    return math.ceil(len(text) / 4)


def contents(*texts: str) -> list[dict[str, Any]]:
    return [
        {"role": "user" if i % 2 == 0 else "model", "parts": [{"text": t}]}
        for i, t in enumerate(texts)
    ]


def generate(
    sim: Any,
    body: dict[str, Any],
    model: str = MODEL,
    key: str | None = "g-key",
    stream: bool = False,
) -> httpx.Response:
    action = "streamGenerateContent?alt=sse" if stream else "generateContent"
    headers = {"x-goog-api-key": key} if key else {}
    return httpx.post(
        f"{sim.base_url('gemini')}/v1beta/models/{model}:{action}", headers=headers, json=body
    )


def sse_events(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = [f for f in response.text.split("\r\n\r\n") if f]
    assert all(f.startswith("data: ") for f in frames)
    return [json.loads(f[len("data: ") :]) for f in frames]


def test_generate_content_json(sim: Any) -> None:
    body = {
        "systemInstruction": {"parts": [{"text": "Be precise."}]},
        "contents": contents(QUESTION),
    }
    out = generate(sim, body).json()
    candidate = out["candidates"][0]
    assert candidate["content"] == {"parts": [{"text": REPLY}], "role": "model"}
    assert (candidate["finishReason"], candidate["index"]) == ("STOP", 0)
    prompt = (4 + tk("Be precise.")) + (4 + tk(QUESTION))
    assert out["usageMetadata"] == {
        "promptTokenCount": prompt,
        "candidatesTokenCount": tk(REPLY),
        "totalTokenCount": prompt + tk(REPLY),
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
    }
    assert out["modelVersion"] == MODEL and out["responseId"]


def test_stream_generate_content_sse(sim: Any) -> None:
    events = sse_events(generate(sim, {"contents": contents(QUESTION)}, stream=True))
    assert len(events) == 3
    assert "".join(e["candidates"][0]["content"]["parts"][0]["text"] for e in events) == REPLY
    assert [e["candidates"][0].get("finishReason") for e in events] == [None, None, "STOP"]
    running = [e["usageMetadata"]["candidatesTokenCount"] for e in events]
    assert running == sorted(running) and running[-1] == tk(REPLY)
    assert {e["usageMetadata"]["promptTokenCount"] for e in events} == {4 + tk(QUESTION)}


def test_stream_without_alt_sse_is_a_json_array(sim: Any) -> None:
    url = f"{sim.base_url('gemini')}/v1beta/models/{MODEL}:streamGenerateContent"
    response = httpx.post(url, params={"key": "k"}, json={"contents": contents(QUESTION)})
    chunks = response.json()
    assert isinstance(chunks, list) and chunks[-1]["candidates"][0]["finishReason"] == "STOP"


@pytest.mark.parametrize(
    ("tool_config", "name", "args"),
    [
        (None, "forecast", {"place": "sim", "days": 1, "metric": True}),
        (
            {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["clock"]}},
            "clock",
            {"zone": "UTC"},
        ),
    ],
)
def test_function_call(
    sim: Any, tool_config: dict[str, Any] | None, name: str, args: dict[str, Any]
) -> None:
    body: dict[str, Any] = {
        "contents": contents(QUESTION),
        "tools": [{"functionDeclarations": [FORECAST, CLOCK]}],
    }
    if tool_config:
        body["toolConfig"] = tool_config
    out = generate(sim, body).json()
    assert out["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"name": name, "args": args}}
    ]
    assert out["candidates"][0]["finishReason"] == "STOP"
    assert out["usageMetadata"]["candidatesTokenCount"] == tk(json.dumps(args))
    tools = sum(tk(json.dumps(d, separators=(",", ":"))) for d in (FORECAST, CLOCK))
    assert out["usageMetadata"]["promptTokenCount"] == tools + 4 + tk(QUESTION)
    streamed = sse_events(generate(sim, body, stream=True))
    assert streamed[-1]["candidates"][0]["content"]["parts"][0]["functionCall"]["name"] == name


def test_text_after_function_response_or_mode_none(sim: Any) -> None:
    tools = [{"functionDeclarations": [FORECAST]}]
    answered = [
        *contents(QUESTION),
        {
            "role": "model",
            "parts": [{"functionCall": {"name": "forecast", "args": {"place": "x"}}}],
        },
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "forecast", "response": {"sky": "blue"}}}],
        },
    ]
    out = generate(sim, {"contents": answered, "tools": tools}).json()
    assert out["candidates"][0]["content"]["parts"] == [{"text": REPLY}]
    off = {
        "contents": contents(QUESTION),
        "tools": tools,
        "toolConfig": {"functionCallingConfig": {"mode": "NONE"}},
    }
    assert generate(sim, off).json()["candidates"][0]["content"]["parts"] == [{"text": REPLY}]


@pytest.mark.parametrize(
    ("config", "text", "finish"),
    [
        ({"maxOutputTokens": 3}, REPLY[:12], "MAX_TOKENS"),
        ({"stopSequences": ["sky"]}, f"Simulated {MODEL} reply: Why is the ", "STOP"),
        ({"responseMimeType": "application/json"}, json.dumps({"reply": REPLY}), "STOP"),
        (
            {
                "responseMimeType": "application/json",
                "responseSchema": {
                    "type": "OBJECT",
                    "properties": {"ok": {"type": "BOOLEAN"}},
                    "required": ["ok"],
                },
            },
            json.dumps({"ok": True}),
            "STOP",
        ),
    ],
)
def test_generation_config(sim: Any, config: dict[str, Any], text: str, finish: str) -> None:
    out = generate(sim, {"contents": contents(QUESTION), "generationConfig": config}).json()
    assert out["candidates"][0]["content"]["parts"][0]["text"] == text
    assert out["candidates"][0]["finishReason"] == finish


@pytest.mark.parametrize(
    ("model", "budget", "status"),
    [
        ("gemini-2.5-pro", 0, 400),
        ("gemini-2.5-pro", 127, 400),
        ("gemini-2.5-pro", 128, 200),
        ("gemini-2.5-pro", -1, 200),
        ("gemini-2.5-flash", 0, 200),
        ("gemini-2.5-flash", 24577, 400),
    ],
)
def test_thinking_budgets_outside_the_models_range_are_refused(
    sim: Any, model: str, budget: int, status: int
) -> None:
    config = {"thinkingConfig": {"thinkingBudget": budget}}
    body = {"contents": contents(QUESTION), "generationConfig": config}
    assert generate(sim, body, model=model).status_code == status


def test_candidate_count(sim: Any) -> None:
    out = generate(
        sim, {"contents": contents(QUESTION), "generationConfig": {"candidateCount": 2}}
    ).json()
    assert [c["index"] for c in out["candidates"]] == [0, 1]
    assert out["usageMetadata"]["candidatesTokenCount"] == 2 * tk(REPLY)


def test_implicit_caching_reports_cached_content_tokens(sim: Any) -> None:
    history = contents("background " * 500, "noted")
    prefix = (4 + tk("background " * 500)) + (4 + tk("noted"))
    first = generate(sim, {"contents": [*history, *contents("q1")]}).json()["usageMetadata"]
    second = generate(sim, {"contents": [*history, *contents("q2")]}).json()["usageMetadata"]
    assert "cachedContentTokenCount" not in first
    assert second["cachedContentTokenCount"] == prefix // 128 * 128 == 1280
    assert second["promptTokenCount"] == prefix + 4 + tk("q2")


@pytest.mark.parametrize(
    ("model", "key", "status", "error_status"),
    [
        (MODEL, None, 401, "UNAUTHENTICATED"),
        ("nonexistent-gemini", "k", 404, "NOT_FOUND"),
    ],
)
def test_errors_use_google_shapes(
    sim: Any, model: str, key: str | None, status: int, error_status: str
) -> None:
    response = generate(sim, {"contents": contents(QUESTION)}, model=model, key=key)
    assert response.status_code == status
    assert (
        response.json()["error"]["code"] == status
        and response.json()["error"]["status"] == error_status
    )


def test_key_in_query_is_accepted_and_recorded(sim: Any) -> None:
    url = f"{sim.base_url('gemini')}/v1beta/models/{MODEL}:generateContent"
    assert (
        httpx.post(url, params={"key": "qk"}, json={"contents": contents(QUESTION)}).status_code
        == 200
    )
    record = sim.requests("gemini")[-1]
    assert (
        record["query"] == {"key": "qk"}
        and record["body"]["contents"][0]["parts"][0]["text"] == QUESTION
    )
