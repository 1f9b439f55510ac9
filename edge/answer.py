"""The edge's one answering stage: reject bad keys, serve cache hits, leave the rest alone.

Returns None whenever the origin should answer instead: a miss, a request the edge won't read,
a lookup that fails. Three answers come from here: a 401 for a key the backends do not know,
a cache hit, whose usage row is written after the response (waitUntil), and the 429 of a hit
over the project's rate limits (which the hit counts against, as a miss does at the origin).
"""

from __future__ import annotations

import logging
import time
from typing import Final

from edge import logs
from edge.abuse import check_address, count_failure
from edge.auth import Undecided, authenticate, check_record
from edge.backends import Backends
from edge.chat import CHAT_PATHS, ChatRequest, parse_chat, request_path
from edge.context import EdgeContext
from edge.errors import error_response
from edge.hit import cached_response
from edge.lookup import Confirmation, Hit, find_hit
from edge.rate_limits import count_hit
from edge.rest import BackendError
from edge.usage import deliver_row, record_hit
from edge.web import Request, Response
from shared.errors import AuthenticationFailed, InvalidRequest, LimitExceeded
from shared.usage import Caller, UsageRow, build_cache_hit_row, build_row

log = logging.getLogger("prism.edge")

# The OpenAI routes the origin guards with gateway keys; the edge checks keys on these only,
# so admin and health routes (other credentials or none), and methods the origin refuses
# anyway (an OPTIONS preflight gets its 405 from the origin, not a 401), pass through untouched.
KEYED_ROUTES: Final = frozenset(
    {*(("POST", path) for path in CHAT_PATHS), ("GET", "/v1/models"), ("HEAD", "/v1/models")}
)
# GET /v1/models/{id}: one model of the listing, keyed like the listing (ids may hold a "/").
MODEL_PATH_PREFIX: Final = "/v1/models/"


def keyed(method: str, path: str) -> bool:
    """Whether the edge checks the key of a request to this route before the origin sees it."""
    if (method, path) in KEYED_ROUTES:
        return True
    return method in ("GET", "HEAD") and path.startswith(MODEL_PATH_PREFIX)


async def answer_at_edge(request: Request, ctx: EdgeContext) -> Response | None:
    started = time.perf_counter()
    if not keyed(request.method.upper(), request_path(request)):
        return None
    backends = Backends.of(ctx)
    if backends.redis is None and backends.supabase is None:
        return None  # nothing to check keys against: a pure passthrough edge
    try:
        await check_address(request, ctx, backends)
        identity = await authenticate(request.header("authorization"), ctx, backends)
    except LimitExceeded as exc:
        return error_response(exc)  # this address sent too many bad keys
    except AuthenticationFailed as exc:
        count_failure(request, ctx, backends)
        return error_response(exc)
    except Undecided as exc:
        log.warning("API key not checked at the edge, the origin will: %s", exc)
        return None
    logs.note_project(identity.caller.project_id)
    try:
        chat = parse_chat(request)
    except InvalidRequest as exc:
        return error_response(exc)  # nested too deeply to parse safely, here or at the origin
    if chat is None or not chat.options.cache_lookup or backends.redis is None:
        return None
    if chat.options.remembers:
        return None  # only the origin holds the session's turns (and stores this one)
    caller = identity.caller
    record = identity.record_name
    confirm = None
    if record is not None:
        confirm = Confirmation(record, lambda text: check_record(identity, text, ctx))
    try:
        hit = await find_hit(
            caller.project_id, chat, backends.redis, backends.vector, confirm, ctx.background
        )
    except AuthenticationFailed as exc:
        return error_response(exc)  # revoked since this isolate last looked the key up
    except InvalidRequest:
        return None  # the origin explains what is wrong with the body
    except BackendError as exc:
        log.warning("edge cache lookup failed, the origin answers: %s", exc)
        return None
    if hit is None:
        return None
    return await _serve_hit(hit, chat, caller, backends, ctx, started)


async def _serve_hit(
    hit: Hit,
    chat: ChatRequest,
    caller: Caller,
    backends: Backends,
    ctx: EdgeContext,
    started: float,
) -> Response | None:
    """The hit, once counted against the project's rate limits (or their 429)."""
    assert backends.redis is not None
    request_id = logs.request_id()
    usage = hit.entry.usage
    try:
        tokens = usage.prompt_tokens + usage.completion_tokens
        counted = await count_hit(backends.redis, caller, request_id, tokens, chat.options.tags)
    except LimitExceeded as exc:
        row = build_row(
            request_id=request_id,
            caller=caller,
            options=chat.options,
            task_type="unknown",
            model_used=str(chat.body.get("model") or "unknown"),
            provider="none",
            usage=None,
            cost=None,
            latency_ms=int((time.perf_counter() - started) * 1000),
            was_streaming=chat.stream,
            success=False,
            error_code=exc.code,
        )
        ctx.background.wait_until(deliver_row(backends, row.to_json()))
        # The refusal has a usage row like any answer: its id is how a client finds it.
        return error_response(exc, request_id)
    if counted is None:
        return None  # the limits can't be checked here: the origin checks them
    response = cached_response(hit, chat, request_id)
    response.headers.extend(counted.headers.items())
    row = _hit_row(hit, request_id, chat, caller, started)
    ctx.background.wait_until(record_hit(backends, row))
    return response


def _hit_row(
    hit: Hit, request_id: str, chat: ChatRequest, caller: Caller, started: float
) -> UsageRow:
    """The usage row of a served hit, priced as the call it saved."""
    return build_cache_hit_row(
        request_id=request_id,
        caller=caller,
        options=chat.options,
        model_used=hit.entry.model,
        usage=hit.entry.usage,
        saved=hit.entry.saved(),
        latency_ms=int((time.perf_counter() - started) * 1000),
        was_streaming=chat.stream,
        cache_status=hit.status,
        cache_key=hit.fingerprint,
    )
