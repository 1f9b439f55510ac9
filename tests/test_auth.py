"""Authenticator against the real stand-in: verdicts, caching, coalescing, and store outages."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from origin.settings import Secret
from origin.store import Project, Store
from origin.tenancy.abuse import AddressThrottle
from origin.tenancy.auth import Authenticator
from shared.apikeys import display_prefix, generate_api_key, hash_api_key
from shared.errors import AuthenticationFailed, LimitExceeded, PrismError, UpstreamUnavailable


class Clock:
    """A hand-advanced monotonic clock, so TTL behaviour is tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def project(store: Store) -> Project:
    return await store.create_project("auth")


def bearer(key: str) -> str:
    return f"Bearer {key}"


async def test_a_live_key_resolves_to_its_caller(store: Store, project: Project) -> None:
    key, record = await store.create_api_key(project.id, "app")
    caller = await Authenticator(store, 30).authenticate(bearer(key))
    assert (caller.org_id, caller.project_id, caller.api_key_id) == (
        project.org_id,
        project.id,
        record.id,
    )


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_api_key"),
        ("", "missing_api_key"),
        ("Basic dXNlcjpwYXNz", "invalid_api_key"),
        ("Bearer", "invalid_api_key"),
        ("Bearer sk-openai-style-key", "invalid_api_key"),
        ("prism_sk_no_scheme", "invalid_api_key"),
        ("Bearer prism_sk_" + "x" * 300, "invalid_api_key"),
        (bearer(generate_api_key()), "invalid_api_key"),
    ],
    ids=[
        "none",
        "empty",
        "basic",
        "bearer-only",
        "foreign-key",
        "no-scheme",
        "too-long",
        "unknown",
    ],
)
async def test_refusals_are_401(store: Store, header: str | None, code: str) -> None:
    with pytest.raises(AuthenticationFailed) as info:
        await Authenticator(store, 30).authenticate(header)
    assert info.value.status == 401 and info.value.code == code
    assert info.value.envelope()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("header", "opening"),
    [
        ("Basic dXNlcjpwYXNz", "Malformed Authorization header:"),
        ("Bearer", "Malformed Authorization header:"),
        ("prism_sk_no_scheme", "Malformed Authorization header:"),
        ("Bearer sk-proj-secret-provider-key", "Invalid API key: Prism keys start with"),
        ("Bearer prism_sk_" + "x" * 300, "Invalid API key: it does not exist"),
        (bearer(generate_api_key()), "Invalid API key: it does not exist"),
    ],
    ids=["basic", "bearer-only", "no-scheme", "foreign-key", "too-long", "unknown"],
)
async def test_refusals_say_what_is_wrong_without_repeating_the_key(
    store: Store, header: str, opening: str
) -> None:
    with pytest.raises(AuthenticationFailed) as info:
        await Authenticator(store, 30).authenticate(header)
    assert info.value.message.startswith(opening)
    assert "secret" not in info.value.message and "xxx" not in info.value.message


async def test_a_revoked_key_is_refused(store: Store, project: Project) -> None:
    key, record = await store.create_api_key(project.id)
    await store.revoke_api_key(record.id)
    with pytest.raises(AuthenticationFailed):
        await Authenticator(store, 30).authenticate(bearer(key))


async def test_cached_answer_outlives_revocation_until_ttl(store: Store, project: Project) -> None:
    clock = Clock()
    auth = Authenticator(store, 30, clock=clock)
    key, record = await store.create_api_key(project.id)
    await auth.authenticate(bearer(key))
    await store.revoke_api_key(record.id)

    clock.now += 29
    assert (await auth.authenticate(bearer(key))).api_key_id == record.id
    assert auth.lookups == 1

    clock.now += 2
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(bearer(key))
    assert auth.lookups == 2


async def test_unknown_keys_are_cached_only_briefly(
    store: Store, project: Project, pg_conn: asyncpg.Connection
) -> None:
    clock = Clock()
    auth = Authenticator(store, 30, negative_ttl_s=3, clock=clock)
    key = generate_api_key()
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(bearer(key))
    await pg_conn.execute(
        "insert into api_keys (project_id, key_hash, prefix) values ($1, $2, $3)",
        uuid.UUID(project.id),
        hash_api_key(key),
        display_prefix(key),
    )
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(bearer(key))
    assert auth.lookups == 1
    clock.now += 4
    assert (await auth.authenticate(bearer(key))).project_id == project.id
    assert auth.lookups == 2


async def test_concurrent_misses_share_one_lookup(store: Store, project: Project) -> None:
    key, _ = await store.create_api_key(project.id)
    auth = Authenticator(store, 30)
    callers = await asyncio.gather(*(auth.authenticate(bearer(key)) for _ in range(25)))
    assert len(set(callers)) == 1
    assert auth.lookups == 1


async def test_cache_is_bounded(store: Store, project: Project) -> None:
    auth = Authenticator(store, 30, max_entries=2)
    keys = [(await store.create_api_key(project.id))[0] for _ in range(3)]
    for key in keys:
        await auth.authenticate(bearer(key))
    await auth.authenticate(bearer(keys[2]))
    assert auth.lookups == 3
    await auth.authenticate(bearer(keys[0]))  # evicted as the least recently used
    assert auth.lookups == 4


async def test_store_down_is_503_for_uncached_keys_only(
    store: Store, project: Project, pg: Any
) -> None:
    auth = Authenticator(store, 30)
    cached, _ = await store.create_api_key(project.id)
    uncached, _ = await store.create_api_key(project.id)
    await auth.authenticate(bearer(cached))
    async with pg.outage():
        assert (await auth.authenticate(bearer(cached))).project_id == project.id
        with pytest.raises(UpstreamUnavailable) as info:
            await auth.authenticate(bearer(uncached))
        assert info.value.status == 503
    # The failure was not cached: once the database is back the key works.
    assert (await auth.authenticate(bearer(uncached))).project_id == project.id


async def test_a_refusing_store_is_a_server_error_not_401(postgrest: Any) -> None:
    misconfigured = Store(postgrest.url, Secret("wrong-service-key"))
    try:
        with pytest.raises(PrismError) as info:
            await Authenticator(misconfigured, 30).authenticate(bearer(generate_api_key()))
        assert info.value.status == 500
    finally:
        await misconfigured.aclose()


async def test_unknown_keys_never_evict_known_ones(store: Store, project: Project) -> None:
    auth = Authenticator(store, 30, max_entries=2)
    known = [(await store.create_api_key(project.id))[0] for _ in range(2)]
    for key in known:
        await auth.authenticate(bearer(key))
    for _ in range(10):  # a flood of bad keys, five times the cache's size
        with pytest.raises(AuthenticationFailed):
            await auth.authenticate(bearer(generate_api_key()))
    lookups = auth.lookups
    for key in known:
        assert (await auth.authenticate(bearer(key))).project_id == project.id
    assert auth.lookups == lookups  # both still answered from memory


async def test_an_address_sending_bad_keys_is_slowed_down(store: Store, project: Project) -> None:
    minute = Clock()
    auth = Authenticator(store, 30, throttle=AddressThrottle(per_minute=5, clock=minute))
    good, _ = await store.create_api_key(project.id)
    await auth.authenticate(bearer(good), "10.0.0.9")
    for header in [None, "Basic x", *(bearer(generate_api_key()) for _ in range(3))]:
        with pytest.raises(AuthenticationFailed):
            await auth.authenticate(header, "10.0.0.9")
    lookups = auth.lookups
    with pytest.raises(LimitExceeded) as info:
        await auth.authenticate(bearer(generate_api_key()), "10.0.0.9")
    assert info.value.status == 429 and info.value.code == "rate_limited"
    assert "invalid API keys from this address" in info.value.message
    assert 0 < int(info.value.headers()["Retry-After"]) <= 60
    assert auth.lookups == lookups  # refused before any lookup
    # A key known to be good still works from there; other addresses are unaffected.
    assert (await auth.authenticate(bearer(good), "10.0.0.9")).project_id == project.id
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(bearer(generate_api_key()), "10.0.0.10")
    minute.now += 60  # the next minute starts afresh
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(bearer(generate_api_key()), "10.0.0.9")


async def test_a_good_key_whose_cached_answer_expired_is_not_throttled(
    store: Store, project: Project
) -> None:
    clock, minute = Clock(), Clock()
    auth = Authenticator(
        store, 30, clock=clock, throttle=AddressThrottle(per_minute=2, clock=minute)
    )
    good, _ = await store.create_api_key(project.id)
    await auth.authenticate(bearer(good), "10.0.0.7")
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            await auth.authenticate(bearer(generate_api_key()), "10.0.0.7")
    clock.now += 31  # the good key's cached answer expires within the throttled minute
    assert (await auth.authenticate(bearer(good), "10.0.0.7")).project_id == project.id
    with pytest.raises(LimitExceeded):  # while keys never seen good are still refused
        await auth.authenticate(bearer(generate_api_key()), "10.0.0.7")
