"""Where a provider key may be sent: public addresses, or what the operator allow-listed.

A project's custom base URL decides where its decrypted key goes, so a URL pointing at this
machine, the private network or a cloud metadata service (169.254.169.254) would turn the
gateway into a way to reach them with a credential attached. Such URLs, and URLs carrying
credentials of their own (user:pass@), are refused unless `PRISM_UPSTREAM_ALLOWLIST` names
the host, as `make run` and the test fixtures do for the local provider simulator.

Checked when a key is added (URL and, if it resolves, its addresses) and on every call: the
URL here, and each address a host name resolves to in `GuardedResolver`, at connection time,
so a DNS answer that changes later is checked too.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Names that always mean this machine or the cloud's metadata service, whatever DNS says.
_INTERNAL_NAMES: Final = frozenset({"localhost", "metadata", "metadata.google.internal"})
_INTERNAL_SUFFIXES: Final = (".localhost", ".internal", ".local")
ADD_TIME_RESOLVE_S: Final = 2.0
_ACCEPTED_URLS: Final = 1024
_NUMERIC_LABEL: Final = re.compile(r"(?i)0x[0-9a-f]*|[0-9]+")


ADDRESS_REFUSED_CODE: Final = "upstream_address_refused"


class UpstreamRefused(ValueError):
    """A base URL or address the key must not be sent to; the message says why."""


class AddressRefused(OSError):
    """Raised inside aiohttp's connect, so it arrives wrapped in its connector error."""


@dataclass(frozen=True)
class _Entry:
    host: str | None
    network: IPNetwork | None
    port: int | None


def _parse_entry(text: str) -> _Entry:
    text = text.strip()
    try:
        return _Entry(None, ipaddress.ip_network(text, strict=False), None)
    except ValueError:
        pass
    parts = urlsplit(text if "//" in text else f"//{text}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise ValueError(f"PRISM_UPSTREAM_ALLOWLIST entry {text!r}: {exc}") from None
    if not host:
        raise ValueError(f"PRISM_UPSTREAM_ALLOWLIST entry {text!r} names no host")
    return _Entry(_normal_host(host), None, port)


def _normal_host(host: str) -> str:
    host = host.lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def _address(host: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _why_blocked(address: IPAddress) -> str | None:
    if address.is_global and not address.is_multicast:
        return None
    for kind in ("loopback", "link_local", "private", "multicast", "unspecified", "reserved"):
        if getattr(address, f"is_{kind}"):
            return f"a {kind.replace('_', '-')} address"
    return "not a public address"


class UpstreamPolicy:
    """The operator's allow-list and the rules (fixed once built from the settings), and the URLs
    already found acceptable under them."""

    __slots__ = ("_accepted", "_entries")

    def __init__(self, allowlist: tuple[str, ...] = ()) -> None:
        self._entries = tuple(_parse_entry(e) for e in allowlist if e.strip())
        # URLs already found acceptable: the verdict depends only on the URL and the fixed
        # allowlist, and every provider call checks its URL (13 µs a parse).
        self._accepted: dict[str, None] = {}

    def allows(self, host: str, port: int | None, address: IPAddress | None = None) -> bool:
        name = _normal_host(host)
        for entry in self._entries:
            if entry.port is not None and entry.port != port:
                continue
            if entry.host is not None and entry.host == name:
                return True
            if entry.network is not None and address is not None and address in entry.network:
                return True
        return False

    def check_url(self, url: str) -> None:
        """Refuse a URL whose scheme, credentials, literal address or name is not allowed."""
        if url in self._accepted:
            return
        self._check_url(url)
        if len(self._accepted) >= _ACCEPTED_URLS:
            self._accepted.clear()
        self._accepted[url] = None

    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise UpstreamRefused("only http(s) URLs can be provider endpoints")
        try:
            host, port = parts.hostname or "", parts.port or _default_port(parts.scheme)
        except ValueError:
            raise UpstreamRefused("the URL's port is not a number from 0 to 65535") from None
        if not host:
            raise UpstreamRefused("the URL names no host")
        address = _address(host)
        if self.allows(host, port, address):
            return
        if parts.username is not None or parts.password is not None:
            raise UpstreamRefused("the URL carries credentials (user:password@)")
        if address is not None:
            self.check_address(host, port, address)
            return
        name = host.rstrip(".")
        if name in _INTERNAL_NAMES or name.endswith(_INTERNAL_SUFFIXES):
            raise UpstreamRefused(f"{host} names this machine or an internal service")
        if _NUMERIC_LABEL.fullmatch(name.rpartition(".")[2]):
            # No top-level domain is numeric: this is an address in a legacy form (127.1,
            # 2130706433, 0x7f.1) that resolvers would quietly map onto a real address.
            raise UpstreamRefused(f"{host} is an address in a non-canonical form")

    def check_address(self, host: str, port: int | None, address: IPAddress) -> None:
        why = _why_blocked(address)
        if why is not None and not self.allows(host, port, address):
            raise UpstreamRefused(
                f"{host} is {why} ({address}); an operator can allow it in PRISM_UPSTREAM_ALLOWLIST"
            )

    async def check_base_url(self, url: str) -> None:
        """When a key is added: the URL, and the addresses its host resolves to right now
        (a name that does not resolve yet is checked again on every call)."""
        self.check_url(url)
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or _default_port(parts.scheme)
        if _address(host) is not None or self.allows(host, port):
            return
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(ADD_TIME_RESOLVE_S):
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError):
            return
        for info in infos:
            address = _address(str(info[4][0]))
            if address is not None:
                self.check_address(host, port, address)


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing a name any of whose addresses the policy forbids.

    aiohttp connects only to the addresses returned here, so what was checked is what is
    reached; literal IP hosts never come here and are checked by `check_url` instead.
    """

    def __init__(self, policy: UpstreamPolicy) -> None:
        self._policy = policy
        self._inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            address = _address(result["host"])
            if address is None:
                raise AddressRefused(errno.EACCES, f"refused: {host} resolved to a non-address")
            try:
                self._policy.check_address(host, port, address)
            except UpstreamRefused as exc:
                raise AddressRefused(errno.EACCES, f"refused: {exc}") from None
        return results

    async def close(self) -> None:
        await self._inner.close()
