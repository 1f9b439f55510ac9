"""Rows in outbox slots nobody alive owns: adopted by a running ledger, or left there late.

Blocking (file locks, SQLite); the ledger calls these through a thread, except after it
closed, when blocking briefly beats losing a billed row.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from origin.ledger import slots
from origin.ledger.outbox import Outbox

log = logging.getLogger("prism.ledger")


def adopt_orphans(base: Path, own: Path, outbox: Outbox) -> int:
    """Move every dead process's outbox rows (slots beside `base`) into `outbox`, delete
    their files; returns how many rows were new to us."""
    total = 0
    for slot in slots.orphans(base, own):
        try:
            added = outbox.adopt(slot.path)
            slot.remove_files()
        except (sqlite3.Error, OSError) as exc:
            log.error("could not adopt usage rows from %s: %s", slot.path, exc)
        else:
            total += added
            log.info("adopted %d usage rows a stopped worker left in %s", added, slot.path)
        finally:
            slot.release()
    return total


def put_in_free_slot(base: Path, row: dict[str, Any]) -> None:
    """Persist one row in any free slot beside `base`; whoever starts or sweeps next adopts it.
    Raises sqlite3.Error, OSError or slots.NoFreeSlot."""
    slot = slots.claim(base)
    try:
        outbox = Outbox(slot.path)
        try:
            outbox.put([row])
        finally:
            outbox.close()
    finally:
        slot.release()
