"""The provider's share of a call is its wire time: from the request written to the answer's
last byte received, as the connection sees it, so the gateway's own client work (building the
request, parsing the answer) counts as the gateway's. Against the real simulator."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest_asyncio

from origin.observability import context
from origin.providers.http import open_session
from origin.providers.registry import endpoint_for
from origin.providers.transport import ProviderClient
from origin.providers.upstream_guard import UpstreamPolicy
from origin.providers.wire import WireTimedHandler, WireTimedResponse, after_sent, waited
from origin.settings import Secret, Settings
from tests.fixtures.simulator import SimHandle

SETTINGS = Settings(
    upstream_allowlist=("127.0.0.1",),
    connect_timeout_s=5,
    first_byte_timeout_s=10,
    total_timeout_s=30,
)
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


@pytest_asyncio.fixture
async def client() -> AsyncIterator[ProviderClient]:
    providers = ProviderClient(SETTINGS)
    yield providers
    await providers.aclose()


async def test_the_connection_times_each_exchange_on_it(sim: SimHandle) -> None:
    async with open_session(SETTINGS, UpstreamPolicy(SETTINGS.upstream_allowlist)) as session:
        stamps = []
        for _ in range(2):  # the second reuses the first's pooled connection
            before = time.perf_counter()
            response = await session.get(f"{sim.url}/_sim/requests")
            await response.read()
            after = time.perf_counter()
            # aiohttp built the connection from our protocol (a new aiohttp that stops using
            # the connector's factory fails here, not silently in the metrics).
            assert isinstance(response, WireTimedResponse)
            wire = response.wire
            assert isinstance(wire, WireTimedHandler)
            assert before < response.sent_at <= wire.received_at < after
            assert waited(response, before) == wire.received_at - response.sent_at
            stamps.append((response, wire, wire.received_at, before))
        (first, first_wire, first_received, first_before), (second, second_wire, _, _) = stamps
        assert first_wire is second_wire
        assert first.sent_at <= first_received < second.sent_at
        # The first exchange's connection has since carried another: it can no longer say, so
        # the first's wait is everything since it was asked.
        low = time.perf_counter() - first_before
        since_asked = waited(first, first_before)
        assert low <= since_asked <= time.perf_counter() - first_before


async def test_an_answer_records_its_wire_time_as_the_providers(
    client: ProviderClient, sim: SimHandle
) -> None:
    observation = context.begin()
    endpoint = endpoint_for("openai", Secret("sk-wire-test"), None, sim.url)
    before = time.perf_counter()
    completion = await client.complete(endpoint, "gpt-4o-mini", BODY)
    wall = time.perf_counter() - before
    assert completion.body["choices"]
    # Counted once, and less than the call took: encoding, sending and parsing are ours.
    assert 0 < observation.provider_s < wall


async def test_work_after_sent_runs_while_the_provider_holds_the_request(
    client: ProviderClient, sim: SimHandle
) -> None:
    """The gateway classifies a named model's request in this window: after the request is on
    the wire (so the provider works meanwhile) and before the answer is handed back."""
    endpoint = endpoint_for("openai", Secret("sk-wire-test"), None, sim.url)
    ran: list[float] = []
    with after_sent(lambda: ran.append(time.perf_counter())):
        async with open_session(SETTINGS, UpstreamPolicy(SETTINGS.upstream_allowlist)) as session:
            response = await session.get(f"{sim.url}/_sim/requests")
            await response.read()
        assert isinstance(response, WireTimedResponse) and response.wire is not None
        assert len(ran) == 1
        assert response.sent_at < ran[0] <= response.wire.received_at
        await client.complete(endpoint, "gpt-4o-mini", BODY)
        assert len(ran) == 2
    await client.complete(endpoint, "gpt-4o-mini", BODY)
    assert len(ran) == 2  # only within
