"""Start and stop the local stack's server processes, and find free loopback ports."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local.lifeline import lifeline

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A loopback port that was free a moment ago; tests use these so parallel runs don't collide."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout}s")


@dataclass
class Service:
    """A child process we started and must stop, with where it listens."""

    name: str
    argv: list[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Service:
        env = {**os.environ, "PYTHONPATH": str(ROOT), **self.env}
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            self.argv,
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        # Its own process group (pgid = pid), which dies with us even if we are killed.
        lifeline().guard_group(self.proc.pid)
        try:
            wait_for_port(self.port, timeout, self.proc)
        except Exception:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        lifeline().release_group(proc.pid)


def python_module(name: str, module: str, port: int, *args: str, **kw: object) -> Service:
    """A Service that runs `python -m module --port N args...` with this interpreter."""
    argv = [sys.executable, "-m", module, "--port", str(port), *args]
    return Service(name=name, argv=argv, port=port, **kw)  # type: ignore[arg-type]


async def serve_asgi(app: Any, port: int, host: str = "127.0.0.1") -> None:
    """Run an ASGI app on Hypercorn until SIGTERM/SIGINT, then shut down through its lifespan."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


# Where the stand-ins read their secrets: the names their clients know them by.
JWT_SECRET_VARIABLE = "SUPABASE_JWT_SECRET"
REDIS_TOKEN_VARIABLE = "UPSTASH_REDIS_REST_TOKEN"
VECTOR_TOKEN_VARIABLE = "UPSTASH_VECTOR_REST_TOKEN"


def secret_option(parser: argparse.ArgumentParser, flag: str, variable: str) -> None:
    """A secret a stand-in needs: read from `variable` in its environment, which only its own
    user can see, rather than from its argv, which `ps` shows every user of the machine; the
    flag is still accepted for a one-off run by hand."""
    parser.add_argument(flag, default=os.environ.get(variable), help=f"default: ${variable}")


def required_secret(parser: argparse.ArgumentParser, value: str | None, variable: str) -> str:
    if not value:
        parser.error(f"set {variable} (or pass it as an option)")
    return value
