"""Invalidation by key, by tag and by project, through the admin API and the `prism` CLI;
every purge leaves a cache_purges row (who, when, what, how many)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from upstash_vector import AsyncIndex

from origin.admin.cli import main
from shared.fingerprint import fingerprint
from tests.test_cache_helpers import admin, chat, chat_body, vector_count, wait_cached

QUESTIONS = {  # text -> tag
    "How do I reset my password?": "team=auth",
    "How do I enable two-factor authentication?": "team=auth",
    "How do I export my data?": "team=data",
}


@pytest.fixture
async def vectors(upstash_vector: Any) -> AsyncIterator[AsyncIndex]:
    index = AsyncIndex(url=upstash_vector.url, token=upstash_vector.token, retries=0)
    yield index
    await index._client.aclose()


@pytest.fixture
async def filled(origin_server, make_project, sim, redis_server, vectors) -> Any:
    """A project with three cached answers (two tagged team=auth, one team=data)."""
    project = await make_project("purge")
    for text, tag in QUESTIONS.items():
        await chat(origin_server, project, chat_body(text), X_Prism_Tags=tag)
    await wait_cached(redis_server.url, project.id, entries=3, vectors=vectors)
    return project


async def statuses(origin: Any, project: Any) -> dict[str, str]:
    return {
        text: (await chat(origin, project, chat_body(text), X_Prism_Tags=tag)).headers[
            "x-prism-cache-status"
        ]
        for text, tag in QUESTIONS.items()
    }


async def purge(origin: Any, body: dict[str, Any], token: bool = True) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(
            f"{origin.url}/admin/v1/cache/purge", json=body, headers=admin(origin) if token else {}
        )


async def purge_rows(pg_conn: Any, project_id: str) -> list[dict[str, Any]]:
    records = await pg_conn.fetch(
        "select actor, scope, target, removed, created_at from "
        "cache_purges where project_id = $1 order by created_at",
        project_id,
    )
    return [dict(r) for r in records]


async def test_purge_by_key(origin_server, filled, pg_conn, vectors):
    text = "How do I export my data?"
    key = fingerprint(filled.id, chat_body(text))
    response = await purge(origin_server, {"project_id": filled.id, "key": key, "actor": "alice"})
    assert response.status_code == 200
    assert response.json() == {
        "object": "cache.purge",
        "project_id": filled.id,
        "scope": "key",
        "target": key,
        "removed": 1,
    }
    assert await vector_count(vectors, filled.id) == 2
    assert await statuses(origin_server, filled) == {
        "How do I reset my password?": "hit-exact",
        "How do I enable two-factor authentication?": "hit-exact",
        text: "miss",
    }
    [row] = await purge_rows(pg_conn, filled.id)
    assert (row["actor"], row["scope"], row["target"], row["removed"]) == (
        "admin:alice",
        "key",
        key,
        1,
    )


async def test_purge_by_tag_also_empties_the_semantic_layer(
    origin_server, filled, pg_conn, vectors
):
    response = await purge(origin_server, {"project_id": filled.id, "tag": "team=auth"})
    assert response.json()["removed"] == 2
    assert await vector_count(vectors, filled.id) == 1
    # A paraphrase of a purged question finds nothing to answer from either.
    paraphrase = await chat(
        origin_server,
        filled,
        chat_body("How can I reset my password?"),
        X_Prism_Cache_Threshold="0.80",
    )
    assert paraphrase.headers["x-prism-cache-status"] == "miss"
    assert (await statuses(origin_server, filled))["How do I export my data?"] == "hit-exact"
    [row] = await purge_rows(pg_conn, filled.id)
    assert (row["actor"], row["scope"], row["target"], row["removed"]) == (
        "admin",
        "tag",
        "team=auth",
        2,
    )


async def test_purge_a_whole_project_leaves_other_projects_alone(
    origin_server, filled, make_project, pg_conn, vectors, redis_server
):
    other = await make_project("bystander")
    await chat(
        origin_server, other, chat_body("How do I export my data?"), X_Prism_Tags="team=data"
    )
    await wait_cached(redis_server.url, other.id)
    response = await purge(origin_server, {"project_id": filled.id, "all": True})
    assert response.json()["removed"] == 3
    assert await vector_count(vectors, filled.id) == 0
    assert set((await statuses(origin_server, filled)).values()) == {"miss"}
    assert (
        await chat(
            origin_server, other, chat_body("How do I export my data?"), X_Prism_Tags="team=data"
        )
    ).headers["x-prism-cache-status"] == "hit-exact"
    [row] = await purge_rows(pg_conn, filled.id)
    assert (row["scope"], row["target"], row["removed"]) == ("project", None, 3)


async def test_a_purge_that_finds_nothing_is_still_recorded(origin_server, make_project, pg_conn):
    project = await make_project("empty")
    response = await purge(origin_server, {"project_id": project.id, "tag": "team=none"})
    assert response.json()["removed"] == 0
    assert [r["removed"] for r in await purge_rows(pg_conn, project.id)] == [0]


@pytest.mark.parametrize(
    ("body", "token", "status"),
    [
        ({"all": True}, False, 401),
        ({"all": True, "tag": "a=b"}, True, 400),
        ({}, True, 400),
        ({"key": "not-a-fingerprint"}, True, 400),
        ({"tag": "no-equals-sign"}, True, 400),
        ({"all": "yes"}, True, 400),
        ({"all": True, "project_id": "00000000-0000-0000-0000-000000000000"}, True, 404),
        ({"all": True, "project_id": "nope"}, True, 400),
    ],
    ids=[
        "no token",
        "two targets",
        "no target",
        "bad key",
        "bad tag",
        "all not true",
        "unknown project",
        "project not a uuid",
    ],
)
async def test_purge_refuses_bad_requests(
    origin_server, make_project, pg_conn, body, token, status
):
    project = await make_project("refused")
    response = await purge(origin_server, {"project_id": project.id, **body}, token=token)
    assert response.status_code == status
    assert "error" in response.json()
    assert await purge_rows(pg_conn, project.id) == []


async def test_cli_purges_and_records_who(
    origin_server, filled, pg_conn, vectors, monkeypatch, capsys
):
    for name, value in origin_server.env.items():
        monkeypatch.setenv(name, value)
    code = await asyncio.to_thread(
        main, ["cache", "purge", "--project", filled.id, "--tag", "team=data"]
    )
    assert code == 0
    assert "purged 1 cached responses" in capsys.readouterr().out
    assert (await statuses(origin_server, filled))["How do I export my data?"] == "miss"
    code = await asyncio.to_thread(main, ["cache", "purge", "--project", filled.id, "--all"])
    assert code == 0
    rows = await purge_rows(pg_conn, filled.id)
    assert [(r["scope"], r["removed"]) for r in rows] == [("tag", 1), ("project", 3)]
    assert all(r["actor"].startswith("cli:") for r in rows)


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["cache", "purge", "--project", "nope", "--all"], 2),
        (["cache", "purge", "--project", "00000000-0000-0000-0000-000000000000", "--all"], 1),
        (["cache", "purge", "--project", "00000000-0000-0000-0000-000000000000"], 2),
    ],
)
async def test_cli_usage_errors(origin_server, monkeypatch, argv, code):
    for name, value in origin_server.env.items():
        monkeypatch.setenv(name, value)
    assert await asyncio.to_thread(main, argv) == code
