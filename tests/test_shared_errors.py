"""The OpenAI error envelope every PrismError renders, with its status and Retry-After."""

from __future__ import annotations

import json

import pytest

from shared import errors as E
from shared.errors import PrismError, error_envelope

ERRORS: list[tuple[type[PrismError], int, str, str]] = [
    (E.PrismError, 500, "api_error", "internal_error"),
    (E.InvalidRequest, 400, "invalid_request_error", "invalid_request"),
    (E.AuthenticationFailed, 401, "invalid_request_error", "invalid_api_key"),
    (E.PermissionDenied, 403, "invalid_request_error", "permission_denied"),
    (E.NotFound, 404, "invalid_request_error", "not_found"),
    (E.ModelNotFound, 404, "invalid_request_error", "model_not_found"),
    (E.PayloadTooLarge, 413, "invalid_request_error", "request_too_large"),
    (E.RateLimited, 429, "rate_limit_error", "rate_limit_exceeded"),
    (E.BudgetExceeded, 402, "insufficient_quota", "budget_exceeded"),
    (E.UpstreamError, 502, "upstream_error", "bad_gateway"),
    (E.UpstreamUnavailable, 503, "upstream_error", "upstream_unavailable"),
    (E.UpstreamTimeout, 504, "upstream_error", "upstream_timeout"),
    (E.ShuttingDown, 503, "api_error", "server_shutdown"),
]


# Errors that need more than a message to exist; each has its own test below.
SPECIAL = {E.LimitExceeded}


def test_table_covers_every_error_class() -> None:
    defined = {c for c in vars(E).values() if isinstance(c, type) and issubclass(c, PrismError)}
    assert defined == {row[0] for row in ERRORS} | SPECIAL


def test_own_rate_limit_carries_openai_limit_headers_and_retry_after() -> None:
    limits = {"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "0"}
    error = E.LimitExceeded("Over 60 requests a minute.", retry_after=1.2, limit_headers=limits)
    assert error.status == 429
    assert error.envelope()["error"]["code"] == "rate_limited"
    assert error.envelope()["error"]["type"] == "rate_limit_error"
    assert error.headers() == {**limits, "Retry-After": "2"}


@pytest.mark.parametrize(
    ("cls", "status", "kind", "code"), ERRORS, ids=[row[0].__name__ for row in ERRORS]
)
def test_envelope_and_status(cls: type[PrismError], status: int, kind: str, code: str) -> None:
    error = cls("Something went wrong.")
    assert isinstance(error, PrismError) and isinstance(error, Exception)
    assert error.status == status and str(error) == "Something went wrong."
    assert error.envelope() == {
        "error": {"message": "Something went wrong.", "type": kind, "code": code, "param": None}
    }
    assert json.loads(json.dumps(error.envelope())) == error.envelope()
    assert error.headers() == {}


@pytest.mark.parametrize(
    ("cls", "status", "kind", "code"), ERRORS, ids=[row[0].__name__ for row in ERRORS]
)
def test_code_and_param_override(cls: type[PrismError], status: int, kind: str, code: str) -> None:
    error = cls("Bad header.", code="invalid_header", param="X-Prism-Mode")
    assert error.envelope()["error"] == {
        "message": "Bad header.",
        "type": kind,
        "code": "invalid_header",
        "param": "X-Prism-Mode",
    }
    # An override is per instance: the class default is untouched for the next error.
    assert cls("again").code == code


RETRY_AFTER: list[tuple[float | None, dict[str, str]]] = [
    (None, {}),
    (2.4, {"Retry-After": "3"}),
    (2.6, {"Retry-After": "3"}),
    (0, {"Retry-After": "0"}),
    (30, {"Retry-After": "30"}),
    (-3, {"Retry-After": "0"}),
    (float("nan"), {}),
    (float("inf"), {}),
]


@pytest.mark.parametrize(("retry_after", "headers"), RETRY_AFTER)
def test_retry_after_header(retry_after: float | None, headers: dict[str, str]) -> None:
    assert E.RateLimited("Slow down.", retry_after=retry_after).headers() == headers


def test_retry_after_on_an_unavailable_upstream() -> None:
    error = E.UpstreamUnavailable("All providers are down.", retry_after=5)
    assert (error.status, error.headers()) == (503, {"Retry-After": "5"})


def test_error_envelope_function() -> None:
    assert error_envelope("m", "invalid_request_error") == {
        "error": {"message": "m", "type": "invalid_request_error", "code": None, "param": None}
    }
    assert error_envelope("m", "t", "c", "p")["error"] == {
        "message": "m",
        "type": "t",
        "code": "c",
        "param": "p",
    }
