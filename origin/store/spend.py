"""Spend control's rows: budgets, rate limits, the policy audit trail, and the spend that
reconciliation reads back from the ledger."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from postgrest.types import ReturnMethod

from origin.store.base import Rows
from origin.store.boundary import StoreError, boundary, rows_of
from origin.store.records import BUDGET_COLUMNS, LIMIT_COLUMNS, USAGE_LIMIT_MAX, valid_id


class SpendRows(Rows):
    async def list_budgets(self, project_id: str) -> list[dict[str, Any]]:
        async def read() -> list[dict[str, Any]]:
            async with boundary("list_budgets"):
                res = await (
                    self._client.from_("budgets")
                    .select(BUDGET_COLUMNS)
                    .eq("project_id", project_id)
                    .order("created_at")
                    .execute()
                )
            return rows_of(res.data)

        return await self._kept(f"budgets:{project_id}", read)

    async def all_budgets(self) -> list[dict[str, Any]]:
        async with boundary("all_budgets"):
            res = await self._client.from_("budgets").select(BUDGET_COLUMNS).execute()
        return rows_of(res.data)

    async def create_budget(self, row: dict[str, Any]) -> dict[str, Any]:
        async with boundary("create_budget"):
            res = await self._client.from_("budgets").insert(row).select(BUDGET_COLUMNS).execute()
        return rows_of(res.data)[0]

    async def delete_budget(self, budget_id: str) -> dict[str, Any] | None:
        if not valid_id(budget_id):
            return None
        async with boundary("delete_budget"):
            res = await self._client.from_("budgets").delete().eq("id", budget_id).execute()
        rows = rows_of(res.data)
        return rows[0] if rows else None

    async def list_limits(self, project_id: str) -> list[dict[str, Any]]:
        """The project's own limits row and its keys' rows."""

        async def read() -> list[dict[str, Any]]:
            async with boundary("list_limits"):
                res = await (
                    self._client.from_("rate_limits")
                    .select(LIMIT_COLUMNS)
                    .eq("project_id", project_id)
                    .execute()
                )
            return rows_of(res.data)

        return await self._kept(f"limits:{project_id}", read)

    async def put_limits(self, row: dict[str, Any]) -> dict[str, Any]:
        """Create or replace one subject's limits (subject_id = key id or project id)."""
        async with boundary("put_limits"):
            res = await (
                self._client.from_("rate_limits")
                .upsert(row, on_conflict="subject_id", default_to_null=True)
                .select(LIMIT_COLUMNS)
                .execute()
            )
        return rows_of(res.data)[0]

    async def insert_policy_audit(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        async with boundary("insert_policy_audit"):
            await (
                self._client.from_("policy_audit")
                .insert(rows, returning=ReturnMethod.minimal)
                .execute()
            )

    async def policy_audit(self, project_id: str, limit: int = 100) -> list[dict[str, Any]]:
        async with boundary("policy_audit"):
            res = await (
                self._client.from_("policy_audit")
                .select("*")
                .eq("project_id", project_id)
                .order("created_at", desc=True)
                .limit(max(1, min(limit, USAGE_LIMIT_MAX)))
                .execute()
            )
        return rows_of(res.data)

    async def budget_spend(
        self,
        project_id: str,
        since: str,
        tag: tuple[str, str] | None = None,
        until: str | None = None,
    ) -> Decimal:
        """Exact spend in usage_logs for the project (and tag) since `since`, and before
        `until` when given (ISO timestamps)."""
        args: dict[str, Any] = {"p_project_id": project_id, "p_since": since}
        if tag is not None:
            args["p_tag_key"], args["p_tag_value"] = tag
        if until is not None:
            args["p_until"] = until
        async with boundary("budget_spend"):
            res = await self._client.rpc("budget_spend", args).execute()
        try:
            return Decimal(str(res.data))
        except ArithmeticError as exc:
            raise StoreError("budget_spend: not a number") from exc
