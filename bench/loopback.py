"""One loopback round trip to a server that does nothing: what any proxy adds before its own
work, and what no server can time.

A request through the origin makes one more round trip than a direct call (client to origin,
and back), and each wakes an idle process. The origin's added-latency histogram starts when
the request's bytes reach its HTTP protocol and stops when its last byte is written, so it
cannot see that hop. This measures it with the same client: wrk at concurrency 1 against a
uvloop server that answers every request with a fixed response, parsing nothing but the
header's end and Content-Length. The client's added p50 less this is the part a server can
see, which the histogram should match.

    python -m bench.loopback --port P      (the server alone)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

import uvloop

from bench.load import Target, run_load
from infra.local.proc import free_port, python_module

BODY = b'{"ok":true}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)
LENGTH = b"content-length:"


class Answer(asyncio.Protocol):
    """Answers each whole request on a keep-alive connection with RESPONSE."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's, a write transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (head_end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:head_end].lower()
            at = head.find(LENGTH)
            length = int(head[at + len(LENGTH) :].split(b"\r\n", 1)[0]) if at >= 0 else 0
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            self.buffer = self.buffer[end:]
            if self.transport is not None:
                self.transport.write(RESPONSE)


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Answer, "127.0.0.1", port)
    await server.serve_forever()


def round_trip_ms(wrk: str, rounds: int = 3, seconds: float = 2.0) -> float:
    """The median over rounds of wrk's p50 at concurrency 1 against the do-nothing server."""
    service = python_module("loopback", "bench.loopback", free_port()).start()
    try:
        target = Target("loopback", f"{service.url}/", '{"ping":1}')
        run_load(wrk, target, 1, 1.0)  # warm-up
        return statistics.median(
            run_load(wrk, target, 1, seconds).latency_ms["p50"] for _ in range(rounds)
        )
    finally:
        service.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    uvloop.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
