"""The OpenAI error envelope and the error types both tiers raise.

Clients built on OpenAI SDKs map the HTTP status to an exception class and read
`error.message`/`error.code`, so every error either tier returns has exactly this shape.
"""

from __future__ import annotations

import math
from typing import Any

# A bug of ours, not the client's or a provider's: what its envelope and usage row say.
INTERNAL_ERROR = "internal_error"


class PrismError(Exception):
    """An error a client should see: status, OpenAI error type, machine-readable code."""

    status = 500
    type = "api_error"
    code: str | None = INTERNAL_ERROR

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param
        self.retry_after = retry_after

    def envelope(self) -> dict[str, Any]:
        return error_envelope(self.message, self.type, self.code, self.param)

    def headers(self) -> dict[str, str]:
        # A non-finite delay (say, parsed from a provider's header) would make round() raise
        # while we render the error itself; no hint beats a crash.
        if self.retry_after is None or not math.isfinite(self.retry_after):
            return {}
        # Rounded up: a client told to come back early only meets the same limit again.
        return {"Retry-After": str(max(0, math.ceil(self.retry_after)))}


class InvalidRequest(PrismError):
    status, type, code = 400, "invalid_request_error", "invalid_request"


class AuthenticationFailed(PrismError):
    status, type, code = 401, "invalid_request_error", "invalid_api_key"


class PermissionDenied(PrismError):
    status, type, code = 403, "invalid_request_error", "permission_denied"


class NotFound(PrismError):
    status, type, code = 404, "invalid_request_error", "not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class PayloadTooLarge(PrismError):
    status, type, code = 413, "invalid_request_error", "request_too_large"


class RateLimited(PrismError):
    status, type, code = 429, "rate_limit_error", "rate_limit_exceeded"


class LimitExceeded(RateLimited):
    """One of Prism's own rate limits (not a provider's): carries OpenAI's x-ratelimit-* headers."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, limit_headers: dict[str, str]) -> None:
        super().__init__(message, retry_after=retry_after)
        self.limit_headers = limit_headers

    def headers(self) -> dict[str, str]:
        return {**self.limit_headers, **super().headers()}


class BudgetExceeded(PrismError):
    status, type, code = 402, "insufficient_quota", "budget_exceeded"


class UpstreamError(PrismError):
    """A provider answered with an error we cannot recover from by failing over."""

    status, type, code = 502, "upstream_error", "bad_gateway"


class UpstreamUnavailable(PrismError):
    status, type, code = 503, "upstream_error", "upstream_unavailable"


class UpstreamTimeout(PrismError):
    status, type, code = 504, "upstream_error", "upstream_timeout"


class ShuttingDown(PrismError):
    """The gateway stopped before the answer was complete (a deploy or restart)."""

    status, type, code = 503, "api_error", "server_shutdown"


def error_envelope(
    message: str, type: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "code": code, "param": param}}
