"""Creating, deleting and replacing budgets and limits: the one implementation behind both the
admin API and the `prism` CLI, each change validated the same way and written to the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from origin.spend.audit import record_now
from origin.spend.policy import Budget, limits_from_row
from origin.store import TAG_KEY, Store
from shared.errors import InvalidRequest, NotFound
from shared.limits import LIMIT_FIELDS, MAX_LIMIT, PERIODS, PRESETS
from shared.pricing import format_cents

ACTIONS = ("block", "warn")
MAX_CENTS = Decimal(1000000000000)


def budget_row(project_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """A budgets row from `{limit_cents, period, action, tag}`; 400 naming the bad field."""
    try:
        limit = Decimal(str(body.get("limit_cents")))
    except InvalidOperation:
        limit = Decimal("NaN")
    if (
        isinstance(body.get("limit_cents"), bool)
        or not limit.is_finite()
        or not (0 <= limit <= MAX_CENTS)
    ):
        raise InvalidRequest(
            "'limit_cents' must be a number of cents from 0 to 10^12.", param="limit_cents"
        )
    period = body.get("period", "month")
    if period not in PERIODS:
        raise InvalidRequest("'period' must be day, week or month.", param="period")
    action = body.get("action", "block")
    if action not in ACTIONS:
        raise InvalidRequest("'action' must be block or warn.", param="action")
    tag_key = tag_value = None
    tag = body.get("tag")
    if tag is not None:
        key, sep, value = tag.partition("=") if isinstance(tag, str) else ("", "", "")
        if not sep or not TAG_KEY.fullmatch(key.strip()) or not value.strip() or len(value) > 64:
            raise InvalidRequest("'tag' must be key=value, e.g. feature=search.", param="tag")
        tag_key, tag_value = key.strip(), value.strip()
    return {
        "project_id": project_id,
        "limit_cents": format_cents(limit.quantize(Decimal("0.000001"))),
        "period": period,
        "action": action,
        "tag_key": tag_key,
        "tag_value": tag_value,
    }


def limits_values(body: dict[str, Any]) -> dict[str, int | None]:
    """The four limits from `{preset?, requests_per_minute?, ...}`; omitted/null = unlimited."""
    preset = body.get("preset")
    values: dict[str, int | None] = dict.fromkeys(LIMIT_FIELDS)
    if preset is not None:
        if preset not in PRESETS:
            raise InvalidRequest(f"'preset' must be one of: {', '.join(PRESETS)}.", param="preset")
        values.update(PRESETS[preset])
    for name in LIMIT_FIELDS:
        value = body.get(name, values[name])
        ok = value is None or (
            isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_LIMIT
        )
        if not ok:
            raise InvalidRequest(f"'{name}' must be a positive integer or null.", param=name)
        values[name] = value
    unknown = set(body) - {"preset", *LIMIT_FIELDS}
    if unknown:
        first = min(unknown)
        raise InvalidRequest(f"Unknown field {first!r}.", param=first)
    return values


async def create_budget(
    store: Store, project_id: str, body: dict[str, Any], actor: str
) -> dict[str, Any]:
    budget = Budget.from_row(await store.create_budget(budget_row(project_id, body)))
    await record_now(store, project_id, actor, "budget.created", budget.id, budget.to_json())
    return budget.to_json()


async def delete_budget(store: Store, budget_id: str, actor: str) -> dict[str, Any]:
    row = await store.delete_budget(budget_id)
    if row is None:
        raise NotFound(f"No budget {budget_id!r}.", param="budget_id")
    budget = Budget.from_row(row)
    await record_now(store, budget.project_id, actor, "budget.deleted", budget.id, budget.to_json())
    return {**budget.to_json(), "deleted": True}


async def put_limits(
    store: Store, project_id: str, api_key_id: str | None, body: dict[str, Any], actor: str
) -> dict[str, Any]:
    values = limits_values(body)
    row = {
        "project_id": project_id,
        "api_key_id": api_key_id,
        "subject_id": api_key_id or project_id,
        **values,
    }
    stored = await store.put_limits(row)
    shown = limits_json(stored, project_id, api_key_id)
    subject = f"key:{api_key_id}" if api_key_id else "project"
    await record_now(store, project_id, actor, "limits.updated", subject, shown)
    return shown


def limits_json(
    row: dict[str, Any] | None, project_id: str, api_key_id: str | None
) -> dict[str, Any]:
    limits = limits_from_row(row or {})
    return {
        "object": "limits",
        "project_id": project_id,
        "api_key_id": api_key_id,
        **{name: getattr(limits, name) for name in LIMIT_FIELDS},
    }


class BudgetReads(Protocol):
    """Where budgets and their spend are read from: the Store (service role) for the admin API
    and CLI, the viewer's own token for the dashboard (origin/dashboard/data.py)."""

    async def list_budgets(self, project_id: str) -> list[dict[str, Any]]: ...

    async def budget_spend(
        self, project_id: str, since: str, tag: tuple[str, str] | None = None
    ) -> Decimal: ...


async def budgets_with_spend(reads: BudgetReads, project_id: str) -> list[dict[str, Any]]:
    """The project's budgets, each with what Postgres has recorded against it this period."""
    now = datetime.now(UTC)
    out = []
    for row in await reads.list_budgets(project_id):
        budget = Budget.from_row(row)
        start, end = budget.bounds(now)
        spent = await reads.budget_spend(project_id, start.isoformat(), budget.tag)
        out.append(
            {
                **budget.to_json(),
                "spent_cents": format_cents(spent),
                "period_start": start.isoformat(),
                "resets_at": end.isoformat(),
            }
        )
    return out
