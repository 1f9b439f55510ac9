"""Logging, configured once at start: one line per event, the request id on each.

Human-readable by default; one JSON object per line with PRISM_LOG_FORMAT=json, in the format
the edge writes too (shared.log_line). Whatever a message says, anything shaped like an API key
or a bearer token is masked before it is written: the last line of defence behind `Secret`,
which already prints as ***.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Any

from origin.observability import context
from shared.log_line import json_line, mask_secrets

HUMAN_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"
_OURS = "_prism_handler"


class RequestContext(logging.Filter):
    """Adds the current request's id (or "-") to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        observation = context.current()
        record.request_id = observation.request_id if observation is not None else "-"
        return True


class HumanFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(HUMAN_FORMAT)
        self._second, self._stamp = -1, ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        # strftime once a second, not once a line (the access log writes one per request).
        second = int(record.created)
        if second != self._second:
            self._second, self._stamp = (
                second,
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second)),
            )
        return f"{self._stamp},{int(record.msecs):03d}"

    def format(self, record: logging.LogRecord) -> str:
        return mask_secrets(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        return json_line(
            record.created,
            record.levelname.lower(),
            record.name,
            getattr(record, "request_id", "-"),
            record.getMessage(),
            fields if isinstance(fields, dict) else None,
            self.formatException(record.exc_info) if record.exc_info else None,
        )


class TurnBufferedHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes lines logged during one turn of the event loop together, after the turn.

    Every request logs its access line; written one by one that is a write syscall per
    request on the loop's thread. Lines logged outside a running loop (start-up, threads,
    shutdown) are written at once, as a plain StreamHandler would."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:  # noqa: BLE001 - logging's own contract: report, never raise
            self.handleError(record)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write([line])
            return
        if not self._lines:
            loop.call_soon(self.flush)
        self._lines.append(line)

    def flush(self) -> None:
        lines, self._lines = self._lines, []
        self._write(lines)

    def _write(self, lines: list[str]) -> None:
        self.acquire()
        try:
            if lines:
                self.stream.write("".join(lines))
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stderr must not take a request down
            pass
        finally:
            self.release()


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Point the root logger at stderr in the chosen format; calling again replaces it."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _OURS, False)]:
        handler.flush()
        root.removeHandler(handler)
    handler = TurnBufferedHandler(sys.stderr)
    setattr(handler, _OURS, True)
    handler.setFormatter(JsonFormatter() if fmt == "json" else HumanFormatter())
    handler.addFilter(RequestContext())
    root.addHandler(handler)
    root.setLevel(level.upper())
    # No format names the caller's file or line: skip walking the stack for every record
    # (an optimisation the logging HOWTO lists).
    logging._srcfile = None
    # Nor the process, thread or multiprocessing name: each record would look them up (the
    # process id is a system call on every line; the access log writes one per request).
    logging.logProcesses = False
    logging.logThreads = False
    logging.logMultiprocessing = False
    # Client libraries log every HTTP call at INFO: one line per Supabase call is noise.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
