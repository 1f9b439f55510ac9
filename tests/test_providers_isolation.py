"""A provider's cookies never ride along on another call: the shared connection pool serves
every project, so anything it remembered would leak between tenants."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from origin.providers.registry import endpoint_for
from origin.providers.transport import ProviderClient
from origin.settings import Secret, Settings

# The servers these tests call run on loopback, which provider calls reach only if allowed.
LOCAL = ("127.0.0.1", "localhost")


class CookieSettingProvider(BaseHTTPRequestHandler):
    """An OpenAI-compatible upstream that sets a cookie and records what each call carried."""

    seen_cookies: list[str | None] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        type(self).seen_cookies.append(self.headers.get("cookie"))
        body = json.dumps(
            {
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "ok"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("set-cookie", "session=tenant-a-secret; Path=/")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    CookieSettingProvider.seen_cookies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), CookieSettingProvider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # By name, not IP: cookie jars ignore cookies from bare IP addresses, which would hide a leak.
        yield f"http://localhost:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


async def test_cookies_set_by_a_provider_are_never_sent_back(upstream: str) -> None:
    client = ProviderClient(
        Settings(
            upstream_allowlist=LOCAL,
            connect_timeout_s=5,
            first_byte_timeout_s=5,
            total_timeout_s=10,
        )
    )
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    try:
        for key in ("tenant-a-key", "tenant-b-key"):
            endpoint = endpoint_for("local", Secret(key), upstream, "")
            completion = await client.complete(endpoint, "m", body)
            assert completion.body["choices"][0]["message"]["content"] == "ok"
    finally:
        await client.aclose()
    assert CookieSettingProvider.seen_cookies == [None, None]
