"""The do-nothing server the benchmark times one loopback round trip against: it must answer
every whole request on a keep-alive connection, however the bytes arrive, or wrk would time
stalls instead of round trips."""

from __future__ import annotations

import socket

import httpx
import pytest

from infra.local.proc import free_port, python_module

REQUEST = (
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n"
    b'{"ping":1}'
)


@pytest.fixture(scope="module")
def loopback_url():
    service = python_module("loopback", "bench.loopback", free_port()).start()
    try:
        yield service.url
    finally:
        service.stop()


def test_it_answers_each_request_on_one_connection(loopback_url: str) -> None:
    with httpx.Client(base_url=loopback_url) as client:
        for _ in range(3):
            response = client.post("/", json={"ping": 1})
            assert response.status_code == 200
            assert response.json() == {"ok": True}


@pytest.mark.parametrize("cut", [1, 20, len(REQUEST) - 1])
def test_requests_split_or_pipelined_get_one_answer_each(loopback_url: str, cut: int) -> None:
    port = int(loopback_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        both = REQUEST + REQUEST
        sock.sendall(both[:cut])
        sock.sendall(both[cut:])
        received = b""
        while received.count(b"HTTP/1.1 200 OK") < 2 or not received.endswith(b'{"ok":true}'):
            chunk = sock.recv(4096)
            assert chunk, "the server closed the connection"
            received += chunk
        assert received.count(b"HTTP/1.1 200 OK") == 2
