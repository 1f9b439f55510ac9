"""An origin started while the key store is down still serves the keys it was serving before,
from signed snapshots in Redis (origin.store.snapshots), and only those: a key never
confirmed, a forged note or a revoked key's is not taken on trust."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis.asyncio as aioredis

from origin.store.snapshots import Snapshots, snapshot_key
from origin.tenancy.crypto import master_key_from
from origin.tenancy.key_notes import KeyNotes, note_name
from shared.apikeys import generate_api_key, hash_api_key
from shared.usage import Caller
from tests.fixtures.origin import OriginHandle, start_origin

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "still there?"}]}


async def ask(origin: OriginHandle, key: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", "X-Prism-Cache": "no-store"}
    async with httpx.AsyncClient(base_url=origin.base_url, timeout=30) as client:
        return await client.post("/chat/completions", json=BODY, headers=headers)


async def key_id_of(origin: OriginHandle, project_id: str) -> str:
    conn = await asyncpg.connect(origin.dsn)
    try:
        return str(await conn.fetchval("select id from api_keys where project_id = $1", project_id))
    finally:
        await conn.close()


async def fresh_origin(origin_server: OriginHandle, tmp_path: Path) -> OriginHandle:
    service = await asyncio.to_thread(start_origin, origin_server.env, tmp_path)
    return OriginHandle(service, origin_server.env, origin_server.dsn)


async def test_an_origin_started_mid_outage_serves_the_keys_confirmed_before_it(
    origin_server: OriginHandle,
    origin_admin: httpx.AsyncClient,
    make_project: Any,
    sim: Any,
    postgrest_outage: Any,
    redis: aioredis.Redis,
    tmp_path: Path,
) -> None:
    served, revoked, capped = [await make_project(n) for n in ("noted", "revoked", "capped")]
    budget = {"limit_cents": "0.000001", "period": "month", "action": "block"}
    made = await origin_admin.post(f"/projects/{capped.id}/budgets", json=budget)
    assert made.status_code == 201, made.text
    over = await ask(origin_server, capped.api_key)
    assert over.status_code == 402, over.text
    for project in (served, revoked):
        assert (await ask(origin_server, project.api_key)).status_code == 200
    revoked_key_id = await key_id_of(origin_server, revoked.id)
    gone = await origin_admin.delete(f"/api_keys/{revoked_key_id}")
    assert gone.status_code == 200, gone.text
    # The note a worker that confirmed the key just before the revocation may write just
    # after it (its write is not waited for): the revocation must still win.
    late = Snapshots(
        origin_server.env["REDIS_URL"], master_key_from(origin_server.env["PRISM_MASTER_KEY"])
    )
    try:
        owner = Caller(revoked.org_id, revoked.id, revoked_key_id)
        await KeyNotes(late, 300).note(hash_api_key(revoked.api_key), owner)
    finally:
        await late.aclose()
    # A note for a key the store never confirmed, written by someone without the master key.
    stranger = generate_api_key()
    forged = {"value": [served.org_id, served.id, ""], "expires": 4_000_000_000, "mac": "0" * 64}
    await redis.set(snapshot_key(note_name(hash_api_key(stranger))), json.dumps(forged))
    async with postgrest_outage():
        restarted = await fresh_origin(origin_server, tmp_path)
        try:
            answer = await ask(restarted, served.api_key)
            assert answer.status_code == 200, answer.text
            # The budget still holds: the restarted worker read it from its snapshot.
            assert (await ask(restarted, capped.api_key)).status_code == 402
            # Cannot verify: neither served nor told "invalid", as before snapshots existed.
            for key in (stranger, revoked.api_key, generate_api_key()):
                answered = await ask(restarted, key)
                assert answered.status_code == 503, (key[:14], answered.text[:300])
        finally:
            await asyncio.to_thread(restarted.service.stop)
