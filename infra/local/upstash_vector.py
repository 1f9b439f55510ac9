"""Local stand-in for the Upstash Vector REST API: in-memory namespaces, server-side embeddings.

Speaks the endpoints and field names the official `upstash-vector` client uses, embeds `data`
with the same MiniLM model offline, and scores like the hosted COSINE index: (1 + cos) / 2.
The endpoints live in vector_handlers, storage in vector_store, the metadata filter language
in vector_filter; this module is the HTTP side: the token, request bodies and error bodies.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import os

if __name__ == "__main__":
    # As a server sharing 2 cores with the gateway, multi-threaded BLAS spins and its tail
    # latency explodes under contention (p90 >100 ms vs ~10 ms single-threaded). Must be set
    # before numpy loads; an explicit setting in the environment still wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from infra.local.proc import VECTOR_TOKEN_VARIABLE as TOKEN_VARIABLE
from infra.local.proc import required_secret, secret_option, serve_asgi
from infra.local.vector_filter import FilterError
from infra.local.vector_handlers import HANDLERS, ApiError, Embedder, Json, State
from infra.local.vector_store import DEFAULT_NAMESPACE, DimensionError, VectorIndex

# Bodies these endpoints read fields from; the others take a list, a string or nothing.
OBJECT_BODIES = frozenset({"fetch", "range", "update", "delete"})


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


async def _read_body(request: Request, op: str) -> Json:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError as exc:
        raise ApiError(f"Invalid JSON body: {exc}") from exc
    if op == "reset" and "all" in request.query_params:
        return "all"
    if op == "delete" and isinstance(body, list):
        body = {"ids": body}
    if op in OBJECT_BODIES:
        body = {} if body is None else body
        if not isinstance(body, dict):
            raise ApiError(f"/{op} expects a JSON object")
    return body


def create_app(token: str, embedder: Embedder, data_file: Path | None = None) -> Starlette:
    """The stand-in as an ASGI app; with data_file, vectors survive restarts (for `make run`)."""
    state = State(VectorIndex(embedder.dimension), embedder)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if data_file is not None:
            state.index.load_file(data_file)
        try:
            yield
        finally:
            if data_file is not None:
                state.index.save_file(data_file)

    async def handle(request: Request) -> JSONResponse:
        header = request.headers.get("authorization", "")
        supplied = header[7:] if header.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(supplied.encode(), token.encode()):
            return _error("Unauthorized", 401)
        op = request.path_params["op"]
        handler = HANDLERS.get(op)
        if handler is None:
            return _error(f"Not found: /{op}", 404)
        namespace = request.path_params.get("namespace", DEFAULT_NAMESPACE)
        try:
            result = await handler(state, namespace, await _read_body(request, op))
        except ApiError as exc:
            return _error(str(exc), exc.status)
        except DimensionError as exc:
            return _error(str(exc), 422)
        except (FilterError, KeyError, TypeError, ValueError) as exc:
            # Malformed client input (missing field, wrong type) is the client's error, not ours.
            return _error(f"Invalid request: {exc}", 400)
        return JSONResponse({"result": result})

    methods = ["GET", "POST", "DELETE"]
    routes = [
        Route("/{op}", handle, methods=methods),
        Route("/{op}/{namespace:path}", handle, methods=methods),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def main(argv: list[str] | None = None) -> None:
    from infra.local.embedding import MiniLM

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    secret_option(parser, "--token", TOKEN_VARIABLE)
    parser.add_argument("--data-file", type=Path, default=None)
    args = parser.parse_args(argv)
    token = required_secret(parser, args.token, TOKEN_VARIABLE)
    # onnxruntime where installed: the same vectors in about half the time, for about 70 MB
    # more memory, which a server that only embeds can spend (the origin's verifier cannot).
    app = create_app(token, MiniLM.load(engine="auto"), args.data_file)
    asyncio.run(serve_asgi(app, args.port, args.host))


if __name__ == "__main__":
    main()
