"""Upstream error responses turned into our errors, the same way for every provider.

Providers disagree on error bodies only in detail (all three families put the text at
`error.message`), and on how they say when to retry. The status decides our error class:
that is what routing looks at to choose between failing over and giving up. Our own errors
for a call get the endpoint's key cut out here too, since a message may quote what it was sent.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

import orjson

from origin.providers.base import Endpoint
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

# What reading a well-formed but oddly shaped upstream body can raise inside an adapter.
UNEXPECTED_SHAPE: Final = (KeyError, IndexError, TypeError, ValueError, AttributeError)
MAX_MESSAGE_CHARS: Final = 500
AUTH_FAILED_CODE: Final = "provider_auth_failed"
BAD_RESPONSE_CODE: Final = "upstream_bad_response"
# Anthropic tells when each rate-limit bucket refills instead of (or as well as) Retry-After.
_RATE_BUCKETS: Final = tuple(
    f"anthropic-ratelimit-{bucket}"
    for bucket in ("requests", "tokens", "input-tokens", "output-tokens")
)


def upstream_message(payload: bytes) -> str:
    """A summary of an upstream error body: the provider's error type and message, truncated
    and with anything credential-shaped cut out. The body itself is never passed on: a
    provider (or a proxy in front of it) may echo the request's key or headers in it."""
    try:
        body: Any = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return f"(an error body of {len(payload)} bytes that is not JSON)"
    if isinstance(body, list) and body:  # Gemini's non-SSE stream wraps errors in an array.
        body = body[0]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        return redacted(truncate(error))
    source = error if isinstance(error, dict) else body if isinstance(body, dict) else {}
    message = source.get("message")
    kind = source.get("type") or source.get("status") or source.get("code")
    parts = [str(p) for p in (kind, message) if isinstance(p, (str, int)) and str(p)]
    if not parts:
        return f"(an error body of {len(payload)} bytes without a message)"
    return redacted(truncate(": ".join(parts)))


# Credentials as providers echo them: a bearer token, or a key-shaped word (sk-..., AIza...).
_CREDENTIAL: Final = re.compile(
    r"(?i)\b(bearer|basic)\s+\S+|\b(sk|pk|rk|ak|key|AIza)[-_A-Za-z0-9]{12,}|[A-Za-z0-9_-]{32,}"
)


def redacted(text: str) -> str:
    return _CREDENTIAL.sub(lambda m: f"{m[1]} ***" if m[1] else "***", text)


# The shortest start of a key, left at the end of a truncated message, that is cut out: any
# shorter is as likely to be the message's own words.
MIN_SCRUBBED_PREFIX: Final = 4


def truncate(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the provider asked us to wait, from whichever header it used; None if none."""
    lowered = {k.lower(): v for k, v in headers.items()}
    now = time.time() if now is None else now
    millis = _number(lowered.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    header = lowered.get("retry-after")
    if header is not None:
        seconds = _number(header)
        if seconds is not None:
            return seconds
        when = _http_date(header)
        if when is not None:
            return max(0.0, when - now)
    reset = _bucket_reset(lowered)
    return None if reset is None else max(0.0, reset - now)


def _bucket_reset(headers: Mapping[str, str]) -> float | None:
    """When the exhausted rate-limit bucket refills; the latest reset if none says which."""
    resets = {
        b: t for b in _RATE_BUCKETS if (t := _iso_time(headers.get(f"{b}-reset"))) is not None
    }
    empty = [t for b, t in resets.items() if headers.get(f"{b}-remaining", "").strip() == "0"]
    candidates = empty or list(resets.values())
    return max(candidates) if candidates else None


def map_status(
    provider: str,
    status: int,
    payload: bytes,
    headers: Mapping[str, str],
    wait_hint: Callable[[bytes], float | None] | None = None,
) -> PrismError:
    """Our error for an upstream error status; `wait_hint` reads a retry delay from the body."""
    if status in (401, 403):
        # The upstream text often echoes part of the key, so it is never passed on.
        return UpstreamError(
            f"{provider} rejected the provider API key configured for this project "
            f"(HTTP {status}); check that key, not your Prism key",
            code=AUTH_FAILED_CODE,
        )
    detail = upstream_message(payload)
    if status in (400, 422):
        return InvalidRequest(f"{provider} rejected the request: {detail}")
    if status == 404:
        return ModelNotFound(f"{provider} did not find the model or endpoint: {detail}")
    if status in (408, 504):
        return UpstreamTimeout(f"{provider} timed out (HTTP {status}): {detail}")
    if status == 413:
        return PayloadTooLarge(f"{provider} said the request is too large: {detail}")
    if status == 429:
        wait = retry_after(headers)
        if wait is None and wait_hint is not None:
            wait = wait_hint(payload)
        return RateLimited(f"{provider} rate limit reached: {detail}", retry_after=wait)
    if status in (500, 502, 503, 529):
        # Passed on when no other model answers: the SDKs wait that long before retrying.
        return UpstreamUnavailable(
            f"{provider} is unavailable (HTTP {status}): {detail}", retry_after=retry_after(headers)
        )
    return UpstreamError(f"{provider} answered HTTP {status}: {detail}")


def bad_response(provider: str, what: str, payload: Any = None) -> UpstreamError:
    """A provider answered 200 but with something we cannot use (or an in-stream error)."""
    detail = ""
    if isinstance(payload, dict):
        detail = upstream_message(orjson.dumps(payload))
    suffix = f": {detail}" if detail else ""
    return UpstreamError(f"{provider} {what}{suffix}", code=BAD_RESPONSE_CODE)


def total_timeout(provider: str, seconds: float) -> UpstreamTimeout:
    return UpstreamTimeout(f"{provider} did not finish within {seconds:g}s")


def scrubbed(exc: PrismError, endpoint: Endpoint) -> PrismError:
    """The same error with the endpoint's key cut out of its message, wherever it came from:
    whole, or its start where `truncate` cut the message inside an echoed key."""
    key = endpoint.api_key.reveal()
    message = exc.message.replace(key, "***") if key else exc.message
    if key and message.endswith("…"):
        cut = message[:-1]
        for length in range(min(len(key) - 1, len(cut)), MIN_SCRUBBED_PREFIX - 1, -1):
            if cut.endswith(key[:length]):
                message = cut[:-length] + "***…"
                break
    if message != exc.message:
        exc.message = message
        exc.args = (message,)
    return exc


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _http_date(text: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _iso_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        return None
