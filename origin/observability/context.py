"""What is known about the request being served, reachable from any code running for it.

The observer middleware opens an Observation per HTTP request in a context variable; code
deeper down adds to it with the functions here (cheap no-ops outside a request), and the
middleware turns it into metrics and the access log line when the response is done.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Final

from shared.usage import UsageRow, new_request_id

# ASGI scope key: time.perf_counter() when the request's first bytes reached the server. Our
# HTTP protocol sets it (origin.admin.http_protocol); under a server that does not, a request's
# clock starts when the app is called.
RECEIVED_AT: Final = "prism.received_at"


@dataclass
class Observation:
    request_id: str
    started: float
    row: UsageRow | None = None
    # Seconds spent waiting on providers: what the gateway's own added latency excludes.
    provider_s: float = 0.0
    status: int = 0
    # perf_counter() when the response's last byte was handed to the server to write.
    finished: float = 0.0


_CURRENT: ContextVar[Observation | None] = ContextVar("prism_observation", default=None)


def begin(received_at: float | None = None) -> Observation:
    """Open the observation of a new request in the current context, its clock started at
    `received_at` (a perf_counter reading) or now."""
    started = time.perf_counter() if received_at is None else received_at
    observation = Observation(new_request_id(), started)
    _CURRENT.set(observation)
    return observation


def current() -> Observation | None:
    return _CURRENT.get()


def request_id() -> str:
    """The id of the request being served (fresh when called outside one)."""
    observation = _CURRENT.get()
    return observation.request_id if observation is not None else new_request_id()


def note_row(row: UsageRow) -> None:
    """The request's usage row was written: it says what the request cost and who answered."""
    observation = _CURRENT.get()
    if observation is not None and observation.request_id == row.request_id:
        observation.row = row


def waited_on_provider(seconds: float) -> None:
    observation = _CURRENT.get()
    if observation is not None:
        observation.provider_s += seconds
