"""The consuming side of the Redis list the edge queues usage rows on (see edge_queue).

Taking moves an entry onto a processing list instead of popping it, so an entry is forgotten
only when acked (delivered) or buried (not a usage row), never by a consumer that dies.
"""

from __future__ import annotations

from typing import Final

import redis.asyncio as aioredis

QUEUE_KEY: Final = "prism:usage-queue"  # the list edge/usage.py pushes onto
RECOVER_LIMIT = 1_000_000  # bounds the recovery loop against a list that refills as it empties


class RedisUsageQueue:
    """The queue's reliable-consumer side: take onto a processing list, ack to remove.

    Beside the queue live `<queue>:processing` (taken, not yet delivered) and `<queue>:dead`
    (entries that are not usage rows, kept for a human to look at).
    """

    def __init__(self, redis: aioredis.Redis, queue_key: str = QUEUE_KEY) -> None:
        self._redis = redis
        self.queue_key = queue_key
        self.processing_key = f"{queue_key}:processing"
        self.dead_key = f"{queue_key}:dead"

    @classmethod
    def from_url(cls, url: str, queue_key: str = QUEUE_KEY) -> RedisUsageQueue:
        redis = aioredis.Redis.from_url(
            url, decode_responses=True, socket_timeout=5.0, socket_connect_timeout=2.0
        )
        return cls(redis, queue_key)

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def recover(self) -> int:
        """Put rows an earlier consumer took but never acked back at the queue's head."""
        moved = 0
        # Newest-taken first onto the consuming end, so the oldest row is taken again first.
        while (
            moved < RECOVER_LIMIT
            and await self._redis.lmove(self.processing_key, self.queue_key, "LEFT", "RIGHT")
            is not None
        ):
            moved += 1
        return moved

    async def take(self, max_rows: int) -> list[str]:
        """Up to `max_rows` entries, oldest first, now parked on the processing list."""
        first = await self._redis.lmove(self.queue_key, self.processing_key, "RIGHT", "LEFT")
        if first is None:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for _ in range(max_rows - 1):
            pipe.lmove(self.queue_key, self.processing_key, "RIGHT", "LEFT")
        rest = await pipe.execute() if max_rows > 1 else []
        return [first, *(entry for entry in rest if entry is not None)]

    async def ack(self, entries: list[str]) -> None:
        """Forget entries for good: they are delivered (or dead-lettered)."""
        if not entries:
            return
        pipe = self._redis.pipeline(transaction=False)
        for entry in entries:
            pipe.lrem(self.processing_key, -1, entry)
        await pipe.execute()

    async def bury(self, entries: list[str]) -> None:
        """Move entries that are not usage rows to the dead-letter list, out of the way."""
        if not entries:
            return
        pipe = self._redis.pipeline(transaction=True)
        for entry in entries:
            pipe.lpush(self.dead_key, entry)
            pipe.lrem(self.processing_key, -1, entry)
        await pipe.execute()

    async def lengths(self) -> dict[str, int]:
        pipe = self._redis.pipeline(transaction=False)
        for key in (self.queue_key, self.processing_key, self.dead_key):
            pipe.llen(key)
        queued, processing, dead = await pipe.execute()
        return {"queued": int(queued), "processing": int(processing), "dead": int(dead)}
