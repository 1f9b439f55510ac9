"""The dashboard's guards, exercised over HTTP the way a hostile page or a curious user would:
forms from other sites, other organisations' projects and keys, redirects after sign-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from shared.apikeys import hash_api_key
from tests.fixtures.members import Member, key_id_of, new_member


@pytest.fixture
async def two(pg: Any) -> tuple[Member, Member]:
    return await new_member(pg.dsn, "guard-a"), await new_member(pg.dsn, "guard-b")


def browser(base: str, **options: Any) -> httpx.AsyncClient:
    """An HTTP client that sends what a browser sends with a form: the page's Origin."""
    return httpx.AsyncClient(base_url=base, headers={"Origin": base}, **options)


async def signed_in_browser(base: str, member: Member) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(base) as http:
        response = await http.post(
            "/dashboard/login", data={"email": member.email, "password": member.password}
        )
        assert response.status_code == 303
        yield http


async def live_keys(dsn: str, key: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval("SELECT count(*) FROM resolve_api_key($1)", hash_api_key(key))
        )
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 403),  # neither Origin nor Referer: no browser's form
        ({"Origin": "null"}, 403),  # an opaque origin (a sandboxed frame, a data: page)
        ({"Referer": "https://evil.example/form"}, 403),
        ({"Referer": "{base}/dashboard/cache"}, 200),  # Origin stripped, Referer kept
    ],
)
async def test_a_form_must_show_it_comes_from_this_site(
    origin_server: Any, two: tuple[Member, Member], pg: Any, headers: dict[str, str], status: int
) -> None:
    me = two[0]
    async for http in signed_in_browser(origin_server.url, me):
        del http.headers["Origin"]
        sent = {k: v.format(base=origin_server.url) for k, v in headers.items()}
        response = await http.post(
            "/dashboard/cache/purge",
            data={"project": me.project_id, "scope": "tag", "target": "feature=none"},
            headers=sent,
        )
        assert response.status_code == status


async def test_a_form_posted_from_another_site_is_refused(
    origin_server: Any, two: tuple[Member, Member], pg: Any
) -> None:
    me = two[0]
    async for http in signed_in_browser(origin_server.url, me):
        response = await http.post(
            "/dashboard/cache/purge",
            data={"project": me.project_id, "scope": "project", "target": ""},
            headers={"Origin": "https://evil.example"},
        )
        assert response.status_code == 403
    conn = await pg.connect()
    try:
        purges = await conn.fetchval(
            "SELECT count(*) FROM cache_purges WHERE project_id = $1", me.project_id
        )
    finally:
        await conn.close()
    assert purges == 0


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/dashboard/cache/purge", {"scope": "project", "target": ""}),
        ("/dashboard/keys", {"name": "sneaky"}),
        ("/dashboard/providers", {"provider": "openai", "name": "x", "api_key": "sk-x"}),
        ("/dashboard/providers/remove", {"name": "openai"}),
    ],
)
async def test_nothing_can_be_changed_in_another_organisations_project(
    origin_server: Any, two: tuple[Member, Member], pg: Any, path: str, form: dict[str, str]
) -> None:
    me, other = two
    async for http in signed_in_browser(origin_server.url, me):
        response = await http.post(path, data={"project": other.project_id, **form})
        assert response.status_code == 404
    conn = await pg.connect()
    try:
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM cache_purges WHERE project_id = $1) AS purges,"
            " (SELECT count(*) FROM api_keys WHERE project_id = $1) AS keys,"
            " (SELECT count(*) FROM provider_keys WHERE project_id = $1) AS providers",
            other.project_id,
        )
    finally:
        await conn.close()
    assert dict(counts) == {"purges": 0, "keys": 1, "providers": 0}


async def test_another_organisations_key_cannot_be_revoked_through_my_project(
    origin_server: Any, two: tuple[Member, Member], pg: Any
) -> None:
    me, other = two
    their_key_id = await key_id_of(pg, other.project_id)
    async for http in signed_in_browser(origin_server.url, me):
        response = await http.post(
            "/dashboard/keys/revoke", data={"project": me.project_id, "key_id": str(their_key_id)}
        )
        assert response.status_code == 400
    assert await live_keys(pg.dsn, other.api_key) == 1


@pytest.mark.parametrize(
    ("next_path", "landing"),
    [
        ("/dashboard/features", "/dashboard/features"),
        ("https://evil.example/", "/dashboard"),
        ("//evil.example/dashboard", "/dashboard"),
        ("/dashboard//evil.example", "/dashboard"),
    ],
)
async def test_sign_in_only_redirects_within_the_dashboard(
    origin_server: Any, two: tuple[Member, Member], next_path: str, landing: str
) -> None:
    me = two[0]
    async with browser(origin_server.url) as http:
        response = await http.post(
            "/dashboard/login",
            data={"email": me.email, "password": me.password, "next": next_path},
        )
    assert response.status_code == 303 and response.headers["location"] == landing


async def test_wrong_password_is_a_400_and_sets_no_session(
    origin_server: Any, two: tuple[Member, Member]
) -> None:
    me = two[0]
    async with browser(origin_server.url) as http:
        response = await http.post(
            "/dashboard/login", data={"email": me.email, "password": "wrong"}
        )
        assert response.status_code == 400 and "Wrong email or password" in response.text
        assert not http.cookies
        assert (await http.get("/dashboard")).status_code == 303


async def test_the_live_counter_streams_savings_events(
    origin_server: Any, two: tuple[Member, Member]
) -> None:
    me = two[0]
    async for http in signed_in_browser(origin_server.url, me):
        url = f"/dashboard/live/savings?project={me.project_id}&since=2026-01-01T00:00:00%2B00:00"
        async with http.stream("GET", url) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = []
            async for line in stream.aiter_lines():
                lines.append(line)
                if line.startswith("data:"):
                    break
    assert lines[0] == "event: savings" and '"total_cents": "0"' in lines[-1]


@pytest.mark.parametrize(
    ("rating", "shown", "not_shown"),
    [
        ({"score": 5}, "★ 5 / 5", "👎"),
        ({"rating": 2}, "★ 2 / 5", "👎"),  # a rating of 2 to 5 is a score
        ({"rating": 1, "scale": 5}, "★ 1 / 5", "👍"),
        ({"rating": -1}, "👎 −1", "★"),
        ({"rating": 1, "score": 4}, "👍 +1 · ★ 4 / 5", "👎"),
    ],
)
async def test_a_requests_page_shows_the_feedback_as_it_was_given(
    origin_server: Any,
    two: tuple[Member, Member],
    sim: Any,
    rating: dict[str, int],
    shown: str,
    not_shown: str,
) -> None:
    me = two[0]
    key = {"Authorization": f"Bearer {me.api_key}"}
    async with httpx.AsyncClient(base_url=origin_server.base_url, timeout=30) as api:
        answer = await api.post(
            "/chat/completions",
            headers=key,
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "rate me"}]},
        )
        assert answer.status_code == 200, answer.text
        feedback_id = answer.headers["x-prism-feedback-id"]
        sent = await api.post("/feedback", headers=key, json={"feedback_id": feedback_id, **rating})
        assert sent.status_code == 201, sent.text
    await origin_server.rows(me.project_id, expect=1)
    async for http in signed_in_browser(origin_server.url, me):
        page = await http.get(f"/dashboard/requests/{feedback_id}?project={me.project_id}")
    assert page.status_code == 200
    feedback = page.text.split("<h2>Feedback</h2>", 1)[1]
    assert f"<td>{shown}</td>" in feedback and not_shown not in feedback


async def test_a_short_provider_key_is_never_shown_again(
    origin_server: Any, two: tuple[Member, Member]
) -> None:
    # Only the last four characters of a key come back; of a short key that would be most of
    # it (or all), for every member of the organisation to read.
    me = two[0]
    keys = {"short": "hunter2pw", "long": "sk-live-0123456789abcdefWXYZ"}
    async for http in signed_in_browser(origin_server.url, me):
        for name, secret in keys.items():
            form = {"project": me.project_id, "provider": "openai", "name": name, "api_key": secret}
            assert (await http.post("/dashboard/providers", data=form)).status_code == 200
        page = (await http.get("/dashboard/providers", params={"project": me.project_id})).text
    assert "••••WXYZ" in page
    assert "r2pw" not in page and "hunter2" not in page
