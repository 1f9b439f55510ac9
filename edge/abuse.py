"""Slowing down a client address that keeps presenting bad API keys, across every isolate.

Failed key checks are counted per client address (`CF-Connecting-IP`, which the Workers
platform sets) and minute in Upstash, under the same key layout as the origin's limits
(shared.limits). Past AUTH_FAILURES_PER_MINUTE, that address's requests with keys the isolate
does not already know to be good are answered 429 before any lookup. The count is read only
for such keys, so known callers pay no extra round trip; failures are counted after the
response (waitUntil).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from edge.backends import Backends
from edge.context import EdgeContext
from edge.rest import BackendError
from edge.web import Request
from shared.apikeys import bearer_token, hash_api_key
from shared.errors import LimitExceeded
from shared.limits import AUTH_FAILURES_PER_MINUTE, auth_failures_key, ratelimit_headers

log = logging.getLogger("prism.edge.abuse")

ADDRESS_HEADER = "cf-connecting-ip"


def _known(request: Request, ctx: EdgeContext) -> bool:
    key = bearer_token(request.header("authorization"))
    if key is None:
        return False
    remembered = ctx.callers.get(hash_api_key(key))
    return remembered is not None and remembered.caller is not None


async def check_address(request: Request, ctx: EdgeContext, backends: Backends) -> None:
    """Raise the 429 when the client's address is over its bad-key allowance."""
    address = request.header(ADDRESS_HEADER)
    if not address or backends.redis is None or _known(request, ctx):
        return
    now = datetime.now(UTC)
    try:
        count = await backends.redis.command("GET", auth_failures_key(address, now))
    except BackendError as exc:
        log.warning("bad-key count unavailable: %s", exc)
        return
    failures = int(count) if isinstance(count, (str, int)) and str(count).isdigit() else 0
    if failures < AUTH_FAILURES_PER_MINUTE:
        return
    reset = 60 - now.second - now.microsecond / 1e6
    raise LimitExceeded(
        f"Too many requests with invalid API keys from this address ({failures} this "
        f"minute). Retry after {int(reset) + 1} s with a valid key.",
        retry_after=reset,
        limit_headers=ratelimit_headers((AUTH_FAILURES_PER_MINUTE, 0, reset), None),
    )


def count_failure(request: Request, ctx: EdgeContext, backends: Backends) -> None:
    address = request.header(ADDRESS_HEADER)
    if address and backends.redis is not None:
        ctx.background.wait_until(_count(backends, auth_failures_key(address, datetime.now(UTC))))


async def _count(backends: Backends, key: str) -> None:
    assert backends.redis is not None
    try:
        await backends.redis.pipeline([("INCR", key), ("EXPIRE", key, 120)])
    except BackendError as exc:
        log.warning("could not count a bad key: %s", exc)
