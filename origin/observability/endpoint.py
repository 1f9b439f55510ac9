"""GET /metrics: the Prometheus text format, behind its own bearer token when one is set."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from origin.observability.metrics import CONTENT_TYPE, Metrics
from origin.settings import Secret
from shared.edge_metrics import EdgeCounts
from shared.errors import AuthenticationFailed


class MetricsEndpoint:
    def __init__(
        self,
        metrics: Metrics,
        token: Secret,
        refresh: Callable[[], Awaitable[None]],
        edge: Callable[[], Awaitable[EdgeCounts | None]] | None = None,
    ) -> None:
        self.metrics, self._token, self._refresh, self._edge = metrics, token, refresh, edge

    async def __call__(self, request: Request) -> Response:
        if self._token:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), self._token.reveal().encode()):
                raise AuthenticationFailed(
                    "GET /metrics needs the PRISM_METRICS_TOKEN bearer token."
                )
        # Backlogs are read when asked for, not kept up to date on every request.
        await self._refresh()
        edge = await self._edge() if self._edge is not None else None
        return Response(self.metrics.render(edge), media_type=CONTENT_TYPE)
