"""Every keyed route counts bad keys against the client's address, not only chat completions:
a route that did not would let one address guess keys without limit (README, Bad keys)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fixtures.origin import OriginHandle, start_origin

PER_MINUTE = 3
ROUTES = [
    ("POST", "/v1/chat/completions", {"model": "gpt-4o-mini", "messages": []}),
    ("GET", "/v1/models", None),
    ("GET", "/v1/models/gpt-4o-mini", None),
    ("POST", "/v1/feedback", {"feedback_id": "req_0000000000000000000000000000", "score": 1}),
    ("DELETE", "/v1/sessions/s-1", None),
]


@pytest.fixture
def origin(
    origin_env: dict[str, str], pg: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OriginHandle]:
    """A fresh origin per test: the throttle counts per process, and every client here is
    127.0.0.1, so one test's bad keys must not count against the next."""
    env = {**origin_env, "PRISM_AUTH_FAILURES_PER_MINUTE": str(PER_MINUTE)}
    service = start_origin(env, tmp_path_factory.mktemp("bad-key-origin"))
    try:
        yield OriginHandle(service, env, pg.dsn)
    finally:
        service.stop()


async def send(origin: OriginHandle, method: str, path: str, body: Any, key: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        headers = {"Authorization": f"Bearer {key}"}
        return await client.request(method, origin.url + path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_bad_keys_on_any_keyed_route_slow_the_address_down(
    origin: OriginHandle, make_project: Any, method: str, path: str, body: Any
) -> None:
    project = await make_project("bad-key-routes")
    # The count lives in fixed minutes: start far from the next one, so the bad keys below
    # all land in one minute.
    if time.time() % 60 > 45:
        await asyncio.sleep(60 - time.time() % 60)
    for n in range(PER_MINUTE):
        refused = await send(origin, method, path, body, f"prism_sk_guess-{uuid.uuid4().hex}-{n}")
        assert refused.status_code == 401, refused.text
    throttled = await send(origin, method, path, body, f"prism_sk_guess-{uuid.uuid4().hex}")
    assert throttled.status_code == 429, throttled.text
    assert throttled.json()["error"]["code"] == "rate_limited"
    assert int(throttled.headers["retry-after"]) >= 1
    # A real key this process has not seen yet waits too: the address is guessing.
    unseen = await send(origin, method, path, body, project.api_key)
    assert unseen.status_code == 429, unseen.text
