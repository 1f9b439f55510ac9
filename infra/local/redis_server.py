"""A throwaway redis-server on loopback, for tests and the local stack."""

from __future__ import annotations

import shutil
from pathlib import Path

from infra.local.proc import Service


class RedisServer:
    """One redis-server child process bound to 127.0.0.1:port, its files kept in data_dir.

    Without `persist` it never writes to disk, so a stop/start cycle empties it: that is what
    outage tests want. With `persist` it keeps an append-only file so `make run` survives restarts.
    """

    def __init__(self, port: int, data_dir: Path, persist: bool = False) -> None:
        self.port = port
        self.data_dir = Path(data_dir)
        self.persist = persist
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError(
                "redis-server is not on PATH (scripts/bootstrap.sh installs it)"
            )
        self._service = Service(
            name="redis",
            argv=[binary, *self._arguments()],
            port=port,
            log_path=self.data_dir / "redis.log",
        )

    def _arguments(self) -> list[str]:
        durability = (
            ["--appendonly", "yes"] if self.persist else ["--save", "", "--appendonly", "no"]
        )
        return [
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            *durability,
        ]  # fmt: skip

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        proc = self._service.proc
        return proc is not None and proc.poll() is None

    @property
    def service(self) -> Service:
        """The process itself, for a supervisor that restarts it if it dies."""
        return self._service

    @property
    def pid(self) -> int | None:
        proc = self._service.proc
        return proc.pid if proc is not None else None

    def start(self, timeout: float = 30.0) -> RedisServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._service.start(timeout)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._service.stop(timeout)
