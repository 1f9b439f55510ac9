"""CLI: python -m infra.local.simulator --port N [--host 127.0.0.1] [--latency-ms 0]."""

from __future__ import annotations

import argparse
import asyncio
import signal

from hypercorn.asyncio import serve
from hypercorn.config import Config

from .app import create_app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.simulator", description="LLM provider simulator"
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--latency-ms", type=int, default=0, help="added before every provider response"
    )
    return parser.parse_args(argv)


def hypercorn_config(host: str, port: int) -> Config:
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.loglevel = "WARNING"
    # Gateways keep pooled connections idle between calls; a short server keep-alive races them.
    config.keep_alive_timeout = 75
    config.keep_alive_max_requests = 1_000_000
    # Hung requests never finish, so shutdown must not wait long for them.
    config.graceful_timeout = 1
    return config


async def run(host: str, port: int, latency_ms: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    app = create_app(latency_ms)
    config = hypercorn_config(host, port)
    await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    asyncio.run(run(args.host, args.port, args.latency_ms))


if __name__ == "__main__":
    main()
