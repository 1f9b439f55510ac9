"""The cache page's hits per entry count only the hits since the entry was stored: a fingerprint
is the question's key, and an answer purged or expired and stored again under it starts over."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from origin.dashboard import data
from shared.options import RequestOptions
from shared.pricing import Cost, TokenUsage
from shared.usage import Caller, UsageRow, build_cache_hit_row
from tests.fixtures.members import Member, insert_rows, new_member, signed_in

KEY = "ab" * 32
NOW = datetime.now(UTC).replace(microsecond=0)
STORED_AGAIN = NOW - timedelta(minutes=10)


def _hit(member: Member, n: int, status: str, at: datetime) -> UsageRow:
    row = build_cache_hit_row(
        request_id=f"req_cachehits_{member.project_id[:8]}_{n}",
        caller=Caller(member.org_id, member.project_id),
        options=RequestOptions(),
        model_used="gpt-4o-mini",
        usage=TokenUsage(prompt_tokens=20, completion_tokens=10),
        saved=Cost(Decimal(1), Decimal(0)),
        latency_ms=3,
        was_streaming=False,
        cache_status=status,
        cache_key=KEY,
    )
    return replace(row, created_at=at.isoformat())


@pytest.fixture(scope="module")
async def member(pg: Any) -> Member:
    me = await new_member(pg.dsn, "cachehits")
    rows = [
        _hit(me, 1, "hit-semantic-edge", NOW - timedelta(hours=2)),  # the purged answer's
        _hit(me, 2, "hit-exact-edge", NOW - timedelta(hours=1)),  # the purged answer's
        _hit(me, 3, "hit-exact", NOW - timedelta(minutes=5)),  # the answer stored again
    ]
    await insert_rows(pg, rows)
    return me


async def test_an_entry_stored_again_counts_only_its_own_hits(
    postgrest: Any, member: Member
) -> None:
    async with signed_in(postgrest, member) as client:
        stats = await data.cache_entry_stats(
            client, member.project_id, {KEY: STORED_AGAIN.timestamp(), "cd" * 32: 0.0}
        )
    assert list(stats) == [KEY]  # an entry without a hit since it was stored has no stats
    assert stats[KEY]["hits"] == 1 and stats[KEY]["layers"] == ["hit-exact"]
    assert datetime.fromisoformat(stats[KEY]["last_hit"]) == NOW - timedelta(minutes=5)


async def test_an_entry_stored_before_every_hit_counts_them_all(
    postgrest: Any, member: Member
) -> None:
    async with signed_in(postgrest, member) as client:
        stats = await data.cache_entry_stats(
            client, member.project_id, {KEY: (NOW - timedelta(days=1)).timestamp()}
        )
    assert stats[KEY]["hits"] == 3
    assert sorted(stats[KEY]["layers"]) == ["hit-exact", "hit-exact-edge", "hit-semantic-edge"]
