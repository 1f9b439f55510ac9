"""Local stand-in for the Upstash Redis REST API, in front of a real redis-server.

No emulator of the REST API is published, so this speaks just enough of it for the official
clients (`upstash-redis` in Python, `@upstash/redis` over fetch from the edge): single commands,
pipelines, transactions, bearer auth and base64 result encoding. Redis semantics are the real
server's; this module only translates JSON <-> RESP.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hmac
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote_to_bytes

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from infra.local.proc import REDIS_TOKEN_VARIABLE as TOKEN_VARIABLE
from infra.local.proc import required_secret, secret_option, serve_asgi

Arg = bytes | int
Json = Any

# Connection-scoped commands would leak state into pooled connections shared by every caller,
# and the hosted service refuses them over REST too.
STATEFUL_COMMANDS = frozenset(
    {"MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH", "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE",
     "UNSUBSCRIBE", "PUNSUBSCRIBE", "MONITOR", "SELECT", "QUIT", "RESET", "AUTH", "HELLO"}
)  # fmt: skip


class BadRequest(Exception):
    """The request is malformed before it reaches redis: answered with 400 like a redis error."""


def error_text(exc: RedisError) -> str:
    """Re-attach the error code ("ERR", "WRONGTYPE", ...) that redis-py's parser strips off."""
    code = getattr(exc, "status_code", None)
    return f"{code} {exc}" if code else str(exc)


def encode_result(value: Any, base64_mode: bool) -> Json:
    """RESP2 reply -> JSON: bytes become (base64) strings, ints/nil/arrays keep their shape."""
    if isinstance(value, bytes):
        # The official clients treat a bare "OK" as the status reply and base64-decode the rest.
        if not base64_mode or value == b"OK":
            return value.decode("utf-8", errors="replace")
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, list):
        return [encode_result(item, base64_mode) for item in value]
    if isinstance(value, RedisError):
        return error_text(value)
    return value


def to_args(command: Json) -> list[Arg]:
    """A JSON command array -> redis arguments, keeping strings as UTF-8 bytes."""
    if not isinstance(command, list) or not command:
        raise BadRequest("ERR failed to parse command: expected a non-empty JSON array")
    args: list[Arg] = []
    for item in command:
        if isinstance(item, str):
            args.append(item.encode())
        elif isinstance(item, bool) or item is None or isinstance(item, (dict, list)):
            args.append(json.dumps(item).encode())
        elif isinstance(item, int):
            args.append(item)
        elif isinstance(item, float):
            args.append(repr(item).encode())
        else:
            raise BadRequest(f"ERR unsupported argument type {type(item).__name__}")
    return guard(args)


def guard(args: list[Arg]) -> list[Arg]:
    name = args[0].decode(errors="replace") if isinstance(args[0], bytes) else str(args[0])
    if name.upper() in STATEFUL_COMMANDS:
        raise BadRequest(f"ERR Command is not available: '{name}'")
    return args


def _outcome(value: Any, base64_mode: bool) -> dict[str, Json]:
    if isinstance(value, RedisError):
        return {"error": error_text(value)}
    return {"result": encode_result(value, base64_mode)}


def path_command(request: Request, body: bytes) -> list[Arg]:
    """`/set/key/value?EX=10` form: path segments, then query pairs, then the raw body if any."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    segments = [unquote_to_bytes(s) for s in raw_path.split(b"?")[0].split(b"/") if s]
    args: list[Arg] = list(segments)
    for key, value in request.query_params.multi_items():
        if key != "_token":
            args += [key.encode(), value.encode()]
    if body:
        args.append(body)
    if not args:
        raise BadRequest("ERR empty command")
    return guard(args)


class Gateway:
    """Everything a request handler needs: the redis pool and the expected token."""

    def __init__(self, redis_url: str, token: str) -> None:
        self.token = token
        # One quick retry covers pooled connections left dead by a redis restart; more retries
        # (redis-py's default backs off for seconds) would only delay the 503 during an outage.
        self.redis = aioredis.Redis.from_url(
            redis_url,
            protocol=2,
            decode_responses=False,
            socket_connect_timeout=2,
            socket_timeout=10,
            retry=Retry(NoBackoff(), 1),
        )
        # Raw replies only: redis-py's callbacks turn replies into Python dicts/bools/floats.
        self.redis.response_callbacks.clear()

    def authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        supplied = header[7:] if header.lower().startswith("bearer ") else ""
        supplied = supplied or request.query_params.get("_token", "")
        return hmac.compare_digest(supplied.encode(), self.token.encode())

    async def single(self, args: Sequence[Arg]) -> Any:
        return await self.redis.execute_command(*args)

    async def batch(self, commands: Sequence[Sequence[Arg]], transaction: bool) -> list[Any]:
        pipe = self.redis.pipeline(transaction=transaction)
        for args in commands:
            pipe.execute_command(*args)
        return await pipe.execute(raise_on_error=False)


def _json_error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _read_json(request: Request) -> Json:
    try:
        return json.loads(await request.body())
    except ValueError as exc:
        raise BadRequest(f"ERR failed to parse request body as JSON: {exc}") from exc


async def _dispatch(gateway: Gateway, request: Request) -> JSONResponse:
    base64_mode = request.headers.get("upstash-encoding", "").lower() == "base64"
    path = request.url.path.rstrip("/")
    if path in ("/pipeline", "/multi-exec"):
        commands = await _read_json(request)
        if not isinstance(commands, list) or not commands:
            raise BadRequest("ERR a pipeline body must be a non-empty array of commands")
        results = await gateway.batch([to_args(c) for c in commands], path == "/multi-exec")
        return JSONResponse([_outcome(r, base64_mode) for r in results])
    if path == "":
        args = to_args(await _read_json(request)) if request.method == "POST" else []
        if not args:
            raise BadRequest("ERR empty command")
    else:
        args = path_command(request, await request.body() if request.method == "POST" else b"")
    result = _outcome(await gateway.single(args), base64_mode)
    return JSONResponse(result, status_code=400 if "error" in result else 200)


def create_app(redis_url: str, token: str) -> Starlette:
    """The REST stand-in as an ASGI app, bound to one redis-server and one bearer token."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        gateway = Gateway(redis_url, token)
        app.state.gateway = gateway
        try:
            yield
        finally:
            await gateway.redis.aclose()

    async def handle(request: Request) -> JSONResponse:
        gateway: Gateway = request.app.state.gateway
        if not gateway.authorized(request):
            return _json_error("Unauthorized", 401)
        try:
            return await _dispatch(gateway, request)
        except BadRequest as exc:
            return _json_error(str(exc), 400)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            return _json_error(f"ERR redis is unavailable: {exc}", 503)
        except ResponseError as exc:
            return _json_error(error_text(exc), 400)

    routes = [Route("/{path:path}", handle, methods=["GET", "POST"])]
    return Starlette(routes=routes, lifespan=lifespan)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--redis-url", required=True)
    secret_option(parser, "--token", TOKEN_VARIABLE)
    args = parser.parse_args(argv)
    token = required_secret(parser, args.token, TOKEN_VARIABLE)
    asyncio.run(serve_asgi(create_app(args.redis_url, token), args.port, args.host))


if __name__ == "__main__":
    main()
