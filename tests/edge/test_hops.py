"""Which headers the edge forwards: everything but hop-by-hop and reframed fields."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edge.hops import HOP_BY_HOP, REFRAMED, connection_tokens, forwardable

TOKEN = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    min_size=1,
    max_size=20,
)
VALUE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
KNOWN = st.sampled_from(
    sorted(HOP_BY_HOP | REFRAMED | {"authorization", "x-prism-tags", "content-type"})
)
NAME = st.one_of(TOKEN, KNOWN, KNOWN.map(str.title))
HEADERS = st.lists(st.tuples(NAME, VALUE), max_size=12)


@given(HEADERS)
def test_forwarded_headers_keep_order_and_drop_only_hop_fields(
    headers: list[tuple[str, str]],
) -> None:
    dropped = HOP_BY_HOP | REFRAMED | connection_tokens(headers)
    assert forwardable(headers) == [(n, v) for n, v in headers if n.lower() not in dropped]


@given(HEADERS)
def test_no_hop_by_hop_field_survives(headers: list[tuple[str, str]]) -> None:
    names = {name.lower() for name, _ in forwardable(headers)}
    assert not names & (HOP_BY_HOP | REFRAMED | connection_tokens(headers))


@given(
    st.lists(
        st.tuples(TOKEN.filter(lambda n: n.lower() not in HOP_BY_HOP | REFRAMED), VALUE),
        max_size=12,
    )
)
def test_end_to_end_headers_pass_untouched(headers: list[tuple[str, str]]) -> None:
    assert forwardable(headers) == headers


def test_fields_named_in_connection_are_dropped() -> None:
    headers = [
        ("Connection", "keep-alive, X-Trace-Hop ,"),
        ("X-Trace-Hop", "1"),
        ("Authorization", "Bearer sk"),
        ("X-Prism-Session", "s"),
    ]
    assert forwardable(headers) == [("Authorization", "Bearer sk"), ("X-Prism-Session", "s")]
