"""Accounts the Members page creates: whoever adds a new teammate is shown the account's
temporary password, so until its owner sets their own, that account is the adder's as much as
theirs. Another organisation adding the same email must not hand its projects to whoever holds
that password. Exercised over HTTP against the served origin, the stand-ins and Postgres."""

from __future__ import annotations

from typing import Any

from tests.fixtures.members import Member, new_member
from tests.test_dashboard_account import change
from tests.test_dashboard_http import browser, signed_in_browser
from tests.test_dashboard_members import PASSWORD, fresh_email, post, roles


async def _add_shown_password(origin_server: Any, adder: Member, email: str) -> str:
    """Adds `email` to `adder`'s organisation as a new Auth user; the password shown once."""
    async for http in signed_in_browser(origin_server.url, adder):
        added = await http.post(
            "/dashboard/members",
            data={"project": adder.project_id, "email": email, "role": "member"},
        )
        assert added.status_code == 303
        page = await http.get(added.headers["location"])
        found = PASSWORD.search(page.text)
        assert found is not None
        return found.group(1)
    raise AssertionError("not signed in")


async def _set_own_password(origin_server: Any, held: Member, password: str) -> None:
    """Its owner sets their own password on the Account page, signed in with the one they were
    given: the account is theirs from now on."""
    async for http in signed_in_browser(origin_server.url, held):
        changed = await http.post("/dashboard/account", data=change(held.password, password))
        assert changed.status_code == 303
        return
    raise AssertionError("not signed in")


async def test_an_account_another_organisation_made_is_not_added_while_its_password_is_theirs(
    origin_server: Any, pg: Any
) -> None:
    squatter, victim = await new_member(pg.dsn, "squatter"), await new_member(pg.dsn, "victim")
    email = fresh_email("colleague")
    # The squatter's organisation "adds" the victim's colleague before the victim does, keeps
    # the temporary password and drops them again.
    password = await _add_shown_password(origin_server, squatter, email)
    conn = await pg.connect()
    try:
        user_id = str(await conn.fetchval("SELECT id FROM auth.users WHERE email = $1", email))
    finally:
        await conn.close()
    dropped = await post(origin_server, squatter, "/dashboard/members/remove", {"user_id": user_id})
    assert dropped.status_code == 303

    refused = await post(
        origin_server, victim, "/dashboard/members", {"email": email, "role": "admin"}
    )
    assert refused.status_code == 403 and "temporary password" in refused.text
    assert email not in await roles(pg, victim.org_id)
    held = Member(email, password, user_id, victim.org_id, victim.project_id, victim.api_key)
    async for http in signed_in_browser(origin_server.url, held):
        page = await http.get("/dashboard", params={"project": victim.project_id})
        assert victim.email not in page.text and "No projects yet" in page.text

    # The organisation that made the account may add it back: it knows that password anyway.
    again = await post(origin_server, squatter, "/dashboard/members", {"email": email})
    assert again.status_code == 303

    # Once its owner has set their own password, the account is theirs and anyone may add it,
    # and the temporary password the squatter kept no longer signs in.
    await _set_own_password(origin_server, held, "their-own-password-1")
    async with browser(origin_server.url) as http:
        kept = await http.post("/dashboard/login", data={"email": email, "password": password})
        assert kept.status_code == 400
    added = await post(
        origin_server, victim, "/dashboard/members", {"email": email, "role": "admin"}
    )
    assert added.status_code == 303
    assert (await roles(pg, victim.org_id))[email] == "admin"
