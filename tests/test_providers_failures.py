"""Failures through ProviderClient against the real simulator: statuses, hangs, broken streams.

Every error raised here is also checked for the endpoint's key in its message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from infra.local.proc import free_port
from origin.providers.base import Endpoint
from origin.providers.registry import endpoint_for
from origin.providers.transport import ProviderClient
from origin.settings import Secret, Settings
from shared.errors import (
    InvalidRequest,
    ModelNotFound,
    PayloadTooLarge,
    PrismError,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tests.fixtures.simulator import SimHandle

# The servers these tests call run on loopback, which provider calls reach only if allowed.
LOCAL = ("127.0.0.1",)

KEY = Secret("sk-failures-SECRET-5e4d3c2b1a")
MODEL = "sim-model"
BODY = {"messages": [{"role": "user", "content": "Tell me a long story about failure."}]}
FAMILIES = ["openai", "groq", "anthropic", "gemini"]


@pytest_asyncio.fixture(scope="module")
async def client() -> AsyncIterator[ProviderClient]:
    providers = ProviderClient(
        Settings(
            upstream_allowlist=LOCAL,
            connect_timeout_s=5,
            first_byte_timeout_s=10,
            total_timeout_s=30,
        )
    )
    yield providers
    await providers.aclose()


@pytest_asyncio.fixture(scope="module")
async def impatient() -> AsyncIterator[ProviderClient]:
    """A short first-byte limit, so a hanging upstream ends its test quickly."""
    providers = ProviderClient(
        Settings(
            upstream_allowlist=LOCAL,
            connect_timeout_s=5,
            first_byte_timeout_s=0.5,
            total_timeout_s=30,
        )
    )
    yield providers
    await providers.aclose()


def endpoint(sim: SimHandle, family: str, key: Secret = KEY) -> Endpoint:
    return endpoint_for(family, key, None, sim.url)


def assert_clean(error: PrismError) -> None:
    assert KEY.reveal() not in error.message
    assert KEY.reveal() not in str(error)


async def fail_complete(client: ProviderClient, ep: Endpoint, model: str = MODEL) -> PrismError:
    with pytest.raises(PrismError) as info:
        await client.complete(ep, model, BODY)
    assert_clean(info.value)
    return info.value


async def fail_open(client: ProviderClient, ep: Endpoint, model: str = MODEL) -> PrismError:
    with pytest.raises(PrismError) as info:
        async with client.stream(ep, model, {**BODY, "stream": True}, "c", 1):
            pytest.fail("the stream should not have opened")
    assert_clean(info.value)
    return info.value


async def fail_midstream(client: ProviderClient, ep: Endpoint) -> tuple[PrismError, int]:
    received = 0
    with pytest.raises(PrismError) as info:
        async with client.stream(ep, MODEL, {**BODY, "stream": True}, "c", 1) as stream:
            async for _ in stream:
                received += 1
    assert_clean(info.value)
    return info.value, received


STATUSES: list[tuple[int, type[PrismError], int]] = [
    (400, InvalidRequest, 400),
    (401, UpstreamError, 502),
    (403, UpstreamError, 502),
    (408, UpstreamTimeout, 504),
    (413, PayloadTooLarge, 413),
    (422, InvalidRequest, 400),
    (429, RateLimited, 429),
    (500, UpstreamUnavailable, 503),
    (502, UpstreamUnavailable, 503),
    (503, UpstreamUnavailable, 503),
    (504, UpstreamTimeout, 504),
    (529, UpstreamUnavailable, 503),
]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(
    ("status", "error_class", "http_status"), STATUSES, ids=[str(s[0]) for s in STATUSES]
)
@pytest.mark.parametrize("family", FAMILIES)
async def test_status_mapping(
    sim: SimHandle,
    client: ProviderClient,
    family: str,
    status: int,
    error_class: type[PrismError],
    http_status: int,
    stream: bool,
) -> None:
    sim.script({"kind": "status", "status": status, "retry_after": 3}, provider=family)
    ep = endpoint(sim, family)
    error = await (fail_open if stream else fail_complete)(client, ep)
    assert type(error) is error_class
    assert error.status == http_status
    assert family in error.message
    if status in (401, 403):
        assert error.code == "provider_auth_failed"
    if status in (429, 500, 502, 503, 529):
        # Passed to the client when nothing else answers: the SDKs wait that long to retry.
        assert error.retry_after == 3
        assert error.headers() == {"Retry-After": "3"}


@pytest.mark.parametrize("family", FAMILIES)
async def test_wrong_provider_key_is_named_as_such(
    sim: SimHandle, client: ProviderClient, family: str
) -> None:
    error = await fail_complete(client, endpoint(sim, family, key=Secret("")))
    assert isinstance(error, UpstreamError)
    assert error.code == "provider_auth_failed"
    assert family in error.message and "Prism key" in error.message


@pytest.mark.parametrize("family", FAMILIES)
async def test_unknown_model_is_model_not_found(
    sim: SimHandle, client: ProviderClient, family: str
) -> None:
    for fail in (fail_complete, fail_open):
        error = await fail(client, endpoint(sim, family), "nonexistent-model")
        assert isinstance(error, ModelNotFound)


@pytest.mark.parametrize("family", FAMILIES)
async def test_a_key_echoed_by_the_provider_is_scrubbed(
    sim: SimHandle, client: ProviderClient, family: str
) -> None:
    sim.script(
        {"kind": "status", "status": 400, "message": f"Bad request made with key {KEY.reveal()}"},
        provider=family,
    )
    error = await fail_complete(client, endpoint(sim, family))
    assert isinstance(error, InvalidRequest)
    assert "key ***" in error.message


@pytest.mark.parametrize("family", FAMILIES)
async def test_hang_is_a_timeout(sim: SimHandle, impatient: ProviderClient, family: str) -> None:
    sim.script({"kind": "hang"}, provider=family, times=2)
    assert isinstance(await fail_complete(impatient, endpoint(sim, family)), UpstreamTimeout)
    assert isinstance(await fail_open(impatient, endpoint(sim, family)), UpstreamTimeout)


async def test_slow_first_byte_past_the_limit_times_out(
    sim: SimHandle, impatient: ProviderClient
) -> None:
    sim.script({"kind": "slow_first_byte", "delay_ms": 3000}, provider="openai")
    assert isinstance(await fail_complete(impatient, endpoint(sim, "openai")), UpstreamTimeout)


async def test_total_timeout_cuts_a_slow_stream(sim: SimHandle) -> None:
    sim.configure(provider="anthropic", stream_chunk_delay_ms=800)
    providers = ProviderClient(
        Settings(upstream_allowlist=LOCAL, first_byte_timeout_s=10, total_timeout_s=2)
    )
    try:
        error, received = await fail_midstream(providers, endpoint(sim, "anthropic"))
    finally:
        await providers.aclose()
    assert isinstance(error, UpstreamTimeout)
    assert received >= 1  # it opened fine; the whole-exchange limit ended it


@pytest.mark.parametrize("family", FAMILIES)
async def test_midstream_disconnect(sim: SimHandle, client: ProviderClient, family: str) -> None:
    sim.script({"kind": "disconnect", "after_chunks": 2}, provider=family)
    error, received = await fail_midstream(client, endpoint(sim, family))
    assert isinstance(error, UpstreamError)
    assert received >= 1


@pytest.mark.parametrize("family", FAMILIES)
async def test_dropped_connection_before_an_answer_is_unavailable(
    sim: SimHandle,
    client: ProviderClient,
    family: str,
) -> None:
    sim.script({"kind": "disconnect"}, provider=family)
    assert isinstance(await fail_complete(client, endpoint(sim, family)), UpstreamUnavailable)


@pytest.mark.parametrize("family", FAMILIES)
async def test_malformed_chunk(sim: SimHandle, client: ProviderClient, family: str) -> None:
    sim.script({"kind": "malformed_chunk"}, provider=family, times=2)
    error, received = await fail_midstream(client, endpoint(sim, family))
    assert isinstance(error, UpstreamError) and error.code == "upstream_bad_response"
    assert received >= 1
    error = await fail_complete(client, endpoint(sim, family))
    assert isinstance(error, UpstreamError) and error.code == "upstream_bad_response"


@pytest.mark.parametrize("family", FAMILIES)
async def test_nothing_listening_is_unavailable(client: ProviderClient, family: str) -> None:
    ep = endpoint_for(family, KEY, None, f"http://127.0.0.1:{free_port()}")
    assert isinstance(await fail_complete(client, ep), UpstreamUnavailable)
    assert isinstance(await fail_open(client, ep), UpstreamUnavailable)


@pytest.mark.parametrize(
    ("family", "body"),
    [
        ("anthropic", {"messages": [{"role": "user", "content": "hi"}], "n": 3}),
        (
            "gemini",
            {
                "messages": [
                    {"role": "assistant", "tool_calls": [{"id": "1", "function": "f"}]},
                    {"role": "user", "content": "hi"},
                ]
            },
        ),
        ("openai", {"messages": [{"role": "user", "content": "hi"}], "seed": 2**70}),
    ],
    ids=["inexpressible", "malformed-shape", "unencodable"],
)
async def test_invalid_requests_fail_before_any_io(
    sim: SimHandle, client: ProviderClient, family: str, body: dict[str, Any]
) -> None:
    with pytest.raises(InvalidRequest):
        await client.complete(endpoint(sim, family), MODEL, body)
    with pytest.raises(InvalidRequest):
        async with client.stream(endpoint(sim, family), MODEL, body, "c", 1):
            pass
    assert sim.requests(family) == []


async def test_a_stream_can_be_abandoned_and_the_client_reused(
    sim: SimHandle, client: ProviderClient
) -> None:
    ep = endpoint(sim, "openai")
    async with client.stream(ep, MODEL, {**BODY, "stream": True}, "c", 1) as stream:
        async for _ in stream:
            break
    completion = await client.complete(ep, MODEL, BODY)
    assert completion.body["choices"][0]["finish_reason"] == "stop"
