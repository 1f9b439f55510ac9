"""PrismHeaders answers every X-Prism-* lookup, and the credentials, exactly as Starlette's
Headers would, so the options and the caller a request gets do not depend on which of the two
the endpoint reads."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Headers

from origin.gateway.prism_headers import PrismHeaders
from shared import headers as H
from shared.options import parse_options

NAMES = [H.MODE, H.CACHE, H.TAGS, H.SESSION, H.MEMORY, H.HEDGE, "X-Other", "Authorization"]
name = st.sampled_from([n.lower() for n in NAMES])
value = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=12)
raw_headers = st.lists(st.tuples(name, value), max_size=10).map(
    lambda pairs: [(n.encode(), v.encode("latin-1")) for n, v in pairs]
)


@given(raw_headers, st.sampled_from(NAMES), st.sampled_from([str.lower, str.upper, str]))
def test_every_lookup_matches_starlette(
    raw: list[tuple[bytes, bytes]], wanted: str, case: object
) -> None:
    spelled = case(wanted)  # type: ignore[operator]
    expected = Headers(raw=raw).get(spelled) if wanted.lower().startswith("x-prism-") else None
    assert PrismHeaders(raw).get(spelled) == expected


def test_options_read_through_it_are_the_same() -> None:
    raw = [
        (b"authorization", b"Bearer prism_sk_x"),
        (b"x-prism-mode", b"eco"),
        (b"x-prism-tags", b"feature=search,team=growth"),
        (b"x-prism-mode", b"sport"),  # a repeat: the first one counts, as in Starlette
        (b"x-prism-cache", b"no-store"),
    ]
    assert parse_options(PrismHeaders(raw)) == parse_options(Headers(raw=raw))
    assert parse_options(PrismHeaders(raw)).mode == "eco"


@given(raw_headers)
def test_credentials_are_the_ones_starlette_reads(raw: list[tuple[bytes, bytes]]) -> None:
    # The endpoint authenticates with these: the same header Starlette's `get` would pick.
    assert PrismHeaders(raw).authorization == Headers(raw=raw).get("authorization")
