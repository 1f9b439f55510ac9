"""Validating what an operator types: shared by the admin API and the `prism` CLI, so both
accept exactly the same input and say the same thing about a bad value."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from origin.providers.registry import PROVIDERS
from origin.providers.upstream_guard import UpstreamPolicy, UpstreamRefused
from origin.settings import Settings
from origin.store import TAG_KEY
from shared.errors import InvalidRequest

MAX_NAME = 200
MAX_SECRET = 4096
SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# A provider key's last four characters are shown again (dashboard, REST), but only of a key
# long enough that four characters say little: of a short one they are most of the secret.
MIN_HINTED_SECRET = 16


def key_hint(secret: str) -> str | None:
    """What may be shown of a provider key once stored: its last four characters, or nothing."""
    return secret[-4:] if len(secret) >= MIN_HINTED_SECRET else None


def text_field(
    body: dict[str, Any],
    field: str,
    *,
    required: bool,
    limit: int = MAX_NAME,
    pattern: re.Pattern[str] | None = None,
) -> str | None:
    """A validated, stripped string field."""
    value = body.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidRequest(
            f"'{field}' must be a non-empty string of at most {limit} characters.", param=field
        )
    value = value.strip()
    if pattern is not None and not pattern.fullmatch(value):
        raise InvalidRequest(
            f"'{field}' may hold only letters, digits, '.', '_' and '-'.", param=field
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidRequest(f"'{field}' must not contain control characters.", param=field)
    return value


def base_url_field(body: dict[str, Any]) -> str | None:
    value = text_field(body, "base_url", required=False, limit=2048)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest("'base_url' must be an http(s) URL.", param="base_url")
    return value.rstrip("/")


async def checked_base_url(base_url: str | None, settings: Settings) -> None:
    """Refuse a base URL a provider key must not be sent to (see providers/upstream_guard)."""
    if base_url is None:
        return
    try:
        await UpstreamPolicy(settings.upstream_allowlist).check_base_url(base_url)
    except UpstreamRefused as exc:
        raise InvalidRequest(f"'base_url' is refused: {exc}.", param="base_url") from None


def check_destination(provider: str, base_url: str | None) -> None:
    """A provider Prism has no URL for needs its base URL: a key without one could never be
    called (every request would skip it, saying so only in the gateway's log)."""
    if base_url is None and provider not in PROVIDERS:
        raise InvalidRequest(
            f"'provider' {provider!r} is not one Prism knows ({', '.join(sorted(PROVIDERS))}); "
            "give the base_url of its OpenAI-compatible endpoint.",
            param="provider",
        )


def name_taken(name: str) -> str:
    """What adding a provider key under a name the project already uses is told (rather than
    the database's constraint name)."""
    return (
        f"A provider key named {name!r} already exists in this project: change it with "
        f"`prism providers update` (PATCH .../provider_keys/{name}), or remove it first."
    )


def parse_since(text: str | None) -> str | None:
    """An ISO-8601 timestamp (a date alone means its midnight UTC), normalised for PostgREST."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidRequest(
            "'since' must be an ISO-8601 date or timestamp.", param="since"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def parse_tag_filter(text: str | None) -> tuple[str, str] | None:
    """`key=value` -> (key, value)."""
    if text is None:
        return None
    key, sep, value = text.partition("=")
    if not sep or not TAG_KEY.fullmatch(key.strip()) or not value.strip():
        raise InvalidRequest(
            "A tag filter is key=value, the key made of letters, digits, '_' or '-'.", param="tag"
        )
    return key.strip(), value.strip()
