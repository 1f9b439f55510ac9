"""The one place errors become HTTP responses: always the OpenAI envelope, never a traceback."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.errors import INTERNAL_ERROR, PrismError, error_envelope

log = logging.getLogger("prism.origin")

# Most often an OpenAI endpoint a client assumed (embeddings, completions, responses).
_UNKNOWN_PATH = (
    "Unknown path: Prism serves POST /v1/chat/completions, GET /v1/models[/{id}] and "
    "POST /v1/feedback."
)
_HTTP_TYPES = {
    404: ("not_found", _UNKNOWN_PATH),
    405: ("method_not_allowed", "Method not allowed."),
}


async def prism_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PrismError)
    return JSONResponse(exc.envelope(), status_code=exc.status, headers=exc.headers())


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, message = _HTTP_TYPES.get(exc.status_code, ("http_error", str(exc.detail)))
    kind = "invalid_request_error" if exc.status_code < 500 else "api_error"
    # Starlette's own headers stay: a 405 must name the methods it takes in Allow (RFC 9110).
    return JSONResponse(
        error_envelope(message, kind, code), status_code=exc.status_code, headers=exc.headers
    )


async def unexpected_error(request: Request, exc: Exception) -> Response:
    # A bug of ours: log it with its traceback, tell the client only that it happened.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    body = error_envelope("The gateway hit an internal error.", "api_error", INTERNAL_ERROR)
    return JSONResponse(body, status_code=500)


EXCEPTION_HANDLERS = {
    PrismError: prism_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
