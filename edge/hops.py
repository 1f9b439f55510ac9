"""Which headers stop at the edge instead of travelling on to the origin or back to the client.

Everything else, X-Prism-* and Authorization included, passes untouched: the origin is the one
parser of the client's headers, so the edge must neither drop nor rewrite them.
"""

from __future__ import annotations

from typing import Final

from edge.web import Headers

# RFC 9110 §7.6.1 connection-specific fields: they describe one TCP hop, so forwarding them
# would make the next hop act on framing or upgrades negotiated with someone else.
HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

# Fields the edge's own fetch must set itself. Host names the edge, not the origin, and a
# forwarded one would misroute at a virtual host; Content-Length is recomputed from the body the
# runtime actually sends (a stale copy desynchronises framing, the request-smuggling shape);
# Expect was already answered by whoever accepted the client's body.
REFRAMED: Final = frozenset({"host", "content-length", "expect"})


def forwardable(headers: Headers) -> Headers:
    """The headers to send on, in their original order, minus hop-by-hop and reframed fields."""
    dropped = HOP_BY_HOP | REFRAMED | connection_tokens(headers)
    return [(name, value) for name, value in headers if name.lower() not in dropped]


def connection_tokens(headers: Headers) -> frozenset[str]:
    """Extra hop-by-hop field names a sender listed in its Connection header."""
    return frozenset(
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
        if token.strip()
    )
