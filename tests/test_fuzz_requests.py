"""A fuzz pass over request bodies and headers at both tiers: the real origin (Hypercorn, real
stack, simulator) and the real edge in front of it (Workers Pyodide under Node, with its
backends). Whatever arrives, each tier answers below 500, within the client's timeout, with
every error in the OpenAI envelope; afterwards both still serve a normal request.

Bounded: a fixed number of examples, each sent to both tiers, about half a minute in all.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from infra.local.proc import Service
from tests.fixtures.edge import EdgeServer

EXAMPLES = 60
# A hang is a failure: no request may keep a tier busy longer than this.
REQUEST_TIMEOUT_S = 30.0
ENVELOPE_KEYS = {"message", "type", "code", "param"}

MODELS = ["auto", "gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash", "no-such-model", ""]
ROLES = ["system", "user", "assistant", "tool", "developer", "function", "robot", ""]
HEADERS = [
    "X-Prism-Mode",
    "X-Prism-Model-Prefer",
    "X-Prism-Tags",
    "X-Prism-Session",
    "X-Prism-Cache",
    "X-Prism-Cache-TTL",
    "X-Prism-Cache-Threshold",
    "X-Prism-Cache-Version",
    "X-Prism-Auto-Cache",
    "Content-Type",
    "Content-Encoding",
]

# Any code point, lone surrogates included (json.dumps writes them as \ud800 escapes).
odd_text = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=40)
huge_numbers = st.integers(min_value=-(10**40), max_value=10**40) | st.floats()
scalars = st.none() | st.booleans() | huge_numbers | odd_text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=20,
)
content = odd_text | st.lists(
    st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", "x"]), "text": odd_text})
    | json_values,
    max_size=3,
)
message = st.fixed_dictionaries(
    {"role": st.sampled_from(ROLES) | json_values},
    optional={"content": content | json_values, "tool_call_id": json_values, "name": odd_text},
)
chat_bodies = st.fixed_dictionaries(
    {
        "model": st.sampled_from(MODELS) | json_values,
        "messages": st.lists(message, min_size=1, max_size=3) | json_values,
    },
    optional={
        "temperature": huge_numbers | json_values,
        "max_tokens": st.integers(min_value=-5, max_value=10**12) | json_values,
        "stream": st.booleans() | json_values,
        "stream_options": st.just({"include_usage": True}) | json_values,
        "n": st.integers(min_value=-1, max_value=3) | json_values,
        "stop": json_values,
        "tools": json_values,
        "response_format": json_values,
        "seed": huge_numbers,
        "top_k": json_values,
    },
)


# Well-formed requests with odd text and values at the edges of what is allowed: these reach
# the router, the cache (the edge answers repeats) and the simulated providers.
valid_chats = st.fixed_dictionaries(
    {
        "model": st.sampled_from(MODELS[:4]),
        "messages": st.lists(
            st.fixed_dictionaries(
                {"role": st.sampled_from(["system", "user"]), "content": odd_text.filter(str.strip)}
            ),
            min_size=1,
            max_size=3,
        ).map(lambda messages: [*messages, {"role": "user", "content": "and?"}]),
    },
    optional={
        "temperature": st.floats(min_value=0, max_value=2),
        "max_tokens": st.integers(min_value=1, max_value=10_000_000),
        "stream": st.booleans(),
        "stream_options": st.just({"include_usage": True}),
        "stop": st.lists(odd_text, max_size=4),
        "seed": st.integers(min_value=-(2**63), max_value=2**63 - 1),
        "metadata": st.dictionaries(odd_text, odd_text, max_size=3),
    },
)


def encoded(value: Any) -> bytes:
    # allow_nan: NaN and Infinity are not JSON, which makes them good input.
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


bodies = st.one_of(
    valid_chats.map(encoded),
    valid_chats.map(encoded),
    valid_chats.map(encoded),
    chat_bodies.map(encoded),
    json_values.map(encoded),
    st.binary(max_size=300),
    st.integers(min_value=1, max_value=200_000).map(lambda depth: b"[" * depth),
    st.integers(min_value=60, max_value=3_000).map(
        lambda depth: (
            encoded({"model": "auto", "messages": []})[:-1]
            + b',"x":'
            + b'{"a":' * depth
            + b"1"
            + b"}" * depth
            + b"}"
        )
    ),
    chat_bodies.map(encoded).map(lambda raw: raw[: max(1, len(raw) // 2)]),
)
# Header values a client can send: no CR, LF or NUL, Latin-1 on the wire, no edge whitespace.
header_values = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=300
).map(lambda value: value.strip(" \t"))
extra_headers = st.dictionaries(st.sampled_from(HEADERS), header_values, max_size=4)
CHAT = "/v1/chat/completions"
paths = st.sampled_from([CHAT, "/chat/completions", "/v1/feedback"])


def valid_body() -> bytes:
    return encoded({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})


@pytest.fixture(scope="module")
def edge(edge_server: EdgeServer, origin_server: Any, edge_bindings: dict[str, str]) -> Service:
    return edge_server(origin_server.url, **edge_bindings)


@pytest.fixture
async def project(make_project: Any) -> Any:
    return await make_project("fuzz")


def check(reply: httpx.Response, tier: str) -> None:
    assert reply.status_code < 500, f"{tier}: {reply.status_code} {reply.text[:500]}"
    if reply.status_code >= 400:
        error = reply.json()["error"]
        assert set(error) == ENVELOPE_KEYS, f"{tier}: {error}"
        assert isinstance(error["message"], str) and error["message"]
        assert isinstance(error["type"], str)


def normal_request_works(client: httpx.Client, base: str, key: str) -> None:
    reply = client.post(
        f"{base}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "still there?"}]},
        headers={"Authorization": f"Bearer {key}", "X-Prism-Cache": "no-store"},
    )
    assert reply.status_code == 200, reply.text[:300]
    assert reply.json()["choices"][0]["message"]["content"]


def test_no_request_breaks_either_tier(origin_server: Any, edge: Service, project: Any) -> None:
    tiers = {"origin": origin_server.url, "edge": edge.url}
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(
            body=bodies,
            headers=extra_headers,
            path=paths,
            authorization=st.sampled_from(["valid", "valid", "valid", "garbage", "none"]),
        )
        # Found by this test: an array as a message's role was a 500 at the origin.
        @example(
            body=b'{"model":"auto","messages":[{"role":[]}]}',
            headers={},
            path=CHAT,
            authorization="valid",
        )
        @example(body=b"[" * 100_000, headers={}, path=CHAT, authorization="valid")
        @example(
            body=valid_body(),
            headers={"X-Prism-Tags": "a=" + "\u00e9" * 250},
            path=CHAT,
            authorization="valid",
        )
        def one_request(
            body: bytes, headers: dict[str, str], path: str, authorization: str
        ) -> None:
            sent = {"Content-Type": "application/json", **headers}
            if authorization == "valid":
                sent["Authorization"] = f"Bearer {project.api_key}"
            elif authorization == "garbage":
                sent["Authorization"] = "Bearer prism_sk_" + "\u00e9" * 3
            wire = {k: v.encode("latin-1") for k, v in sent.items()}
            for tier, base in tiers.items():
                check(client.post(f"{base}{path}", content=body, headers=wire), tier)

        one_request()
        for base in tiers.values():
            normal_request_works(client, base, project.api_key)
