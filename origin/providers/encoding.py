"""A client's body as the bytes one provider is sent.

Pure, so it sits beside origin.providers.transport rather than in it: that module keeps only
the network I/O. Whatever fails here fails on the client's own body (a shape validation let
through, a number orjson cannot write), so it is the client's error, not the provider's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from origin.providers.base import Adapter, Endpoint, UpstreamRequest
from origin.providers.failures import UNEXPECTED_SHAPE
from shared.errors import InvalidRequest


def translated(
    adapter: Adapter,
    endpoint: Endpoint,
    model: str,
    body: Mapping[str, Any],
    stream: bool,
    prompt_cache: bool = False,
) -> UpstreamRequest:
    try:
        return adapter.build_request(endpoint, model, body, stream, prompt_cache=prompt_cache)
    except UNEXPECTED_SHAPE as exc:
        # Validation upstream of us checks the common shapes; what slips through is the
        # client's malformed request, not our failure.
        raise InvalidRequest(
            f"the request cannot be sent to {endpoint.provider}: {type(exc).__name__}: {exc}"
        ) from None


def encoded(upstream: UpstreamRequest) -> bytes:
    try:
        return orjson.dumps(upstream.json)
    except TypeError as exc:  # e.g. an integer beyond 64 bits in the client's body
        raise InvalidRequest(f"the request body cannot be encoded: {exc}") from None
