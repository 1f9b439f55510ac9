"""Redis for the request path: one connection per worker, every command pipelined on it.

redis-py checks a connection out of its pool, builds and parses each command in Python and
checks it back in, for every command: 170 µs of CPU for a GET on this machine under load,
against 46 µs for the same GET written to one shared connection and parsed by hiredis
(bench/README.md). Commands from concurrent requests share the connection and go out as they
come; Redis answers in order, so each reply resolves the oldest waiting future. A caller's
commands (one `pipeline`) travel in one write, made at once: deferring writes to the end of
the loop's turn, so that several requests' commands shared one, cost each waiting request a
whole extra turn, which under load is milliseconds (at concurrency 32 guarded by spend control,
83 % of direct's throughput deferred against 89 % written at once, bench.spend). Writes nobody
waits on (a response cache's store, made after its answer was sent) are the exception: sent
with `later=True` they ride with the next command written, or go out alone after
`HOLD_LATER_S`, so a cache miss costs one write and one read of Redis instead of two each.

Errors are redis-py's, so callers keep one vocabulary: a reply error is `ResponseError`
(`NoScriptError` for NOSCRIPT), a lost or refused connection `ConnectionError`. A caller that
gives up waiting (its own `asyncio.timeout`) leaves its future cancelled; the reply, when it
comes, is read and dropped, so later replies still meet their own commands. Used by the
response cache and spend control; everything else keeps redis-py.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import urlsplit

import hiredis
from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

Arg = str | bytes | int | float
_CONNECT_TIMEOUT_S = 2.0
# How long a `later` write may wait for a command to travel with: about one request's time on
# the origin, so that at concurrency 1 a miss's store leaves with the next request's lookup.
HOLD_LATER_S = 0.005


def _encode(args: Sequence[Arg], out: list[bytes]) -> None:
    # hiredis' C packer: in Python this was the largest item of the wire's own CPU.
    out.append(hiredis.pack_command(tuple(args)))  # type: ignore[arg-type]


def _reply_error(message: str) -> ResponseError:
    if message.startswith("NOSCRIPT"):
        return NoScriptError(message)
    return ResponseError(message)


def wrong_type(exc: BaseException) -> bool:
    """Whether Redis refused a command because its key holds another type: state at rest that
    another tool (or an older Prism) wrote, to be read as absent rather than as Redis down."""
    return isinstance(exc, ResponseError) and str(exc).startswith("WRONGTYPE")


def _abandon(futures: Sequence[asyncio.Future[Any]]) -> None:
    """Replies nobody will read: their errors are expected, not "never retrieved"."""
    for future in futures:
        future.add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _deadline_passed(future: asyncio.Future[Any], loop: asyncio.AbstractEventLoop) -> None:
    # A loop running late checks its timers before it reads its sockets: a reply Redis sent in
    # time may be waiting unread. Decide after the next read, not now.
    if not future.done():
        loop.call_later(0, _expire, future)


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(TimeoutError("no reply from Redis in time"))


class _Wire(asyncio.Protocol):
    """The connection: writes commands, matches replies to waiters in order."""

    def __init__(self, encoding: str | None = None) -> None:
        # Decoded by hiredis in C when the caller wants text (spend control's script replies).
        self._reader = hiredis.Reader(replyError=_reply_error, encoding=encoding)
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._transport: asyncio.Transport | None = None
        self._held: list[bytes] = []  # `later` commands, encoded, not yet written
        self._hold_timer: asyncio.TimerHandle | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            waiter = self._waiting.popleft()
            if waiter.done():  # its caller gave up waiting
                continue
            if isinstance(reply, ResponseError):
                waiter.set_exception(reply)
            else:
                waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = RedisConnectionError(f"connection to Redis lost: {exc or 'closed'}")
        self._held.clear()
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(self.lost)

    def send(
        self, commands: Sequence[Sequence[Arg]], later: bool = False
    ) -> list[asyncio.Future[Any]]:
        """Write the commands (after any held ones), or with `later` hold them for the next
        write or HOLD_LATER_S; one future per command, resolved by its reply."""
        if self.lost is not None or self._transport is None:
            raise self.lost or RedisConnectionError("not connected to Redis")
        out: list[bytes] = []
        for command in commands:
            _encode(command, out)  # all or none of them: a bad argument raises here
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in commands]
        self._waiting.extend(futures)
        self._held += out
        if not later:
            self.flush()
        elif self._hold_timer is None:
            self._hold_timer = loop.call_later(HOLD_LATER_S, self.flush)
        return futures

    def flush(self) -> None:
        """Write what is held, in the order it was sent."""
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        if self._held and self._transport is not None and self.lost is None:
            held = self._held
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))
            held.clear()

    def close(self) -> None:
        if self._transport is not None:
            self.flush()
            self._transport.close()


class RedisWire:
    """`await wire.call("GET", key)`; `await wire.pipeline([(...), (...)])`. Connects on first
    use and again after the connection is lost. Call `aclose()` at shutdown."""

    def __init__(
        self, url: str, connect_timeout_s: float = _CONNECT_TIMEOUT_S, encoding: str | None = None
    ) -> None:
        if urlsplit(url).scheme not in ("redis", "rediss"):
            raise ValueError("the Redis URL must start with redis:// or rediss://")
        # redis-py's own reading of the URL, so this connection and the origin's redis-py
        # clients always reach the same database.
        parts: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]
        self._host, self._port = parts.get("host") or "127.0.0.1", parts.get("port") or 6379
        self._tls = "connection_class" in parts  # rediss:// (SSLConnection)
        self._username, self._password = parts.get("username"), parts.get("password")
        self._db = int(parts.get("db") or 0)
        self._connect_timeout_s = connect_timeout_s
        self._encoding = encoding
        self._wire: _Wire | None = None
        self._connecting: asyncio.Lock | None = None

    def __repr__(self) -> str:  # never the password
        return f"RedisWire({self._host}:{self._port}/{self._db})"

    async def call(self, *args: Arg) -> Any:
        wire = self._wire if self._wire is not None and self._wire.lost is None else None
        if wire is None:
            wire = await self._connect()
        return await wire.send((args,))[0]

    async def call_within(self, seconds: float, *args: Arg) -> Any:
        """`call`, failing with TimeoutError when no reply has come `seconds` after it was
        sent. Unlike `asyncio.timeout`, a reply already received when the deadline is checked
        counts: under load the worker's loop runs late, and the timer used to win over a
        reply waiting in the socket, turning a healthy Redis into cache bypasses."""
        wire = self._wire if self._wire is not None and self._wire.lost is None else None
        if wire is None:
            async with asyncio.timeout(seconds):
                wire = await self._connect()
        future = wire.send((args,))[0]
        loop = asyncio.get_running_loop()
        timer = loop.call_later(seconds, _deadline_passed, future, loop)
        try:
            return await future
        finally:
            timer.cancel()

    async def pipeline(
        self,
        commands: Sequence[Sequence[Arg]],
        *,
        return_exceptions: bool = False,
        later: bool = False,
    ) -> list[Any]:
        """Every command's reply, in order; with `return_exceptions` a failed command's error
        stands in its place instead of being raised. With `later` the commands wait to travel
        with the next ones written (for writes nobody is waiting on)."""
        wire = self._wire if self._wire is not None and self._wire.lost is None else None
        if wire is None:
            wire = await self._connect()
        # Awaited one by one, not gathered: the replies come in order, usually in one read, so
        # after the first the rest are already done and cost no turn of the loop.
        replies: list[Any] = []
        futures = wire.send(commands, later)
        for i, future in enumerate(futures):
            try:
                replies.append(await future)
            except ResponseError as exc:
                if not return_exceptions:
                    _abandon(futures[i + 1 :])
                    raise
                replies.append(exc)
            except BaseException:
                _abandon(futures[i + 1 :])
                raise
        return replies

    async def aclose(self) -> None:
        wire, self._wire = self._wire, None
        if wire is not None:
            wire.close()

    async def _connect(self) -> _Wire:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._wire is not None and self._wire.lost is None:
                return self._wire
            loop = asyncio.get_running_loop()
            context = ssl.create_default_context() if self._tls else None
            try:
                async with asyncio.timeout(self._connect_timeout_s):
                    _, wire = await loop.create_connection(
                        lambda: _Wire(self._encoding), self._host, self._port, ssl=context
                    )
                    await self._hello(wire)
            except (OSError, TimeoutError) as exc:
                raise RedisConnectionError(f"cannot connect to Redis: {exc!r}") from exc
            self._wire = wire
            return wire

    async def _hello(self, wire: _Wire) -> None:
        commands: list[tuple[Arg, ...]] = []
        if self._password is not None:
            user = (self._username,) if self._username else ()
            commands.append(("AUTH", *user, self._password))
        if self._db:
            commands.append(("SELECT", self._db))
        if commands:
            await asyncio.gather(*wire.send(commands))
