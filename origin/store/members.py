"""Organisation memberships, changed by the origin for a dashboard owner or admin. The rules
(who may grant or take away which role, the last owner, nobody re-roling themselves) are
checked by the database functions (infra/migrations/0034_org_members_manage.sql, and 0035 for
accounts the origin made) under a lock on the organisation, so this only calls them and passes
their refusals on."""

from __future__ import annotations

from typing import Any

from postgrest import APIError

from origin.store.actor import named
from origin.store.base import Rows
from origin.store.boundary import StoreError, boundary

# The SQLSTATEs those functions refuse with, as the HTTP status the dashboard answers.
REFUSED = {"42501": 403, "23505": 409, "23514": 409, "22023": 400}


class MemberRefused(StoreError):
    """A membership change the rules do not allow; `message` says which rule, for the user."""

    def __init__(self, message: str, code: str, status: int) -> None:
        super().__init__(message, code)
        self.status = status


class MemberRows(Rows):
    async def _member_call(self, function: str, args: dict[str, Any]) -> object:
        async with boundary(function):
            try:
                res = await named(self._client.rpc(function, args)).execute()
            except APIError as exc:
                status = REFUSED.get(str(exc.code))
                if status is None:
                    raise
                raise MemberRefused(exc.message or str(exc.code), str(exc.code), status) from None
        return res.data

    async def add_member(self, project_id: str, actor: str, email: str, role: str) -> str | None:
        """Adds the Auth user with `email` to the project's organisation; their user id, or
        None (and nothing changed) when Auth has no user with that email yet."""
        data = await self._member_call(
            "org_member_add",
            {"p_project": project_id, "p_actor": actor, "p_email": email, "p_role": role},
        )
        return str(data) if data else None

    async def made_member(self, project_id: str, actor: str, email: str) -> None:
        """Remembers that the origin has just made the Auth user with `email` for the project's
        organisation, with a password the actor is shown: no other organisation may add that
        account until its owner sets their own password (0035)."""
        await self._member_call(
            "org_member_made", {"p_project": project_id, "p_actor": actor, "p_email": email}
        )

    async def change_member(
        self, project_id: str, actor: str, user_id: str, role: str | None
    ) -> str | None:
        """Sets the member's role, or removes them when `role` is None; the role they had, or
        None (and nothing changed) when they are not a member of the project's organisation."""
        data = await self._member_call(
            "org_member_change",
            {"p_project": project_id, "p_actor": actor, "p_user": user_id, "p_role": role},
        )
        return str(data) if data else None
