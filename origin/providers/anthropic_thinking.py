"""OpenAI's reasoning_effort as Claude's extended thinking, within the rules Anthropic sets.

The budget comes from the table Gemini's adapter reads (providers.content.THINKING_BUDGETS).
Anthropic counts thinking inside max_tokens, as OpenAI counts reasoning inside
max_completion_tokens, and that limit is what spend control reserves and the client's cap on
cost, so it is never raised: thinking gets at most half of it, leaving the answer the other
half, and Anthropic's floor of 1024 tokens that half cannot reach means no thinking.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from origin.providers import content

MIN_BUDGET: Final = 1024
# OpenAI's "minimal" is an answer with next to no reasoning: Claude's least thinking is 1024
# tokens, so the closest it comes is not thinking at all.
_OFF: Final = frozenset({"none", "minimal"})
# Sampling Anthropic refuses alongside thinking (temperature must be 1, top_k unset, top_p at
# least 0.95). Left out rather than a 400: SDKs and frameworks send a temperature by default,
# and reasoning_effort is what the client asked of this request; the answer's shape is the same.
_SAMPLING: Final = ("temperature", "top_k", "top_p")


def add_thinking(body: Mapping[str, Any], out: dict[str, Any]) -> None:
    """Turn thinking on in the Messages body `out` when `body` asks for reasoning and Claude
    can think here; any reasoning_effort outside the table is a 400 either way."""
    effort = body.get("reasoning_effort")
    if effort is None:
        return
    budget = min(content.thinking_budget(effort), out["max_tokens"] // 2)
    if effort in _OFF or budget < MIN_BUDGET or _forced_tool(out) or _in_tool_use(out):
        return
    out["thinking"] = {"type": "enabled", "budget_tokens": budget}
    for name in _SAMPLING:
        out.pop(name, None)


def _forced_tool(out: Mapping[str, Any]) -> bool:
    """Anthropic refuses thinking with a forced tool call: a required tool_choice, a named
    tool, or JSON mode's answer tool. The call is the answer, so it goes without thinking."""
    choice = out.get("tool_choice")
    return isinstance(choice, Mapping) and choice.get("type") in ("any", "tool")


def _in_tool_use(out: Mapping[str, Any]) -> bool:
    """With thinking on, Anthropic wants the last assistant turn that called tools to open
    with the thinking block it answered with. Chat completions has no place for that block,
    so a client cannot send it back: such a turn goes on without thinking (Anthropic's own
    advice, "To avoid this requirement, disable thinking")."""
    turns = [m for m in out.get("messages") or () if m.get("role") == "assistant"]
    blocks = turns[-1].get("content") if turns else None
    return isinstance(blocks, list) and any(b.get("type") == "tool_use" for b in blocks)
