"""Who is in an organisation, changed from the Members page by an owner or admin. The rules
(who may grant or take away which role, the last owner, nobody re-roling themselves) are the
database's (origin/store/members.py); this adds what needs Supabase Auth: a teammate Auth does
not know yet gets a user, with a temporary password shown once to whoever added them."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass

from origin.dashboard.session import Viewer
from origin.dashboard.supa import Supa, UserNotCreated
from origin.store import Store, valid_id
from shared.errors import InvalidRequest, NotFound, PrismError

# Each change is one line here (the audit trail of memberships): who, whom, which role. Never
# the temporary password.
log = logging.getLogger("prism.dashboard.members")

ROLES = ("owner", "admin", "member")
# A plausible address; Supabase Auth makes the final check when it creates the user.
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_EMAIL = 255


@dataclass(frozen=True)
class Added:
    email: str
    password: str  # "" when Auth already had the user: they sign in with their own password


def temporary_password() -> str:
    return secrets.token_urlsafe(12)


class Team:
    def __init__(self, store: Store, supa: Supa) -> None:
        self._store, self._supa = store, supa

    async def add(self, project_id: str, actor: Viewer, email: str, role: str) -> Added:
        email = email.strip().lower()
        if len(email) > MAX_EMAIL or not EMAIL.fullmatch(email):
            raise InvalidRequest("Enter your teammate's email address.", param="email")
        # The rules are checked before any user is created: a refused add leaves no user behind.
        user_id = await self._store.add_member(project_id, actor.user_id, email, role)
        password = ""
        if user_id is None:
            password = temporary_password()
            try:
                created = await self._supa.create_user(email, password)
            except UserNotCreated as exc:
                raise PrismError(f"Supabase Auth did not create the user: {exc}") from None
            # Not created: someone else made this user a moment ago, and it has its own password.
            password = password if created else ""
            if created:
                # Whoever is shown the password holds the account until its owner replaces it:
                # the database then refuses it to other organisations.
                await self._store.made_member(project_id, actor.user_id, email)
            user_id = await self._store.add_member(project_id, actor.user_id, email, role)
            if user_id is None:
                raise PrismError(f"Supabase Auth has no user {email} after creating it.")
        log.info(
            "organisation member added: %s as %s (project %s) by %s%s",
            email,
            role,
            project_id,
            actor.email,
            ", new Auth user" if password else "",
        )
        return Added(email, password)

    async def change(self, project_id: str, actor: Viewer, user_id: str, role: str | None) -> None:
        """Sets the member's role, or removes them from the organisation when `role` is None."""
        if not valid_id(user_id):
            raise NotFound("No such member in this organisation.", param="user_id")
        had = await self._store.change_member(project_id, actor.user_id, user_id, role)
        if had is None:
            raise NotFound("No such member in this organisation.", param="user_id")
        log.info(
            "organisation member %s: %s (was %s; project %s) by %s",
            f"made {role}" if role else "removed",
            user_id,
            had,
            project_id,
            actor.email,
        )
