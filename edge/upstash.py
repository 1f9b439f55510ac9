"""Upstash Redis over its REST API: one command or a pipeline per call, JSON in and out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edge.rest import BackendError, decode, exchange
from edge.web import HttpClient
from shared.breaker import Breaker

Command = Sequence[str | int]


class UpstashRedis:
    """Calls on a request's path use the client's timeout and skip Redis while `breaker` is
    open (edge.cooldowns). A call given its own `timeout_s` is work after the response, such as
    queueing a usage row: it always tries, however Redis behaved a moment ago."""

    def __init__(
        self, http: HttpClient, url: str, token: str, timeout_s: float, breaker: Breaker | None
    ) -> None:
        self._http = http
        self._url = url.rstrip("/")
        self._headers = [("authorization", f"Bearer {token}")]
        self._timeout_s = timeout_s
        self._breaker = breaker

    async def command(self, *args: str | int, timeout_s: float | None = None) -> Any:
        """The command's result; a Redis error or a failed exchange raises BackendError."""
        status, body = await self._exchange(self._url, list(args), timeout_s)
        return _result(decode(status, body, self._url))

    async def pipeline(
        self, commands: Sequence[Command], timeout_s: float | None = None
    ) -> list[Any]:
        """Every command's result, in order; raises BackendError if any one of them failed."""
        url = f"{self._url}/pipeline"
        payload = [list(c) for c in commands]
        status, body = await self._exchange(url, payload, timeout_s)
        answers = decode(status, body, url)
        if not isinstance(answers, list) or len(answers) != len(commands):
            raise BackendError("Upstash pipeline answered with the wrong number of results")
        return [_result(answer) for answer in answers]

    async def _exchange(self, url: str, payload: Any, timeout_s: float | None) -> tuple[int, bytes]:
        if timeout_s is None:
            return await exchange(
                self._http, "POST", url, self._headers, payload, self._timeout_s, self._breaker
            )
        return await exchange(self._http, "POST", url, self._headers, payload, timeout_s)


def _result(answer: Any) -> Any:
    if not isinstance(answer, dict):
        raise BackendError("Upstash answered without a result object")
    if answer.get("error") is not None:
        raise BackendError(f"Upstash command failed: {str(answer['error'])[:200]}")
    return answer.get("result")
