"""Request limits seen full, remembered so that a request over one is refused without Redis,
and each limit's firing written to the policy audit log once per window.

Request counts never fall within a window, so a request limit seen full stays full until its
window ends; it is remembered (bounded; cleared when full) for RECHECK_S only, after which
Redis decides again, so a counter Redis lost (a flush) binds no process for long. Token
counts do fall again (a request settles below its estimate): those are never remembered.
"""

from __future__ import annotations

import time

from origin.spend.admission import Admission
from origin.spend.audit import AuditLog
from shared.limits import TOKEN_SLOTS

MAX_REMEMBERED = 10_000
RECHECK_S = 5.0


class FullLimits:
    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit
        self._fired: set[str] = set()
        # limit counter key -> (limit, count, until) of a request limit seen full
        self._full: dict[str, tuple[int, int, float]] = {}

    @property
    def any(self) -> bool:
        return bool(self._full)

    def count_if_full(self, key: str, limit: int) -> int | None:
        """The count a limit of `limit` on counter `key` was seen full at, if it still holds."""
        known = self._full.get(key)
        if known is not None and known[0] == limit and known[2] > time.monotonic():
            return known[1]
        return None

    def remember(self, key: str, slot: int, limit: int, count: int | str) -> None:
        if slot in TOKEN_SLOTS:
            return
        if len(self._full) >= MAX_REMEMBERED:
            self._full.clear()
        self._full[key] = (limit, int(count), time.monotonic() + RECHECK_S)

    def fired_once(self, admission: Admission, slot: int) -> None:
        """Audit a limit's refusal, once per counter (so once per window)."""
        key = admission.limit_keys[slot]
        if key in self._fired:
            return
        if len(self._fired) > MAX_REMEMBERED:
            self._fired.clear()
        self._fired.add(key)
        scope, name = ("key" if slot < 4 else "project"), key.split(":")[-2]
        detail = {"scope": scope, "limit": name, "value": admission.limits[slot]}
        self._audit.fired(admission.project_id, "rate_limit", f"{scope}:{name}", detail)
