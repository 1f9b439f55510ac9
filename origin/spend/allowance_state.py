"""One worker's allowances, budget and request counter: what each holds in Redis and has used.

origin.spend.allowances admits against them and renews them; what a request may take, and
what a renewal keeps for the requests that come while its round trip is out, is decided here
once for both kinds.
"""

from __future__ import annotations

from dataclasses import dataclass

WANT_COUNTS = 64  # a counter allowance is a block of this many requests
# A renewal keeps up to 1/KEEP_SHARE of its want (out of what it holds unused) reserved whatever
# Redis answers, and admits against that while its round trip is out: otherwise a busy worker
# sent every request of that round trip to ADMIT (about one hit in six at concurrency 32).
KEEP_SHARE = 4


class _Held:
    """What both kinds share (their fields are declared by each dataclass)."""

    granted: int
    used: int
    want: int
    last_used: float
    refreshing: bool
    kept: int
    renewed: bool

    def has_room(self) -> bool:
        """Whether the last renewal granted the want and some of it is unused."""
        return self.renewed and self.granted > self.used

    def admits(self, amount: int) -> bool:
        """Whether `amount` more may be admitted here now: within what is held and, while a
        renewal is out, within what it keeps."""
        if not self.renewed or self.granted - self.used < amount:
            return False
        return not self.refreshing or self.kept >= amount

    def take(self, amount: int, now: float) -> None:
        self.used += amount
        if self.refreshing:
            self.kept -= amount
        self.last_used = now

    def keep(self, draining: bool) -> int:
        """Set what the renewal about to go out keeps to admit against meanwhile: none for an
        allowance that is idle or was refused its last want (it is being given back), else a
        quarter want at most."""
        unused = self.granted - self.used
        self.kept = 0 if draining else max(0, min(unused, self.want // KEEP_SHARE))
        return self.kept


@dataclass
class BudgetAllowance(_Held):
    project_id: str
    keys: tuple[str, str]
    half: int  # half the limit, in units
    expire_ms: int  # when the reservation set may go (as ADMIT sets it)
    want: int  # what to take on top of what is in flight, at the next renewal
    granted: int = 0  # reserved in Redis for this worker
    taken: int = 0  # worst cases admitted here since the last renewal
    used: int = 0  # worst cases in flight plus spend settled here, not yet sent
    pending: int = 0  # spend settled here, not yet sent
    spent_seen: int = 0
    others_seen: int = 0
    last_used: float = 0.0
    refreshing: bool = False
    kept: int = 0  # while refreshing: what may still be admitted here
    renewed: bool = True  # the last renewal granted the want


@dataclass
class CountAllowance(_Held):
    project_id: str
    key: str
    half: int
    ttl_ms: int
    want: int = WANT_COUNTS
    granted: int = 0  # counts added to the counter for this worker
    used: int = 0
    count_seen: int = 0
    last_used: float = 0.0
    refreshing: bool = False
    kept: int = 0
    renewed: bool = True
