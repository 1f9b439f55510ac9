"""Provider health is shared by every project, so what one tenant's own configuration does (a
key the provider refuses, a base URL of their own that fails) must not route another tenant
away from a model. Its own origin (health on, short windows) and Redis database, and no
simulator override: each project's base URLs are used as they were configured."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.fixtures.origin import OriginHandle, start_origin

MODEL = "gpt-4o-mini"
HELLO = [{"role": "user", "content": "Say hello to the gateway"}]


class FailingProvider(BaseHTTPRequestHandler):
    """A tenant's own OpenAI-compatible server, down: every call is a 500."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        body = json.dumps({"error": {"type": "server_error", "message": "down"}}).encode()
        self.send_response(500)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def failing_upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FailingProvider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def origin(
    origin_env: dict[str, str], pg: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OriginHandle]:
    env = {k: v for k, v in origin_env.items() if k != "PRISM_SIMULATOR_URL"}
    env |= {
        "REDIS_URL": origin_env["REDIS_URL"].rsplit("/", 1)[0] + "/5",
        "PRISM_DATA_DIR": str(tmp_path_factory.mktemp("tenant-health-data")),
        "PRISM_UPSTREAM_ALLOWLIST": "127.0.0.1",  # the simulator and the failing server
        "PRISM_HEALTH_PROBE_S": "60",
        "PRISM_HEALTH_MIN_SAMPLES": "3",
        "PRISM_CACHE": "off",
    }
    service = start_origin(env, tmp_path_factory.mktemp("tenant-health-logs"))
    try:
        yield OriginHandle(service, env, pg.dsn)
    finally:
        service.stop()


@pytest.fixture
def admin(origin: OriginHandle) -> Iterator[httpx.Client]:
    token = origin.env["PRISM_ADMIN_TOKEN"]
    with httpx.Client(
        base_url=f"{origin.url}/admin/v1", headers={"authorization": f"Bearer {token}"}
    ) as client:
        client.post("/health/reset").raise_for_status()
        yield client


def add_key(admin: httpx.Client, project: Any, provider: str, base_url: str) -> None:
    body = {"provider": provider, "api_key": f"sk-{provider}-key", "base_url": base_url}
    admin.post(f"/projects/{project.id}/provider_keys", json=body).raise_for_status()


def chat(origin: OriginHandle, project: Any, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{origin.base_url}/chat/completions",
        json={"model": MODEL, "messages": HELLO},
        headers={"authorization": f"Bearer {project.api_key}", **headers},
        timeout=30,
    )


async def test_one_tenants_own_failing_server_leaves_the_model_to_everyone_else(
    origin: OriginHandle, admin: httpx.Client, make_project: Any, sim: Any, failing_upstream: str
) -> None:
    tenant_a, tenant_b = await make_project("health-a"), await make_project("health-b")
    add_key(admin, tenant_a, "openai", sim.base_url("openai"))
    add_key(admin, tenant_a, "gemini", sim.base_url("gemini"))
    add_key(admin, tenant_b, "openai", failing_upstream)  # B's own server, down
    for _ in range(4):
        assert chat(origin, tenant_b, **{"X-Prism-Fallback": "none"}).status_code == 503
    answers = [chat(origin, tenant_a) for _ in range(3)]
    assert [r.status_code for r in answers] == [200] * 3
    assert [r.headers["x-prism-provider"] for r in answers] == ["openai"] * 3
    assert not [r for r in answers if ";health:" in r.headers["x-prism-route-reason"]]


@pytest.mark.parametrize(
    ("status", "code"), [(401, "provider_auth_failed"), (429, "rate_limit_exceeded")]
)
async def test_one_tenants_refused_key_leaves_the_model_to_everyone_else(
    origin: OriginHandle,
    admin: httpx.Client,
    make_project: Any,
    sim: Any,
    status: int,
    code: str,
) -> None:
    tenant_a, tenant_b = await make_project("auth-a"), await make_project("auth-b")
    for tenant in (tenant_a, tenant_b):
        add_key(admin, tenant, "openai", sim.base_url("openai"))
    add_key(admin, tenant_a, "gemini", sim.base_url("gemini"))
    # The provider refuses B's key (revoked, or its account's quota spent); A's it answers.
    sim.script({"kind": "status", "status": status}, provider="openai", times=4)
    for _ in range(4):
        refused = chat(origin, tenant_b, **{"X-Prism-Fallback": "none"})
        assert refused.json()["error"]["code"] == code
    answers = [chat(origin, tenant_a) for _ in range(3)]
    assert [r.headers["x-prism-provider"] for r in answers] == ["openai"] * 3
    assert not [r for r in answers if ";health:" in r.headers["x-prism-route-reason"]]
