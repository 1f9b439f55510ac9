"""The `echo_key` fault: a provider that repeats the caller's credentials back.

Real providers do this in part ("Incorrect API key provided: sk-...abcd"), and a logging
proxy in front of one may do it in full. The simulator does it in full, everywhere it can:
in the error message, in a response header, in a plain-text body or in a stream's error
event, and in a line of its own log, so a test can prove the gateway lets none of it out.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

import orjson

from . import anthropic_format
from .wire import Send, WireFormat, respond, sse, stream

CREDENTIAL_HEADERS = ("authorization", "x-api-key", "x-goog-api-key")
TEXT = b"text/plain; charset=utf-8"


def credentials(headers: Mapping[str, str]) -> str:
    """Every credential header the request carried, as `name=value` pairs."""
    return "; ".join(f"{h}={headers[h]}" for h in CREDENTIAL_HEADERS if h in headers)


async def echo_credentials(
    send: Send, fmt: WireFormat, headers: Mapping[str, str], status: int, form: str
) -> None:
    said = credentials(headers)
    # A log line, as a careless provider or proxy would write one.
    print(f"simulator: rejected request with credentials {said}", file=sys.stderr, flush=True)
    message = f"Incorrect API key provided: {said}"
    extra = [(b"x-echo-credentials", said.encode("latin-1", "replace"))]
    if form == "text":
        await respond(send, status, f"401 bad key: {said}\n".encode(), extra, TEXT)
    elif form == "stream":
        await stream(send, [_stream_error(fmt, message)], extra, b"text/event-stream", 0, None)
    else:
        await respond(send, status, fmt.error(status, message), extra)


def _stream_error(fmt: WireFormat, message: str) -> bytes:
    error = {"type": "invalid_request_error", "message": message}
    if fmt is anthropic_format:
        return sse(orjson.dumps({"type": "error", "error": error}), event="error")
    return sse(orjson.dumps({"error": error}))
