"""The Worker's request pipeline: optional answering stages, then the passthrough to origin."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from edge import logs
from edge.answer import answer_at_edge
from edge.config import ConfigError, EdgeConfig
from edge.context import EdgeContext, Runtime
from edge.errors import error_response
from edge.limits import parseable
from edge.passthrough import passthrough
from edge.web import Request, Response
from shared.errors import PrismError

log = logging.getLogger("prism.edge")

# A stage answers a request itself (a cache hit) or returns None to let the next one try.
Stage = Callable[[Request, EdgeContext], Awaitable[Response | None]]


def stages_for(config: EdgeConfig) -> tuple[Stage, ...]:
    """The stages tried before the passthrough, in order."""
    return (answer_at_edge,)


async def handle(
    request: Request,
    runtime: Runtime,
    stages: Sequence[Stage] | None = None,
    started: float | None = None,
) -> Response:
    """The answer to `request`, its line logged after it (`started`: when it arrived, as a
    time.perf_counter() reading, when that was before the call)."""
    journal = logs.begin(request.method, request.url, started)
    try:
        response, forwarded = await _answer(request, runtime, stages)
    except BaseException:
        journal.fail()
        raise
    journal.finish(response, forwarded, runtime.background)
    return response


def refuse(method: str, url: str, error: PrismError, runtime: Runtime, started: float) -> Response:
    """The edge's refusal of a request it would not read (say, a body past the limit)."""
    journal = logs.begin(method, url, started)
    response = error_response(error)
    journal.finish(response, False, runtime.background)
    return response


async def _answer(
    request: Request, runtime: Runtime, stages: Sequence[Stage] | None
) -> tuple[Response, bool]:
    """The response, and whether it is the origin's (forwarded) rather than the edge's own."""
    try:
        config = EdgeConfig.from_lookup(runtime.binding)
    except ConfigError as exc:
        log.error("edge misconfigured: %s", exc)
        error = PrismError("The Prism edge is misconfigured.", code="edge_misconfigured")
        return error_response(error), False
    ctx = EdgeContext(
        config=config,
        http=runtime.http,
        background=runtime.background,
        callers=runtime.callers,
        cooldowns=runtime.cooldowns,
    )
    # Stages parse the body; one too large to parse cheaply is the origin's to answer.
    tried = () if not parseable(request.body) else stages_for(config) if stages is None else stages
    for stage in tried:
        answer = await _try_stage(stage, request, ctx)
        if answer is not None:
            return answer, False
    return await passthrough(request, ctx), True


async def _try_stage(stage: Stage, request: Request, ctx: EdgeContext) -> Response | None:
    # Stages only ever save a trip to the origin, so a failing one (say, the cache store is
    # down) must cost latency, not availability: log it and let the origin answer.
    try:
        return await stage(request, ctx)
    except Exception:
        log.exception("edge stage %s failed; falling through", getattr(stage, "__name__", stage))
        return None
