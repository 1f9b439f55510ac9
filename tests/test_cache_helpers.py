"""Helpers the cache tests share: raw chat calls, and waiting for a background store to land.

(No tests here; pytest collects the module and finds none.)
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from redis.asyncio import Redis
from upstash_vector import AsyncIndex

from shared.cache_entry import exact_key

MODEL = "gpt-4o-mini"
STORE_WAIT_S = 15.0


def chat_body(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **extra}


async def chat(origin: Any, project: Any, body: dict[str, Any], **headers: str) -> httpx.Response:
    """POST /v1/chat/completions; `headers` use underscores for dashes (X_Prism_Cache=...)."""
    sent = {
        "authorization": f"Bearer {project.api_key}",
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(f"{origin.base_url}/chat/completions", json=body, headers=sent)
    return response


def content(response: httpx.Response) -> str:
    return str(response.json()["choices"][0]["message"]["content"])


async def cached_keys(redis_url: str, project_id: str) -> list[str]:
    redis = Redis.from_url(redis_url)
    try:
        keys = [k.decode() async for k in redis.scan_iter(match=exact_key(project_id, "*"))]
    finally:
        await redis.aclose()
    return keys


async def wait_cached(
    redis_url: str, project_id: str, entries: int = 1, vectors: AsyncIndex | None = None
) -> list[str]:
    """The project's exact keys once `entries` exist (and as many vectors, if `vectors`)."""
    deadline = time.monotonic() + STORE_WAIT_S
    while True:
        keys = await cached_keys(redis_url, project_id)
        count = (
            len(keys)
            if vectors is None
            else min(len(keys), await vector_count(vectors, project_id))
        )
        if count >= entries or time.monotonic() > deadline:
            return keys
        await asyncio.sleep(0.05)


async def vector_count(index: AsyncIndex, project_id: str) -> int:
    info = await index.info()
    space = info.namespaces.get(project_id)
    return int(space.vector_count) if space is not None else 0


async def settle(origin: Any) -> None:
    """Wait until the origin has no background store in flight (its stats stop moving)."""
    previous: dict[str, int] | None = None
    deadline = time.monotonic() + STORE_WAIT_S
    while time.monotonic() < deadline:
        now = await stats(origin)
        if now == previous:
            return
        previous = now
        await asyncio.sleep(0.2)


async def stats(origin: Any) -> dict[str, int]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{origin.url}/admin/v1/cache/stats", headers=admin(origin))
    response.raise_for_status()
    return dict(response.json())


def admin(origin: Any) -> dict[str, str]:
    return {"authorization": f"Bearer {origin.env['PRISM_ADMIN_TOKEN']}"}
