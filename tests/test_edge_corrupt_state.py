"""A cached answer in Upstash Redis that the edge cannot pass on (garbage, another shape,
another Redis type) is a miss at the edge: the request goes on to the origin untouched and
the edge writes no row for it (the origin writes the request's one row). The edge in CPython
against the real stand-ins and a recording stand-in origin."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.cache_entry import exact_key
from shared.fingerprint import fingerprint
from tests.edge.httpx_client import HttpxClient
from tests.fixtures.edge import EdgeDriver, chat
from tests.test_edge_cache import rows
from tests.test_origin_corrupt_state import CACHE, Corrupt, corrupted


@pytest.fixture
async def project(make_project: Any) -> Any:
    return await make_project("edge-corrupt")


@pytest.mark.parametrize("corrupt", CACHE)
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "stream"])
async def test_a_corrupt_entry_goes_on_to_the_origin(
    http: HttpxClient,
    edge_bindings: dict[str, str],
    edge_upstream: str,
    project: Any,
    redis_server: Any,
    pg: Any,
    corrupt: Corrupt,
    streamed: bool,
) -> None:
    marker = uuid.uuid4().hex
    body = chat(f"Which river flows through Vienna? {marker}", stream=streamed)
    await corrupted(redis_server.url, exact_key(project.id, fingerprint(project.id, body)), corrupt)
    edge = EdgeDriver(http, {"ORIGIN_URL": edge_upstream, **edge_bindings})
    response = await edge.send(project.api_key, body)
    assert response.header("x-upstream") == "echo"
    assert len(await edge.forwarded(marker)) == 1
    assert await rows(pg, project.id) == []
