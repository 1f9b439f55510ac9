"""An organisation's owners and admins change its projects from the dashboard; its members
only look. A member who posts a change form anyway (an old tab, a hand-made request) is refused
and nothing changes: API keys, provider keys and the cache stay as they were."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.fixtures.members import Member, key_id_of
from tests.test_dashboard_http import live_keys, signed_in_browser

CHANGES = [
    ("/dashboard/cache/purge", {"scope": "project", "target": ""}),
    ("/dashboard/keys", {"name": "sneaky"}),
    ("/dashboard/providers", {"provider": "openai", "name": "mine", "api_key": "sk-member-x"}),
    ("/dashboard/providers/remove", {"name": "openai"}),
    ("/dashboard/budgets", {"limit_dollars": "0", "period": "day", "action": "block"}),
    ("/dashboard/budgets/delete", {"budget_id": "00000000-0000-0000-0000-000000000000"}),
    ("/dashboard/limits", {"subject": "project", "requests_per_minute": "1"}),
    ("/dashboard/members", {"email": "planted@example.test", "role": "owner"}),
    (
        "/dashboard/members/role",
        {"user_id": "00000000-0000-0000-0000-000000000000", "role": "owner"},
    ),
    ("/dashboard/members/remove", {"user_id": "00000000-0000-0000-0000-000000000000"}),
]
PAGES = [
    "/dashboard/keys",
    "/dashboard/providers",
    "/dashboard/cache",
    "/dashboard/budgets",
    "/dashboard/members",
]


def change_forms(page: str) -> list[str]:
    """The forms on a page that post to the dashboard, other than signing out."""
    return re.findall(r'method="post" action="(/dashboard/(?!logout)[^"]*)"', page)


async def project_state(pg: Any, project_id: str) -> dict[str, Any]:
    conn = await pg.connect()
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM cache_purges WHERE project_id = $1) AS purges,"
            " (SELECT count(*) FROM api_keys WHERE project_id = $1) AS keys,"
            " (SELECT count(*) FROM provider_keys WHERE project_id = $1) AS providers,"
            " (SELECT count(*) FROM budgets WHERE project_id = $1) AS budgets,"
            " (SELECT count(*) FROM rate_limits WHERE project_id = $1) AS limits,"
            " (SELECT string_agg(m.user_id || ':' || m.role, ',' ORDER BY m.user_id)"
            "  FROM org_members AS m JOIN projects AS p ON p.org_id = m.org_id"
            "  WHERE p.id = $1) AS members",
            project_id,
        )
    finally:
        await conn.close()
    return dict(row)


@pytest.mark.parametrize(("path", "form"), CHANGES)
async def test_a_member_cannot_change_their_organisations_project(
    origin_server: Any, team: dict[str, Member], pg: Any, path: str, form: dict[str, str]
) -> None:
    member = team["member"]
    before = await project_state(pg, member.project_id)
    async for http in signed_in_browser(origin_server.url, member):
        response = await http.post(path, data={"project": member.project_id, **form})
    assert response.status_code == 403 and "owner or admin" in response.text
    assert await project_state(pg, member.project_id) == before


async def test_a_member_cannot_revoke_the_projects_key(
    origin_server: Any, team: dict[str, Member], pg: Any
) -> None:
    member = team["member"]
    key_id = await key_id_of(pg, member.project_id)
    async for http in signed_in_browser(origin_server.url, member):
        response = await http.post(
            "/dashboard/keys/revoke", data={"project": member.project_id, "key_id": str(key_id)}
        )
    assert response.status_code == 403
    assert await live_keys(pg.dsn, member.api_key) == 1


@pytest.mark.parametrize("role", ["owner", "admin"])
async def test_owners_and_admins_create_and_revoke_keys(
    origin_server: Any, team: dict[str, Member], pg: Any, role: str
) -> None:
    who = team[role]
    async for http in signed_in_browser(origin_server.url, who):
        created = await http.post("/dashboard/keys", data={"project": who.project_id, "name": role})
        assert created.status_code == 303
        key_id = await key_id_of(pg, who.project_id, role)
        revoked = await http.post(
            "/dashboard/keys/revoke", data={"project": who.project_id, "key_id": str(key_id)}
        )
        assert revoked.status_code == 303
    state = await project_state(pg, who.project_id)
    assert state["keys"] == 2


@pytest.mark.parametrize("page", PAGES)
async def test_a_members_pages_show_no_change_forms_and_say_why(
    origin_server: Any, team: dict[str, Member], page: str
) -> None:
    shown: dict[str, str] = {}
    for role in ("owner", "member"):
        async for http in signed_in_browser(origin_server.url, team[role]):
            response = await http.get(page, params={"project": team[role].project_id})
            assert response.status_code == 200
            shown[role] = response.text
    assert change_forms(shown["owner"]) and not change_forms(shown["member"])
    assert "your role is member" in shown["member"]
    assert "your role is member" not in shown["owner"]
