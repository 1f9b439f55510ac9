"""Server-side session memory: `X-Prism-Session: <id>` with `X-Prism-Memory: on`.

The conversation lives in Redis under the project and a hash of the session id, as a list of
turns (the messages the client sent, then the answer). Each use prepends the stored turns to
the request's messages (after its system messages), and a successful answer appends the new
turn. The key expires 24 h after its last use; the stored turns are bounded by a token budget
(about four characters a token), dropping the oldest turns first. Reads are bounded by a
short timeout and a down Redis means no memory for that request, never a failed request; a
stored value that is not a conversation as this module writes it (another tool's, a partial
write) is no memory at all, and the next answer starts the conversation afresh over it.
Writes happen off the response path. Two requests racing on one session keep the later
write (a conversation is one client's sequence of calls).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from origin.gateway.validation import validate_messages
from origin.redis_wire import wrong_type
from shared.errors import InvalidRequest
from shared.json_depth import check_json_depth

log = logging.getLogger("prism.memory")

TTL_S: Final = 24 * 3600
BUDGET_TOKENS: Final = 8000
PREFIX: Final = "prism:memory:"

Message = dict[str, Any]


def session_key(project_id: str, session_id: str) -> str:
    digest = hashlib.sha256(session_id.encode()).hexdigest()[:32]
    return f"{PREFIX}{project_id}:{digest}"


def tokens(messages: Sequence[Message]) -> int:
    return len(orjson.dumps(messages)) // 4 + 1


def trimmed(turns: list[list[Message]], budget: int) -> list[list[Message]]:
    """The newest turns whose messages fit in `budget` tokens (the newest always stays)."""
    kept: list[list[Message]] = []
    used = 0
    for turn in reversed(turns):
        cost = tokens(turn)
        if kept and used + cost > budget:
            break
        kept.append(turn)
        used += cost
    return list(reversed(kept))


def with_history(messages: list[Message], turns: list[list[Message]]) -> list[Message]:
    """The request's messages with the stored turns after its leading system messages."""
    head = 0
    while head < len(messages) and messages[head].get("role") in ("system", "developer"):
        head += 1
    history = [m for turn in turns for m in turn]
    return [*messages[:head], *history, *messages[head:]]


def new_turn(messages: list[Message], answer: Mapping[str, Any]) -> list[Message]:
    """What a call adds to the conversation: the client's non-system messages and the answer."""
    sent = [m for m in messages if m.get("role") not in ("system", "developer")]
    reply: Message = {"role": "assistant", "content": answer.get("content") or ""}
    if answer.get("tool_calls"):
        reply["tool_calls"] = answer["tool_calls"]
    return [*sent, reply]


def stored_turns(raw: bytes | str) -> list[list[Message]]:
    """The turns a stored value holds, if it is what `remember` writes: a list of non-empty
    turns of messages a request may carry. ValueError (or InvalidRequest) for anything else."""
    check_json_depth(raw, "stored conversation")
    turns = orjson.loads(raw)
    if not isinstance(turns, list) or not all(isinstance(t, list) and t for t in turns):
        raise ValueError("not a list of turns")
    if turns:
        validate_messages([m for turn in turns for m in turn])
    return turns


class SessionMemory:
    def __init__(
        self,
        redis_url: str,
        ttl_s: int = TTL_S,
        budget_tokens: int = BUDGET_TOKENS,
        timeout_s: float = 0.25,
    ) -> None:
        self._redis = Redis.from_url(
            redis_url,
            socket_timeout=1.0,
            socket_connect_timeout=1.0,
            # Once on a new connection: a pooled one may have died with a Redis restart.
            retry=Retry(NoBackoff(), 1),
        )
        self._ttl_s, self._budget, self._timeout_s = ttl_s, budget_tokens, timeout_s
        self._writes: set[asyncio.Task[None]] = set()

    async def aclose(self) -> None:
        if self._writes:
            await asyncio.wait(self._writes, timeout=2.0)
        await self._redis.aclose()

    async def recall(self, project_id: str, session_id: str) -> list[list[Message]] | None:
        """The stored turns, oldest first; reading one renews its 24 h. None when Redis could
        not say: the turn is then answered without its history and not stored, since storing
        it would write that one turn over the history Redis still holds."""
        key = session_key(project_id, session_id)
        try:
            async with asyncio.timeout(self._timeout_s):
                raw = await self._redis.getex(key, ex=self._ttl_s)
            return stored_turns(raw) if raw is not None else []
        except (RedisError, OSError, TimeoutError) as exc:
            if not wrong_type(exc):
                log.warning("session memory unavailable, answering without it: %s", exc)
                return None
            unreadable: Exception = exc
        except (ValueError, InvalidRequest) as exc:
            unreadable = exc
        # Sent on as it is, it would fail the request or reach the provider as messages.
        log.warning("session memory unreadable, starting it afresh: %s", unreadable)
        return []

    def remember(
        self, project_id: str, session_id: str, turns: list[list[Message]], turn: list[Message]
    ) -> None:
        """Store the conversation with `turn` appended, off the response path."""
        key = session_key(project_id, session_id)
        payload = orjson.dumps(trimmed([*turns, turn], self._budget))
        task = asyncio.create_task(self._write(key, payload))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, key: str, payload: bytes) -> None:
        try:
            await self._redis.set(key, payload, ex=self._ttl_s)
        except (RedisError, OSError) as exc:
            log.warning("session memory not saved: %s", exc)

    async def forget(self, project_id: str, session_id: str) -> bool:
        try:
            return bool(await self._redis.delete(session_key(project_id, session_id)))
        except (RedisError, OSError) as exc:
            raise MemoryDown(str(exc)) from exc


class MemoryDown(Exception):
    """Redis did not answer a request that cannot succeed without it (forgetting)."""
