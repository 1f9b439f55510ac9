"""Supabase, as the dashboard talks to it: the official `supabase` client, one per request, carrying
the signed-in user's access token (never the service key) and sharing one HTTP connection pool.
The one call made with the service key is Auth's admin API creating a teammate's user
(`create_user`), for an owner or admin who adds an email Auth does not know yet. A user changes
their own password with their own session (`change_password`).

supabase-py (with its auth, realtime and storage clients) is imported when
the dashboard is first used, not at start-up: 6.6 MB of resident memory that a worker serving
only the API never needs (what importing origin.app saved, measured)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from origin.settings import Secret

if TYPE_CHECKING:
    from supabase import AsyncClient
    from supabase_auth.types import Session


class SignInFailed(Exception):
    """Wrong email or password, or the auth service refused."""


class UserNotCreated(Exception):
    """Supabase Auth refused to create a user (other than for an email it already has)."""


class PasswordNotChanged(Exception):
    """Supabase Auth refused the new password (its own policy may be stricter than ours), or
    could not be reached; `status` is what the page answers."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message, self.status = message, status


class Supa:
    def __init__(self, url: str, anon_key: Secret, service_key: Secret | None = None) -> None:
        self._url, self._anon_key = url, anon_key
        self._service_key = service_key or Secret("")
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=3.0))

    async def aclose(self) -> None:
        await self._http.aclose()

    def _client(self, access_token: str | None) -> AsyncClient:
        from supabase import AsyncClient, AsyncClientOptions

        headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
        options = AsyncClientOptions(
            headers=headers,
            httpx_client=self._http,
            auto_refresh_token=False,
            persist_session=False,
            postgrest_client_retry=False,
        )
        return AsyncClient(self._url, self._anon_key.reveal(), options)

    def as_user(self, access_token: str) -> AsyncClient:
        """A client whose every table read and RPC runs as this user, under RLS."""
        return self._client(access_token)

    async def _signed_in(self, email: str, password: str) -> tuple[AsyncClient, Session]:
        """A fresh client signed in with this password, and its session: a client keeps the
        session it signed in, and this one is never used for anyone else."""
        from supabase_auth.errors import AuthError

        client = self._client(None)
        try:
            result = await client.auth.sign_in_with_password({"email": email, "password": password})
        except AuthError as exc:
            raise SignInFailed(exc.message) from None
        if result.session is None:
            raise SignInFailed("no session")
        return client, result.session

    async def sign_in(self, email: str, password: str) -> Session:
        return (await self._signed_in(email, password))[1]

    async def change_password(self, email: str, current: str, new: str) -> Session:
        """Sets the user's new password, once a sign-in with their current one has shown it is
        them (a session cookie alone must not take an account over); SignInFailed if it does not.

        The change is made as that fresh session (`PUT /auth/v1/user`): Auth then keeps it and
        signs out every other session of the user, the one the request came with included, so
        whoever knew the old password is out. The caller hands the browser the returned session.
        A fresh session also satisfies Auth's "secure password change" option, which asks a
        session older than a day to re-authenticate."""
        from supabase_auth.errors import AuthApiError, AuthError

        client, session = await self._signed_in(email, current)
        try:
            await client.auth.update_user({"password": new})
        except AuthError as exc:
            await self.sign_out(session.access_token)  # it was only the proof, and is unused
            if isinstance(exc, AuthApiError) and 400 <= exc.status < 500:
                raise PasswordNotChanged(exc.message, 400) from None
            raise PasswordNotChanged("Supabase Auth did not answer; try again.", 502) from None
        return session

    async def user_of(self, access_token: str) -> tuple[str, str] | None:
        """The id and email of a live session's user; None when the token or its session is not
        valid."""
        from supabase_auth.errors import AuthError

        try:
            found = await self._client(None).auth.get_user(access_token)
        except AuthError:
            return None
        return (found.user.id, found.user.email or "") if found is not None else None

    async def create_user(self, email: str, password: str) -> bool:
        """A confirmed email user with this password, made through Auth's admin API; False
        (and nothing changed) when Auth already has a user with this email."""
        from supabase_auth import AsyncGoTrueAdminAPI
        from supabase_auth.errors import AuthApiError, AuthError
        from supabase_auth.types import AdminUserAttributes

        key = self._service_key.reveal()
        if not key:
            raise UserNotCreated("SUPABASE_SERVICE_KEY is not set on this origin.")
        admin = AsyncGoTrueAdminAPI(
            url=f"{self._url.rstrip('/')}/auth/v1",
            headers={"apikey": key, "Authorization": f"Bearer {key}"},
            http_client=self._http,
        )
        attributes: AdminUserAttributes = {
            "email": email,
            "password": password,
            "email_confirm": True,
        }
        try:
            await admin.create_user(attributes)
        except AuthApiError as exc:
            if exc.code == "email_exists":
                return False
            raise UserNotCreated(exc.message) from None
        except (AuthError, ValueError) as exc:  # unreachable, or not Supabase Auth answering
            raise UserNotCreated(type(exc).__name__) from None
        return True

    async def refresh(self, refresh_token: str) -> Session | None:
        from supabase_auth.errors import AuthError

        try:
            result = await self._client(None).auth.refresh_session(refresh_token)
        except AuthError:
            return None
        return result.session

    async def sign_out(self, access_token: str) -> None:
        from supabase_auth.errors import AuthError

        try:
            await self._client(None).auth.admin.sign_out(access_token, "local")
        except AuthError:
            return  # already signed out, or expired: the cookies go either way
