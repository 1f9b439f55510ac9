"""Contract tests: the official `supabase` client's auth calls against the Supabase Auth stand-in."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from supabase import AsyncClient, AsyncClientOptions, create_async_client
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from infra.local import jwt
from tests.fixtures.members import Member, signed_in, supabase_client


async def test_password_sign_in_returns_a_session_postgrest_accepts(
    postgrest: Any, make_member: Any
) -> None:
    member: Member = await make_member("signin")
    async with supabase_client(postgrest) as client:
        result = await client.auth.sign_in_with_password(
            {"email": member.email.upper(), "password": member.password}
        )
        assert result.user is not None and result.session is not None
        assert result.user.id == member.user_id
        assert result.user.email == member.email
        claims = jwt.decode(result.session.access_token, postgrest.jwt_secret)
        assert claims["role"] == "authenticated" and claims["sub"] == member.user_id
        assert result.session.expires_in == 3600
        # The client now sends the user's token: RLS shows the member's project and no other.
        projects = (await client.table("projects").select("id").execute()).data
        assert projects == [{"id": member.project_id}]


@pytest.mark.parametrize("wrong", ["password", "email"])
async def test_wrong_credentials_are_refused(postgrest: Any, make_member: Any, wrong: str) -> None:
    member: Member = await make_member("wrong")
    creds = {"email": member.email, "password": member.password}
    creds[wrong] = "nope-" + creds[wrong]
    async with supabase_client(postgrest) as client:
        with pytest.raises(AuthApiError) as caught:
            await client.auth.sign_in_with_password(creds)  # type: ignore[arg-type]
    assert caught.value.status == 400
    assert caught.value.code == "invalid_credentials"
    assert caught.value.message == "Invalid login credentials"


async def test_get_user_then_sign_out_ends_the_session(postgrest: Any, make_member: Any) -> None:
    member: Member = await make_member("signout")
    async with signed_in(postgrest, member) as client:
        session = await client.auth.get_session()
        assert session is not None
        user = await client.auth.get_user(session.access_token)
        assert user is not None and user.user.email == member.email
        await client.auth.sign_out()
        assert await client.auth.get_session() is None
        with pytest.raises(AuthApiError) as caught:
            await client.auth.get_user(session.access_token)
        assert caught.value.code == "session_not_found"
        with pytest.raises(AuthApiError):
            await client.auth.refresh_session(session.refresh_token)


async def test_refresh_rotates_the_refresh_token(postgrest: Any, make_member: Any) -> None:
    member: Member = await make_member("refresh")
    async with signed_in(postgrest, member) as client:
        first = await client.auth.get_session()
        assert first is not None
        refreshed = await client.auth.refresh_session(first.refresh_token)
        assert refreshed.session is not None and refreshed.user is not None
        assert refreshed.user.id == member.user_id
        assert refreshed.session.refresh_token != first.refresh_token
        # A refresh token is single-use: replaying the old one is refused.
        async with supabase_client(postgrest) as other:
            with pytest.raises(AuthApiError) as caught:
                await other.auth.refresh_session(first.refresh_token)
        assert caught.value.code == "refresh_token_not_found"


async def test_sign_out_scope_local_keeps_other_sessions(postgrest: Any, make_member: Any) -> None:
    member: Member = await make_member("scopes")
    async with signed_in(postgrest, member) as laptop, signed_in(postgrest, member) as phone:
        phone_session = await phone.auth.get_session()
        assert phone_session is not None
        await laptop.auth.sign_out({"scope": "local"})
        user = await phone.auth.get_user(phone_session.access_token)
        assert user is not None and user.user.id == member.user_id


async def test_passwords_are_stored_hashed(pg_conn: Any, make_member: Any) -> None:
    member: Member = await make_member("hashed")
    stored = await pg_conn.fetchval(
        "SELECT encrypted_password FROM auth.users WHERE id = $1::uuid", member.user_id
    )
    assert member.password not in stored and stored.startswith("scrypt$")


@pytest.mark.parametrize(
    ("path", "method", "headers", "status"),
    [
        ("/auth/v1/user", "GET", {}, 401),  # no apikey at all: the gateway refuses
        ("/auth/v1/user", "GET", {"apikey": "anon"}, 401),  # no bearer token
        ("/auth/v1/user", "GET", {"apikey": "anon", "Authorization": "Bearer x.y.z"}, 403),
        ("/auth/v1/user", "PUT", {"apikey": "anon"}, 401),  # no bearer token
        ("/auth/v1/user", "PUT", {"apikey": "anon", "Authorization": "Bearer x.y.z"}, 403),
        ("/auth/v1/token?grant_type=magic", "POST", {"apikey": "anon"}, 400),
        ("/auth/v1/logout?scope=all", "POST", {"apikey": "anon", "bearer": "user"}, 400),
    ],
)
async def test_bad_requests_get_goTrue_errors(
    postgrest: Any, make_member: Any, path: str, method: str, headers: dict[str, str], status: int
) -> None:
    member: Member = await make_member("bad")
    sent = dict(headers)
    if sent.get("apikey") == "anon":
        sent["apikey"] = postgrest.anon_key
    if sent.pop("bearer", None):
        async with signed_in(postgrest, member) as client:
            session = await client.auth.get_session()
            assert session is not None
            sent["Authorization"] = f"Bearer {session.access_token}"
    async with httpx.AsyncClient(base_url=postgrest.url) as http:
        response = await http.request(method, path, headers=sent, json={})
    assert response.status_code == status
    body = response.json()
    assert body.get("msg") or body.get("message")


@asynccontextmanager
async def service_client(postgrest: Any) -> AsyncIterator[AsyncClient]:
    """The official client with the service key, as the origin holds it for Auth's admin API."""
    options = AsyncClientOptions(auto_refresh_token=False, persist_session=False)
    yield await create_async_client(postgrest.url, postgrest.service_key, options)


def new_email(name: str) -> str:
    return f"{name}-{secrets.token_hex(4)}@Example.test"


async def test_admin_create_user_makes_a_confirmed_user_who_signs_in(
    postgrest: Any, pg_conn: Any
) -> None:
    email, password = new_email("created"), secrets.token_urlsafe(12)
    async with service_client(postgrest) as admin:
        created = await admin.auth.admin.create_user(
            {"email": email, "password": password, "email_confirm": True}
        )
    assert created.user.email == email.lower() and created.user.email_confirmed_at is not None
    stored = await pg_conn.fetchval(
        "SELECT encrypted_password FROM auth.users WHERE id = $1::uuid", created.user.id
    )
    assert password not in stored and stored.startswith("scrypt$")
    async with supabase_client(postgrest) as client:
        session = await client.auth.sign_in_with_password({"email": email, "password": password})
    assert session.user is not None and session.user.id == created.user.id


async def test_admin_create_user_refuses_a_taken_email(postgrest: Any, make_member: Any) -> None:
    member: Member = await make_member("taken")
    async with service_client(postgrest) as admin:
        with pytest.raises(AuthApiError) as caught:
            await admin.auth.admin.create_user(
                {"email": member.email.upper(), "password": "another-one", "email_confirm": True}
            )
    assert caught.value.status == 422 and caught.value.code == "email_exists"
    assert caught.value.message == "A user with this email address has already been registered"
    # The existing user's password is untouched.
    async with signed_in(postgrest, member) as client:
        assert await client.auth.get_session() is not None


async def test_an_unconfirmed_user_cannot_sign_in(postgrest: Any) -> None:
    email, password = new_email("unconfirmed"), secrets.token_urlsafe(12)
    async with service_client(postgrest) as admin:
        created = await admin.auth.admin.create_user({"email": email, "password": password})
    assert created.user.email_confirmed_at is None
    async with supabase_client(postgrest) as client:
        with pytest.raises(AuthApiError) as caught:
            await client.auth.sign_in_with_password({"email": email, "password": password})
    assert caught.value.code == "email_not_confirmed"


async def test_only_the_service_key_may_create_users(
    postgrest: Any, make_member: Any, pg_conn: Any
) -> None:
    member: Member = await make_member("notadmin")
    email = new_email("sneaky").lower()
    async with signed_in(postgrest, member) as client:
        session = await client.auth.get_session()
        assert session is not None
        with pytest.raises(AuthApiError) as caught:
            await client.auth.admin.create_user({"email": email, "password": "x-x-x-x"})
    assert caught.value.status == 403 and caught.value.code == "not_admin"
    async with supabase_client(postgrest) as anon:
        with pytest.raises(AuthApiError) as caught:
            await anon.auth.admin.create_user({"email": email, "password": "x-x-x-x"})
    assert caught.value.status == 403 and caught.value.code == "not_admin"
    async with httpx.AsyncClient(base_url=postgrest.url) as http:
        bare = await http.post(
            "/auth/v1/admin/users", headers={"apikey": postgrest.service_key}, json={"email": email}
        )
    assert bare.status_code == 401 and bare.json()["error_code"] == "no_authorization"
    assert await pg_conn.fetchval("SELECT count(*) FROM auth.users WHERE email = $1", email) == 0


async def test_update_user_changes_the_password_and_ends_the_other_sessions(
    postgrest: Any, make_member: Any, pg_conn: Any
) -> None:
    member: Member = await make_member("newpass")
    new_password = secrets.token_urlsafe(12)
    async with signed_in(postgrest, member) as laptop, signed_in(postgrest, member) as phone:
        before = await laptop.auth.get_session()
        assert before is not None and before.user is not None
        # Read now: update_user puts the updated user into this same session object.
        updated_at = before.user.updated_at
        updated = await laptop.auth.update_user({"password": new_password})
        assert updated is not None and updated.user.id == member.user_id
        assert updated.user.updated_at is not None and updated_at is not None
        assert updated.user.updated_at > updated_at
        # The session that changed it lives on; every other one (whoever knew the old
        # password) is signed out, and cannot change the password back.
        assert (await laptop.auth.get_user(before.access_token)) is not None
        with pytest.raises(AuthApiError) as caught:
            await phone.auth.update_user({"password": member.password})
        assert caught.value.status == 403 and caught.value.code == "session_not_found"
    stored = await pg_conn.fetchval(
        "SELECT encrypted_password FROM auth.users WHERE id = $1::uuid", member.user_id
    )
    assert new_password not in stored and stored.startswith("scrypt$")
    async with supabase_client(postgrest) as client:
        with pytest.raises(AuthApiError) as caught:
            await client.auth.sign_in_with_password(
                {"email": member.email, "password": member.password}
            )
        assert caught.value.code == "invalid_credentials"
        session = await client.auth.sign_in_with_password(
            {"email": member.email, "password": new_password}
        )
    assert session.user is not None and session.user.id == member.user_id


async def test_update_user_refuses_a_weak_or_unchanged_password(
    postgrest: Any, make_member: Any
) -> None:
    member: Member = await make_member("weakpass")
    async with signed_in(postgrest, member) as client:
        with pytest.raises(AuthWeakPasswordError) as weak:
            await client.auth.update_user({"password": "five5"})
        assert weak.value.status == 422 and weak.value.code == "weak_password"
        assert weak.value.reasons == ["length"]
        assert weak.value.message == "Password should be at least 6 characters."
        with pytest.raises(AuthApiError) as same:
            await client.auth.update_user({"password": member.password})
        assert same.value.status == 422 and same.value.code == "same_password"
        with pytest.raises(AuthApiError) as long:
            await client.auth.update_user({"password": "x" * 73})
        assert long.value.status == 400 and long.value.code == "validation_failed"
    # None of them changed it.
    async with signed_in(postgrest, member) as again:
        assert await again.auth.get_session() is not None


async def test_admin_create_user_refuses_a_weak_password(postgrest: Any, pg_conn: Any) -> None:
    email = new_email("weak").lower()
    async with service_client(postgrest) as admin:
        with pytest.raises(AuthWeakPasswordError) as caught:
            await admin.auth.admin.create_user(
                {"email": email, "password": "five5", "email_confirm": True}
            )
    assert caught.value.status == 422 and caught.value.reasons == ["length"]
    assert await pg_conn.fetchval("SELECT count(*) FROM auth.users WHERE email = $1", email) == 0
