"""Malformed tool use, unsafe model names and oversized headers are refused before any provider
is paid; token counts a provider reports beyond the ledger's columns still give a row."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

USER = {"role": "user", "content": "what is the weather in Paris?"}
CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
}
TOOL = {
    "type": "function",
    "function": {
        "name": "weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def chat(messages: list[dict[str, Any]] | None = None, **changes: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": messages or [USER], **changes}


def with_call(call: dict[str, Any], result: dict[str, Any] | None = None) -> dict[str, Any]:
    result = result or {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
    return chat([USER, {"role": "assistant", "content": None, "tool_calls": [call]}, result])


def with_parameters(parameters: Any) -> dict[str, Any]:
    return chat(tools=[{"type": "function", "function": {"name": "f", "parameters": parameters}}])


CASES: list[tuple[str, dict[str, Any], dict[str, str], str]] = [
    # (id, body, extra headers, the param the 400 names)
    (
        "tool-result-without-call-id",
        with_call(CALL, {"role": "tool", "content": "sunny"}),
        {},
        "messages[2].tool_call_id",
    ),
    (
        "tool-result-with-empty-call-id",
        with_call(CALL, {"role": "tool", "tool_call_id": "", "content": "sunny"}),
        {},
        "messages[2].tool_call_id",
    ),
    (
        "arguments-object",
        with_call({**CALL, "function": {"name": "weather", "arguments": {"city": "Paris"}}}),
        {},
        "messages[1].tool_calls[0].function.arguments",
    ),
    (
        "arguments-missing",
        with_call({**CALL, "function": {"name": "weather"}}),
        {},
        "messages[1].tool_calls[0].function.arguments",
    ),
    (
        "tool-calls-not-list",
        with_call(CALL)
        | {"messages": [USER, {"role": "assistant", "content": None, "tool_calls": CALL}]},
        {},
        "messages[1].tool_calls",
    ),
    ("tool-type-retrieval", chat(tools=[{**TOOL, "type": "retrieval"}]), {}, "tools[0].type"),
    (
        "tool-type-code",
        chat(tools=[TOOL, {**TOOL, "type": "code_interpreter"}]),
        {},
        "tools[1].type",
    ),
    ("parameters-string", with_parameters("city: str"), {}, "tools[0].function.parameters"),
    ("parameters-list", with_parameters([{"city": "string"}]), {}, "tools[0].function.parameters"),
    (
        "parameters-not-object-schema",
        with_parameters({"type": "string"}),
        {},
        "tools[0].function.parameters",
    ),
    (
        "parameters-properties-not-schemas",
        with_parameters({"type": "object", "properties": {"city": "string"}}),
        {},
        "tools[0].function.parameters",
    ),
    (
        "parameters-unknown-type",
        with_parameters({"type": "object", "properties": {"city": {"type": "text"}}}),
        {},
        "tools[0].function.parameters",
    ),
    ("custom-model-newline", chat(model="mine/model\r\nX-Injected: 1"), {}, "model"),
    ("custom-model-not-latin1", chat(model="mine/模型"), {}, "model"),
    ("custom-model-space", chat(model="mine/my model"), {}, "model"),
    ("custom-model-too-long", chat(model="mine/" + "m" * 300), {}, "model"),
    ("session-too-long", chat(), {"X-Prism-Session": "s" * 257}, "X-Prism-Session"),
]


@pytest.fixture(scope="module")
async def project(make_project: Any, origin_server: Any) -> Any:
    """A project with a custom provider `mine`, so `mine/<anything>` routes to a provider."""
    made = await make_project("tool-input")
    admin = {"Authorization": f"Bearer {origin_server.env['PRISM_ADMIN_TOKEN']}"}
    async with httpx.AsyncClient(timeout=30) as client:
        added = await client.post(
            f"{origin_server.url}/admin/v1/projects/{made.id}/provider_keys",
            json={"provider": "mine", "api_key": "sk-mine", "base_url": "https://llm.example/v1"},
            headers=admin,
        )
        assert added.status_code == 201, added.text
    return made


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
async def test_bad_input_is_refused_before_any_provider_call(origin_server, project, sim, case):
    _, body, extra, param = case
    headers = {"Authorization": f"Bearer {project.api_key}", "X-Prism-Cache": "no-store", **extra}
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{origin_server.base_url}/chat/completions", json=body, headers=headers
        )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert sim.requests() == []  # refused before anything was spent


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(with_call(CALL) | {"tools": [TOOL]}, id="tool-round-trip"),
        pytest.param(chat(), id="custom-model"),
        pytest.param(with_parameters({"type": "object"}), id="bare-object-schema"),
    ],
)
async def test_well_formed_tool_use_still_reaches_the_provider(origin_server, project, sim, body):
    headers = {"Authorization": f"Bearer {project.api_key}", "X-Prism-Cache": "no-store"}
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{origin_server.base_url}/chat/completions",
            json={**body, "model": "mine/llama-3.1-8b"},
            headers={**headers, "X-Prism-Session": "s" * 256},
        )
    assert response.status_code == 200, response.text
    assert len(sim.requests("mine")) == 1


async def test_token_counts_no_request_could_use_are_not_believed_or_billed(
    origin_server, make_project, sim, origin_admin
):
    # Once priced as reported: 10^13 prompt tokens made a row of millions of dollars, spent
    # the project's block budget for the rest of the month (every later request a 402) and
    # showed on the dashboard as the month's spend.
    project = await make_project("huge-usage")
    budget = {"limit_cents": "100", "period": "month", "action": "block"}
    assert (await origin_admin.post(f"/projects/{project.id}/budgets", json=budget)).is_success
    huge = {"prompt_tokens": 10**13, "completion_tokens": 3_000_000_000, "total_tokens": 10**13}
    sim.script({"kind": "usage", "usage": huge}, provider="openai")
    headers = {"Authorization": f"Bearer {project.api_key}", "X-Prism-Cache": "no-store"}
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{origin_server.base_url}/chat/completions", json=chat(), headers=headers
        )
        assert response.status_code == 200, response.text
        # The receipt says what the row says: no usage it could believe.
        assert response.headers["x-prism-usage-reported"] == "false"
        after = await client.post(
            f"{origin_server.base_url}/chat/completions", json=chat(), headers=headers
        )
    assert after.status_code == 200, after.text
    rows = await origin_server.rows(project.id, expect=2)
    (row,) = [r for r in rows if r["request_id"] == response.headers["x-prism-request-id"]]
    assert (row["tokens_in"], row["tokens_out"], row["usage_reported"]) == (0, 0, False)
    assert float(row["cost_total_cents"]) == 0 and row["success"] is True
