"""The dashboard behind a proxy that ends TLS: `PRISM_PUBLIC_URL` says what browsers see.

The origin here is reached over plain http, as behind a load balancer; browsers are on
https://prism.example.test. Without the setting, a session cookie would go out without
`Secure`, and a balancer that rewrites Host would make every form look cross-site."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.fixtures.members import Member, new_member
from tests.test_cache_resilience import origin_with

PUBLIC = "https://prism.example.test"


@pytest.fixture(scope="module")
async def behind_proxy(origin_server: Any, tmp_path_factory: Any) -> AsyncIterator[Any]:
    logs = tmp_path_factory.mktemp("public-url")
    async with origin_with(origin_server, logs, PRISM_PUBLIC_URL=PUBLIC + "/") as origin:
        yield origin


@pytest.fixture
async def me(pg: Any) -> Member:
    return await new_member(pg.dsn, "public-url")


def from_page(origin: Any, page_origin: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=origin.url, headers={"Origin": page_origin})


async def sign_in(http: httpx.AsyncClient, member: Member) -> httpx.Response:
    return await http.post(
        "/dashboard/login", data={"email": member.email, "password": member.password}
    )


async def test_session_cookies_are_secure_although_the_hop_is_http(
    behind_proxy: Any, me: Member
) -> None:
    async with from_page(behind_proxy, PUBLIC) as http:
        response = await sign_in(http, me)
    assert response.status_code == 303
    cookies = response.headers.get_list("set-cookie")
    assert cookies and all("; secure" in c.lower() for c in cookies)


async def test_without_the_setting_an_http_listener_sends_plain_cookies(
    origin_server: Any, me: Member
) -> None:
    # A direct listener on http (local runs): Secure cookies would never come back.
    async with from_page(origin_server, origin_server.url) as http:
        response = await sign_in(http, me)
    assert response.status_code == 303
    cookies = response.headers.get_list("set-cookie")
    assert cookies and not any("; secure" in c.lower() for c in cookies)


@pytest.mark.parametrize(
    ("page_origin", "status"),
    [
        (PUBLIC, 200),  # our own page, as the browser names it
        ("https://PRISM.example.test", 200),  # host names are case-insensitive
        ("http://prism.example.test", 403),  # the same host without TLS is another origin
        ("{direct}", 403),  # the origin's own address: not where browsers are
        ("https://evil.example", 403),
    ],
)
async def test_forms_are_accepted_only_from_the_public_site(
    behind_proxy: Any, me: Member, page_origin: str, status: int
) -> None:
    page_origin = page_origin.format(direct=behind_proxy.url)
    async with from_page(behind_proxy, PUBLIC) as http:
        assert (await sign_in(http, me)).status_code == 303
        # The cookies are Secure: httpx holds them back over http, as a browser would over
        # https; send them by hand, as the balancer passes them on.
        jar = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        response = await http.post(
            "/dashboard/cache/purge",
            data={"project": me.project_id, "scope": "tag", "target": "feature=none"},
            headers={"Origin": page_origin, "Cookie": jar},
        )
    assert response.status_code == status
