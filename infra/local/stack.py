"""`make run`: the whole system on this machine, in the foreground, until Ctrl-C.

Real PostgreSQL and Redis servers, stand-ins for the managed HTTP APIs that have no local
server (PostgREST, Upstash Redis REST, Upstash Vector REST), the provider simulator (unless
real provider keys are set), the origin and the edge. Everything lives under .prism/;
a second run reuses it and is up in seconds.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from infra.local import jwt
from infra.local.demo import ensure_demo_project, ensure_demo_user, load_secrets
from infra.local.postgres import PostgresCluster, apply_migrations
from infra.local.proc import (
    JWT_SECRET_VARIABLE,
    REDIS_TOKEN_VARIABLE,
    ROOT,
    VECTOR_TOKEN_VARIABLE,
    Service,
    python_module,
)
from infra.local.redis_server import RedisServer
from infra.local.supervisor import Supervisor

PROVIDER_KEY_VARS = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "groq": "GROQ_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "fireworks": "FIREWORKS_API_KEY",
    "cerebras": "CEREBRAS_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "xai": "XAI_API_KEY",
    "perplexity": "PERPLEXITY_API_KEY",
}


@dataclass(frozen=True)
class Ports:
    postgres: int = int(os.environ.get("PRISM_PG_PORT", "54322"))
    postgrest: int = int(os.environ.get("PRISM_REST_PORT", "54321"))
    redis: int = int(os.environ.get("PRISM_REDIS_PORT", "56379"))
    upstash_redis: int = int(os.environ.get("PRISM_UPSTASH_REDIS_PORT", "54323"))
    upstash_vector: int = int(os.environ.get("PRISM_UPSTASH_VECTOR_PORT", "54324"))
    simulator: int = int(os.environ.get("PRISM_SIMULATOR_PORT", "54325"))
    origin: int = int(os.environ.get("PRISM_PORT", "8000"))
    edge: int = int(os.environ.get("PRISM_EDGE_PORT", "8787"))


def real_provider_keys() -> dict[str, str]:
    return {p: os.environ[v] for p, v in PROVIDER_KEY_VARS.items() if os.environ.get(v)}


async def run() -> None:
    data = Path(os.environ.get("PRISM_DATA_DIR", ROOT / ".prism"))
    logs = data / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    ports, secrets = Ports(), load_secrets(data / "secrets.json")
    # Like PRISM_DEV_API_KEY for the demo key: a newcomer may choose the admin token.
    admin_token = os.environ.get("PRISM_ADMIN_TOKEN") or secrets["admin_token"]
    provider_keys = real_provider_keys()

    pg = PostgresCluster(data / "postgres", ports.postgres)
    redis = RedisServer(ports.redis, data / "redis", persist=True)
    started: list[Service] = []
    try:
        pg.ensure_initialised()
        pg.start()
        await apply_migrations(pg.dsn)
        redis.start()
        for service in stand_ins(ports, pg.dsn, redis.url, secrets, data, bool(provider_keys)):
            service.log_path = logs / f"{service.name}.log"
            started.append(service.start(timeout=60))
        key = await ensure_demo_project(
            pg.dsn, data / "demo.json", provider_keys, secrets["master_key"]
        )
        login = await ensure_demo_user(pg.dsn, data / "demo.json", data / "dashboard-user.json")
        env = origin_env(ports, redis.url, secrets, admin_token, data, bool(provider_keys))
        started.append(origin_service(ports, env, logs).start(timeout=60))
        edge = edge_service(ports, edge_bindings(env, secrets["jwt_secret"]), logs)
        if edge is not None:
            started.append(edge.start(timeout=60))
        cli_env = write_cli_env(data / "cli.env", env, ports.origin)
        announce(ports, key, admin_token, cli_env, provider_keys, data, edge is not None, login)
        await Supervisor([redis.service, *started]).run(stop_requested())
    finally:
        for service in reversed(started):
            service.stop()
        redis.stop()
        pg.stop()
        print("prism: stopped everything it started.", flush=True)


def stand_ins(
    ports: Ports,
    dsn: str,
    redis_url: str,
    secrets: dict[str, str],
    data: Path,
    real_providers: bool,
) -> list[Service]:
    """The HTTP APIs with no local server, and the provider simulator unless keys are real."""
    services = [
        python_module(
            "postgrest",
            "infra.local.postgrest",
            ports.postgrest,
            "--dsn",
            dsn,
            env={JWT_SECRET_VARIABLE: secrets["jwt_secret"]},
        ),
        python_module(
            "upstash-redis",
            "infra.local.upstash_redis",
            ports.upstash_redis,
            "--redis-url",
            redis_url,
            env={REDIS_TOKEN_VARIABLE: secrets["upstash_token"]},
        ),
        python_module(
            "upstash-vector",
            "infra.local.upstash_vector",
            ports.upstash_vector,
            "--data-file",
            str(data / "vectors.json"),
            env={VECTOR_TOKEN_VARIABLE: secrets["upstash_token"]},
        ),
    ]
    if not real_providers:
        services.append(python_module("simulator", "infra.local.simulator", ports.simulator))
    return services


def origin_env(
    ports: Ports,
    redis_url: str,
    secrets: dict[str, str],
    admin_token: str,
    data: Path,
    real_providers: bool,
) -> dict[str, str]:
    """The origin's configuration; `prism` in another terminal gets the same (write_cli_env)."""
    simulator = f"127.0.0.1:{ports.simulator}"
    return {
        "SUPABASE_URL": f"http://127.0.0.1:{ports.postgrest}",
        "SUPABASE_SERVICE_KEY": jwt.encode({"role": "service_role"}, secrets["jwt_secret"]),
        "SUPABASE_ANON_KEY": jwt.encode({"role": "anon"}, secrets["jwt_secret"]),
        "REDIS_URL": redis_url,
        "PRISM_MASTER_KEY": secrets["master_key"],
        "PRISM_ADMIN_TOKEN": admin_token,
        "PRISM_DATA_DIR": str(data),
        "UPSTASH_REDIS_REST_URL": f"http://127.0.0.1:{ports.upstash_redis}",
        "UPSTASH_REDIS_REST_TOKEN": secrets["upstash_token"],
        "UPSTASH_VECTOR_REST_URL": f"http://127.0.0.1:{ports.upstash_vector}",
        "UPSTASH_VECTOR_REST_TOKEN": secrets["upstash_token"],
        "PRISM_SIMULATOR_URL": "" if real_providers else f"http://{simulator}",
        # Provider calls never reach loopback unless allow-listed; the simulator is.
        "PRISM_UPSTREAM_ALLOWLIST": "" if real_providers else simulator,
    }


def origin_service(ports: Ports, env: dict[str, str], logs: Path) -> Service:
    return Service(
        "origin",
        # As users run it (`prism serve`); the access log is the origin's own.
        [sys.executable, "-m", "origin.admin.cli", "serve"],
        ports.origin,
        env={**env, "PRISM_HOST": "127.0.0.1", "PRISM_PORT": str(ports.origin)},
        log_path=logs / "origin.log",
    )


def edge_bindings(origin_env: dict[str, str], jwt_secret: str) -> dict[str, str]:
    """The Worker's bindings: its own least-privilege database key, never the service key,
    the master key or the admin token, which stay with the origin."""
    shared = (
        "SUPABASE_URL",
        "UPSTASH_REDIS_REST_URL",
        "UPSTASH_REDIS_REST_TOKEN",
        "UPSTASH_VECTOR_REST_URL",
        "UPSTASH_VECTOR_REST_TOKEN",
    )
    return {
        **{name: origin_env[name] for name in shared},
        "SUPABASE_EDGE_KEY": jwt.encode({"role": "prism_edge"}, jwt_secret),
        "SUPABASE_ANON_KEY": jwt.encode({"role": "anon"}, jwt_secret),
    }


def edge_service(ports: Ports, bindings: dict[str, str], logs: Path) -> Service | None:
    serve = ROOT / "edge" / "runtime" / "serve.mjs"
    if not serve.exists():
        return None
    env = {**bindings, "ORIGIN_URL": f"http://127.0.0.1:{ports.origin}"}
    argv = [
        "node",
        "--experimental-wasm-stack-switching",
        str(serve),
        "--port",
        str(ports.edge),
        "--origin",
        env["ORIGIN_URL"],
    ]
    return Service("edge", argv, ports.edge, env=env, log_path=logs / "edge.log")


def announce(
    ports: Ports,
    key: str,
    admin_token: str,
    cli_env: Path,
    provider_keys: dict[str, str],
    data: Path,
    edge: bool,
    login: tuple[str, str],
) -> None:
    lines = [
        "",
        "Prism is running.",
        f"  origin (OpenAI-compatible)  http://127.0.0.1:{ports.origin}/v1",
        *([f"  edge (Worker, Pyodide)      http://127.0.0.1:{ports.edge}/v1"] if edge else []),
        f"  PostgREST stand-in          http://127.0.0.1:{ports.postgrest}/rest/v1",
        f"  Postgres                    postgresql://postgres:postgres@127.0.0.1:{ports.postgres}/postgres",
        f"  Redis                       redis://127.0.0.1:{ports.redis}",
        f"  Upstash Redis REST stand-in http://127.0.0.1:{ports.upstash_redis}",
        f"  Upstash Vector stand-in     http://127.0.0.1:{ports.upstash_vector}",
    ]
    if provider_keys:
        lines.append(f"  providers (real keys)       {', '.join(sorted(provider_keys))}")
    else:
        lines.append(
            f"  provider simulator          http://127.0.0.1:{ports.simulator}"
            "  (no real provider keys set: every provider is simulated)"
        )
    lines += [
        f"  demo API key                {key}",
        f"  admin token (/admin/v1)     {admin_token}",
        f"  dashboard                   http://127.0.0.1:{ports.origin}/dashboard",
        f"  dashboard sign-in           {login[0]} / {login[1]}",
        f"  prism CLI                   . .venv/bin/activate && export PRISM_ENV_FILE={cli_env}",
        f"  logs                        {data / 'logs'}",
        "",
        "Press Ctrl-C to stop.",
        "",
    ]
    print("\n".join(lines), flush=True)


def write_cli_env(path: Path, origin_env: dict[str, str], port: int) -> Path:
    """The local stack's settings as a .env file (mode 0600) for `prism` in another terminal."""
    values = {**origin_env, "PRISM_PORT": str(port)}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(
            "# Written by make run: the local stack, for prism commands (PRISM_ENV_FILE).\n"
        )
        handle.writelines(f"{name}={value}\n" for name, value in values.items() if value)
    return path


def stop_requested() -> asyncio.Event:
    """Set on Ctrl-C or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


if __name__ == "__main__":
    asyncio.run(run())
