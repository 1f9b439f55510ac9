"""Which keys the store confirmed lately, noted in Redis for a worker that starts mid-outage.

A worker's own memory (origin.tenancy.auth) answers known keys for MAX_STALE_S into an outage
of the store; a worker started during one has no memory, so it reads these notes instead. A
note lives MAX_STALE_S from the store's last confirmation, the same bound, and revoking a key
deletes its note (origin.tenancy.revocation). Notes are signed (origin.store.snapshots).
"""

from __future__ import annotations

from typing import Final

from origin.store.snapshots import Snapshots
from shared.apikeys import REVOKED_RECORD, key_record_name
from shared.usage import Caller

NOTE_PREFIX: Final = "apikey:"


def note_name(key_hash: str) -> str:
    return f"{NOTE_PREFIX}{key_hash}"


class KeyNotes:
    def __init__(self, snapshots: Snapshots, ttl_s: float) -> None:
        self._snapshots, self._ttl_s = snapshots, ttl_s

    async def note(self, key_hash: str, caller: Caller) -> None:
        owner = [caller.org_id, caller.project_id, caller.api_key_id or ""]
        await self._snapshots.save(note_name(key_hash), owner, self._ttl_s)

    async def recall(self, key_hash: str) -> tuple[Caller, float] | None:
        """The noted owner and the seconds its note has left, or None; None too for a key
        revoked since. Revoking deletes the note, but a worker that confirmed the key just
        before may still write it a moment after: the edge's revocation marker outlives any
        note (REVOKED_RECORD_TTL_S), so it vetoes one written late."""
        veto = (key_record_name(key_hash), REVOKED_RECORD)
        loaded = await self._snapshots.load(note_name(key_hash), unless=veto)
        if loaded is None:
            return None
        owner, left = loaded
        if not (
            isinstance(owner, list) and len(owner) == 3 and all(isinstance(v, str) for v in owner)
        ):
            return None
        org, project, key_id = owner
        return Caller(org_id=org, project_id=project, api_key_id=key_id or None), left
