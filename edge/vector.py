"""Upstash Vector over its REST API: the one query the edge makes, embedded server-side."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from edge.rest import BackendError, decode, exchange
from edge.web import HttpClient
from shared.breaker import Breaker

# (vector id, Upstash score, metadata), the shape shared.semantic_guard reads matches in.
Match = tuple[str, float, Any]


class UpstashVector:
    def __init__(
        self, http: HttpClient, url: str, token: str, timeout_s: float, breaker: Breaker | None
    ) -> None:
        self._http = http
        self._breaker = breaker
        self._url = url.rstrip("/")
        self._headers = [("authorization", f"Bearer {token}")]
        self._timeout_s = timeout_s

    async def query_data(self, namespace: str, text: str, top_k: int, where: str) -> list[Match]:
        """The `top_k` nearest entries to `text` in `namespace` that satisfy the filter `where`."""
        url = f"{self._url}/query-data/{quote(namespace, safe='')}"
        query = {"data": text, "topK": top_k, "includeMetadata": True, "filter": where}
        status, body = await exchange(
            self._http, "POST", url, self._headers, query, self._timeout_s, self._breaker
        )
        answer = decode(status, body, url)
        results = answer.get("result") if isinstance(answer, dict) else None
        if not isinstance(results, list):
            raise BackendError("Upstash Vector answered without a result list")
        return [_match(item) for item in results]


def _match(item: Any) -> Match:
    try:
        return str(item["id"]), float(item["score"]), item.get("metadata")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BackendError("Upstash Vector answered with a malformed match") from exc
