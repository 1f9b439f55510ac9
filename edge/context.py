"""What a request handler is given: its configuration and the runtime's capabilities."""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from edge.callers import CallerCache
from edge.config import EdgeConfig, Lookup
from edge.cooldowns import Cooldowns
from edge.web import HttpClient


class Background(Protocol):
    def wait_until(self, work: Coroutine[Any, Any, object]) -> None:
        """Run `work` after the response has been returned; the runtime keeps it alive."""
        ...


@dataclass(frozen=True)
class Runtime:
    """What the hosting runtime supplies for one request; entry.py builds the Workers one."""

    binding: Lookup
    http: HttpClient
    background: Background
    # Both outlive the request when the runtime passes its isolate-wide ones; fresh otherwise.
    callers: CallerCache = field(default_factory=CallerCache)
    cooldowns: Cooldowns = field(default_factory=Cooldowns)


@dataclass(frozen=True)
class EdgeContext:
    config: EdgeConfig
    http: HttpClient
    background: Background
    callers: CallerCache = field(default_factory=CallerCache)
    cooldowns: Cooldowns = field(default_factory=Cooldowns)
