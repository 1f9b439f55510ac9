"""The simulator's ASGI app: provider routes under /p/<provider>/ and the control API under /_sim/.

Control API (JSON in, JSON out):
  * ``POST /_sim/script`` ``{provider?, model?, times?, fault}``: queue a fault (see faults.py).
  * ``POST /_sim/config`` ``{latency_ms?, stream_chunk_delay_ms?, provider?}`` (see state.py).
  * ``GET /_sim/requests[?provider=]``: recorded provider calls, oldest first, at most the
    last 2000, each ``{provider, method, path, query, headers, body, cancelled}`` (query and
    headers as objects, header names lower-case; body parsed JSON, or the raw text if it was
    not JSON; ``cancelled`` is true once the caller closed the connection before the
    response was complete, and stays false for a call still in progress).
  * ``POST /_sim/reset``: forget scripts, records, caches and config.  ``GET /_sim/health``.

Each provider call is recorded, then checked in this order: credentials (401), request
shape (400), ``nonexistent*`` model (404), then the next matching scripted fault, the
configured latency, and the answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any
from urllib.parse import parse_qsl

import orjson

from . import anthropic_format, gemini_format, openai_format
from .content import plan
from .echo import echo_credentials
from .faults import Fault
from .state import SimState
from .turn import BadRequest, Turn
from .wire import (
    PAD_MARKER,
    Headers,
    Receive,
    Send,
    WireFormat,
    drop_connection,
    huge,
    inserted,
    malformed,
    read_body,
    respond,
    stream,
    wait_for_disconnect,
)

NOT_JSON = object()
NO_FAULT = Fault(kind="none")


def _route(method: str, rest: str) -> tuple[WireFormat, str | None, bool] | None:
    """The wire format for a path, chosen by its suffix so OpenAI-compatible paths work anywhere."""
    if method == "POST" and rest.endswith("/chat/completions"):
        return openai_format, None, False
    if method == "POST" and rest.endswith("/messages"):
        return anthropic_format, None, False
    if method == "POST" and "/models/" in f"/{rest}" and ":" in rest:
        model, _, action = f"/{rest}".partition("/models/")[2].partition(":")
        if action in ("generateContent", "streamGenerateContent"):
            return gemini_format, model, action == "streamGenerateContent"
    return None


def _retry_headers(fault: Fault) -> Headers:
    seconds = (
        fault.retry_after if fault.retry_after is not None else (1 if fault.status == 429 else None)
    )
    return [] if seconds is None else [(b"retry-after", f"{seconds:g}".encode())]


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return NOT_JSON


class Simulator:
    def __init__(self, state: SimState) -> None:
        self.state = state

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            path = scope["path"]
            if path.startswith("/p/"):
                await self._provider(scope, receive, send)
            elif path.startswith("/_sim/"):
                await self._control(scope, receive, send)
            else:
                await respond(send, 404, openai_format.error(404, f"no route for {path}"))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _control(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        action, method = scope["path"][len("/_sim/") :], scope["method"]
        query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        raw = _json(await read_body(receive))
        state = self.state
        try:
            if (method, action) == ("GET", "health"):
                result: Any = {"status": "ok"}
            elif (method, action) == ("GET", "requests"):
                result = state.recorded(query.get("provider"))
            elif (method, action) == ("POST", "reset"):
                state.reset()
                result = {"ok": True}
            elif (method, action) == ("POST", "script"):
                state.scripts.add(raw)
                result = {"ok": True, "pending": len(state.scripts)}
            elif (method, action) == ("POST", "config"):
                result = state.configure(raw)
            else:
                await respond(
                    send,
                    404,
                    orjson.dumps({"error": f"unknown control route {method} /_sim/{action}"}),
                )
                return
        except (ValueError, TypeError) as exc:
            await respond(send, 400, orjson.dumps({"error": str(exc)}))
            return
        await respond(send, 200, orjson.dumps(result))

    async def _provider(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        provider, _, rest = scope["path"][3:].partition("/")
        raw = await read_body(receive)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        body = _json(raw)
        record_body = raw.decode("utf-8", "replace") if body is NOT_JSON else body
        entry = {
            "provider": provider,
            "method": scope["method"],
            "path": scope["path"],
            "query": query,
            "headers": headers,
        }
        record = {**entry, "body": record_body, "cancelled": False}
        self.state.record(record)
        route = _route(scope["method"], rest)
        if route is None:
            if scope["method"] == "GET" and rest.endswith("models"):
                problem = openai_format.check_headers(headers, query)
                if problem:
                    await respond(send, problem[0], openai_format.error(*problem))
                else:
                    await respond(send, 200, openai_format.models(provider))
                return
            await respond(
                send,
                404,
                openai_format.error(404, f"Unknown endpoint {scope['method']} {scope['path']}"),
            )
            return
        fmt, path_model, path_stream = route
        turn = await self._admit(fmt, send, body, path_model, path_stream, headers, query)
        if turn is not None:
            await self._watched(
                self._answer(fmt, provider, turn, receive, send, headers), receive, record
            )

    async def _watched(
        self, answer: Coroutine[Any, Any, None], receive: Receive, record: dict[str, Any]
    ) -> None:
        """Answer, unless the caller goes away first: then stop and note it was cancelled."""
        task = asyncio.ensure_future(answer)
        gone = asyncio.ensure_future(wait_for_disconnect(receive))
        try:
            await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                record["cancelled"] = True
        finally:
            for t in (task, gone):
                t.cancel()
            await asyncio.gather(task, gone, return_exceptions=True)

    async def _admit(
        self,
        fmt: WireFormat,
        send: Send,
        body: Any,
        path_model: str | None,
        path_stream: bool,
        headers: dict[str, str],
        query: dict[str, str],
    ) -> Turn | None:
        """The parsed turn, or None after answering with the provider's own 4xx error."""
        problem = fmt.check_headers(headers, query)
        if problem is not None:
            await respond(send, problem[0], fmt.error(*problem))
            return None
        try:
            if body is NOT_JSON:
                raise BadRequest("The request body is not valid JSON.")
            turn = fmt.parse(body, path_model, path_stream, query)
        except BadRequest as exc:
            await respond(send, 400, fmt.error(400, str(exc)))
            return None
        if turn.model.startswith("nonexistent"):
            await respond(send, 404, fmt.model_not_found(turn.model))
            return None
        return turn

    async def _answer(
        self,
        fmt: WireFormat,
        provider: str,
        turn: Turn,
        receive: Receive,
        send: Send,
        headers: dict[str, str],
    ) -> None:
        state = self.state
        timing = state.timing(provider)
        fault = state.scripts.take(provider, turn.model) or self._chaos(
            timing.fail_rate, timing.hang_rate
        )
        slow = fault.kind == "slow_first_byte" or (
            fault.kind == "slow_first_chunk" and not turn.stream
        )
        delay_ms = timing.latency_ms + (fault.delay_ms if slow else 0)
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        rid = state.next_id()
        if fault.kind == "status":
            extra = [*fmt.id_headers(rid), *_retry_headers(fault)]
            await respond(send, fault.status, fmt.error(fault.status, fault.message), extra)
        elif fault.kind == "echo_key":
            await echo_credentials(send, fmt, headers, fault.status, fault.form)
        elif fault.kind == "hang":
            await asyncio.Event().wait()  # until _watched sees the caller go and cancels this
        else:
            await self._deliver(fmt, provider, turn, fault, rid, receive, send)

    def _chaos(self, fail_rate: float, hang_rate: float) -> Fault:
        if not (fail_rate or hang_rate):
            return NO_FAULT
        roll = self.state.rng.random()
        if roll < fail_rate:
            return Fault(kind="status", status=500)
        return Fault(kind="hang") if roll < fail_rate + hang_rate else NO_FAULT

    async def _deliver(
        self,
        fmt: WireFormat,
        provider: str,
        turn: Turn,
        fault: Fault,
        rid: int,
        receive: Receive,
        send: Send,
    ) -> None:
        """Generate the reply and send it, shaped (or broken) as the fault says."""
        scripted = PAD_MARKER if fault.kind == "huge_body" else fault.text
        reply = plan(turn, scripted if fault.kind in ("reply", "huge_body") else None)
        counts = fmt.account(self.state.cache, provider, turn)
        usage: dict[str, Any] | None = fmt.usage(counts, reply, turn)
        if fault.kind in ("usage", "no_usage"):
            usage = fault.usage if fault.kind == "usage" else None
        if turn.stream:
            events = fmt.events(turn, reply, usage, rid)
            events = malformed(events) if fault.kind == "malformed_chunk" else events
            if fault.kind == "extra_event":
                events = inserted(events, fault.after_chunks, fault.data, fault.event, fault.end)
            cut = fault.after_chunks if fault.kind == "disconnect" else None
            delay = self.state.timing(provider).chunk_delay_ms
            first = fault.delay_ms if fault.kind == "slow_first_chunk" else 0
            await stream(
                send, events, fmt.id_headers(rid), fmt.stream_type(turn), delay, cut, first
            )
            return
        body = fmt.render(turn, reply, usage, rid)
        if fault.kind == "huge_body":
            await huge(send, body, fault.size, fault.gzip, fmt.id_headers(rid))
        elif fault.kind == "disconnect":
            await drop_connection(send, receive, body)
        elif fault.kind == "malformed_chunk":
            await respond(send, 200, body[: len(body) // 2], fmt.id_headers(rid))
        elif fault.kind == "body":
            data = fault.data
            raw = data.encode() if isinstance(data, str) else orjson.dumps(data)
            await respond(send, 200, raw, fmt.id_headers(rid))
        else:
            await respond(send, 200, body, fmt.id_headers(rid))


def create_app(latency_ms: int = 0) -> Simulator:
    return Simulator(SimState(latency_ms=latency_ms))
