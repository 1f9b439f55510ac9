"""The SSE parser and encoder: examples for each framing rule, properties for chunking."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from origin.providers.base import SSEEvent
from origin.providers.sse import SSEError, SSEParser
from shared import sse


def parse_all(chunks: list[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    events.extend(parser.close())
    return events


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    pieces, start = [], 0
    for point in points:
        pieces.append(data[start:point])
        start = point
    pieces.append(data[start:])
    return pieces


EXAMPLES = [
    ("lf", b"data: a\n\n", [SSEEvent(None, "a")]),
    ("crlf", b"data: a\r\n\r\n", [SSEEvent(None, "a")]),
    ("lone cr", b"data: a\r\r", [SSEEvent(None, "a")]),
    ("multi-line data joins with lf", b"data: a\ndata: b\n\n", [SSEEvent(None, "a\nb")]),
    ("event name", b"event: ping\ndata: {}\n\n", [SSEEvent("ping", "{}")]),
    (
        "name resets per event",
        b"event: x\ndata: 1\n\ndata: 2\n\n",
        [SSEEvent("x", "1"), SSEEvent(None, "2")],
    ),
    ("comment / ping line ignored", b": keep-alive\n\ndata: a\n\n", [SSEEvent(None, "a")]),
    ("no space after colon", b"data:a\n\n", [SSEEvent(None, "a")]),
    ("only one leading space stripped", b"data:  a\n\n", [SSEEvent(None, " a")]),
    ("empty data still dispatches", b"data:\n\n", [SSEEvent(None, "")]),
    ("field without colon", b"data\n\n", [SSEEvent(None, "")]),
    ("event without data is dropped", b"event: x\n\n", []),
    ("id and retry ignored", b"id: 7\nretry: 10\ndata: a\n\n", [SSEEvent(None, "a")]),
    (
        "final event without blank line",
        b"data: a\n\ndata: b",
        [SSEEvent(None, "a"), SSEEvent(None, "b")],
    ),
    ("final event ending in lone cr", b"data: b\r", [SSEEvent(None, "b")]),
    ("bom at stream start", b"\xef\xbb\xbfdata: a\n\n", [SSEEvent(None, "a")]),
    ("utf-8 text", "data: héllo ✓\n\n".encode(), [SSEEvent(None, "héllo ✓")]),
    ("openai done", sse.DONE, [SSEEvent(None, "[DONE]")]),
]


@pytest.mark.parametrize(
    ("wire", "expected"), [(w, e) for _, w, e in EXAMPLES], ids=[name for name, _, _ in EXAMPLES]
)
def test_framing_rules(wire: bytes, expected: list[SSEEvent]) -> None:
    assert parse_all([wire]) == expected


@pytest.mark.parametrize(
    ("wire", "expected"), [(w, e) for _, w, e in EXAMPLES], ids=[name for name, _, _ in EXAMPLES]
)
def test_framing_rules_byte_by_byte(wire: bytes, expected: list[SSEEvent]) -> None:
    assert parse_all([wire[i : i + 1] for i in range(len(wire))]) == expected


@given(st.binary(max_size=400), st.lists(st.integers(min_value=0, max_value=400), max_size=20))
def test_any_split_of_any_bytes_gives_the_same_events(data: bytes, cuts: list[int]) -> None:
    assert parse_all(split_at(data, cuts)) == parse_all([data])


_line_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=30)
_events = st.lists(
    st.tuples(
        st.none() | _line_text.filter(lambda s: s and not s[0].isspace()),
        st.lists(_line_text, min_size=1, max_size=3),
    ),
    max_size=8,
)


@given(
    _events,
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
    st.booleans(),
    st.lists(st.integers(min_value=0, max_value=2000), max_size=30),
)
def test_encoded_events_round_trip_under_any_chunking(
    events: list[tuple[str | None, list[str]]], eol: bytes, pings: bool, cuts: list[int]
) -> None:
    wire = b""
    for name, lines in events:
        if pings:
            wire += b": ping" + eol
        if name is not None:
            wire += b"event: " + name.encode() + eol
        wire += b"".join(b"data: " + line.encode() + eol for line in lines) + eol
    expected = [SSEEvent(name, "\n".join(lines)) for name, lines in events]
    assert parse_all(split_at(wire, cuts)) == expected


@given(
    st.dictionaries(
        st.text(max_size=10), st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20), max_size=5
    )
)
def test_encode_data_is_one_parseable_event(payload: dict[str, object]) -> None:
    # The edge's serialiser (standard library) and the origin's (orjson) frame alike.
    for dumps in (sse.compact_json, orjson.dumps):
        (event,) = parse_all([sse.data_event(payload, dumps)])
        assert event.event is None
        assert orjson.loads(event.data) == payload


def test_done_and_comment_encoding() -> None:
    assert sse.DONE == b"data: [DONE]\n\n"
    assert parse_all([sse.comment("keep\nalive"), sse.DONE]) == [SSEEvent(None, "[DONE]")]


def test_a_whole_stream_is_its_events_then_done() -> None:
    chunks = [{"id": "a", "choices": []}, {"id": "b", "usage": {"total_tokens": 3}}]
    events = parse_all([sse.stream(chunks)])
    assert [orjson.loads(e.data) for e in events[:-1]] == chunks
    assert events[-1] == SSEEvent(None, "[DONE]")


def test_an_endless_line_is_refused() -> None:
    parser = SSEParser(max_line_bytes=64)
    parser.feed(b"data: " + b"x" * 50)
    with pytest.raises(SSEError):
        parser.feed(b"x" * 50)


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


HUGE_LINE = b"data: " + b"a" * 200_000 + b"\n\n"
PATHOLOGICAL = [
    ("one huge line, one byte at a time", chunked(HUGE_LINE, 1)),
    ("one huge line in one chunk", [HUGE_LINE]),
    ("many tiny events, three bytes at a time", chunked(b"data: x\n\n" * 20_000, 3)),
    ("every chunk ends in a lone CR", [b"data: a\r"] * 20_000 + [b"\r"]),
    ("every chunk ends mid-CRLF", chunked(b"data: a\r\n\r\n" * 10_000, 8)),
]


@pytest.mark.parametrize(("name", "chunks"), PATHOLOGICAL, ids=[p[0] for p in PATHOLOGICAL])
def test_work_grows_linearly_with_the_input(name: str, chunks: list[bytes]) -> None:
    # A provider can cut its stream anywhere; re-scanning what is pending on every chunk made
    # a trickled long line cost O(n^2). The parser's own count of bytes it scanned or copied
    # must stay within a small multiple of what it was fed, and the events must be right.
    parser = SSEParser()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    events.extend(parser.close())
    fed = sum(len(c) for c in chunks)
    assert parser.examined <= 2 * fed
    assert events == parse_all([b"".join(chunks)])


@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=40))
def test_work_is_linear_however_the_bytes_are_cut(data: bytes, cuts: list[int]) -> None:
    parser = SSEParser()
    for piece in split_at(data, cuts):
        parser.feed(piece)
    parser.close()
    assert parser.examined <= 2 * len(data)


def test_an_event_whose_data_outgrows_the_limit_is_refused() -> None:
    # Many short data lines and no blank line: each line is small, the event is not.
    parser = SSEParser(max_line_bytes=1000)
    with pytest.raises(SSEError):
        for _ in range(200):
            parser.feed(b"data: 0123456789\n")
