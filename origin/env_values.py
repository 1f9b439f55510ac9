"""How one environment variable's text becomes a typed setting, and is shown again.

Each parser takes the variable's name so its error can name it; a secret is wrapped at once so
that no later log line, repr or traceback can show it. `prism config` prints each value the way
its variable is written, so a line can be pasted back into a .env file.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

MASTER_KEY_BYTES = 32


class SettingsError(ValueError):
    """A variable that is set but unusable; the message names it (and never a secret's value)."""


class Secret:
    """A credential that never shows itself in logs, reprs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Variable:
    name: str
    field: str
    parse: Callable[[str, str], Any]
    doc: str


def text(name: str, raw: str) -> str:
    return raw


def url(name: str, raw: str) -> str:
    """An http(s) URL with a host, checked here so a bad one stops start-up, not a request.

    The value is never echoed: a URL may carry a password."""
    parts = _split(raw)
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{name} is not a valid http:// or https:// URL")
    return raw.rstrip("/")


def redis_url(name: str, raw: str) -> str:
    parts = _split(raw)
    if parts is None or parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise SettingsError(f"{name} is not a valid redis:// or rediss:// URL")
    database = parts.path.strip("/")
    if database and not database.isdigit():
        raise SettingsError(f"{name} is not a valid redis:// URL (its path is a database number)")
    return raw


def _split(raw: str) -> SplitResult | None:
    """The URL's parts, or None when it does not parse (a bad IPv6 host, a port out of range)."""
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - parsed lazily: reading it is the check
    except ValueError:
        return None
    return parts


def secret(name: str, raw: str) -> Secret:
    return Secret(raw)


def master_key(name: str, raw: str) -> Secret:
    """The key's shape is checked at start-up; a bad one would otherwise only fail when the
    first provider key is sealed or opened. Only its length is ever shown."""
    if decode_key(raw) is None:
        raise SettingsError(
            f"{name} must be {MASTER_KEY_BYTES} bytes written as base64 or hex (got "
            f"{len(raw)} characters that decode to neither; `prism master-key` makes one)"
        )
    return Secret(raw)


def decode_key(text: str) -> bytes | None:
    """MASTER_KEY_BYTES from hex or base64 (standard or URL-safe) text, else None."""
    for key in (_from_hex(text), _from_base64(text)):
        if key is not None and len(key) == MASTER_KEY_BYTES:
            return key
    return None


def _from_hex(text: str) -> bytes | None:
    if len(text) != 2 * MASTER_KEY_BYTES:
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def _from_base64(text: str) -> bytes | None:
    padded = text + "=" * (-len(text) % 4)
    altchars = b"-_" if ("-" in text or "_" in text) else None
    try:
        return base64.b64decode(padded.encode("ascii"), altchars=altchars, validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None


def integer(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 0:
        raise SettingsError(f"{name} must not be negative, got {raw!r}")
    return value


def number(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not value >= 0 or value == float("inf"):
        raise SettingsError(f"{name} must be a finite number >= 0, got {raw!r}")
    return value


def millis(name: str, raw: str) -> float:
    return number(name, raw) / 1000


def flag(name: str, raw: str) -> bool:
    word = raw.lower()
    if word in ("1", "on", "true", "yes"):
        return True
    if word in ("0", "off", "false", "no"):
        return False
    raise SettingsError(f"{name} must be on or off, got {raw!r}")


def items(name: str, raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def path(name: str, raw: str) -> Path:
    return Path(raw)


def choice(*allowed: str, upper: bool = False) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.upper() if upper else raw.lower()
        if value not in allowed:
            raise SettingsError(f"{name} must be one of {', '.join(allowed)}; got {raw!r}")
        return value

    return parse


# The password of a URL's userinfo ("rediss://default:<password>@host"): deployments put the
# Upstash password in REDIS_URL, and collectors take basic auth in the OTLP endpoint.
_URL_PASSWORD = re.compile(r"(?<=://)([^/@:]*):[^/@]*@")
# The same secret given as a query parameter, which redis-py reads too
# ("redis://host:6379/0?password=<password>"), as do collectors that take a token that way.
_QUERY_SECRET = re.compile(
    r"(?i)([?&](?:password|passwd|pass|pwd|token|access_token|secret|key|api_key|apikey)=)[^&#]*"
)


def shown(value: object, parse: Callable[[str, str], Any]) -> str:
    """The value as its variable is written, so a line of `prism config` can be pasted back
    (secrets and a URL's password aside: those print as ***)."""
    if isinstance(value, Secret):
        return "***" if value else ""
    if parse in (url, redis_url) and isinstance(value, str):
        return _QUERY_SECRET.sub(r"\1***", _URL_PASSWORD.sub(r"\1:***@", value))
    if parse is millis and isinstance(value, float):
        return f"{value * 1000:g}"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(str(item) for item in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
