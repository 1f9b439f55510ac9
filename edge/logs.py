"""The edge's logs: JSON lines in the origin's format (shared.log_line), one per request.

Every request the Worker serves ends with a line under `prism.edge.access`: method, path,
status, latency, cache status, project and error code when known, and who answered it (the edge
itself, or the origin it forwarded to). Every other line logged while serving a request carries
that request's id. The id is the one the response's `X-Prism-Request-Id` carries, and it is
final only once the answer is: the edge's own for what it answers, the origin's for what it
forwards. So lines logged before the answer are held, then written with the request's line
under the final id; lines logged after it (the waitUntil work) are written at once.

Plain Python on purpose: it runs in CPython and in Pyodide alike, writing to stdout (info) and
stderr (warnings and worse), which the Workers runtime turns into console logs.
"""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from edge.context import Background
from edge.web import Response
from shared import headers as H
from shared.log_line import QUIET_PATHS, json_line, request_fields
from shared.usage import new_request_id

EDGE_LOGGER: Final = "prism.edge"
access_log = logging.getLogger(f"{EDGE_LOGGER}.access")
_CURRENT: ContextVar[RequestLog | None] = ContextVar("prism_edge_request", default=None)


@dataclass
class RequestLog:
    """What is known of the request being served, for its line and the lines logged for it."""

    method: str
    path: str
    started: float = field(default_factory=time.perf_counter)
    request_id: str = field(default_factory=new_request_id)
    project_id: str | None = None
    error_code: str | None = None
    # The edge refused it itself (error_response), even on its way to the origin (a timeout).
    refused: bool = False
    # Records logged before the request's line, written with it; None once that is written.
    held: list[logging.LogRecord] | None = field(default_factory=list)

    def finish(self, response: Response, forwarded: bool, background: Background) -> None:
        """The answer is ready: its line is built and written after the response is sent."""
        latency_ms = round((time.perf_counter() - self.started) * 1000, 2)
        background.wait_until(self._write(response, forwarded, latency_ms))

    def fail(self) -> None:
        """Serving raised: the runtime answers 500, and the lines held so far still matter."""
        self.refused, self.error_code = True, "internal_error"
        latency_ms = round((time.perf_counter() - self.started) * 1000, 2)
        self._write_now(Response(500), False, latency_ms)

    async def _write(self, response: Response, forwarded: bool, latency_ms: float) -> None:
        self._write_now(response, forwarded, latency_ms)

    def _write_now(self, response: Response, forwarded: bool, latency_ms: float) -> None:
        self.request_id = response.header(H.REQUEST_ID) or self.request_id
        held, self.held = self.held or [], None
        for record in held:
            logging.getLogger(record.name).handle(record)
        if self.path not in QUIET_PATHS:
            self._access_line(response, forwarded, latency_ms)

    def _access_line(self, response: Response, forwarded: bool, latency_ms: float) -> None:
        fields = request_fields(self.method, self.path, response.status, latency_ms)
        message = f"{self.method} {self.path} {response.status} latency_ms={latency_ms}"
        cache_status = response.header(H.CACHE_STATUS)
        if cache_status is not None:
            fields["cache_status"] = cache_status
            message += f" cache_status={cache_status}"
        if self.project_id is not None:
            fields["project_id"] = self.project_id
        if self.error_code is not None:
            fields["error_code"] = self.error_code
            message += f" error_code={self.error_code}"
        fields["answered_by"] = "origin" if forwarded and not self.refused else "edge"
        access_log.info(message, extra={"fields": fields})


def begin(method: str, url: str, started: float | None = None) -> RequestLog:
    """Open the log of a new request in the current context (each request runs in its own)."""
    request = RequestLog(method, urlsplit(url).path or "/")
    if started is not None:
        request.started = started
    _CURRENT.set(request)
    return request


def request_id() -> str:
    """The id for an answer the edge gives itself: its request's (fresh outside one)."""
    request = _CURRENT.get()
    return request.request_id if request is not None else new_request_id()


def note_project(project_id: str) -> None:
    request = _CURRENT.get()
    if request is not None:
        request.project_id = project_id


def note_error(code: str | None) -> None:
    request = _CURRENT.get()
    if request is not None:
        request.refused, request.error_code = True, code


class LineWriter(logging.Handler):
    """Writes each record as a JSON line under its request's id, holding it while that may
    still change (see the module's docstring)."""

    def emit(self, record: logging.LogRecord) -> None:
        request = _CURRENT.get()
        if request is not None and request.held is not None and record.name != access_log.name:
            request.held.append(record)
            return
        try:
            line = json_line(
                record.created,
                record.levelname.lower(),
                record.name,
                request.request_id if request is not None else "-",
                record.getMessage(),
                getattr(record, "fields", None),
                self.format_exception(record),
            )
            stream = sys.stdout if record.levelno < logging.WARNING else sys.stderr
            stream.write(line + "\n")
            stream.flush()
        except Exception:  # noqa: BLE001 - logging's own contract: report, never raise
            self.handleError(record)

    @staticmethod
    def format_exception(record: logging.LogRecord) -> str | None:
        if not record.exc_info:
            return None
        return logging.Formatter().formatException(record.exc_info)


def configure(level: int = logging.INFO) -> None:
    """Send the edge's loggers to a LineWriter; calling again changes nothing."""
    logger = logging.getLogger(EDGE_LOGGER)
    if not any(isinstance(handler, LineWriter) for handler in logger.handlers):
        logger.addHandler(LineWriter())
    logger.setLevel(level)
    # Its own lines only: a root handler someone adds must not write each one twice.
    logger.propagate = False
