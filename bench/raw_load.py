"""A minimal keep-alive HTTP/1.1 load client on asyncio streams, for benchmarks that must leave
the CPU to the server: a few tens of microseconds per request, pre-encoded requests, only the
status and the X-Prism-Cache-Status header read back."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter


class RawClient:
    """One keep-alive HTTP/1.1 connection sending pre-encoded POSTs (reopened when the
    server closes it)."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes) -> tuple[int, str]:
        """(status, X-Prism-Cache-Status) of one request on this connection."""
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self._port)
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
        await self._reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return int(lines[0].split(" ", 2)[1]), headers.get("x-prism-cache-status", "")

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            await writer.wait_closed()


async def latencies(port: int, requests: list[bytes], n: int) -> tuple[list[float], Counter[str]]:
    client = RawClient(port)
    seen: Counter[str] = Counter()
    times: list[float] = []
    try:
        for i in range(n):
            started = time.perf_counter()
            status, cache = await client.send(requests[i % len(requests)])
            times.append((time.perf_counter() - started) * 1000)
            seen[f"{status} {cache}"] += 1
    finally:
        await client.close()
    return times, seen


async def throughput(
    port: int, request: bytes, concurrency: int, seconds: float
) -> tuple[float, Counter[str]]:
    seen: Counter[str] = Counter()
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        client = RawClient(port)
        try:
            while time.perf_counter() < stop_at:
                status, cache = await client.send(request)
                seen[f"{status} {cache}"] += 1
        finally:
            await client.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sum(seen.values()) / (time.perf_counter() - started), seen


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]
