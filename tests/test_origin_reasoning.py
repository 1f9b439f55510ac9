"""reasoning_effort end to end: the official openai SDK against the origin and the simulator.

The simulator refuses what the real APIs refuse (reasoning_effort to a model without it,
values a model does not take), so an answer here shows Prism never sent it there.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest

from infra.local.simulator.anthropic_thinking import THOUGHT, THOUGHT_TOKENS
from infra.local.simulator.tokens import tokens
from shared.catalog import MODELS
from tests.test_origin_openai_sdk import HELLO, client


@pytest.fixture
async def project(make_project: Any) -> Any:
    return await make_project("reasoning")


def sent_bodies(sim: Any) -> list[dict[str, Any]]:
    return [r["body"] for r in sim.requests() if isinstance(r["body"], dict)]


@pytest.mark.parametrize("mode", ["eco", "balanced", "sport"])
def test_auto_sends_reasoning_effort_only_to_models_that_take_it(
    origin_server: Any, project: Any, sim: Any, mode: str
) -> None:
    """eco and balanced route a simple question to Groq's Llama, which refuses it."""
    completion = client(origin_server, project).chat.completions.create(
        model="auto", messages=HELLO, reasoning_effort="low", extra_headers={"X-Prism-Mode": mode}
    )
    assert completion.choices[0].message.content
    assert completion.model in {m for m, info in MODELS.items() if info["reasoning"]}


@pytest.mark.parametrize("model", ["gpt-4o", "groq-llama-8b", "deepseek-chat", "grok-4"])
def test_a_named_model_that_cannot_take_it_is_a_400_naming_it(
    origin_server: Any, project: Any, sim: Any, model: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(origin_server, project).chat.completions.create(
            model=model, messages=HELLO, reasoning_effort="high"
        )
    assert caught.value.body["param"] == "reasoning_effort"
    assert sim.requests() == []


@pytest.mark.parametrize(
    ("model", "effort", "sent"),
    [
        ("gpt-5.4-mini", "minimal", "minimal"),
        ("grok-3-mini", "medium", "high"),
        # Gemini 2.5 Pro cannot stop thinking: "none" is its least budget, not 0 (a 400).
        ("gemini-2.5-pro", "none", 128),
        ("gemini-2.5-flash", "none", 0),
    ],
)
def test_a_model_that_takes_it_gets_a_value_it_takes(
    origin_server: Any, project: Any, sim: Any, model: str, effort: str, sent: str | int
) -> None:
    client(origin_server, project).chat.completions.create(
        model=model,
        messages=HELLO,
        reasoning_effort=effort,  # type: ignore[arg-type]
    )
    [body] = sent_bodies(sim)
    if "generationConfig" in body:
        assert body["generationConfig"]["thinkingConfig"] == {"thinkingBudget": sent}
    else:
        assert body["reasoning_effort"] == sent


def claude_sent(sim: Any) -> dict[str, Any]:
    [request] = sim.requests("anthropic")
    body: dict[str, Any] = request["body"]
    return body


@pytest.mark.parametrize("stream", [False, True])
def test_claude_thinks_and_answers_only_its_text(
    origin_server: Any, project: Any, sim: Any, stream: bool
) -> None:
    """The simulator refuses thinking with a temperature, so the 0.3 must be left out; its
    thinking block must not reach the message, and is billed as output."""
    sdk = client(origin_server, project)
    args: dict[str, Any] = {
        "model": "claude-haiku-4-5",
        "messages": HELLO,
        "reasoning_effort": "high",
        "temperature": 0.3,
        "max_tokens": 9000,
    }
    if stream:
        chunks = list(
            sdk.chat.completions.create(**args, stream=True, stream_options={"include_usage": True})
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        usage = chunks[-1].usage
    else:
        completion = sdk.chat.completions.create(**args)
        text, usage = completion.choices[0].message.content or "", completion.usage
    body = claude_sent(sim)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4500}
    assert "temperature" not in body
    assert text.startswith("Simulated") and THOUGHT not in text
    assert usage is not None
    assert usage.completion_tokens == tokens(text) + THOUGHT_TOKENS


def test_claude_mid_tool_use_answers_without_thinking(
    origin_server: Any, project: Any, sim: Any
) -> None:
    """The thinking block Claude opened its tool call with is not in the chat-completions
    history, and Anthropic refuses thinking without it."""
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    messages = [
        *HELLO,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
    ]
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    completion = client(origin_server, project).chat.completions.create(
        model="claude-haiku-4-5",
        messages=messages,  # type: ignore[arg-type]
        tools=[tool],  # type: ignore[list-item]
        reasoning_effort="high",
    )
    assert completion.choices[0].message.content
    assert "thinking" not in claude_sent(sim)


def test_auto_in_sport_thinks_on_claude(origin_server: Any, project: Any, sim: Any) -> None:
    """sport's simple cell is Claude Opus: reasoning_effort reaches it as thinking."""
    client(origin_server, project).chat.completions.create(
        model="auto",
        messages=HELLO,
        reasoning_effort="medium",
        temperature=0.7,
        extra_headers={"X-Prism-Mode": "sport"},
    )
    assert claude_sent(sim)["thinking"] == {"type": "enabled", "budget_tokens": 8192}
