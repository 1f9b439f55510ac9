"""The activity trail: every change to what a team trusts the gateway with (API keys, provider
keys, members) is recorded by the database with who made it, whichever way it was made, and
the Activity page shows it, with budget, limit and cache changes, to the organisation only.
Exercised against the served origin, the PostgREST and Auth stand-ins and Postgres."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from html import unescape
from typing import Any

import httpx

from tests.fixtures.members import Member, key_id_of, new_member, signed_in
from tests.test_dashboard_http import signed_in_browser
from tests.test_dashboard_members import fresh_email

SECRET = "sk-activity-" + "z" * 24


def rows_of(page: str) -> list[list[str]]:
    """The Activity table's rows, each as its cells' text (newest first)."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td>(.*?)</td>", tr)]
        for tr in re.findall(r"<tr>(.*?)</tr>", body)
    ]


async def trail(pg: Any, org_id: str) -> list[tuple[str, str, str, str | None]]:
    conn = await pg.connect()
    try:
        rows = await conn.fetch(
            "SELECT actor, action, subject, detail FROM activity WHERE org_id = $1 ORDER BY id",
            org_id,
        )
    finally:
        await conn.close()
    return [(r["actor"], r["action"], r["subject"], r["detail"]) for r in rows]


async def member_id(pg: Any, email: str) -> str:
    conn = await pg.connect()
    try:
        return str(await conn.fetchval("SELECT id FROM auth.users WHERE email = $1", email))
    finally:
        await conn.close()


def changer(http: httpx.AsyncClient, project_id: str) -> Callable[..., Awaitable[None]]:
    """Posts one of the project's dashboard forms, which must be taken."""

    async def post(path: str, **form: str) -> None:
        response = await http.post(path, data={"project": project_id, **form})
        assert response.status_code in (200, 303), (path, response.text[:300])

    return post


async def test_each_dashboard_change_is_recorded_under_whoever_made_it(
    origin_server: Any, team: dict[str, Member], pg: Any
) -> None:
    owner = team["owner"]
    mate = fresh_email("trail")
    async for http in signed_in_browser(origin_server.url, owner):
        post = changer(http, owner.project_id)
        before = len(await trail(pg, owner.org_id))
        await post("/dashboard/keys", name="ci-runner")
        await post(
            "/dashboard/keys/revoke", key_id=await key_id_of(pg, owner.project_id, "ci-runner")
        )
        await post("/dashboard/providers", provider="openai", name="prod-openai", api_key=SECRET)
        await post("/dashboard/providers/remove", name="prod-openai")
        await post("/dashboard/members", email=mate, role="member")
        await post("/dashboard/members/role", user_id=await member_id(pg, mate), role="admin")
        await post("/dashboard/members/remove", user_id=await member_id(pg, mate))
        page = await http.get("/dashboard/activity", params={"project": owner.project_id})

    who = f"user:{owner.email}"
    recorded = (await trail(pg, owner.org_id))[before:]
    assert [(a, b, d) for a, b, _, d in recorded] == [
        (who, "api_key.created", None),
        (who, "api_key.revoked", None),
        (who, "provider_key.added", None),
        (who, "provider_key.removed", None),
        (who, "member.added", "member"),
        (who, "member.role_changed", "member → admin"),
        (who, "member.removed", "admin"),
    ]
    assert (
        recorded[0][2].startswith("ci-runner (prism_sk_")
        and recorded[2][2] == "prod-openai (openai)"
    )
    assert recorded[4][2] == mate
    assert page.status_code == 200
    shown = rows_of(page.text)
    assert [r[2] for r in shown[:7]] == [
        "member removed",
        "member's role changed",
        "member added",
        "provider key removed",
        "provider key added",
        "API key revoked",
        "API key created",
    ]
    assert all(r[1] == who for r in shown[:7])
    assert SECRET not in page.text and SECRET[-4:] not in page.text


async def test_budget_and_limit_changes_show_what_they_set(
    origin_server: Any, team: dict[str, Member], pg: Any
) -> None:
    owner = team["owner"]
    async for http in signed_in_browser(origin_server.url, owner):
        post = changer(http, owner.project_id)
        await post("/dashboard/budgets", limit_dollars="5", period="month", action="block", tag="")
        page = await http.get("/dashboard/activity", params={"project": owner.project_id})
    newest = rows_of(page.text)[0]
    assert newest[1:3] == [f"user:{owner.email}", "budget added"]
    assert newest[4] == "block at $5.00 a month"


async def test_changes_made_outside_the_dashboard_are_recorded_too(
    origin_server: Any, pg: Any
) -> None:
    me = await new_member(pg.dsn, "trail-admin")
    admin = {"Authorization": f"Bearer {origin_server.env['PRISM_ADMIN_TOKEN']}"}
    base = f"/admin/v1/projects/{me.project_id}"
    async with httpx.AsyncClient(base_url=origin_server.url, headers=admin) as http:
        created = await http.post(f"{base}/api_keys", json={"name": "from-admin"})
        assert created.status_code == 201, created.text
        added = await http.post(
            f"{base}/provider_keys", json={"provider": "anthropic", "api_key": SECRET}
        )
        assert added.status_code == 201, added.text
        moved = await http.patch(
            f"{base}/provider_keys/anthropic",
            json={"base_url": origin_server.env["PRISM_SIMULATOR_URL"]},
        )
        assert moved.status_code == 200, moved.text
    conn = await pg.connect()
    try:
        await conn.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE project_id = $1 AND name = 'from-admin'",
            me.project_id,
        )
        database_user = await conn.fetchval("SELECT session_user")
    finally:
        await conn.close()
    recorded = [(a, b, d) for a, b, _, d in await trail(pg, me.org_id)]
    assert recorded[-4:] == [
        ("admin", "api_key.created", None),
        ("admin", "provider_key.added", None),
        ("admin", "provider_key.updated", "base URL, key"),
        (f"sql:{database_user}", "api_key.revoked", None),
    ]


async def test_the_trail_is_the_organisations_own(
    origin_server: Any, postgrest: Any, team: dict[str, Member], pg: Any
) -> None:
    owner, member = team["owner"], team["member"]
    async for http in signed_in_browser(origin_server.url, owner):
        made = await http.post(
            "/dashboard/keys", data={"project": owner.project_id, "name": "team-secret-name"}
        )
        assert made.status_code == 303
    # A member of the organisation reads it; someone of another organisation reads nothing,
    # even naming the project outright.
    async for http in signed_in_browser(origin_server.url, member):
        page = await http.get("/dashboard/activity", params={"project": owner.project_id})
        assert page.status_code == 200 and "team-secret-name" in page.text
    stranger = await new_member(pg.dsn, "trail-stranger")
    async with signed_in(postgrest, stranger) as client:
        seen = await client.rpc("dash_activity", {"p_project": owner.project_id}).execute()
        direct = await client.table("activity").select("*").eq("org_id", owner.org_id).execute()
    assert seen.data == [] and direct.data == []
    async for http in signed_in_browser(origin_server.url, stranger):
        page = await http.get("/dashboard/activity", params={"project": owner.project_id})
        assert page.status_code == 200 and "team-secret-name" not in page.text
