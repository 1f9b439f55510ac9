"""A stand-in origin for edge tests: echoes what arrived, and streams, fails or stalls on cue.

Streams and stalls wait on named gates that a test opens with `POST /_release/{gate}`, so a test
can observe the edge mid-response without ever measuring time.

    python -m tests.edge.upstream --port 9000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import signal
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# Upper bound on a gate wait, so a broken test fails instead of hanging the upstream forever.
GATE_LIMIT_S = 30.0
GZIP_TEXT = "compressed at the origin " * 20


def _gate(request: Request) -> asyncio.Event:
    gates: dict[str, asyncio.Event] = request.app.state.gates
    return gates.setdefault(request.path_params["gate"], asyncio.Event())


async def _wait(gate: asyncio.Event) -> None:
    await asyncio.wait_for(gate.wait(), GATE_LIMIT_S)


async def echo(request: Request) -> Response:
    body = await request.body()
    seen: dict[str, Any] = {
        "method": request.method,
        "path": request.scope["raw_path"].decode("latin-1"),
        "query": request.scope["query_string"].decode("latin-1"),
        "headers": [
            [k.decode("latin-1"), v.decode("latin-1")] for k, v in request.scope["headers"]
        ],
        "body_b64": base64.b64encode(body).decode(),
    }
    request.app.state.records.append(seen)
    # Stamped as the origin's middleware stamps every answer: the id the edge's line carries.
    stamp = {"x-upstream": "echo", "x-prism-request-id": f"req_upstream{uuid.uuid4().hex}"}
    response = JSONResponse(seen, headers=stamp)
    response.headers.append("set-cookie", "a=1; Path=/")
    response.headers.append("set-cookie", "b=2; Path=/")
    return response


async def records(request: Request) -> Response:
    return JSONResponse(request.app.state.records)


async def release(request: Request) -> Response:
    _gate(request).set()
    return Response(status_code=204)


async def stream(request: Request) -> Response:
    gate = _gate(request)

    async def events() -> AsyncIterator[bytes]:
        yield b'data: {"n": 1}\n\n'
        await _wait(gate)
        yield b'data: {"n": 2}\n\n'
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


async def stall(request: Request) -> Response:
    await _wait(_gate(request))
    return JSONResponse({"stalled": True})


async def status(request: Request) -> Response:
    code = int(request.path_params["code"])
    headers = {"x-upstream-status": str(code)}
    if code in (204, 304):
        return Response(status_code=code, headers=headers)
    envelope = {
        "error": {"message": f"upstream said {code}", "type": "x", "code": str(code), "param": None}
    }
    return JSONResponse(envelope, status_code=code, headers=headers)


async def compressed(request: Request) -> Response:
    body = gzip.compress(GZIP_TEXT.encode())
    return Response(body, media_type="text/plain", headers={"content-encoding": "gzip"})


async def redirect(request: Request) -> Response:
    return Response(status_code=302, headers={"location": "/elsewhere"})


def create_app() -> Starlette:
    app = Starlette(
        routes=[
            Route("/_records", records, methods=["GET"]),
            Route("/_release/{gate}", release, methods=["POST"]),
            Route("/_stream/{gate}", stream, methods=["GET", "POST"]),
            Route("/_stall/{gate}", stall, methods=["GET", "POST"]),
            Route("/_status/{code:int}", status, methods=ALL_METHODS),
            Route("/_gzip", compressed, methods=["GET"]),
            Route("/_redirect", redirect, methods=["GET"]),
            Route("/{path:path}", echo, methods=ALL_METHODS),
        ]
    )
    app.state.gates = {}
    app.state.records = []
    return app


async def serve(port: int) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    # The edge keeps connections alive; a test server need not wait politely for them to idle.
    config.graceful_timeout = 0.5
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await hypercorn_serve(create_app(), config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
