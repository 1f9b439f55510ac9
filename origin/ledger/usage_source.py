"""The seam for rows other processes queue for the origin's ledger to deliver."""

from __future__ import annotations

from typing import Any, Protocol


class UsageSource(Protocol):
    """A queue other processes leave rows in (the edge: an Upstash Redis list), for `drain_queue`.

    `take` hands out up to `max_rows` rows without forgetting them; `ack` forgets them. The
    ledger acks only after the rows are in its outbox, so a crash between the two re-delivers
    rows (harmless: request_id dedupes) instead of losing them.
    """

    async def take(self, max_rows: int) -> list[dict[str, Any]]: ...

    async def ack(self, rows: list[dict[str, Any]]) -> None: ...
