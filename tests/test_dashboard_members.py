"""The Members page: everyone in an organisation sees who is in it; owners and admins add
teammates by email (a new one gets a Supabase Auth user and a temporary password shown once),
change roles and remove people, within the rules: only an owner grants or takes away owner,
nobody re-roles or removes themselves, an organisation keeps an owner. Exercised over HTTP
against the served origin, the PostgREST and Auth stand-ins and Postgres."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from typing import Any

import httpx
import pytest
from postgrest import APIError

from tests.fixtures.members import Member, new_member, signed_in
from tests.test_dashboard_http import signed_in_browser

PASSWORD = re.compile(r'id="new-password">([^<]+)<')


async def roles(pg: Any, org_id: str) -> dict[str, str]:
    """Each member of the organisation's email, with their role."""
    conn = await pg.connect()
    try:
        rows = await conn.fetch(
            "SELECT u.email, m.role FROM org_members AS m JOIN auth.users AS u ON u.id = m.user_id"
            " WHERE m.org_id = $1",
            org_id,
        )
    finally:
        await conn.close()
    return {r["email"]: r["role"] for r in rows}


async def auth_users_named(pg: Any, email: str) -> int:
    conn = await pg.connect()
    try:
        return int(await conn.fetchval("SELECT count(*) FROM auth.users WHERE email = $1", email))
    finally:
        await conn.close()


def fresh_email(name: str) -> str:
    return f"{name}-{secrets.token_hex(4)}@example.test"


async def post(origin_server: Any, who: Member, path: str, form: dict[str, str]) -> httpx.Response:
    async for http in signed_in_browser(origin_server.url, who):
        return await http.post(path, data={"project": who.project_id, **form})
    raise AssertionError("not signed in")


async def origin_log_with(origin_server: Any, text: str, timeout: float = 10.0) -> str:
    """The origin's log (stdout and stderr) once it contains `text`."""
    deadline = time.monotonic() + timeout
    while True:
        log = origin_server.service.log_path.read_text(errors="replace")
        if text in log or time.monotonic() > deadline:
            return log
        await asyncio.sleep(0.1)


async def test_an_owner_adds_a_new_teammate_shown_a_password_once_who_then_only_looks(
    origin_server: Any, team: dict[str, Member], pg: Any
) -> None:
    owner, email = team["owner"], fresh_email("newcomer")
    async for http in signed_in_browser(origin_server.url, owner):
        added = await http.post(
            "/dashboard/members",
            data={"project": owner.project_id, "email": f"  {email.upper()} ", "role": "member"},
        )
        assert added.status_code == 303
        page = await http.get(added.headers["location"])
        assert page.status_code == 200 and f"{email} was added" in page.text
        found = PASSWORD.search(page.text)
        assert found is not None
        password = found.group(1)
        again = await http.get("/dashboard/members", params={"project": owner.project_id})
        assert password not in again.text and "was added" not in again.text
    assert (await roles(pg, owner.org_id))[email] == "member"

    # The teammate signs in with it, sees the project, and cannot change it.
    newcomer = Member(email, password, "", owner.org_id, owner.project_id, owner.api_key)
    async for http in signed_in_browser(origin_server.url, newcomer):
        overview = await http.get("/dashboard", params={"project": owner.project_id})
        assert overview.status_code == 200
        members = await http.get("/dashboard/members", params={"project": owner.project_id})
        assert owner.email in members.text and "your role is member" in members.text
        refused = await http.post(
            "/dashboard/keys", data={"project": owner.project_id, "name": "newcomer"}
        )
        assert refused.status_code == 403

    # The change is in the origin's log, and the password is in none of it.
    log = await origin_log_with(origin_server, f"organisation member added: {email}")
    assert f"organisation member added: {email} as member" in log
    assert password not in log


async def test_an_admin_adds_an_existing_user_who_keeps_their_password(
    origin_server: Any, team: dict[str, Member], pg: Any
) -> None:
    admin, elsewhere = team["admin"], await new_member(pg.dsn, "elsewhere")
    async for http in signed_in_browser(origin_server.url, admin):
        added = await http.post(
            "/dashboard/members",
            data={"project": admin.project_id, "email": elsewhere.email, "role": "admin"},
        )
        assert added.status_code == 303
        page = await http.get(added.headers["location"])
        assert f"{elsewhere.email} was added" in page.text and "new-password" not in page.text
        twice = await http.post(
            "/dashboard/members",
            data={"project": admin.project_id, "email": elsewhere.email, "role": "member"},
        )
        assert twice.status_code == 409 and "already a member" in twice.text
    assert (await roles(pg, admin.org_id))[elsewhere.email] == "admin"
    async for http in signed_in_browser(origin_server.url, elsewhere):
        page = await http.get("/dashboard/members", params={"project": admin.project_id})
        assert admin.email in page.text


async def test_an_admin_changes_and_removes_members_but_never_owners(
    origin_server: Any, team: dict[str, Member], pg: Any
) -> None:
    owner, admin, member = team["owner"], team["admin"], team["member"]
    made = await post(
        origin_server,
        admin,
        "/dashboard/members/role",
        {"user_id": member.user_id, "role": "admin"},
    )
    assert made.status_code == 303
    assert (await roles(pg, owner.org_id))[member.email] == "admin"

    refusals = [
        ("/dashboard/members/role", {"user_id": member.user_id, "role": "owner"}),
        ("/dashboard/members/role", {"user_id": owner.user_id, "role": "member"}),
        ("/dashboard/members/remove", {"user_id": owner.user_id}),
    ]
    before = await roles(pg, owner.org_id)
    for path, form in refusals:
        response = await post(origin_server, admin, path, form)
        assert response.status_code == 403, (path, form)
        assert "Only an owner" in response.text
    assert await roles(pg, owner.org_id) == before

    # An admin cannot add an owner either, and no Auth user is made for the refused email.
    email = fresh_email("would-be-owner")
    response = await post(
        origin_server, admin, "/dashboard/members", {"email": email, "role": "owner"}
    )
    assert response.status_code == 403 and "Only an owner can add an owner" in response.text
    assert await auth_users_named(pg, email) == 0

    removed = await post(
        origin_server, admin, "/dashboard/members/remove", {"user_id": member.user_id}
    )
    assert removed.status_code == 303
    assert member.email not in await roles(pg, owner.org_id)


async def test_nobody_changes_their_own_role_and_the_last_owner_stays(
    origin_server: Any, team: dict[str, Member], pg: Any
) -> None:
    owner, admin = team["owner"], team["admin"]
    before = await roles(pg, owner.org_id)
    attempts = [
        (owner, "/dashboard/members/role", {"user_id": owner.user_id, "role": "admin"}),
        (owner, "/dashboard/members/remove", {"user_id": owner.user_id}),
        (admin, "/dashboard/members/role", {"user_id": admin.user_id, "role": "member"}),
        (admin, "/dashboard/members/remove", {"user_id": admin.user_id}),
    ]
    for who, path, form in attempts:
        response = await post(origin_server, who, path, form)
        assert response.status_code == 403, (who.email, path)
        assert "cannot change your own role" in response.text
    assert await roles(pg, owner.org_id) == before

    # Handing over takes two owners: the owner makes the admin an owner, who then demotes them.
    made = await post(
        origin_server, owner, "/dashboard/members/role", {"user_id": admin.user_id, "role": "owner"}
    )
    assert made.status_code == 303
    demoted = await post(
        origin_server, admin, "/dashboard/members/role", {"user_id": owner.user_id, "role": "admin"}
    )
    assert demoted.status_code == 303
    after = await roles(pg, owner.org_id)
    assert after[owner.email] == "admin" and after[admin.email] == "owner"


async def test_another_organisation_cannot_list_or_change_these_members(
    origin_server: Any, postgrest: Any, team: dict[str, Member], pg: Any
) -> None:
    owner, member = team["owner"], team["member"]
    outsider = await new_member(pg.dsn, "outsider")
    async for http in signed_in_browser(origin_server.url, outsider):
        page = await http.get("/dashboard/members", params={"project": owner.project_id})
        # Their own organisation's page instead: none of ours is on it.
        assert page.status_code == 200 and outsider.email in page.text
        assert owner.email not in page.text and member.email not in page.text
        for path, form in [
            ("/dashboard/members", {"email": fresh_email("planted"), "role": "owner"}),
            ("/dashboard/members/role", {"user_id": member.user_id, "role": "owner"}),
            ("/dashboard/members/remove", {"user_id": member.user_id}),
        ]:
            response = await http.post(path, data={"project": owner.project_id, **form})
            assert response.status_code == 404, path
        # Through their own project, our member is no member of theirs.
        sideways = await http.post(
            "/dashboard/members/remove",
            data={"project": outsider.project_id, "user_id": member.user_id},
        )
        assert sideways.status_code == 404
    assert (await roles(pg, owner.org_id))[member.email] == "member"

    async with signed_in(postgrest, outsider) as client:
        listed = await client.rpc("dash_members", {"p_project": owner.project_id}).execute()
        assert listed.data == []
        calls = [
            ("org_member_add", {"p_email": outsider.email, "p_role": "owner"}),
            ("org_member_change", {"p_user": member.user_id, "p_role": "owner"}),
        ]
        for function, args in calls:
            with pytest.raises(APIError) as caught:
                await client.rpc(
                    function, {"p_project": owner.project_id, "p_actor": owner.user_id, **args}
                ).execute()
            assert caught.value.code == "42501", function
    async with signed_in(postgrest, member) as client:
        listed = await client.rpc("dash_members", {"p_project": owner.project_id}).execute()
        assert {r["email"] for r in listed.data} == set(await roles(pg, owner.org_id))
    # A token for the project rather than a user sees no one.
    async with httpx.AsyncClient(base_url=postgrest.rest_url) as http:
        scoped = await http.post(
            "/rpc/dash_members",
            headers=postgrest.headers(postgrest.project_key(owner.project_id), postgrest.anon_key),
            json={"p_project": owner.project_id},
        )
    assert scoped.status_code == 200 and scoped.json() == []
