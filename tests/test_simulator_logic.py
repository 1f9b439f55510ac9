"""Pure logic of the provider simulator: token arithmetic, replies, schemas, caching, scripts."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.local.simulator.__main__ import parse_args
from infra.local.simulator.cache import PromptCache
from infra.local.simulator.content import example, plan, split
from infra.local.simulator.faults import ScriptQueue, parse_fault
from infra.local.simulator.state import MAX_RECORDS, SimState
from infra.local.simulator.tokens import json_text, tokens
from infra.local.simulator.turn import CacheMark, ToolSpec, Turn
from infra.local.simulator.wire import malformed

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)

scalar_schemas = st.sampled_from(
    [
        {"type": "string"},
        {"type": "integer"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "array", "items": {}},
    ]
) | st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=3).map(
    lambda e: {"type": "string", "enum": e}
)


def _object_schema(
    children: st.SearchStrategy[dict[str, Any]],
) -> st.SearchStrategy[dict[str, Any]]:
    props = st.dictionaries(st.text(min_size=1, max_size=6), children, min_size=1, max_size=4)
    return props.flatmap(
        lambda p: st.lists(st.sampled_from(sorted(p)), unique=True).map(
            lambda req: {"type": "object", "properties": p, "required": req}
        )
    )


schemas = st.recursive(scalar_schemas, _object_schema, max_leaves=12)


def conforms(value: Any, schema: dict[str, Any]) -> bool:
    """A small JSON-schema check covering what the simulator's generator must satisfy."""
    if "enum" in schema:
        return value in schema["enum"]
    kind = schema["type"]
    if kind == "object":
        props = schema["properties"]
        return set(value) == set(schema["required"]) and all(
            conforms(value[k], props[k]) for k in value
        )
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list),
    }
    return checks[kind](value)


def turn(**kw: Any) -> Turn:
    return Turn(
        **{"model": "m", "stream": False, "prompt_tokens": 10, "user_text": "tell me a story", **kw}
    )


@given(st.text())
def test_tokens_is_ceil_of_quarter_length(text: str) -> None:
    assert tokens(text) == math.ceil(len(text) / 4)
    assert (tokens(text) >= 1) == bool(text)


@given(json_values)
def test_json_text_matches_compact_json_dumps(value: Any) -> None:
    assert json_text(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@given(st.text(), st.integers(1, 5))
def test_split_reassembles_into_at_most_n_nonempty_pieces(text: str, pieces: int) -> None:
    parts = split(text, pieces)
    assert "".join(parts) == text
    assert len(parts) <= pieces and all(parts)


@given(schemas)
def test_example_satisfies_its_schema(schema: dict[str, Any]) -> None:
    assert conforms(example(schema), schema)


@given(st.text(max_size=200), st.integers(0, 40))
def test_max_tokens_truncates_and_reports_length(user_text: str, limit: int) -> None:
    full = plan(turn(user_text=user_text))
    cut = plan(turn(user_text=user_text, max_tokens=limit))
    assert tokens(cut.text) <= limit
    assert full.text.startswith(cut.text)
    assert (cut.finish == "length") == (tokens(full.text) > limit)


@pytest.mark.parametrize(
    ("kw", "text", "finish", "stop_sequence"),
    [
        ({}, "Simulated m reply: tell me a story", "stop", None),
        ({"user_text": "x" * 100}, "Simulated m reply: " + "x" * 60, "stop", None),
        ({"stops": ("reply",)}, "Simulated m ", "stop_sequence", "reply"),
        ({"stops": ("story", "m r")}, "Simulated ", "stop_sequence", "m r"),
        ({"stops": ("absent",)}, "Simulated m reply: tell me a story", "stop", None),
        ({"max_tokens": 2}, "Simulate", "length", None),
        ({"json_mode": True}, '{"reply": "Simulated m reply: tell me a story"}', "stop", None),
        (
            {
                "json_mode": True,
                "json_schema": {
                    "type": "object",
                    "properties": {"a": {"type": "integer"}},
                    "required": ["a"],
                },
            },
            '{"a": 1}',
            "stop",
            None,
        ),
        (
            {
                "tool": ToolSpec(
                    "f",
                    {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
                )
            },
            '{"q": "sim"}',
            "tool",
            None,
        ),
    ],
)
def test_plan_table(kw: dict[str, Any], text: str, finish: str, stop_sequence: str | None) -> None:
    reply = plan(turn(**kw))
    assert (reply.text, reply.finish, reply.stop_sequence) == (text, finish, stop_sequence)


def test_scripted_reply_is_exact_even_with_limits() -> None:
    reply = plan(turn(max_tokens=1, stops=("b",), json_mode=True), scripted="abc def")
    assert (reply.text, reply.finish) == ("abc def", "stop")


def test_automatic_cache_needs_long_prompt_and_a_repeated_prefix() -> None:
    cache = PromptCache()
    long = turn(prompt_tokens=2000, prefix_tokens=1300, prefix_source=["sys"])
    short = turn(prompt_tokens=1000, prefix_tokens=900, prefix_source=["short"])
    assert [cache.automatic("openai", long).cached_tokens for _ in range(2)] == [0, 1280]
    assert cache.automatic("groq", long).cached_tokens == 0  # per provider
    assert [cache.automatic("openai", short).cached_tokens for _ in range(2)] == [0, 0]
    cache.clear()
    assert cache.automatic("openai", long).cached_tokens == 0


def test_prompt_cache_is_bounded() -> None:
    cache = PromptCache(max_entries=2)
    turns = [turn(prompt_tokens=2000, prefix_tokens=1300, prefix_source=[i]) for i in range(3)]
    for t in turns:
        cache.automatic("p", t)
    assert cache.automatic("p", turns[0]).cached_tokens == 0  # evicted, oldest first
    assert cache.automatic("p", turns[2]).cached_tokens == 1280


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        # (tokens, key, ttl) marks of two requests -> (read, 5m, 1h) of the second
        ([(100, b"a", "5m")], [(100, b"a", "5m")], (100, 0, 0)),
        ([(100, b"a", "5m")], [(100, b"a", None), (150, b"b", "1h")], (100, 0, 50)),
        (
            [(100, b"a", "5m")],
            [(100, b"a", "5m"), (150, b"b", "5m"), (170, b"c", "1h")],
            (100, 50, 20),
        ),
        ([(100, b"a", "5m")], [(100, b"x", "5m")], (0, 100, 0)),
        ([(100, b"a", None)], [(100, b"a", "5m")], (0, 100, 0)),  # lookups alone write nothing
    ],
)
def test_explicit_cache_reads_longest_seen_and_writes_the_rest(
    first: list[tuple[int, bytes, str | None]],
    second: list[tuple[int, bytes, str | None]],
    expected: tuple[int, int, int],
) -> None:
    cache = PromptCache()
    cache.explicit("anthropic", turn(prompt_tokens=300, marks=[CacheMark(*m) for m in first]))
    counts = cache.explicit(
        "anthropic", turn(prompt_tokens=300, marks=[CacheMark(*m) for m in second])
    )
    assert (counts.cached_tokens, counts.creation_5m, counts.creation_1h) == expected
    assert counts.uncached == 300 - sum(expected)


def test_script_queue_is_fifo_per_match_and_counts_down() -> None:
    queue = ScriptQueue()
    queue.add({"fault": {"kind": "no_usage"}, "provider": "openai", "times": 2})
    queue.add({"fault": {"kind": "hang"}, "model": "m2"})
    queue.add({"fault": {"kind": "reply", "text": "t"}})
    taken = [
        queue.take(p, m)
        for p, m in [
            ("anthropic", "m1"),
            ("openai", "m2"),
            ("openai", "m2"),
            ("openai", "m2"),
            ("x", "y"),
        ]
    ]
    assert [f.kind if f else None for f in taken] == ["reply", "no_usage", "no_usage", "hang", None]
    assert len(queue) == 0


@pytest.mark.parametrize(
    "raw",
    [
        None,
        {"kind": "explode"},
        {"kind": "status", "status": 200},
        {"kind": "usage"},
        {"kind": "reply"},
        {"kind": "slow_first_byte", "delay_ms": -1},
        {"kind": "disconnect", "after_chunks": "two"},
    ],
)
def test_parse_fault_rejects_bad_faults(raw: Any) -> None:
    with pytest.raises(ValueError):
        parse_fault(raw)


@pytest.mark.parametrize(
    "raw", [[], {"fault": {"kind": "hang"}, "times": 0}, {"fault": {"kind": "hang"}, "provider": 3}]
)
def test_script_queue_rejects_bad_scripts(raw: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        ScriptQueue().add(raw)


def test_records_keep_only_the_newest() -> None:
    state = SimState()
    for i in range(MAX_RECORDS + 5):
        state.record({"provider": "a" if i % 2 else "b", "n": i})
    records = state.recorded()
    assert len(records) == MAX_RECORDS == 2000
    assert (records[0]["n"], records[-1]["n"]) == (5, MAX_RECORDS + 4)
    assert all(r["provider"] == "a" for r in state.recorded("a"))


def test_config_per_provider_and_reset_restores_startup_latency() -> None:
    state = SimState(latency_ms=7)
    state.configure({"latency_ms": 50})
    state.configure({"provider": "groq", "stream_chunk_delay_ms": 3})
    assert (
        state.timing("openai").latency_ms,
        state.timing("groq").latency_ms,
        state.timing("groq").chunk_delay_ms,
    ) == (50, 50, 3)
    state.reset()
    assert (state.timing("groq").latency_ms, state.timing("groq").chunk_delay_ms) == (7, 0)
    with pytest.raises(ValueError):
        state.configure({"latency_ms": -1})


def test_malformed_inserts_a_half_event_after_the_first() -> None:
    events = [b'data: {"a":1}\n\n', b'data: {"b":2222}\n\n', b"data: [DONE]\n\n"]
    out = malformed(events)
    assert out[0] == events[0] and out[2:] == events[1:]
    assert out[1].startswith(b"data: {") and out[1].endswith(b"\n\n")
    with pytest.raises(json.JSONDecodeError):
        json.loads(out[1][len(b"data: ") :])


def test_cli_defaults() -> None:
    args = parse_args(["--port", "9"])
    assert (args.port, args.host, args.latency_ms) == (9, "127.0.0.1", 0)
