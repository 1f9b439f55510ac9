"""The exact-cache key covers everything a provider is sent: two requests that share a key are
sent identically (up to the fields documented as not changing the answer), for every adapter."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from origin.providers.base import Endpoint
from origin.providers.openai import VENDORS
from origin.providers.registry import PROVIDERS, adapter_for
from origin.settings import Secret
from shared.errors import InvalidRequest
from shared.fingerprint import IGNORED_FIELDS, LIMIT_FIELDS, fingerprint

ENDPOINTS = [
    Endpoint(name, info.kind, f"https://{name}.example/v1", Secret("k"))
    for name, info in PROVIDERS.items()
] + [Endpoint("mine", "openai", "https://mine.example/v1", Secret("k"), "custom")]
OPENAI_FAMILY = [e for e in ENDPOINTS if e.kind == "openai"]
# What the upstream body may carry for an ignored field (the Anthropic adapter sends `user`
# as metadata.user_id); these never change the answer.
UPSTREAM_IGNORED = frozenset(IGNORED_FIELDS) | {"metadata"}
DEFAULTS: dict[str, Any] = {
    "temperature": 1,
    "top_p": 1,
    "n": 1,
    "frequency_penalty": 0,
    "presence_penalty": 0,
    "parallel_tool_calls": True,
    "logprobs": False,
    "tool_choice": "auto",
}

SCALARS = st.none() | st.booleans() | st.integers(-5, 5000) | st.text(max_size=8)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
KNOWN_VENDOR_EXTRAS = ["top_k", "min_p", "repetition_penalty", "typical_p", "safe_prompt"]
FIELDS = (
    st.sampled_from([*KNOWN_VENDOR_EXTRAS, "seed", "stop", "logit_bias", "reasoning_effort"])
    | st.from_regex(r"[a-z_]{1,12}", fullmatch=True)
).filter(lambda f: f not in IGNORED_FIELDS and f not in ("model", "messages", *LIMIT_FIELDS))
BASE = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Name a colour."}]}


def sent(endpoint: Endpoint, body: dict[str, Any]) -> dict[str, Any]:
    try:
        upstream = adapter_for(endpoint.kind).build_request(endpoint, "m", body, False).json
    except InvalidRequest:  # refused (logit_bias where it is not taken): nothing is sent
        assume(False)
        raise
    return {k: v for k, v in upstream.items() if k not in UPSTREAM_IGNORED}


@settings(max_examples=300, deadline=None)
@given(field=FIELDS, value=VALUES, endpoint=st.sampled_from(OPENAI_FAMILY))
def test_a_field_that_is_sent_is_in_the_key(field: str, value: Any, endpoint: Endpoint) -> None:
    assume(value is not None and DEFAULTS.get(field, object()) != value)
    changed = {**BASE, field: value}
    if sent(endpoint, changed) != sent(endpoint, BASE):
        assert fingerprint("p", changed) != fingerprint("p", BASE)


LIMITS = st.none() | st.integers(1, 100_000)


@settings(max_examples=300, deadline=None)
@given(
    a=st.tuples(LIMITS, LIMITS),
    b=st.tuples(LIMITS, LIMITS),
    endpoint=st.sampled_from(ENDPOINTS),
)
def test_the_output_limit_sent_is_the_one_keyed(
    a: tuple[int | None, int | None], b: tuple[int | None, int | None], endpoint: Endpoint
) -> None:
    """max_tokens vs max_completion_tokens: same key exactly when the same limit is sent."""

    def body(limits: tuple[int | None, int | None]) -> dict[str, Any]:
        names = ("max_tokens", "max_completion_tokens")
        return {**BASE, **{n: v for n, v in zip(names, limits, strict=True) if v is not None}}

    same_key = fingerprint("p", body(a)) == fingerprint("p", body(b))
    assert same_key == (sent(endpoint, body(a)) == sent(endpoint, body(b)))


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_one_limit_reaches_the_provider(vendor: str) -> None:
    endpoint = Endpoint(vendor, "openai", "https://v.example/v1", Secret("k"))
    upstream = sent(endpoint, {**BASE, "max_tokens": 1000, "max_completion_tokens": 5})
    assert [upstream[n] for n in LIMIT_FIELDS if n in upstream] == [5]
