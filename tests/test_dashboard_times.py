"""The dashboard says "all times UTC": a timestamp Postgres wrote in another time zone (its
session's, the server's own unless set) is shown converted to UTC, not relabelled."""

from __future__ import annotations

import json

import asyncpg

from origin.dashboard.fmt import when


async def test_a_timestamp_from_a_session_in_another_zone_reads_in_utc(
    pg_conn: asyncpg.Connection,
) -> None:
    await pg_conn.execute("SET TIME ZONE 'Europe/Berlin'")
    written = await pg_conn.fetchval(
        "SELECT json_build_object('t', '2026-12-07 19:44:59+00'::timestamptz)::text"
    )
    value = json.loads(written)["t"]
    assert value.endswith("+01:00")
    assert when(value) == "2026-12-07 19:44:59 UTC"


def test_a_utc_or_naive_timestamp_reads_as_it_is() -> None:
    assert when("2026-12-07T19:44:59+00:00") == "2026-12-07 19:44:59 UTC"
    assert when("2026-12-07T19:44:59") == "2026-12-07 19:44:59 UTC"
    assert when(None) == "" and when("soon") == "soon"
