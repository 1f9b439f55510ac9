"""reasoning_effort as Claude's extended thinking: request translation golden values."""

from __future__ import annotations

from typing import Any

import pytest

from origin.providers.base import Endpoint
from origin.providers.registry import adapter_for
from origin.settings import Secret
from shared.errors import InvalidRequest

USER = {"role": "user", "content": "hi"}
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
CALLED = [
    USER,
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    },
    {"role": "tool", "tool_call_id": "c1", "content": "42"},
]
ANSWERED = [*CALLED, {"role": "assistant", "content": "It is 42."}, USER]


def claude(body: dict[str, Any]) -> dict[str, Any]:
    ep = Endpoint("anthropic", "anthropic", "https://a.example", Secret("k"))
    return adapter_for("anthropic").build_request(ep, "claude-up", body, False).json


def thinking(out: dict[str, Any]) -> int | None:
    config = out.get("thinking")
    return config["budget_tokens"] if config else None


CASES: list[tuple[str, dict[str, Any], int | None]] = [
    ("low is Anthropic's least budget", {"reasoning_effort": "low"}, 1024),
    ("high within a large limit", {"reasoning_effort": "high", "max_tokens": 60_000}, 24_576),
    ("at most half the output limit", {"reasoning_effort": "high", "max_tokens": 16_384}, 8192),
    ("the default limit of 4096", {"reasoning_effort": "medium"}, 2048),
    ("half a small limit is under 1024", {"reasoning_effort": "high", "max_tokens": 2047}, None),
    ("none", {"reasoning_effort": "none"}, None),
    ("minimal", {"reasoning_effort": "minimal", "max_tokens": 60_000}, None),
    ("no effort, no thinking", {"max_tokens": 60_000}, None),
    ("tool use left to Claude", {"reasoning_effort": "low", "tools": [TOOL]}, 1024),
    (
        "a forced tool call",
        {"reasoning_effort": "low", "tools": [TOOL], "tool_choice": "required"},
        None,
    ),
    (
        "JSON mode's answer tool",
        {"reasoning_effort": "low", "response_format": {"type": "json_object"}},
        None,
    ),
    ("mid tool use", {"reasoning_effort": "low", "messages": CALLED}, None),
    ("after the tool use ended", {"reasoning_effort": "low", "messages": ANSWERED}, 1024),
]


@pytest.mark.parametrize(("body", "budget"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_reasoning_effort_is_a_thinking_budget_claude_takes(
    body: dict[str, Any], budget: int | None
) -> None:
    out = claude({"messages": [USER], **body})
    assert thinking(out) == budget
    if budget is not None:
        assert budget < out["max_tokens"]


def test_thinking_leaves_out_the_sampling_anthropic_refuses_with_it() -> None:
    body = {"messages": [USER], "reasoning_effort": "low", "temperature": 0.2, "top_k": 5}
    out = claude(body)
    assert thinking(out) == 1024
    assert not {"temperature", "top_k", "top_p"} & set(out)
    assert claude({**body, "reasoning_effort": "none"})["temperature"] == 0.2


def test_a_reasoning_effort_outside_the_table_is_a_400_naming_it() -> None:
    with pytest.raises(InvalidRequest) as caught:
        claude({"messages": [USER], "reasoning_effort": "ultra"})
    assert caught.value.param == "reasoning_effort"
