"""A rating sent with a response's X-Prism-Feedback-Id lands in the project's feedback table."""

from __future__ import annotations

import asyncpg
import httpx
import pytest


async def test_feedback_is_stored_against_the_answer(origin_server, make_project, sim):
    project = await make_project("feedback")
    headers = {"Authorization": f"Bearer {project.api_key}"}
    async with httpx.AsyncClient(base_url=origin_server.base_url, timeout=30) as client:
        answer = await client.post(
            "/chat/completions",
            headers=headers,
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "rate me"}]},
        )
        feedback_id = answer.headers["x-prism-feedback-id"]
        sent = await client.post(
            "/feedback",
            headers=headers,
            json={"feedback_id": feedback_id, "rating": -1, "comment": "wrong\x00 answer"},
        )
    assert sent.status_code == 201
    conn = await asyncpg.connect(origin_server.dsn)
    try:
        rows = await conn.fetch("select * from feedback where project_id = $1", project.id)
    finally:
        await conn.close()
    assert [(r["request_id"], r["rating"], r["comment"]) for r in rows] == [
        (feedback_id, -1, "wrong answer")
    ]


@pytest.mark.parametrize(
    "payload,param",
    [
        ({"rating": 1}, "feedback_id"),
        ({"feedback_id": "nope", "rating": 1}, "feedback_id"),
        ({"feedback_id": "req_0000000000000aaaaaaaaaaaaaaaa", "rating": 5}, "rating"),
        ({"feedback_id": "req_0000000000000aaaaaaaaaaaaaaaa", "rating": True}, "rating"),
        (
            {"feedback_id": "req_0000000000000aaaaaaaaaaaaaaaa", "rating": 1, "comment": 3},
            "comment",
        ),
    ],
)
async def test_bad_feedback_is_a_400(origin_server, make_project, payload, param):
    project = await make_project("feedback-bad")
    async with httpx.AsyncClient(base_url=origin_server.base_url, timeout=30) as client:
        response = await client.post(
            "/feedback", json=payload, headers={"Authorization": f"Bearer {project.api_key}"}
        )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
