"""Pure-ASGI middleware that observes every request without buffering it.

It gives the request its id (logs and the gateway read it from the context), stamps
`X-Prism-Request-Id` on every response, and when the last byte is sent records the request's
metrics and writes its access log line. A request's time runs from its first bytes reaching the
server (context.RECEIVED_AT in the scope; when the app is called under a server that does not
set it) to its last byte written by the server: the span its client waits through, less the
network between them.
"""

from __future__ import annotations

import logging
import time

from opentelemetry.trace import Span, SpanKind
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from origin.observability import context
from origin.observability.metrics import Metrics
from origin.observability.tracing import Tracing, row_attributes
from shared import headers as H
from shared.log_line import QUIET_PATHS, request_fields
from shared.pricing import format_cents
from shared.usage import UsageRow

access_log = logging.getLogger("prism.access")
_REQUEST_ID = H.REQUEST_ID.lower().encode()
_OPENAI_REQUEST_ID = H.OPENAI_REQUEST_ID.encode()
_AGENT_CHARS = 120


class RequestObserver:
    def __init__(self, app: ASGIApp, metrics: Metrics, tracing: Tracing) -> None:
        self.app = app
        self.metrics, self.tracing = metrics, tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in QUIET_PATHS:
            await self.app(scope, receive, send)
            return
        observation = context.begin(scope.get(context.RECEIVED_AT))
        stamp = observation.request_id.encode()

        async def observed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                observation.status = message["status"]
                headers = message.setdefault("headers", [])
                given = next((value for name, value in headers if name == _REQUEST_ID), None)
                if given is None:
                    headers.append((_REQUEST_ID, stamp))
                headers.append((_OPENAI_REQUEST_ID, given or stamp))
                await send(message)
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                await send(message)
                # The client's wait ends once the server has written this last byte (its write
                # is the gateway's time too); what the app does after is not in it.
                observation.finished = time.perf_counter()
            else:
                await send(message)

        name = f"{scope['method']} {scope['path']}"
        with self.tracing.span(name, kind=SpanKind.SERVER) as span:
            try:
                await self.app(scope, receive, observed_send)
            finally:
                self._finish(scope, observation, span)

    def _finish(self, scope: Scope, observation: context.Observation, span: Span) -> None:
        seconds = (observation.finished or time.perf_counter()) - observation.started
        status = observation.status or 500
        row = observation.row
        if span.is_recording():
            span.set_attribute("http.response.status_code", status)
            span.set_attribute("prism.request_id", observation.request_id)
            if row is not None:
                span.set_attributes(row_attributes(row))
        if scope["path"].startswith(("/v1/", "/chat/")):
            self.metrics.request_finished(
                status=status,
                seconds=seconds,
                row=row,
                provider_seconds=observation.provider_s if observation.provider_s else None,
            )
        if access_log.isEnabledFor(logging.INFO):
            _access_line(scope, status, seconds, row)


def _printable(text: str) -> str:
    """`text` with every non-printable character escaped as Python writes it (\\r, \\x00)."""
    return text if text.isprintable() else repr(text)[1:-1]


def _access_line(scope: Scope, status: int, seconds: float, row: UsageRow | None) -> None:
    """The request's access line; its fields also go to JSON logs as their own keys."""
    latency_ms = round(seconds * 1000, 2)
    agent = _user_agent(scope)
    # The decoded path is the client's: "/x%0d%0aFORGED" would start a forged line, a NUL
    # would make the log a binary file. Escaped like the user agent (JSON logs escape both).
    path = _printable(scope["path"])
    line = f"{scope['method']} {path} {status} latency_ms={latency_ms} ua={agent!r}"
    fields = request_fields(scope["method"], scope["path"], status, latency_ms)
    fields["user_agent"] = agent
    if row is not None:
        cost = format_cents(row.cost_total_cents)
        line += (
            f" model={row.model_used} provider={row.provider} cache_status={row.cache_status}"
            f" cost_cents={cost} tokens_in={row.tokens_in} tokens_out={row.tokens_out}"
        )
        fields.update(
            model=row.model_used,
            provider=row.provider,
            cache_status=row.cache_status,
            cost_cents=cost,
            tokens_in=row.tokens_in,
            tokens_out=row.tokens_out,
        )
    access_log.info(line, extra={"fields": fields})


def _user_agent(scope: Scope) -> str:
    """Which client (and SDK version) sent it, cut short: it is the client's text."""
    for name, value in scope["headers"]:
        if name == b"user-agent":
            return bytes(value[:_AGENT_CHARS]).decode("latin-1")
    return ""
