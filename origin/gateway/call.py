"""One chat request while it is being answered, and the seam for Prism's response cache."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.responses import Response

from origin.gateway.attempts import Target
from origin.gateway.receipt import Receipt
from origin.providers.base import Completion
from origin.routing.router import RouteDecision
from origin.spend.admission import Admission
from shared.options import RequestOptions, with_output_cap
from shared.pricing import Cost
from shared.usage import Caller


@dataclass
class Call:
    """Everything known about one request while it is being answered."""

    request_id: str
    caller: Caller
    options: RequestOptions
    body: dict[str, Any]
    started: float
    receipt: Receipt
    decision: RouteDecision | None = None
    spend: Admission | None = None
    targets: list[Target] = field(default_factory=list)
    # (model, provider, upstream) of each target: what spend control prices the worst case on
    attempts: list[tuple[str, str, str]] = field(default_factory=list)

    # Session memory: the turns recalled for this request, and the messages it was sent with.
    memory: list[list[dict[str, Any]]] | None = None
    sent: list[dict[str, Any]] = field(default_factory=list)
    # Every usable model in route order (fusion draws its panel from these), what is sent
    # instead of the client's body (a fusion synthesis), and what other calls cost.
    candidates: list[Target] = field(default_factory=list)
    override: dict[str, Any] | None = None
    extra: Cost | None = None
    cache_key: str | None = None
    # A request naming its model is routed without its task type, which is then labelled
    # while its provider works (gateway.plan.Planner.route_unlabelled); it is owed until then.
    owed_label: Callable[[], None] | None = None
    # Whether the request's own row is written: a failure after it must not add a second.
    recorded: bool = False

    def pay_label(self) -> None:
        """Label the request now if its task type is still owed; before anything reads it."""
        owed, self.owed_label = self.owed_label, None
        if owed is not None:
            owed()

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def upstream_body(self) -> dict[str, Any]:
        return with_output_cap(self.override or self.body, self.options.mode)

    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)


class ResponseCache(Protocol):
    """The seam for Prism's own response cache (exact and semantic layers)."""

    async def lookup(
        self, call: Call, before_hit: Callable[[], Awaitable[None]] | None = None
    ) -> Response | None: ...

    def remember(self, call: Call, completion: Completion, model: str) -> None: ...
