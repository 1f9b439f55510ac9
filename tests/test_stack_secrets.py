"""`make run`'s stand-ins hold their secrets without showing them to the machine: `ps` lists
every process's arguments to every local user, and the JWT secret signs a service-role key
that reads and writes every tenant's rows."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path
from typing import Any

import httpx

from infra.local import jwt
from infra.local.proc import free_port
from infra.local.stack import Ports, stand_ins


def test_the_stand_ins_secrets_are_not_in_any_process_listing(
    pg: Any, redis_server: Any, tmp_path: Path
) -> None:
    ports = Ports(**{name: free_port() for name in Ports.__dataclass_fields__})
    chosen = {"jwt_secret": secrets.token_urlsafe(32), "upstash_token": secrets.token_urlsafe(24)}
    services = stand_ins(ports, pg.dsn, redis_server.url, chosen, tmp_path, real_providers=True)
    try:
        for service in services:
            service.start(timeout=60)
        listing = subprocess.run(
            ["ps", "-eww", "-o", "args"], capture_output=True, text=True, check=True
        ).stdout
        assert "infra.local.postgrest" in listing  # the listing does show the stand-ins
        assert chosen["jwt_secret"] not in listing
        assert chosen["upstash_token"] not in listing
        # They hold the secrets all the same: keys signed with them work, and only those.
        service_key = jwt.encode({"role": "service_role"}, chosen["jwt_secret"])
        rest = f"http://127.0.0.1:{ports.postgrest}/rest/v1/projects?select=id&limit=1"
        as_service = {"apikey": service_key, "Authorization": f"Bearer {service_key}"}
        assert httpx.get(rest, headers=as_service).status_code == 200
        forged = jwt.encode({"role": "service_role"}, "not-the-secret")
        assert httpx.get(rest, headers={"apikey": forged}).status_code == 401
        bearer = {"Authorization": f"Bearer {chosen['upstash_token']}"}
        redis_rest = f"http://127.0.0.1:{ports.upstash_redis}/"
        assert httpx.post(redis_rest, json=["PING"], headers=bearer).json() == {"result": "PONG"}
        vector_info = f"http://127.0.0.1:{ports.upstash_vector}/info"
        assert httpx.get(vector_info, headers=bearer).status_code == 200
        assert httpx.get(vector_info).status_code == 401
    finally:
        for service in services:
            service.stop()
