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
        ({"feedback_id": "req_0000000000000aaaaaaaaaaaaaaaa", "rating": 6}, "rating"),
        ({"feedback_id": "req_0000000000000aaaaaaaaaaaaaaaa", "rating": 0}, "rating"),
        ({"feedback_id": "req_0000000000000aaaaaaaaaaaaaaaa", "rating": -1, "scale": 5}, "rating"),
        ({"feedback_id": "req_0000000000000aaaaaaaaaaaaaaaa", "rating": 3, "scale": 2}, "rating"),
        ({"feedback_id": "req_0000000000000aaaaaaaaaaaaaaaa", "rating": 1, "scale": 3}, "scale"),
        ({"feedback_id": "req_0000000000000aaaaaaaaaaaaaaaa", "score": 0}, "score"),
        ({"feedback_id": "req_0000000000000aaaaaaaaaaaaaaaa", "score": 6}, "score"),
        ({"feedback_id": "req_0000000000000aaaaaaaaaaaaaaaa", "score": "5"}, "score"),
        ({"feedback_id": "req_0000000000000aaaaaaaaaaaaaaaa", "rating": 4, "score": 2}, "score"),
        ({"feedback_id": "req_0000000000000aaaaaaaaaaaaaaaa"}, "rating"),
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


async def _answer(client: httpx.AsyncClient, headers: dict[str, str], model: str, text: str) -> str:
    answer = await client.post(
        "/chat/completions",
        headers=headers,
        json={"model": model, "messages": [{"role": "user", "content": text}]},
    )
    assert answer.status_code == 200
    return answer.headers["x-prism-feedback-id"]


async def test_scores_and_thumbs_are_summed_up_per_task_type_and_model(
    origin_server, make_project, sim
):
    project = await make_project("feedback-quality")
    headers = {"Authorization": f"Bearer {project.api_key}"}
    async with httpx.AsyncClient(base_url=origin_server.base_url, timeout=30) as client:
        # Plainly simple asks, so every row's task type is the same whatever the classifier's
        # weights: this test is about summing feedback, not about classifying.
        mini = [
            await _answer(client, headers, "gpt-4o-mini", f"What is the capital of France? ({i})")
            for i in range(3)
        ]
        big = await _answer(client, headers, "gpt-4o", "What is the capital of Spain?")
        await origin_server.rows(project.id, expect=4)
        ratings = [
            (mini[0], {"rating": 1}),  # thumbs up: quality 1
            (mini[1], {"score": 2}),  # 1-5 score: quality 0.25
            (mini[2], {"rating": 5}),  # 2-5 in `rating` can only be a score: quality 1
            (big, {"rating": 1, "scale": 5}),  # the worst score: quality 0
        ]
        for feedback_id, rating in ratings:
            sent = await client.post(
                "/feedback", headers=headers, json={"feedback_id": feedback_id, **rating}
            )
            assert sent.status_code == 201, sent.text
        admin = {"Authorization": f"Bearer {origin_server.env['PRISM_ADMIN_TOKEN']}"}
        summary = await client.get(
            f"{origin_server.base_url.removesuffix('/v1')}/admin/v1/projects/{project.id}/feedback",
            headers=admin,
        )
    assert summary.status_code == 200, summary.text
    rows = {(r["model"], r["ratings"], r["thumbs_up"], r["scores"]) for r in summary.json()["data"]}
    assert rows == {("gpt-4o", 1, 0, 1), ("gpt-4o-mini", 3, 1, 2)}
    worst, best = summary.json()["data"]
    assert (worst["model"], float(worst["quality"]), float(worst["avg_score"])) == ("gpt-4o", 0, 1)
    assert (best["model"], float(best["quality"]), float(best["avg_score"])) == (
        "gpt-4o-mini",
        0.75,
        3.5,
    )
    assert worst["task_type"] == best["task_type"] == "simple"


async def test_rating_an_answer_again_replaces_the_earlier_rating(origin_server, make_project, sim):
    project = await make_project("feedback-again")
    headers = {"Authorization": f"Bearer {project.api_key}"}
    async with httpx.AsyncClient(base_url=origin_server.base_url, timeout=30) as client:
        feedback_id = await _answer(client, headers, "gpt-4o-mini", "What is 2 + 2?")
        await origin_server.rows(project.id, expect=1)
        changes = [{"rating": -1, "comment": "wrong"}, {"rating": 1}]
        for change in changes:
            sent = await client.post(
                "/feedback", headers=headers, json={"feedback_id": feedback_id, **change}
            )
            assert sent.status_code == 201, sent.text
        conn = await asyncpg.connect(origin_server.dsn)
        try:
            first = await conn.fetchrow("select * from feedback where project_id = $1", project.id)
            # A score alone replaces the thumbs too: the latest rating is the whole rating.
            sent = await client.post(
                "/feedback", headers=headers, json={"feedback_id": feedback_id, "score": 4}
            )
            assert sent.status_code == 201, sent.text
            rows = await conn.fetch("select * from feedback where project_id = $1", project.id)
        finally:
            await conn.close()
        admin = {"Authorization": f"Bearer {origin_server.env['PRISM_ADMIN_TOKEN']}"}
        summary = await client.get(
            f"{origin_server.base_url.removesuffix('/v1')}/admin/v1/projects/{project.id}/feedback",
            headers=admin,
        )
    assert (first["rating"], first["score"], first["comment"]) == (1, None, None)
    assert [(r["request_id"], r["rating"], r["score"]) for r in rows] == [(feedback_id, None, 4)]
    assert rows[0]["created_at"] > first["created_at"]  # the time the standing rating was given
    [row] = summary.json()["data"]
    assert (row["ratings"], row["thumbs_up"], row["thumbs_down"], row["scores"]) == (1, 0, 0, 1)
    assert float(row["quality"]) == 0.75
