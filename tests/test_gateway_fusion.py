"""Fusion mode end to end: a panel answers in parallel, a synthesiser merges, rows are linked."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import openai

from origin.gateway.fusion import INSTRUCTIONS
from shared.pricing import TokenUsage, cost_for_model

HELLO = [{"role": "user", "content": "Say hello to the gateway"}]
FUSION = {"X-Prism-Mode": "fusion", "X-Prism-Cache": "no-store"}


def sdk(origin_server: Any, project: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=origin_server.base_url, api_key=project.api_key, max_retries=0)


async def test_a_panel_with_one_failing_member_is_synthesised_and_rows_link_up(
    origin_server: Any, make_project: Any, sim: Any
) -> None:
    project = await make_project("fusion")
    sim.script({"kind": "status", "status": 500}, provider="openai")  # one panel member fails
    raw = sdk(origin_server, project).chat.completions.with_raw_response.create(
        model="auto", messages=HELLO, extra_headers=FUSION
    )
    answer = raw.parse().choices[0].message.content
    headers = raw.headers
    panel = headers["x-prism-fusion"]
    assert panel.endswith(";asked=3") and len(panel.split("=")[1].split(";")[0].split(",")) == 2
    # The synthesiser saw the conversation and both surviving answers.
    synthesis = [r for r in sim.requests() if INSTRUCTIONS[:40] in str(r["body"])]
    assert len(synthesis) == 1
    assert "Answer 1:" in str(synthesis[0]["body"]) and "Answer 3:" not in str(synthesis[0]["body"])
    assert answer
    rows = await origin_server.rows(project.id, expect=4)
    parent = next(r for r in rows if r["request_id"] == headers["x-prism-request-id"])
    children = [r for r in rows if r["parent_request_id"] == parent["request_id"]]
    assert len(rows) == 4 and len(children) == 3 and parent["parent_request_id"] is None
    assert sorted(c["success"] for c in children) == [False, True, True]
    assert {c["provider"] for c in children} >= {"openai"}
    assert len({c["provider"] for c in children}) == 3  # three different providers
    # The parent's cost is its synthesis plus every panel call; the receipt says the same.
    panel_cost = sum((c["cost_total_cents"] for c in children), Decimal(0))
    assert parent["cost_total_cents"] > panel_cost > 0
    # Exactly: the synthesis (the parent row's own tokens, at its model's price) plus the panel.
    assert parent["tokens_cache_read"] == parent["tokens_cache_write"] == 0
    synthesis = cost_for_model(
        parent["model_used"],
        TokenUsage(prompt_tokens=parent["tokens_in"], completion_tokens=parent["tokens_out"]),
    )
    assert parent["cost_total_cents"] == synthesis.cents + panel_cost
    for child in children:
        usage = TokenUsage(prompt_tokens=child["tokens_in"], completion_tokens=child["tokens_out"])
        assert child["cost_total_cents"] == cost_for_model(child["model_used"], usage).cents
    assert Decimal(headers["x-prism-cost-cents"]) == parent["cost_total_cents"]
    assert parent["mode"] == "fusion" and parent["success"] is True


async def test_a_streaming_client_gets_the_synthesis_streamed(
    origin_server: Any, make_project: Any, sim: Any
) -> None:
    project = await make_project("fusion-stream")
    stream = sdk(origin_server, project).chat.completions.create(
        model="auto", messages=HELLO, stream=True, extra_headers=FUSION
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.startswith("Simulated")
    rows = await origin_server.rows(project.id, expect=4)
    assert sum(r["parent_request_id"] is not None for r in rows) == 3
