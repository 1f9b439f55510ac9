"""The origin's HTTP server bounds a request's head: a client cannot make a worker hold an
endless request line or headers, and ordinary requests, large bodies included, pass."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import httpx

from origin.admin.http_protocol import HEAD_TIMEOUT_S


def exchange(port: int, head: bytes, body: bytes = b"") -> bytes:
    """Send raw bytes, return everything the server sends before it closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(head + body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close while we still write; its answer is already sent
        sock.settimeout(5)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
                if b"\r\n\r\n" in received and b"connection: close" not in received.lower():
                    break
        except (TimeoutError, ConnectionResetError):
            pass
    return received


def test_a_huge_header_is_refused_431_in_the_openai_envelope(origin_server: Any) -> None:
    port = int(origin_server.base_url.split(":")[2].split("/")[0])
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * (1024 * 1024) + b"\r\n\r\n"
    reply = exchange(port, head)
    status, _, rest = reply.partition(b"\r\n")
    assert status == b"HTTP/1.1 431 Request Header Fields Too Large"
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["error"]["code"] == "request_header_fields_too_large"
    # The worker is fine afterwards.
    assert httpx.get(f"{origin_server.base_url.removesuffix('/v1')}/healthz").status_code == 200


def test_a_large_body_with_ordinary_headers_reaches_the_app(origin_server: Any) -> None:
    """Only the head is bounded: a body arriving in the same reads is not counted."""
    port = int(origin_server.base_url.split(":")[2].split("/")[0])
    body = json.dumps({"model": "auto", "messages": [{"role": "user", "content": "x" * 900_000}]})
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer prism_sk_nope\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    reply = exchange(port, head, body.encode())
    assert reply.startswith(b"HTTP/1.1 401"), reply[:200]


def test_headers_under_the_bound_are_served(origin_server: Any) -> None:
    headers = {f"X-Pad-{i}": "b" * 1000 for i in range(40)}  # 40 KiB of headers
    reply = httpx.get(f"{origin_server.base_url.removesuffix('/v1')}/healthz", headers=headers)
    assert reply.status_code == 200


def test_malformed_http_is_a_400_in_the_openai_envelope(origin_server: Any) -> None:
    port = int(origin_server.base_url.split(":")[2].split("/")[0])
    reply = exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n")
    status, _, rest = reply.partition(b"\r\n")
    assert status == b"HTTP/1.1 400 Bad Request"
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["error"]["code"] == "invalid_http"


def test_a_head_that_never_finishes_is_cut_off(origin_server: Any) -> None:
    """A client trickling a head (slowloris) gets 408 once HEAD_TIMEOUT_S has passed."""
    port = int(origin_server.base_url.split(":")[2].split("/")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        started = time.monotonic()
        received = b""
        while chunk := sock.recv(65536):  # the server closes after answering
            received += chunk
    waited = time.monotonic() - started
    assert received.startswith(b"HTTP/1.1 408 Request Timeout"), received[:100]
    assert HEAD_TIMEOUT_S - 1 <= waited < HEAD_TIMEOUT_S + 15
