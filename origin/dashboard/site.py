"""Where browsers reach the dashboard, which is not always where the origin thinks it is.

Behind a load balancer that ends TLS the origin sees plain http (so cookies marked `Secure`
only when the request is https would never be), and a balancer that rewrites `Host` to the
upstream's address makes every form look cross-site. `PRISM_PUBLIC_URL` names the address the
browsers use; without it, what the request itself shows is trusted, as on a direct listener.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request


@dataclass(frozen=True)
class Site:
    public_url: str = ""  # scheme://host[:port], or "" to read the request's own

    def secure(self, request: Request) -> bool:
        """Whether cookies must be `Secure`: the browsers' scheme, not the hop's."""
        scheme = urlsplit(self.public_url).scheme if self.public_url else request.url.scheme
        return scheme == "https"

    def same_origin(self, request: Request, sent_from: str) -> bool:
        """Whether a form's Origin (or Referer) is one of our own pages."""
        sent = urlsplit(sent_from)
        if not self.public_url:
            return bool(sent.netloc) and sent.netloc == request.url.netloc
        ours = urlsplit(self.public_url)
        return (sent.scheme, sent.netloc.lower()) == (ours.scheme, ours.netloc.lower())


def site_of(request: Request) -> Site:
    site: Site = request.app.state.dashboard.site
    return site
