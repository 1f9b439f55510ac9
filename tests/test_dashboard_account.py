"""The Account page: a signed-in user (a member too, or someone in no organisation) changes
their own password, proving the current one first; the browser stays signed in, every other
session of the account is signed out, and no password is ever written into a page or the log.
Exercised over HTTP against the served origin, the Auth and PostgREST stand-ins and Postgres."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg
import pytest

from infra.local.auth_users import create_user
from tests.fixtures.members import Member
from tests.test_dashboard_http import browser, signed_in_browser
from tests.test_dashboard_members import fresh_email, origin_log_with

CHANGED = "Your password was changed."


def change(current: str, new: str, again: str | None = None) -> dict[str, str]:
    """The form's three fields."""
    return {
        "current_password": current,
        "new_password": new,
        "new_password_again": new if again is None else again,
    }


async def can_sign_in(base: str, email: str, password: str) -> bool:
    async with browser(base) as http:
        response = await http.post("/dashboard/login", data={"email": email, "password": password})
    return response.status_code == 303


@pytest.mark.parametrize("access_expired", [False, True])
async def test_a_member_changes_their_password_and_stays_signed_in(
    origin_server: Any, team: dict[str, Member], access_expired: bool
) -> None:
    member, new = team["member"], f"new-{secrets.token_urlsafe(9)}"
    project = {"project": member.project_id}
    async for elsewhere in signed_in_browser(origin_server.url, member):
        async for http in signed_in_browser(origin_server.url, member):
            overview = await http.get("/dashboard", params=project)
            assert f'href="/dashboard/account?project={member.project_id}">Account' in overview.text
            page = await http.get("/dashboard/account", params=project)
            assert page.status_code == 200 and member.email in page.text
            assert 'name="current_password"' in page.text
            if access_expired:  # this very request refreshes the session it then replaces
                http.cookies.delete("prism_dash_at")
            changed = await http.post(
                "/dashboard/account", data={**project, **change(member.password, new)}
            )
            assert changed.status_code == 303
            location = changed.headers["location"]
            assert location == f"/dashboard/account?project={member.project_id}&changed=1"
            shown = await http.get(location)
            assert shown.status_code == 200 and CHANGED in shown.text and new not in shown.text
            # Still signed in, on the session that made the change.
            assert (await http.get("/dashboard/requests", params=project)).status_code == 200
        # Any other session of the account (whoever knew the old password) is signed out.
        out = await elsewhere.get("/dashboard", params=project)
        assert out.status_code == 303 and out.headers["location"].startswith("/dashboard/login")
    assert not await can_sign_in(origin_server.url, member.email, member.password)
    assert await can_sign_in(origin_server.url, member.email, new)
    log = await origin_log_with(origin_server, f"password changed: {member.email}")
    assert f"password changed: {member.email}" in log
    assert new not in log and member.password not in log


@pytest.mark.parametrize(
    ("current", "new", "again", "status", "says"),
    [
        ("", "new-password-1", None, 400, "Enter your current password"),
        ("{current}", "new-password-1", "new-password-2", 400, "repeat differ"),
        ("{current}", "short7!", None, 400, "at least 8 characters"),
        ("{current}", "x" * 73, None, 400, "at most 72 bytes"),
        ("{current}", "{current}", None, 400, "the one you have now"),
        ("wrong-{current}", "new-password-1", None, 403, "current password is not right"),
    ],
)
async def test_a_change_that_cannot_be_made_says_why_and_changes_nothing(
    origin_server: Any,
    make_member: Any,
    current: str,
    new: str,
    again: str | None,
    status: int,
    says: str,
) -> None:
    me: Member = await make_member("account-bad")
    form = change(
        current.format(current=me.password),
        new.format(current=me.password),
        again,
    )
    async for http in signed_in_browser(origin_server.url, me):
        response = await http.post("/dashboard/account", data={"project": me.project_id, **form})
        assert response.status_code == status and says in response.text
        for typed in {v for v in form.values() if v}:
            assert typed not in response.text  # no password is written back into the page
        assert (await http.get("/dashboard/account")).status_code == 200  # still signed in
    assert await can_sign_in(origin_server.url, me.email, me.password)


async def test_only_a_signed_in_users_own_form_changes_a_password(
    origin_server: Any, make_member: Any
) -> None:
    me: Member = await make_member("account-guard")
    form = {"project": me.project_id, **change(me.password, "changed-by-someone-else")}
    async for http in signed_in_browser(origin_server.url, me):
        forged = await http.post(
            "/dashboard/account", data=form, headers={"Origin": "https://evil.example"}
        )
        assert forged.status_code == 403
    async with browser(origin_server.url) as anonymous:
        signed_out = await anonymous.post("/dashboard/account", data=form)
        assert signed_out.status_code == 303
        assert signed_out.headers["location"].startswith("/dashboard/login")
    assert await can_sign_in(origin_server.url, me.email, me.password)


async def test_a_user_in_no_organisation_can_still_change_their_password(
    origin_server: Any, pg: Any
) -> None:
    email, password, new = fresh_email("loner"), secrets.token_urlsafe(12), "loner-own-password"
    conn = await asyncpg.connect(pg.dsn)
    try:
        user_id = await create_user(conn, email, password)
    finally:
        await conn.close()
    loner = Member(email, password, user_id, "", "", "")
    async for http in signed_in_browser(origin_server.url, loner):
        nothing = await http.get("/dashboard")
        assert "No projects yet" in nothing.text and 'href="/dashboard/account"' in nothing.text
        page = await http.get("/dashboard/account")
        assert page.status_code == 200 and email in page.text
        assert 'aria-label="Project"' not in page.text  # no project to pick
        changed = await http.post("/dashboard/account", data=change(password, new))
        assert changed.status_code == 303
        assert changed.headers["location"] == "/dashboard/account?changed=1"
        assert CHANGED in (await http.get(changed.headers["location"])).text
    assert await can_sign_in(origin_server.url, email, new)
