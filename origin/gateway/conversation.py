"""A session's remembered conversation around one call (`X-Prism-Memory: on`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from origin.gateway.call import Call
from origin.gateway.memory import SessionMemory, new_turn, with_history


async def recall(memory: SessionMemory | None, call: Call) -> None:
    """With X-Prism-Memory: on, the session's stored turns go before the new messages."""
    session = call.options.session_id
    if memory is None or session is None or not call.options.remembers:
        return
    call.memory = await memory.recall(call.caller.project_id, session)
    call.sent = list(call.body.get("messages") or [])
    call.body = {**call.body, "messages": with_history(call.sent, call.memory or [])}
    if call.options.cache == "default":
        # An answer depends on the conversation; a cached one would skip storing this turn.
        call.options = replace(call.options, cache="no-cache")


def remember(memory: SessionMemory | None, call: Call, body: dict[str, Any]) -> None:
    session = call.options.session_id
    if memory is None or call.memory is None or session is None:
        return
    choices = body.get("choices") or [{}]
    message = choices[0].get("message") or {}
    turn = new_turn(call.sent, message)
    memory.remember(call.caller.project_id, session, call.memory, turn)
