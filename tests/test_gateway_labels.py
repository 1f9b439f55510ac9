"""A request naming its model is routed without its task type and labelled while its provider
works (gateway.plan.Planner.route_unlabelled). What a client and the dashboard must still see:
the task type in the headers, on the streamed answer's headers, and on the usage row, whether
the provider answered, failed over, or refused."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

CODE_ASK = "Write a Python function that merges two sorted lists into one sorted list."
FAULTS: dict[str, dict[str, Any] | None] = {
    "answered": None,
    "failed over": {"kind": "status", "status": 503},
    "refused": {"kind": "status", "status": 400, "message": "bad"},
}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_named_models_request_carries_its_task_type(
    origin_server: Any, make_project: Any, sim: Any, fault: str, stream: bool
) -> None:
    project = await make_project(f"labels-{fault.replace(' ', '-')}-{stream}")
    script = FAULTS[fault]
    if script is not None:
        sim.script(script, provider="openai")
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": f"{CODE_ASK} ({uuid.uuid4().hex[:6]})"}],
        "stream": stream,
    }
    async with httpx.AsyncClient(base_url=origin_server.url, timeout=30) as client:
        response = await client.post(
            "/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {project.api_key}", "X-Prism-Cache": "no-store"},
        )
    if fault == "refused":
        assert response.status_code == 400
    else:
        assert response.status_code == 200
        assert response.headers["x-prism-task-type"] == "code"
        assert float(response.headers["x-prism-task-confidence"]) > 0
    (row,) = await origin_server.rows(project.id, expect=1)
    assert row["task_type"] == "code"
    assert row["success"] is (fault != "refused")
