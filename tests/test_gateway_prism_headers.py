"""PrismHeaders answers every X-Prism-* lookup, and the credentials, exactly as Starlette's
Headers would, so the options and the caller a request gets do not depend on which of the two
the endpoint reads."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Headers

from origin.gateway.prism_headers import OptionsMemo, PrismHeaders
from shared import headers as H
from shared.errors import InvalidRequest
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


# Header sets a client repeats: the memo must hand each the options parsing would give.
memo_name = st.sampled_from(
    [n.lower() for n in (H.MODE, H.CACHE, H.TAGS, H.CACHE_TTL, H.FALLBACK, H.HEDGE)]
)
memo_value = st.sampled_from(
    ["eco", "sport", "no-store", "no-cache", "team=a,feature=b", "120", "none", "on", "250", ""]
)
memo_headers = st.lists(st.tuples(memo_name, memo_value), max_size=4).map(
    lambda pairs: [(n.encode(), v.encode()) for n, v in pairs]
)


@given(st.lists(memo_headers, min_size=1, max_size=12))
def test_the_options_memo_gives_what_parsing_gives(sets: list[list[tuple[bytes, bytes]]]) -> None:
    memo = OptionsMemo()
    for raw in sets * 2:  # every set twice: the second time from the memo
        try:
            expected = parse_options(PrismHeaders(raw))
        except InvalidRequest as exc:
            with pytest.raises(InvalidRequest) as raised:
                memo(PrismHeaders(raw))
            assert raised.value.message == exc.message
            continue
        assert memo(PrismHeaders(raw)) == expected


def test_a_refused_header_set_is_refused_every_time() -> None:
    memo = OptionsMemo()
    raw = [(b"x-prism-mode", b"turbo")]
    for _ in range(2):
        with pytest.raises(InvalidRequest, match="X-Prism-Mode"):
            memo(PrismHeaders(raw))


def test_the_memo_stays_bounded_and_right_when_it_starts_over() -> None:
    memo = OptionsMemo()
    for n in range(OptionsMemo.MAX_ENTRIES + 5):
        raw = [(b"x-prism-tags", f"run={n}".encode())]
        assert memo(PrismHeaders(raw)).tags == {"run": str(n)}
    assert len(memo._parsed) <= OptionsMemo.MAX_ENTRIES
    # A long header set is parsed, never kept.
    long_raw = [(b"x-prism-tags", ("k=" + "v" * 60 + ",").encode() * 9)]
    before = len(memo._parsed)
    assert memo(PrismHeaders(long_raw)).tags == {"k": "v" * 60}
    assert len(memo._parsed) == before
