"""Upstash Redis over its REST API: one command or a pipeline per call, JSON in and out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edge.rest import BackendError, decode, exchange
from edge.web import HttpClient

Command = Sequence[str | int]


class UpstashRedis:
    def __init__(self, http: HttpClient, url: str, token: str, timeout_s: float) -> None:
        self._http = http
        self._url = url.rstrip("/")
        self._headers = [("authorization", f"Bearer {token}")]
        self._timeout_s = timeout_s

    async def command(self, *args: str | int, timeout_s: float | None = None) -> Any:
        """The command's result; a Redis error or a failed exchange raises BackendError."""
        status, body = await exchange(
            self._http, "POST", self._url, self._headers, list(args), timeout_s or self._timeout_s
        )
        return _result(decode(status, body, self._url))

    async def pipeline(
        self, commands: Sequence[Command], timeout_s: float | None = None
    ) -> list[Any]:
        """Every command's result, in order; raises BackendError if any one of them failed."""
        url = f"{self._url}/pipeline"
        payload = [list(c) for c in commands]
        status, body = await exchange(
            self._http, "POST", url, self._headers, payload, timeout_s or self._timeout_s
        )
        answers = decode(status, body, url)
        if not isinstance(answers, list) or len(answers) != len(commands):
            raise BackendError("Upstash pipeline answered with the wrong number of results")
        return [_result(answer) for answer in answers]


def _result(answer: Any) -> Any:
    if not isinstance(answer, dict):
        raise BackendError("Upstash answered without a result object")
    if answer.get("error") is not None:
        raise BackendError(f"Upstash command failed: {str(answer['error'])[:200]}")
    return answer.get("result")
