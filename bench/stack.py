"""The servers the benchmark measures, on free loopback ports, and their orderly shutdown.

Real Postgres (migrated), Redis, the PostgREST stand-in, the provider simulator and ONE
origin worker run as `prism serve` runs it, configured as the origin test fixture configures it, plus a
project and API key created the way that fixture creates them. Everything is registered
on an ExitStack as soon as it exists, so a failure or Ctrl-C half-way still stops it all.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TypeVar

import asyncpg
import httpx

from infra.local import jwt
from infra.local.postgres import PostgresCluster, apply_migrations
from infra.local.proc import Service, free_port, python_module
from infra.local.projects import create_project
from infra.local.redis_server import RedisServer

KEY_LIFETIME_S = 24 * 3600


@dataclass(frozen=True)
class Stack:
    simulator_url: str
    origin_url: str
    origin_pid: int
    api_key: str
    dsn: str
    work_dir: Path
    pids: dict[str, int]  # root process of each server, for CPU accounting
    redis_url: str = ""
    project_id: str = ""
    vector_url: str = ""  # the Upstash Vector stand-in, when the stack runs one
    vector_token: str = ""

    def set_latency(self, latency_ms: int) -> None:
        """Every provider answer waits this long first (the simulator's control API)."""
        response = httpx.post(
            f"{self.simulator_url}/_sim/config", json={"latency_ms": latency_ms}, timeout=10
        )
        response.raise_for_status()


def start_stack(
    stack: ExitStack,
    work_dir: Path,
    extra_env: dict[str, str] | None = None,
    *,
    profile_to: Path | None = None,
    vector_index: bool = False,
) -> Stack:
    """Start every server; each one's stop is pushed onto `stack` the moment it runs.
    `extra_env` is added to the origin's environment. With `profile_to` the origin runs
    under bench.profiled_worker (SIGUSR1/SIGUSR2 start and stop cProfile). With
    `vector_index` the Upstash Vector stand-in runs too and the origin is given it, as the
    test fixture and `make run` do: the semantic layer on, pair verifier included."""
    logs = work_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    cluster = _start_postgres(stack)
    redis = RedisServer(free_port(), work_dir / "redis")
    stack.callback(redis.stop)
    redis.start()
    jwt_secret = secrets.token_urlsafe(32)
    postgrest = _start_postgrest(stack, cluster.dsn, jwt_secret, logs)
    simulator = python_module(
        "simulator", "infra.local.simulator", free_port(), log_path=logs / "simulator.log"
    )
    _run(stack, simulator)
    env = origin_env(postgrest.url, jwt_secret, redis.url, simulator.url, work_dir)
    if vector_index:
        env |= start_vector_index(stack, logs)
    env |= extra_env or {}
    origin = _start_origin(stack, env, logs, profile_to)
    project = asyncio.run(create_project(cluster.dsn, "bench"))
    pids = _root_pids(cluster, redis, origin=origin, simulator=simulator, postgrest=postgrest)
    return Stack(
        simulator.url,
        origin.url,
        pids["origin"],
        project.api_key,
        cluster.dsn,
        work_dir,
        pids,
        redis.url,
        project.id,
        env.get("UPSTASH_VECTOR_REST_URL", ""),
        env.get("UPSTASH_VECTOR_REST_TOKEN", ""),
    )


def _start_postgres(stack: ExitStack) -> PostgresCluster:
    """A migrated cluster without fsync: the benchmark's rows need not survive a crash."""
    # Straight under the temp root: the postgres OS user must be able to traverse it.
    pg_dir = Path(tempfile.mkdtemp(prefix="prism-pg-bench-"))
    cluster = PostgresCluster(pg_dir, free_port(), fsync=False)
    stack.callback(cluster.destroy)
    cluster.start()
    asyncio.run(apply_migrations(cluster.dsn))
    return cluster


def _start_postgrest(stack: ExitStack, dsn: str, jwt_secret: str, logs: Path) -> Service:
    postgrest = python_module(
        "postgrest",
        "infra.local.postgrest",
        free_port(),
        "--dsn",
        dsn,
        f"--jwt-secret={jwt_secret}",
        log_path=logs / "postgrest.log",
    )
    _run(stack, postgrest)
    return postgrest


def _start_origin(
    stack: ExitStack, env: dict[str, str], logs: Path, profile_to: Path | None
) -> Service:
    """One origin worker as `prism serve` runs it, or under the profiler with `profile_to`."""
    port = free_port()
    env = env | {"PRISM_HOST": "127.0.0.1", "PRISM_PORT": str(port)}
    argv = (
        ["-m", "bench.profiled_worker", str(profile_to)]
        if profile_to is not None
        else ["-m", "origin.admin.cli", "serve"]
    )
    origin = Service(
        "origin",
        [sys.executable, *argv],
        port,
        env=env,
        log_path=logs / "origin.log",
    )
    _run(stack, origin, timeout=60)
    return origin


def _root_pids(cluster: PostgresCluster, redis: RedisServer, **services: Service) -> dict[str, int]:
    """Each server's root process, for CPU accounting."""
    pids = {
        name: service.proc.pid for name, service in services.items() if service.proc is not None
    }
    pids["postgres"] = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
    if redis.pid is not None:
        pids["redis"] = redis.pid
    return pids


def start_vector_index(stack: ExitStack, logs: Path) -> dict[str, str]:
    """The Upstash Vector stand-in (it embeds with MiniLM, so it takes a while to start); the
    origin's environment that points at it."""
    token = secrets.token_urlsafe(24)
    vector = python_module(
        "upstash-vector",
        "infra.local.upstash_vector",
        free_port(),
        f"--token={token}",
        log_path=logs / "upstash-vector.log",
        # Its embeddings are tiny matrices: a second BLAS thread only fights the origin for
        # the cores (the numbers do not depend on it).
        env={"OPENBLAS_NUM_THREADS": "1"},
    )
    _run(stack, vector, timeout=60)
    return {"UPSTASH_VECTOR_REST_URL": vector.url, "UPSTASH_VECTOR_REST_TOKEN": token}


def _run(stack: ExitStack, service: Service, timeout: float = 30.0) -> None:
    stack.callback(service.stop)
    service.start(timeout)


def origin_env(
    postgrest_url: str, jwt_secret: str, redis_url: str, simulator_url: str, work_dir: Path
) -> dict[str, str]:
    """What tests/fixtures/origin.py gives the origin, minus the Upstash stand-ins (the
    vector index is start_stack's `vector_index`)."""
    now = int(time.time())
    service_key = jwt.encode(
        {"role": "service_role", "iss": "prism-local", "iat": now, "exp": now + KEY_LIFETIME_S},
        jwt_secret,
    )
    return {
        "SUPABASE_URL": postgrest_url,
        "SUPABASE_SERVICE_KEY": service_key,
        "REDIS_URL": redis_url,
        "PRISM_SIMULATOR_URL": simulator_url,
        "PRISM_UPSTREAM_ALLOWLIST": simulator_url,
        "PRISM_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "PRISM_ADMIN_TOKEN": secrets.token_urlsafe(16),
        "PRISM_DATA_DIR": str(work_dir / "origin-data"),
        "PRISM_FIRST_BYTE_TIMEOUT_S": "5",
        "PRISM_TOTAL_TIMEOUT_S": "20",
    }


async def usage_rows(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("select count(*) from usage_logs"))
    finally:
        await conn.close()


T = TypeVar("T")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_stopping_everything(name: str, work: Callable[[ExitStack], T]) -> T | None:
    """`work(stack)`, then every server it pushed on `stack` stopped, whatever happens; None
    when Ctrl-C, SIGTERM or SIGHUP cut it short (the caller exits 130)."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    stack = ExitStack()
    try:
        return work(stack)
    except KeyboardInterrupt:
        print(f"{name}: interrupted; stopping everything it started", file=sys.stderr)
        return None
    finally:
        # A second Ctrl-C must not cut the cleanup short and leave servers behind.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        stack.close()
