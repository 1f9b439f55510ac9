"""The ledger's rows (one per request) and what is written beside them: feedback and
cache purges."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
from postgrest.types import ReturnMethod

from origin.store.base import Rows
from origin.store.boundary import StoreUnavailable, boundary, refusal, rows_of
from origin.store.records import TAG_KEY, USAGE_LIMIT_MAX

FEEDBACK_KEY = "project_id,request_id"  # the unique index a rating is upserted on


class UsageRows(Rows):
    async def insert_usage(self, rows: list[dict[str, Any]]) -> None:
        """Write ledger rows; request_ids already stored are skipped, so retries are safe.

        One POST of orjson bytes on a kept-alive aiohttp connection rather than postgrest-py
        over httpx: this runs for every request the origin answers, and the client library's
        request building and httpcore's pool were most of the ledger's CPU (bench/README.md)."""
        if not rows:
            return
        try:
            async with self._usage_session().post(
                self._usage_url, data=orjson.dumps(rows), headers=self._usage_headers
            ) as response:
                if response.status < 300:
                    return
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:  # aiohttp's timeouts are both
            raise StoreUnavailable(f"insert_usage: cannot reach Supabase ({exc!r:.120})") from exc
        raise refusal("insert_usage", response.status, body)

    def _usage_session(self) -> aiohttp.ClientSession:
        if self._usage_http is None:
            self._usage_http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=self._timeout_s, connect=min(self._timeout_s, 2.0)
                ),
                cookie_jar=aiohttp.DummyCookieJar(),
                json_serialize=lambda value: orjson.dumps(value).decode(),
            )
        return self._usage_http

    async def recent_usage(
        self,
        project_id: str | None = None,
        limit: int = 50,
        tag: tuple[str, str] | None = None,
        since: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest ledger rows first; optionally one project, one tag value, after `since` (ISO)."""
        query = self._client.from_("usage_logs").select("*")
        if project_id is not None:
            query = query.eq("project_id", project_id)
        if tag is not None:
            if not TAG_KEY.fullmatch(tag[0]):
                raise ValueError("a tag filter key must be 1-64 letters, digits, '_' or '-'")
            query = query.eq(f"request_tags->>{tag[0]}", tag[1])
        if since is not None:
            query = query.gte("created_at", since)
        limit = max(1, min(limit, USAGE_LIMIT_MAX))
        async with boundary("recent_usage"):
            res = await query.order("created_at", desc=True).limit(limit).execute()
        return rows_of(res.data)

    async def insert_feedback(self, row: dict[str, Any]) -> None:
        """Store a project's rating of one response, replacing any earlier rating of it: one
        rating per response, the latest wins (0026_feedback_one_per_request.sql). The row must
        carry every rating column, None included, so none of the earlier rating is kept."""
        async with boundary("insert_feedback"):
            await (
                self._client.from_("feedback")
                .upsert(row, on_conflict=FEEDBACK_KEY, returning=ReturnMethod.minimal)
                .execute()
            )

    async def feedback_quality(
        self, project_id: str, since: str | None = None
    ) -> list[dict[str, Any]]:
        """Feedback per (task type, model) since `since` (ISO), worst quality first."""
        args: dict[str, Any] = {"p_project": project_id}
        if since is not None:
            args["p_since"] = since
        async with boundary("feedback_quality"):
            res = await self._client.rpc("feedback_quality", args).execute()
        return rows_of(res.data)

    async def record_cache_purge(self, row: dict[str, Any]) -> None:
        """One `cache_purges` audit row: who purged what, when, and how many entries went."""
        async with boundary("record_cache_purge"):
            await (
                self._client.from_("cache_purges")
                .insert(row, returning=ReturnMethod.minimal)
                .execute()
            )
