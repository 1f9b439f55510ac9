"""Exact-cache fingerprints and semantic scopes: pairs that must share a key, pairs that must
not, and properties over generated JSON bodies."""

from __future__ import annotations

import copy
import json
import random
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import InvalidRequest
from shared.fingerprint import fingerprint, semantic_scope

SYSTEM = {"role": "system", "content": "You are terse."}
USER = {"role": "user", "content": "What is 2+2?"}
TOOL = {"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}
BASE: dict[str, Any] = {"model": "gpt-4o", "messages": [SYSTEM, USER]}

# A call is (project, body, keyword arguments of fingerprint).
Call = tuple[str, dict[str, Any], dict[str, Any]]


def call(project: str = "p1", kwargs: dict[str, Any] | None = None, **changes: Any) -> Call:
    """BASE with top-level fields replaced (None removes the field)."""
    body = {**copy.deepcopy(BASE), **changes}
    return project, {k: v for k, v in body.items() if v is not None}, kwargs or {}


def with_user(content: Any, **changes: Any) -> Call:
    return call(messages=[SYSTEM, {"role": "user", "content": content}], **changes)


def reordered(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(v) for v in value]
    return value


MARKER = {"type": "ephemeral"}

MATCHING: list[tuple[str, Call, Call]] = [
    ("key order", call(), ("p1", reordered(BASE), {})),
    ("json whitespace", call(), ("p1", json.loads(json.dumps(BASE, indent=7)), {})),
    ("temperature 1 is the default", call(), call(temperature=1)),
    ("temperature 1.0 is the default", call(), call(temperature=1.0)),
    ("n 1 is the default", call(), call(n=1)),
    ("top_p 1 is the default", call(), call(top_p=1)),
    ("penalties 0 are the default", call(), call(frequency_penalty=0, presence_penalty=0.0)),
    ("logprobs false is the default", call(), call(logprobs=False)),
    (
        "parallel_tool_calls true is the default",
        call(tools=[TOOL]),
        call(tools=[TOOL], parallel_tool_calls=True),
    ),
    (
        "tool_choice auto with tools is the default",
        call(tools=[TOOL]),
        call(tools=[TOOL], tool_choice="auto"),
    ),
    ("stream", call(), call(stream=True)),
    ("stream false", call(), call(stream=False)),
    (
        "stream_options",
        call(stream=True),
        call(stream=True, stream_options={"include_usage": True}),
    ),
    ("user", call(), call(user="u-123")),
    ("metadata", call(), call(metadata={"trace": "abc"})),
    ("store and service tier", call(), call(store=True, service_tier="flex")),
    (
        "safety_identifier and prompt_cache_key",
        call(),
        call(safety_identifier="s", prompt_cache_key="k"),
    ),
    ("top-level cache_control", call(), call(cache_control=MARKER)),
    (
        "cache_control on a text part",
        with_user("What is 2+2?"),
        with_user([{"type": "text", "text": "What is 2+2?", "cache_control": MARKER}]),
    ),
    (
        "cache_control on the system message",
        call(),
        call(messages=[{**SYSTEM, "cache_control": MARKER}, USER]),
    ),
    (
        "cache_control on a tool",
        call(tools=[TOOL]),
        call(tools=[{**TOOL, "cache_control": MARKER}]),
    ),
    (
        "single text part is a string",
        with_user("What is 2+2?"),
        with_user([{"type": "text", "text": "What is 2+2?"}]),
    ),
    ("message text trimmed", with_user("What is 2+2?"), with_user("  What is 2+2?\n")),
    ("max_completion_tokens is max_tokens", call(max_tokens=100), call(max_completion_tokens=100)),
    (
        "max_tokens beside max_completion_tokens is not sent",
        call(max_completion_tokens=100),
        call(max_completion_tokens=100, max_tokens=7),
    ),
    (
        "null max_tokens falls back",
        call(max_completion_tokens=100),
        call(max_tokens=None, max_completion_tokens=100),
    ),
    ("float 1.0 is int 1", call(seed=1), call(seed=1.0)),
    ("integral float max_tokens", call(max_tokens=100), call(max_tokens=100.0)),
    ("nested integral float", call(logit_bias={"50256": -100}), call(logit_bias={"50256": -100.0})),
    ("string stop is a one-item list", call(stop="END"), call(stop=["END"])),
    ("absent model is auto", call(model=None), call(model="auto")),
    (
        "assistant content absent or null",
        call(messages=[USER, {"role": "assistant", "tool_calls": []}, USER]),
        call(messages=[USER, {"role": "assistant", "content": None, "tool_calls": []}, USER]),
    ),
    ("default envelope", call(), call(kwargs={"mode": "balanced", "model_prefer": None})),
]

DIFFERING: list[tuple[str, Call, Call]] = [
    ("model", call(), call(model="gpt-4o-mini")),
    ("model vs auto", call(), call(model=None)),
    ("user text", with_user("What is 2+2?"), with_user("What is 2+3?")),
    ("user text case", with_user("hello"), with_user("Hello")),
    ("inner whitespace", with_user("a b"), with_user("a  b")),
    ("system prompt", call(), call(messages=[{"role": "system", "content": "Be verbose."}, USER])),
    ("no system prompt", call(), call(messages=[USER])),
    ("role", call(messages=[USER]), call(messages=[{**USER, "role": "assistant"}])),
    (
        "earlier turn",
        call(messages=[USER, {"role": "assistant", "content": "4"}, USER]),
        call(messages=[USER, {"role": "assistant", "content": "5"}, USER]),
    ),
    ("tools", call(), call(tools=[TOOL])),
    (
        "tool definitions",
        call(tools=[TOOL]),
        call(tools=[{"type": "function", "function": {"name": "sub"}}]),
    ),
    ("tool_choice required", call(tools=[TOOL]), call(tools=[TOOL], tool_choice="required")),
    ("temperature 0.2 vs 0.3", call(temperature=0.2), call(temperature=0.3)),
    ("temperature 0 vs default", call(), call(temperature=0)),
    ("seed", call(seed=1), call(seed=2)),
    ("seed vs none", call(), call(seed=1)),
    ("response_format", call(), call(response_format={"type": "json_object"})),
    ("max_tokens", call(max_tokens=100), call(max_tokens=101)),
    # Every field that reaches a provider is in the key, known to us or not.
    ("top_k", call(), call(top_k=1)),
    ("top_k 1 vs 40", call(top_k=1), call(top_k=40)),
    ("vendor extra", call(), call(repetition_penalty=1.3)),
    ("vendor extra object", call(), call(x_vendor_thing={"a": 1})),
    ("min_p", call(), call(min_p=0.5)),
    # Both limits given: the adapters send max_completion_tokens, so the key holds it.
    (
        "max_completion_tokens wins over max_tokens",
        call(max_tokens=1000),
        call(max_tokens=1000, max_completion_tokens=5),
    ),
    (
        "max_completion_tokens alone vs with max_tokens",
        call(max_completion_tokens=5),
        call(max_completion_tokens=1000, max_tokens=5),
    ),
    ("stop", call(stop=["a"]), call(stop=["b"])),
    ("n 2", call(), call(n=2)),
    ("reasoning_effort", call(), call(reasoning_effort="high")),
    ("mode", call(), call(kwargs={"mode": "eco"})),
    ("mode eco vs sport", call(kwargs={"mode": "eco"}), call(kwargs={"mode": "sport"})),
    ("model_prefer", call(), call(kwargs={"model_prefer": "claude-haiku"})),
    ("version", call(), call(kwargs={"version": "v2"})),
    ("version v1 vs v2", call(kwargs={"version": "v1"}), call(kwargs={"version": "v2"})),
    ("project", call(), call(project="p2")),
    # Values the origin refuses are never read as the field's default (Python: True == 1).
    ("temperature true", call(), call(temperature=True)),
    ("n true", call(), call(n=True)),
    ("top_p true", call(), call(top_p=True)),
    ("frequency_penalty false", call(), call(frequency_penalty=False)),
    ("presence_penalty false", call(), call(presence_penalty=False)),
    ("logprobs 0", call(), call(logprobs=0)),
    ("parallel_tool_calls 1", call(), call(parallel_tool_calls=1)),
    ("empty model vs auto", call(model="auto"), call(model="")),
    ("false model vs auto", call(model="auto"), call(model=False)),
]


def fp(c: Call) -> str:
    project, body, kwargs = c
    return fingerprint(project, body, **kwargs)


@pytest.mark.parametrize(("a", "b"), [r[1:] for r in MATCHING], ids=[r[0] for r in MATCHING])
def test_fingerprints_match(a: Call, b: Call) -> None:
    assert fp(a) == fp(b)


@pytest.mark.parametrize(("a", "b"), [r[1:] for r in DIFFERING], ids=[r[0] for r in DIFFERING])
def test_fingerprints_differ(a: Call, b: Call) -> None:
    assert fp(a) != fp(b)


def test_fingerprint_is_hex_sha256_and_leaves_body_alone() -> None:
    body = {**copy.deepcopy(BASE), "tools": [{**TOOL, "cache_control": MARKER}], "stop": "x"}
    before = copy.deepcopy(body)
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint("p1", body))
    assert body == before


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


BAD_BODIES: list[tuple[str, Any]] = [
    ("list body", [USER]),
    ("string body", "hello"),
    ("null body", None),
    ("number body", 3),
    ("no messages", {"model": "gpt-4o"}),
    ("messages null", {"messages": None}),
    ("messages a string", {"messages": "hi"}),
    ("messages an object", {"messages": {"role": "user"}}),
    ("message not an object", {"messages": ["hi"]}),
    ("NaN temperature", {**BASE, "temperature": float("nan")}),
    ("infinite top_p", {**BASE, "top_p": float("inf")}),
    ("NaN deep in a tool", {**BASE, "tools": [{"x": [float("-inf")]}]}),
    ("NaN in message content", {"messages": [{"role": "user", "content": float("nan")}]}),
    ("bytes value", {**BASE, "stop": b"x"}),
    ("set value", {**BASE, "stop": {"x"}}),
    ("object value", {**BASE, "seed": object()}),
    ("int too long to print", {**BASE, "seed": 10**5000}),
    # Valid JSON that the stdlib parser accepts, yet deeper than the canonical copy can recurse.
    (
        "deep nesting",
        json.loads('{"messages":[{"role":"user","content":' + "[" * 600 + "]" * 600 + "}]}"),
    ),
    ("very deep nesting", {"messages": [{"role": "user", "content": _nested(50_000)}]}),
]


# semantic_scope answers None for a final message that is not text before it digests anything,
# so the one body whose only flaw sits in that message is checked through fingerprint alone.
SCOPE_NONE_FIRST = {"NaN in message content"}


@pytest.mark.parametrize("body", [b[1] for b in BAD_BODIES], ids=[b[0] for b in BAD_BODIES])
def test_bad_bodies_raise_invalid_request(body: Any) -> None:
    with pytest.raises(InvalidRequest) as info:
        fingerprint("p1", body)
    assert info.value.status == 400
    assert info.value.envelope()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "body",
    [b[1] for b in BAD_BODIES if b[0] not in SCOPE_NONE_FIRST],
    ids=[b[0] for b in BAD_BODIES if b[0] not in SCOPE_NONE_FIRST],
)
def test_bad_bodies_have_no_semantic_scope(body: Any) -> None:
    with pytest.raises(InvalidRequest):
        semantic_scope("p1", body)


def test_messages_errors_name_the_param() -> None:
    with pytest.raises(InvalidRequest) as info:
        fingerprint("p1", {"messages": "hi"})
    assert info.value.param == "messages"


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
CONTENT = st.text(max_size=40) | st.lists(
    st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=20)}), max_size=3
)
MESSAGES = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["system", "user", "assistant", "tool"]), "content": CONTENT},
        optional={"name": st.text(max_size=8), "cache_control": st.just(MARKER)},
    ),
    max_size=5,
)
FIELD_NAMES = st.sampled_from(
    [
        "model",
        "tools",
        "temperature",
        "top_p",
        "seed",
        "stop",
        "n",
        "max_tokens",
        "stream",
        "user",
        "metadata",
        "response_format",
        "logit_bias",
        "x_extra",
    ]
) | st.text(max_size=10)
BODIES = st.builds(
    lambda messages, extra: {**extra, "messages": messages},
    MESSAGES,
    st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=6),
)


def shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {k: shuffled(value[k], rng) for k in keys}
    if isinstance(value, list):
        return [shuffled(v, rng) for v in value]
    return value


@settings(max_examples=300, deadline=None)
@given(BODIES, st.randoms(use_true_random=False), st.none() | st.integers(0, 8))
def test_key_order_and_serialisation_never_matter(
    body: dict[str, Any], rng: random.Random, indent: int | None
) -> None:
    again = json.loads(json.dumps(shuffled(body, rng), indent=indent))
    assert fingerprint("p1", again) == fingerprint("p1", body)
    assert semantic_scope("p1", again) == semantic_scope("p1", body)


@settings(max_examples=300, deadline=None)
@given(BODIES, st.text(), st.text())
def test_projects_always_separate(body: dict[str, Any], a: str, b: str) -> None:
    if a != b:
        assert fingerprint(a, body) != fingerprint(b, body)


ANY_VALUES = st.recursive(
    JSON_SCALARS | st.floats() | st.binary(max_size=4) | st.sets(st.integers(), max_size=2),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=15,
)
ANY_BODIES = (
    ANY_VALUES
    | st.dictionaries(FIELD_NAMES | st.just("messages"), ANY_VALUES, max_size=5)
    | BODIES.flatmap(lambda b: st.builds(lambda k, v: {**b, k: v}, FIELD_NAMES, ANY_VALUES))
)


@settings(max_examples=400, deadline=None)
@given(ANY_BODIES)
def test_only_invalid_request_escapes(body: Any) -> None:
    for function in (fingerprint, semantic_scope):
        try:
            function("p1", body)
        except InvalidRequest:
            pass


SCOPE_SAME: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "reworded question",
        {**BASE, "messages": [SYSTEM, {"role": "user", "content": "How do I reset my password?"}]},
        {**BASE, "messages": [SYSTEM, {"role": "user", "content": "Forgot my password, help"}]},
    ),
    (
        "stream and user ignored",
        {**BASE, "stream": True},
        {**BASE, "user": "x", "messages": [SYSTEM, {"role": "user", "content": "2+2=?"}]},
    ),
    (
        "single text part",
        BASE,
        {
            **BASE,
            "messages": [SYSTEM, {"role": "user", "content": [{"type": "text", "text": "q"}]}],
        },
    ),
]

SCOPE_DIFFERENT: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("system prompt", BASE, {**BASE, "messages": [{"role": "system", "content": "x"}, USER]}),
    (
        "earlier turn",
        BASE,
        {**BASE, "messages": [SYSTEM, USER, {"role": "assistant", "content": "4"}, USER]},
    ),
    ("model", BASE, {**BASE, "model": "gpt-4o-mini"}),
    ("temperature", BASE, {**BASE, "temperature": 0.2}),
]


@pytest.mark.parametrize(("a", "b"), [r[1:] for r in SCOPE_SAME], ids=[r[0] for r in SCOPE_SAME])
def test_semantic_scope_shared_across_wording(a: dict[str, Any], b: dict[str, Any]) -> None:
    scope_a, scope_b = semantic_scope("p1", a), semantic_scope("p1", b)
    assert scope_a is not None and scope_b is not None
    assert scope_a[0] == scope_b[0]


@pytest.mark.parametrize(
    ("a", "b"), [r[1:] for r in SCOPE_DIFFERENT], ids=[r[0] for r in SCOPE_DIFFERENT]
)
def test_semantic_scope_separates_context(a: dict[str, Any], b: dict[str, Any]) -> None:
    scope_a, scope_b = semantic_scope("p1", a), semantic_scope("p1", b)
    assert scope_a is not None and scope_b is not None
    assert scope_a[0] != scope_b[0]


@pytest.mark.parametrize(
    ("kwargs", "project"),
    [
        ({"mode": "eco"}, "p1"),
        ({"model_prefer": "gpt-4o"}, "p1"),
        ({"version": "v2"}, "p1"),
        ({}, "p2"),
    ],
)
def test_semantic_scope_separates_envelope(kwargs: dict[str, Any], project: str) -> None:
    base, other = semantic_scope("p1", BASE), semantic_scope(project, BASE, **kwargs)
    assert base is not None and other is not None and base[0] != other[0]


def test_semantic_scope_returns_trimmed_final_text() -> None:
    body = {**BASE, "messages": [SYSTEM, {"role": "user", "content": "  How are you? \n"}]}
    scope = semantic_scope("p1", BASE)
    assert scope is not None
    assert semantic_scope("p1", body) == (scope[0], "How are you?")


NO_SCOPE: list[tuple[str, list[dict[str, Any]]]] = [
    ("no messages", []),
    ("last is assistant", [USER, {"role": "assistant", "content": "4"}]),
    ("last is system", [SYSTEM]),
    ("last is tool", [USER, {"role": "tool", "content": "42", "tool_call_id": "t"}]),
    ("empty user text", [SYSTEM, {"role": "user", "content": "   "}]),
    ("null user content", [{"role": "user", "content": None}]),
    (
        "image part",
        [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "u"}}]}],
    ),
    (
        "two text parts",
        [
            {
                "role": "user",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            }
        ],
    ),
    ("no role", [{"content": "hi"}]),
]


@pytest.mark.parametrize("messages", [r[1] for r in NO_SCOPE], ids=[r[0] for r in NO_SCOPE])
def test_semantic_scope_none_without_final_user_text(messages: list[dict[str, Any]]) -> None:
    assert semantic_scope("p1", {**BASE, "messages": messages}) is None


@settings(max_examples=300, deadline=None)
@given(BODIES, st.text(min_size=1, max_size=60), st.text(min_size=1, max_size=60))
def test_semantic_scope_ignores_only_final_wording(body: dict[str, Any], a: str, b: str) -> None:
    first = {**body, "messages": [*body["messages"], {"role": "user", "content": a}]}
    second = {**body, "messages": [*body["messages"], {"role": "user", "content": b}]}
    try:
        scope_a, scope_b = semantic_scope("p1", first), semantic_scope("p1", second)
    except InvalidRequest:
        return
    if scope_a is not None and scope_b is not None:
        assert scope_a[0] == scope_b[0]
        assert (scope_a[1] == scope_b[1]) == (a.strip() == b.strip())
    assert (scope_a is None) == (not a.strip())
