"""Where a provider key may be sent: the URL policy as a table, and the call-time check through
the real transport against the simulator (on loopback, so refused unless allow-listed)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from origin.providers.base import Endpoint
from origin.providers.transport import ProviderClient
from origin.providers.upstream_guard import ADDRESS_REFUSED_CODE, UpstreamPolicy, UpstreamRefused
from origin.settings import Secret, Settings
from shared.errors import UpstreamUnavailable

REFUSED = [
    "http://127.0.0.1:8080/v1",
    "http://127.1/v1",
    "http://2130706433/v1",
    "http://0x7f.0.0.1/v1",
    "http://[::1]/v1",
    "http://[::ffff:127.0.0.1]/v1",
    "http://169.254.169.254/latest/meta-data",
    "http://[fd00:ec2::254]/",
    "http://100.100.100.200/",
    "http://10.0.0.1/",
    "http://172.16.5.4/v1",
    "http://192.168.1.10:11434/v1",
    "http://0.0.0.0/",
    "http://localhost:11434/v1",
    "http://api.localhost/v1",
    "http://metadata.google.internal/computeMetadata/v1",
    "http://user:pw@llm.example.com/v1",
    "https://token@llm.example.com/v1",
    "ftp://llm.example.com/",
    "file:///etc/passwd",
]
ALLOWED = [
    "https://api.openai.com/v1",
    "https://llm.example.com/v1",
    "http://8.8.8.8/v1",
    "https://[2606:4700::1111]/v1",
]


@pytest.mark.parametrize("url", REFUSED)
def test_non_public_or_credentialed_urls_are_refused(url: str) -> None:
    with pytest.raises(UpstreamRefused):
        UpstreamPolicy().check_url(url)


@pytest.mark.parametrize("url", ALLOWED)
def test_public_urls_pass(url: str) -> None:
    UpstreamPolicy().check_url(url)


@pytest.mark.parametrize(
    ("allowlist", "url", "allowed"),
    [
        (("127.0.0.1:8080",), "http://127.0.0.1:8080/v1", True),
        (("127.0.0.1:8080",), "http://127.0.0.1:8081/v1", False),  # another port is another host
        (("http://127.0.0.1:8080",), "http://127.0.0.1:8080/p/openai/v1", True),
        (("10.0.0.0/8",), "http://10.1.2.3:9000/v1", True),
        (("10.0.0.0/8",), "http://169.254.169.254/", False),
        (("ollama.internal",), "http://ollama.internal:11434/v1", True),
        (("[::1]:8080",), "http://[::1]:8080/v1", True),
        (("proxy.corp:3128",), "http://u:p@proxy.corp:3128/v1", True),  # the operator said so
    ],
)
def test_the_allowlist_opens_exactly_what_it_names(
    allowlist: tuple[str, ...], url: str, allowed: bool
) -> None:
    policy = UpstreamPolicy(allowlist)
    if allowed:
        policy.check_url(url)
    else:
        with pytest.raises(UpstreamRefused):
            policy.check_url(url)


@pytest.mark.parametrize("entry", ["http://", "host:port", ":80"])
def test_a_malformed_allowlist_entry_stops_start_up(entry: str) -> None:
    with pytest.raises(ValueError):
        UpstreamPolicy((entry,))


def loopback_name() -> str:
    """This machine's own name, which no list of internal names knows: only resolving it
    shows that it is loopback."""
    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, 80)}
    except OSError:
        addresses = set()
    if not addresses or not all(ipaddress.ip_address(a).is_loopback for a in addresses):
        pytest.skip(f"{name} does not resolve to loopback here")
    return name


async def test_names_are_resolved_and_checked_when_a_key_is_added() -> None:
    with pytest.raises(UpstreamRefused, match="loopback"):
        await UpstreamPolicy().check_base_url(f"http://{loopback_name()}:9/v1")
    # A name that does not resolve here is checked again, on each call, when it does.
    await UpstreamPolicy().check_base_url("https://no-such-host.invalid/v1")


def client(allowlist: tuple[str, ...]) -> ProviderClient:
    return ProviderClient(Settings(upstream_allowlist=allowlist, total_timeout_s=10))


CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def endpoint(url: str) -> Endpoint:
    return Endpoint("mine", "openai", url, Secret("sk-guarded-0123456789"), "custom")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "own-name"])
async def test_calls_to_loopback_are_refused_unless_allowed(sim: Any, host: str) -> None:
    """own-name passes the URL check and is refused where aiohttp resolves it, at connect."""
    host = loopback_name() if host == "own-name" else host
    port = sim.url.rsplit(":", 1)[1]
    providers = client(())
    try:
        with pytest.raises(UpstreamUnavailable) as info:
            await providers.complete(endpoint(f"http://{host}:{port}/p/mine/v1"), "m", CHAT)
    finally:
        await providers.aclose()
    assert "refused" in info.value.message and info.value.code == ADDRESS_REFUSED_CODE
    assert sim.requests() == []  # the key never left


@pytest.mark.parametrize("allow", ["127.0.0.1:{port}", "localhost:{port}", "127.0.0.0/8"])
async def test_an_allow_listed_endpoint_is_called(sim: Any, allow: str) -> None:
    port = sim.url.rsplit(":", 1)[1]
    host = "localhost" if allow.startswith("localhost") else "127.0.0.1"
    providers = client((allow.format(port=port),))
    try:
        completion = await providers.complete(
            endpoint(f"http://{host}:{port}/p/mine/v1"), "m", CHAT
        )
    finally:
        await providers.aclose()
    assert completion.body["choices"]
    assert len(sim.requests("mine")) == 1


async def test_a_refusal_is_marked_for_failover(sim: Any) -> None:
    providers = client(())
    try:
        with pytest.raises(UpstreamUnavailable) as info:
            await providers.complete(endpoint("http://169.254.169.254/v1"), "m", CHAT)
    finally:
        await providers.aclose()
    assert info.value.code == ADDRESS_REFUSED_CODE
