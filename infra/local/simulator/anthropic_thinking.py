"""Anthropic's extended thinking: the rules its API enforces, and the block it answers with.

The rules are the ones a gateway translating OpenAI requests can break, so that tests prove
Prism never sends what Anthropic refuses: a budget of at least 1024 tokens and below
max_tokens, no temperature but 1, no top_k, top_p only from 0.95, no forced tool use, and,
during tool use, the final assistant message opening with the thinking block it was given.
"""

from __future__ import annotations

from typing import Any

from .tokens import tokens
from .turn import BadRequest

THOUGHT = "Simulated thinking about the question."
SIGNATURE = "c2ltdWxhdGVkLXNpZ25hdHVyZQ=="
THOUGHT_TOKENS = tokens(THOUGHT)
ERROR_TAIL = "Please consult our documentation for extended thinking."


def check(body: dict[str, Any], max_tokens: int) -> bool:
    """Whether thinking is on; BadRequest for a request Anthropic refuses with it."""
    config = body.get("thinking")
    if config is None or (isinstance(config, dict) and config.get("type") == "disabled"):
        return False
    if not isinstance(config, dict) or config.get("type") != "enabled":
        raise BadRequest("thinking.type: Input should be 'enabled' or 'disabled'")
    budget = config.get("budget_tokens")
    if not isinstance(budget, int) or budget < 1024:
        raise BadRequest(
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        )
    if budget >= max_tokens:
        raise BadRequest(
            "`max_tokens` must be greater than `thinking.budget_tokens`. " + ERROR_TAIL
        )
    if body.get("temperature") not in (None, 1, 1.0):
        raise BadRequest(
            "`temperature` may only be set to 1 when thinking is enabled. " + ERROR_TAIL
        )
    if body.get("top_k") is not None:
        raise BadRequest("`top_k` must be unset when thinking is enabled. " + ERROR_TAIL)
    if body.get("top_p") is not None and body["top_p"] < 0.95:
        raise BadRequest(
            "`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled."
        )
    if (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
        raise BadRequest("Thinking may not be enabled when tool_choice forces tool use.")
    _check_tool_turn(body["messages"])
    return True


def _check_tool_turn(messages: list[dict[str, Any]]) -> None:
    last = next((m for m in reversed(messages) if m.get("role") == "assistant"), None)
    blocks = last.get("content") if last else None
    if not isinstance(blocks, list) or not any(
        isinstance(b, dict) and b.get("type") == "tool_use" for b in blocks
    ):
        return
    if not (
        isinstance(blocks[0], dict) and blocks[0].get("type") in ("thinking", "redacted_thinking")
    ):
        raise BadRequest(
            "Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` "
            "is enabled, a final `assistant` message must start with a thinking block. "
            + ERROR_TAIL
        )


def block() -> dict[str, Any]:
    return {"type": "thinking", "thinking": THOUGHT, "signature": SIGNATURE}


def deltas() -> list[dict[str, Any]]:
    return [
        {"type": "thinking_delta", "thinking": THOUGHT},
        {"type": "signature_delta", "signature": SIGNATURE},
    ]
