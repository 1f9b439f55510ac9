"""Fusion mode (`X-Prism-Mode: fusion`): a panel of models answers, a synthesiser merges them.

The panel is the first `size` models of the request's sport-mode route (the routing table's
cell, then bucket mates) from distinct providers, asked in parallel. A member that has not
answered by the deadline is cancelled (its connection closed) and left out, as is one that
failed. The synthesiser is the sport route itself: it gets the conversation and the panel's
answers and writes one answer, streamed when the client streams. Each panel call gets its
own usage row linked to the request's by parent_request_id; the request's row carries the
synthesis and the sum of everything the request cost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from origin.gateway.attempts import Target
from origin.providers.base import Completion
from shared.errors import PrismError, UpstreamTimeout

ROUTING_MODE: Final = "sport"
INSTRUCTIONS: Final = (
    "Several assistants answered the conversation above independently; their answers "
    "follow. Write the single best answer to the user's last message: keep what they agree "
    "on, settle disagreements by reasoning, drop anything wrong, and do not mention the "
    "assistants or that there were several answers."
)


@dataclass
class Panelist:
    target: Target
    completion: Completion | None = None
    error: PrismError | None = None


def panel_of(targets: list[Target], size: int) -> list[Target]:
    """The first `size` targets from distinct providers."""
    chosen: list[Target] = []
    for target in targets:
        if target.provider not in {t.provider for t in chosen}:
            chosen.append(target)
        if len(chosen) == size:
            break
    return chosen


async def ask_panel(
    panel: list[Target],
    ask: Callable[[Target], Awaitable[Completion]],
    deadline_s: float,
) -> list[Panelist]:
    """Every member's answer or failure; members still working at the deadline time out."""
    tasks = {asyncio.ensure_future(ask(t)): Panelist(t) for t in panel}
    try:
        await asyncio.wait(tasks, timeout=deadline_s)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task, member in tasks.items():
        if task.cancelled():
            member.error = UpstreamTimeout(
                f"{member.target.provider} did not answer within the panel deadline"
            )
            continue
        exc = task.exception()
        if exc is None:
            member.completion = task.result()
        elif isinstance(exc, PrismError):
            member.error = exc
        else:
            raise exc
    return list(tasks.values())


def answer_text(completion: Completion) -> str:
    choices = completion.body.get("choices") or [{}]
    message = choices[0].get("message") or {}
    return str(message.get("content") or "")


def synthesis_body(body: dict[str, Any], answers: list[str]) -> dict[str, Any]:
    """The request as the synthesiser gets it: the conversation, then the panel's answers."""
    listed = "\n\n".join(f"Answer {i}:\n{text}" for i, text in enumerate(answers, 1))
    messages = [
        *body.get("messages", []),
        {"role": "user", "content": f"{INSTRUCTIONS}\n\n{listed}"},
    ]
    out = {k: v for k, v in body.items() if k not in ("tools", "tool_choice", "n")}
    return {**out, "messages": messages}
