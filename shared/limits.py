"""Rate limits and budget periods: windows, Redis keys and headers, the same at both tiers.

Limits are fixed windows in UTC: a minute, a calendar day, a calendar month. Budgets run over
a calendar day, ISO week (Monday 00:00 UTC) or month. The edge and the origin count into the
very same Redis keys built here, so a cache hit answered at the edge and a miss answered by the
origin draw on one counter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from shared.errors import LimitExceeded

# The four limits, in the order every script argument and config array uses.
LIMIT_FIELDS: Final = (
    "requests_per_minute",
    "requests_per_day",
    "requests_per_month",
    "tokens_per_minute",
)
WINDOW_OF: Final = {
    "requests_per_minute": "minute",
    "requests_per_day": "day",
    "requests_per_month": "month",
    "tokens_per_minute": "minute",
}
# The seed's fair-use figures, per project.
PRESETS: Final = {"fair-use": {"requests_per_day": 1000, "requests_per_month": 30000}}
PERIODS: Final = ("day", "week", "month")
SCOPES: Final = ("key", "project")
MAX_LIMIT: Final = 10**12
# Failed key checks per client address and minute before that address is slowed down.
AUTH_FAILURES_PER_MINUTE: Final = 20


@dataclass(frozen=True)
class Limits:
    """One subject's limits (a project or one API key); None means unlimited."""

    requests_per_minute: int | None = None
    requests_per_day: int | None = None
    requests_per_month: int | None = None
    tokens_per_minute: int | None = None

    def values(self) -> tuple[int, int, int, int]:
        """The limits in LIMIT_FIELDS order, 0 for unlimited (how the scripts read them)."""
        return (
            self.requests_per_minute or 0,
            self.requests_per_day or 0,
            self.requests_per_month or 0,
            self.tokens_per_minute or 0,
        )

    @property
    def empty(self) -> bool:
        return not any(self.values())

    @classmethod
    def from_values(cls, values: list[int] | tuple[int, ...]) -> Limits:
        return cls(*(int(v) or None for v in values))


def window_bounds(window: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the UTC window ("minute", "day", "week", "month") containing `now`."""
    now = now.astimezone(UTC)
    if window == "minute":
        start = now.replace(second=0, microsecond=0)
        return start, start + timedelta(minutes=1)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if window == "day":
        return day, day + timedelta(days=1)
    if window == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if window == "month":
        start = day.replace(day=1)
        end = start.replace(year=start.year + 1, month=1) if start.month == 12 else None
        return start, end or start.replace(month=start.month + 1)
    raise ValueError(f"unknown window {window!r}")


def _tag(project_id: str) -> str:
    # One hash tag per project: every key a request touches lives in one cluster slot.
    return "{" + project_id + "}"


def limit_key(project_id: str, scope: str, subject_id: str, field: str, now: datetime) -> str:
    start, _ = window_bounds(WINDOW_OF[field], now)
    return f"prism:rl:{_tag(project_id)}:{scope}:{subject_id}:{field}:{int(start.timestamp())}"


def limit_keys(project_id: str, api_key_id: str | None, now: datetime) -> list[str]:
    """The 8 counters of a request: the key's four limits, then the project's four."""
    key_subject = api_key_id or "-"
    return [
        limit_key(project_id, scope, subject, field, now)
        for scope, subject in (("key", key_subject), ("project", project_id))
        for field in LIMIT_FIELDS
    ]


def window_ttls_ms(now: datetime) -> list[int]:
    """Milliseconds left in each of the 8 counters' windows (same order as limit_keys)."""
    ttls = [
        max(1, int((window_bounds(WINDOW_OF[f], now)[1] - now).total_seconds() * 1000))
        for f in LIMIT_FIELDS
    ]
    return ttls * 2


def limits_config_key(project_id: str) -> str:
    """Where the origin publishes a project's limits for the edge to enforce."""
    return f"prism:limits:{_tag(project_id)}"


def budget_key_prefix(project_id: str, budget_id: str) -> str:
    """A budget's hash key without its period, which the edge's script appends to it."""
    return f"prism:budget:{_tag(project_id)}:{budget_id}:"


def budget_keys(project_id: str, budget_id: str, period_start: datetime) -> tuple[str, str]:
    """A budget's counters for one period: the hash (spent, reserved) and its reservations."""
    base = budget_key_prefix(project_id, budget_id) + str(int(period_start.timestamp()))
    return base, base + ":res"


def period_starts(now: datetime) -> str:
    """The current day's, ISO week's and month's starts (unix s), as the edge's script reads
    them to find each budget's hash for this period."""
    return ",".join(str(int(window_bounds(p, now)[0].timestamp())) for p in PERIODS)


def auth_failures_key(address: str, now: datetime) -> str:
    start, _ = window_bounds("minute", now)
    return f"prism:authfail:{address[:64]}:{int(start.timestamp())}"


def reset_text(seconds: float) -> str:
    """OpenAI's x-ratelimit-reset-* format: "1s", "6m0s", "2h3m4s"."""
    total = max(1, int(-(-seconds // 1)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def ratelimit_headers(
    requests: tuple[int, int, float] | None, tokens: tuple[int, int, float] | None
) -> dict[str, str]:
    """x-ratelimit-* headers from (limit, remaining, seconds to reset) per kind."""
    out: dict[str, str] = {}
    for kind, state in (("requests", requests), ("tokens", tokens)):
        if state is None:
            continue
        limit, remaining, reset_s = state
        out[f"x-ratelimit-limit-{kind}"] = str(limit)
        out[f"x-ratelimit-remaining-{kind}"] = str(max(0, remaining))
        out[f"x-ratelimit-reset-{kind}"] = reset_text(reset_s)
    return out


TOKEN_SLOTS: Final = (3, 7)  # tokens_per_minute of the key, of the project


def tightest(
    limits: Sequence[int], counts: Sequence[int], resets_s: Sequence[float], tokens: bool
) -> tuple[int, int, float] | None:
    """(limit, remaining, seconds to reset) of the request (or token) limit closest to running
    out, over the 8 slots of a request; None when none of that kind is set."""
    best: tuple[int, int, float] | None = None
    for slot, limit in enumerate(limits):
        if limit <= 0 or (slot in TOKEN_SLOTS) != tokens:
            continue
        state = (limit, limit - counts[slot], resets_s[slot])
        if best is None or state[1] < best[1]:
            best = state
    return best


def state_headers(
    limits: Sequence[int], counts: Sequence[int], resets_s: Sequence[float]
) -> dict[str, str]:
    return ratelimit_headers(
        tightest(limits, counts, resets_s, False), tightest(limits, counts, resets_s, True)
    )


def limit_refusal(
    slot: int, limit: int, current: int, reset_s: float, request_tokens: int
) -> LimitExceeded:
    """The 429 for limit `slot` (0-7, as in limit_keys), the same from either tier."""
    field = LIMIT_FIELDS[slot % 4]
    who = "this API key" if slot < 4 else "this project"
    what = field.replace("_", " ")
    tokens = field == "tokens_per_minute"
    if tokens and request_tokens > limit:
        message = (
            f"This request's estimated {request_tokens} tokens exceed the {what} limit of "
            f"{who} ({limit}); it can never be admitted. Lower max_tokens or shorten the prompt."
        )
    else:
        message = (
            f"Rate limit reached: {what} of {who} is {limit} ({current} used). "
            f"Retry after {max(1, int(-(-reset_s // 1)))} s."
        )
    state = (limit, max(0, limit - current), reset_s)
    headers = ratelimit_headers(None if tokens else state, state if tokens else None)
    return LimitExceeded(message, retry_after=reset_s, limit_headers=headers)
